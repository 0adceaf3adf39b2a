"""An ONNX graph read as layers, for :mod:`rnncalc.model.recover_onnx`: the data followed
from node to node through the operators that only reshape it, the chain of recurrent nodes,
and each LSTM, GRU or RNN node, embedding Gather and dense Gemm or MatMul read as rnncalc's
layer with the initializers that hold its tensors (the operators as that module's docstring
gives them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .network import Dense, Recurrent
from .recover import RecoveryError
from .spec import SpecError

if TYPE_CHECKING:
    from ..formats.onnxfile import OnnxModel, OnnxNode

#: Recurrent operators -> cells, and their default activations (one direction).
_CELLS = {"LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}
_GATES = {"lstm": 4, "gru": 3, "rnn": 1}
_DEFAULT_ACTIVATIONS = {"lstm": ("sigmoid", "tanh", "tanh"), "gru": ("sigmoid", "tanh")}
_RNN_ACTIVATIONS = {"tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid"}
#: Operators that hand data on reshaped, selected or converted, with no weights: what
#: torch.onnx.export writes between layers.
_PASS = frozenset(
    {"Transpose", "Reshape", "Squeeze", "Unsqueeze", "Concat", "Slice", "Gather", "Identity",
     "Cast", "Flatten", "Dropout", "Split", "Expand"}
)  # fmt: skip
#: Activations that follow a dense layer -> rnncalc's.
_DENSE_ACTIVATIONS = {"Relu": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Softmax": "softmax"}


@dataclass(frozen=True)
class _Dense:
    """A dense layer found in the graph: its layer, initializers and the tensor it hands on."""

    layer: Dense
    weight: str
    bias: str
    transposed: bool
    output: str


class _Graph:
    """The nodes with who reads each tensor, and the initializers' shapes."""

    def __init__(self, model: OnnxModel) -> None:
        self.nodes = model.nodes
        self.shapes = {t.name: t.shape for t in model.listing.tensors}
        self.readers: dict[str, list[tuple[OnnxNode, int]]] = {}
        for node in self.nodes:
            for k, name in enumerate(node.inputs):
                if name:
                    self.readers.setdefault(name, []).append((node, k))

    def stored(self, node: OnnxNode, k: int) -> str:
        """The initializer at input ``k`` of ``node``, or ``""``."""
        name = node.inputs[k] if k < len(node.inputs) else ""
        return name if name in self.shapes else ""

    def reached(
        self, names: tuple[str, ...], selected: bool = False
    ) -> Iterator[tuple[OnnxNode, int, bool]]:
        """The nodes that read the data ``names`` hold, through the operators of
        :data:`_PASS`: each with the input it reads at, and whether the data is one step
        (``selected`` from the start, or a Gather on the way picked one).
        """
        seen: set[str] = set()
        todo = [(name, selected) for name in names if name]
        while todo:
            name, one = todo.pop(0)
            if name in seen:
                continue
            seen.add(name)
            for node, k in self.readers.get(name, []):
                if node.op in _PASS and not (node.op == "Gather" and k == 1):
                    step = one or node.op == "Gather"
                    todo.extend((out, step) for out in node.outputs if out)
                else:
                    yield node, k, one


def _chain(graph: _Graph) -> list[OnnxNode]:
    """The recurrent nodes in the order the data flows through them: the first is the one
    no other recurrent node feeds.
    """
    rnns = [n for n in graph.nodes if n.op in _CELLS]
    if not rnns:
        raise RecoveryError("no LSTM, GRU or RNN node in the graph")
    after: dict[int, OnnxNode] = {}
    fed: set[int] = set()
    for node in rnns:
        nxt = [(m, k) for m, k, _ in graph.reached(node.outputs) if m.op in _CELLS]
        for m, k in nxt:
            if k != 0:
                raise RecoveryError(
                    f"the {m.op} node {_named(m)} starts from another's final state (an "
                    "encoder and a decoder), which rnncalc does not recover from ONNX yet"
                )
        if len(nxt) > 1:
            raise RecoveryError(f"the {node.op} node {_named(node)} feeds several recurrent nodes")
        if nxt:
            after[id(node)] = nxt[0][0]
            fed.add(id(nxt[0][0]))
    starts = [n for n in rnns if id(n) not in fed]
    if len(starts) != 1:
        raise RecoveryError(
            f"the graph holds {len(starts)} separate chains of recurrent nodes; rnncalc "
            "recovers one"
        )
    chain = [starts[0]]
    while id(chain[-1]) in after:
        if any(after[id(chain[-1])] is node for node in chain):
            raise RecoveryError("the recurrent nodes feed each other in a cycle")
        chain.append(after[id(chain[-1])])
    return chain


def _embedding(graph: _Graph, first: OnnxNode) -> str:
    """The initializer (V, E) a Gather looks token ids up in, for the first node's X."""
    for node in graph.nodes:
        table = graph.stored(node, 0) if node.op == "Gather" else ""
        if (
            table
            and len(graph.shapes[table]) == 2
            and not graph.stored(node, 1)
            and any(m is first and k == 0 for m, k, _ in graph.reached(node.outputs))
        ):
            return table
    return ""


def _recurrent(graph: _Graph, node: OnnxNode) -> tuple[Recurrent, dict[str, str]]:
    """One LSTM, GRU or RNN node as a layer, and its W, R and B initializers."""
    cell = _CELLS[node.op]
    where = f"the {node.op} node {_named(node)}"
    attributes = node.attributes
    hidden = attributes.get("hidden_size")
    if type(hidden) is not int or hidden < 1:
        raise RecoveryError(f"{where} has no hidden_size")
    direction = attributes.get("direction", "forward")
    if direction not in ("forward", "bidirectional"):
        raise RecoveryError(
            f"{where} runs in direction {str(direction)[:20]!r}; rnncalc's layers run forward "
            "or both ways"
        )
    directions = 2 if direction == "bidirectional" else 1
    refusals = {
        "clip": "clips its cell (clip)",
        "input_forget": "couples its input and forget gates (input_forget)",
    }
    for attribute, what in refusals.items():
        if attributes.get(attribute, 0):
            raise RecoveryError(f"{where} {what}, which rnncalc's cells do not")
    if cell == "lstm" and len(node.inputs) > 7 and node.inputs[7]:
        raise RecoveryError(f"{where} has peephole weights P, which rnncalc's LSTM has not")
    if cell == "gru" and attributes.get("linear_before_reset", 0) != 1:
        raise RecoveryError(
            f"{where} has linear_before_reset = 0 (the reset gate before the recurrent "
            "product, with two bias vectors), which no rnncalc layer is; PyTorch's GRU "
            "exports linear_before_reset = 1"
        )
    activation = _activation(where, cell, attributes.get("activations"), directions)
    files = {"W": graph.stored(node, 1), "R": graph.stored(node, 2), "B": graph.stored(node, 3)}
    for role in ("W", "R") + (("B",) if len(node.inputs) > 3 and node.inputs[3] else ()):
        if not files[role]:
            raise RecoveryError(
                f"{where}: its {role} is computed in the graph, not an initializer "
                "(exported with do_constant_folding=False?)"
            )
    gates = _GATES[cell] * hidden
    w = graph.shapes[files["W"]]
    if len(w) != 3 or w[:2] != (directions, gates):
        raise RecoveryError(
            f"{where}: W of shape {w} is not ({directions}, {gates}, input size), as "
            f"num_directions {directions} and {_GATES[cell]}·hidden_size {hidden} need"
        )
    try:
        layer = Recurrent(cell, hidden, directions == 2, bool(files["B"]), activation=activation)  # type: ignore[arg-type]
    except SpecError as error:
        raise RecoveryError(f"{where}: {error.message}") from None
    return layer, files


def _activation(where: str, cell: str, given: object, directions: int) -> str:
    """The vanilla RNN's f_h from ``activations`` (tanh by default); an LSTM's or GRU's
    must be ONNX's defaults, which are rnncalc's cells.
    """
    names = tuple(str(a).lower() for a in given) if isinstance(given, tuple) else ()
    if cell == "rnn":
        found = set(names) or {"tanh"}
        if len(found) != 1 or next(iter(found)) not in _RNN_ACTIVATIONS:
            raise RecoveryError(f"{where} has activations {names}; rnncalc's RNN has one of "
                                "tanh, relu, sigmoid")  # fmt: skip
        return _RNN_ACTIVATIONS[found.pop()]
    if names and names != _DEFAULT_ACTIVATIONS[cell] * directions:
        raise RecoveryError(f"{where} has activations {names}, not the {cell.upper()}'s own")
    return "tanh"


def _stacks(previous: Recurrent, layer: Recurrent, chain: list[OnnxNode], node: OnnxNode) -> bool:
    """Whether ``node`` is the next stacked layer of the layer before: one setting, and
    one module by the scope of the two nodes' names.
    """
    before = chain[chain.index(node) - 1]
    return previous.replace(stack=1) == layer and _scope(before) == _scope(node)


def _scope(node: OnnxNode) -> str:
    return node.name.rpartition("/")[0]


def _denses(
    graph: _Graph, last: OnnxNode, width: int, embedding: str, notes: list[str]
) -> tuple[list[_Dense], bool]:
    """The dense layers the last recurrent node's outputs flow into, one after another,
    each reading what the one before hands on; and whether the first reads one step (a
    Gather picks it from Y, or it reads the final state Y_h).
    """
    found: list[_Dense] = []
    matrices = _matrices(graph, last)
    gathered = False
    used: set[int] = set()
    while True:
        if len(matrices) != 1 or matrices[0][1] != 0:
            return found, gathered
        node, _, one = matrices[0]
        if id(node) in used:
            raise RecoveryError("the dense layers feed each other in a cycle")
        used.add(id(node))
        dense = _dense(graph, node, width, embedding, notes)
        if dense is None:
            return found, gathered
        gathered = gathered or (one and not found)
        found.append(dense)
        matrices = [x for x in graph.reached((dense.output,)) if x[0].op in ("Gemm", "MatMul")]
        width = dense.layer.units


def _matrices(graph: _Graph, last: OnnxNode) -> list[tuple[OnnxNode, int, bool]]:
    """The Gemm and MatMul nodes the last recurrent node's outputs reach, each with the
    input it is read at and whether it reads one step (a Gather picks it from Y, or it
    reads the final state Y_h).
    """
    reached = [*graph.reached(last.outputs[:1]), *graph.reached(last.outputs[1:], True)]
    return [(m, k, one) for m, k, one in reached if m.op in ("Gemm", "MatMul")]


def _dense(
    graph: _Graph, node: OnnxNode, width: int, embedding: str, notes: list[str]
) -> _Dense | None:
    """A Gemm, or a MatMul and the Add of its bias, reading ``width`` features from an
    initializer matrix (tied when it is the ``embedding``'s), with the activation that
    follows; None (and a note) if it is not.
    """
    where = f"the {node.op} node {_named(node)}"
    weight = graph.stored(node, 1)
    shape = graph.shapes.get(weight, ())
    attributes = node.attributes
    plain = attributes.get("transA", 0) == 0 and (
        attributes.get("alpha", 1.0) == attributes.get("beta", 1.0) == 1.0)  # fmt: skip
    if len(shape) != 2 or not plain:
        notes.append(f"{where} is no dense layer rnncalc has (not a plain product by a matrix)")
        return None
    transposed = not (node.op == "Gemm" and attributes.get("transB", 0) == 1)
    reads, units = shape if transposed else shape[::-1]
    if reads != width:
        notes.append(
            f"{where} reads {reads} features, the layer before hands on {width}: listed as other"
        )
        return None
    output, bias = _output(node), graph.stored(node, 2) if node.op == "Gemm" else ""
    if node.op == "MatMul":
        adds = [(m, k) for m, k in graph.readers.get(output, []) if m.op == "Add"]
        if len(adds) == 1 and graph.stored(adds[0][0], 1 - adds[0][1]):
            bias, output = graph.stored(adds[0][0], 1 - adds[0][1]), _output(adds[0][0])
    if bias and graph.shapes[bias] != (units,):
        notes.append(f"{where} adds a bias of shape {graph.shapes[bias]}, not ({units},)")
        return None
    readers = graph.readers.get(output, [])
    activation = "identity"
    if len(readers) == 1 and readers[0][0].op in _DENSE_ACTIVATIONS:
        activation = _DENSE_ACTIVATIONS[readers[0][0].op]
        output = _output(readers[0][0])
    layer = Dense(units, activation, tie=weight == embedding, bias=bool(bias))
    return _Dense(layer, weight, bias, transposed, output)


def _output(node: OnnxNode) -> str:
    """The node's first output, or ``""`` (no reader reads that)."""
    return node.outputs[0] if node.outputs else ""


def _named(node: OnnxNode) -> str:
    return repr(node.name[:60]) if node.name else "(unnamed)"
