"""A network recovered from an ONNX graph, and the proof that it is.

Where a state_dict has only names (:mod:`.recover`), an ONNX graph says what each tensor
does.  The operators, as ``onnx.defs.get_schema(op).doc`` gives them (opset 22):

* ``LSTM``, ``GRU``, ``RNN``: inputs ``X``, ``W`` (num_directions, G·hidden_size,
  input_size), ``R`` (num_directions, G·hidden_size, hidden_size), optional ``B``
  (num_directions, 2·G·hidden_size: ``Wb`` and ``Rb`` one after the other, as PyTorch's
  ``bias_ih`` and ``bias_hh``), ``sequence_lens``, ``initial_h``, (LSTM) ``initial_c`` and
  the peepholes ``P``; attributes ``hidden_size``, ``direction`` (forward, reverse,
  bidirectional), ``activations``, ``clip``, (LSTM) ``input_forget``, (GRU)
  ``linear_before_reset`` (1 applies the recurrent product before the reset gate, as
  PyTorch's GRU does).  The gate blocks follow ONNX's order, LSTM i, o, f, c and GRU z, r,
  h, not PyTorch's; shapes do not depend on it.
* ``Gather`` of an initializer (V, E) by token ids: an embedding.
* ``Gemm`` (Y = alpha·A·B' + beta·C, B' = Bᵀ when ``transB`` = 1) and ``MatMul`` followed by
  an ``Add`` of a bias: dense layers, their weight (out, in) with transB, else (in, out).

``torch.onnx.export`` writes one recurrent node per layer and direction pair, joined by
reshaping operators (Transpose, Reshape, Squeeze, ...); :func:`recover_onnx` follows the
data from each node's outputs through those to the next layer.  Consecutive nodes of one
module (the scope of their names, ``/lstm/LSTM`` and ``/lstm/LSTM_1``) and one setting
form one stacked layer, PyTorch's ``num_layers``.  Initializers no such layer uses are
``other``.  The network is named as PyTorch names it; :attr:`Recovered.names` maps each of
its tensors to the initializer that holds it (a node's W holds weight_ih of both
directions, its B bias_ih and bias_hh of both), and :func:`proof_onnx` compares the shape
of each initializer with the shape rnncalc predicts for it, its tensors packed as ONNX
packs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from . import shapes
from .network import Embedding, Layer, Network, Recurrent, Stage, Steps
from .recover import Recovered, RecoveryError, Row, Tensor, proof, recover_pytorch
from .recover_onnx_graph import (
    _CELLS,
    _chain,
    _Dense,
    _denses,
    _embedding,
    _Graph,
    _matrices,
    _named,
    _recurrent,
    _stacks,
)
from .spec import GATES, SpecError

if TYPE_CHECKING:
    from ..formats.onnxfile import OnnxModel

#: The gate blocks of W, R and B along their gate axis, in ONNX's order.
ONNX_GATES = {"rnn": "h", "lstm": "iofc", "gru": "zrh"}


@dataclass(frozen=True)
class OnnxRecovered(Recovered):
    """A recovery from ONNX: also the initializers that hold a dense weight as (in, out),
    the transpose of PyTorch's (out, in) (a MatMul's, or a Gemm's without transB).
    """

    transposed: frozenset[str] = frozenset()


def recover_onnx(model: OnnxModel, timesteps: int, steps: str | None = None) -> Recovered:
    """The network an ONNX graph's recurrent nodes form with the embedding before them and
    the dense layers after them (see the module's docstring).

    ``timesteps`` is T for the model; ``steps`` places the dense layers (``last`` or
    ``all``; by default what the graph does: ``last`` when they read one selected step or
    the final state, else ``all``).  Raises RecoveryError when no recurrent node is found,
    when one is not a layer rnncalc models (peepholes, clipping, other activations, a
    reverse-only direction, ONNX's default GRU) or when its W does not fit its attributes.

    A file exported with ``do_constant_folding=False`` computes W, R and B in the graph from
    initializers that are the PyTorch state_dict, names and all: it is recovered from those
    names (:func:`.recover.recover_pytorch`), and said so in a note.
    """
    try:
        unfolded = _unfolded(model)
        if unfolded is not None:
            return _from_state_dict(model, unfolded, timesteps, steps)
        return _recover(model, timesteps, steps)
    except RecoveryError:
        raise
    except SpecError as error:  # sizes no layer takes (a damaged file's zero width)
        raise RecoveryError(f"the layers do not form a network: {error}") from None


def _unfolded(model: OnnxModel) -> list[Tensor] | None:
    """The initializers as a state_dict's tensors, when no recurrent node reads its W from
    an initializer and the initializers are named as PyTorch names a recurrent module's.
    """
    graph = _Graph(model)
    rnns = [n for n in graph.nodes if n.op in _CELLS]
    names = [t.name.rpartition(".")[2] for t in model.listing.tensors]
    if not rnns or any(graph.stored(n, 1) for n in rnns) or "weight_ih_l0" not in names:
        return None
    return [Tensor(t.name, t.shape) for t in model.listing.tensors]


def _from_state_dict(
    model: OnnxModel, tensors: list[Tensor], timesteps: int, steps: str | None
) -> Recovered:
    """The network the state_dict's names form, its dense layers placed as the graph
    places them.
    """
    graph = _Graph(model)
    notes = [
        "the recurrent nodes compute their W, R and B from initializers named as a PyTorch "
        "state_dict (exported with do_constant_folding=False): recovered from those names"
    ]
    matrices = _matrices(graph, _chain(graph)[-1])
    if steps is None and len(matrices) == 1:
        gathered = matrices[0][2]
        steps = "last" if gathered else "all"
        notes.append(_steps_note(gathered))
    recovered = recover_pytorch(tensors, timesteps, steps)
    return replace(recovered, notes=(*notes, *recovered.notes))


def _recover(model: OnnxModel, timesteps: int, steps: str | None) -> OnnxRecovered:
    graph = _Graph(model)
    chain = _chain(graph)
    notes: list[str] = []
    layers: list[Layer] = []
    #: per layer: its initializers by role (W, R, B per stacked node; weight, bias).
    sources: list[list[dict[str, str]]] = []
    embedding = _embedding(graph, chain[0])
    if embedding:
        vocab, dim = graph.shapes[embedding]
        layers.append(Embedding(vocab, dim))
        sources.append([{"embedding": embedding}])
    found = [(node, *_recurrent(graph, node)) for node in chain]
    features = graph.shapes[found[0][2]["W"]][2]
    width = graph.shapes[embedding][1] if embedding else features
    for node, layer, files in found:
        read = graph.shapes[files["W"]][2]
        if read != width:
            raise RecoveryError(
                f"the {node.op} node {_named(node)} reads {read} features, but the layer "
                f"before it hands on {width}"
            )
        previous = layers[-1] if layers else None
        if isinstance(previous, Recurrent) and _stacks(previous, layer, chain, node):
            layers[-1] = previous.replace(stack=previous.stack + 1)
            sources[-1].append(files)
        else:
            layers.append(layer)
            sources.append([files])
        width = layer.width
    denses, gathered = _denses(graph, chain[-1], width, embedding, notes)
    chosen: Steps = "all" if steps == "all" else "last" if steps else (
        "last" if gathered else "all")  # fmt: skip
    for dense in denses:
        layers.append(dense.layer.replace(steps=chosen))
        sources.append([{"weight": dense.weight, "bias": dense.bias}])
    stage = Stage(timesteps, None if embedding else features, tuple(layers))
    network = Network((stage,), "pytorch")
    names = _names(network, sources)
    used = set(names.values())
    other = tuple(Tensor(t.name, t.shape) for t in model.listing.tensors if t.name not in used)
    notes.extend(_notes(network, denses, steps, gathered))
    transposed = frozenset(d.weight for d in denses if d.transposed)
    return OnnxRecovered(network, names, other, tuple(notes), transposed)


def _names(network: Network, sources: list[list[dict[str, str]]]) -> dict[str, str]:
    """rnncalc's name of each tensor -> the initializer that holds it."""
    keys = {
        "input": "W",
        "recurrent": "R",
        "input_bias": "B",
        "recurrent_bias": "B",
        "embedding": "embedding",
    }
    names = {}
    for w in shapes.rnn_weights(network):
        files = sources[w.module][w.sublayer]
        key = keys.get(w.role, "weight" if w.name.endswith("weight") else "bias")
        names[w.name] = files[key]
    return names


def _notes(
    network: Network, denses: list[_Dense], steps: str | None, gathered: bool
) -> Iterator[str]:
    cells = sorted({x.cell for x in network.stages[0].recurrent} - {"rnn"})
    if cells:
        onnx = "; ".join(f"{cell.upper()} {', '.join(ONNX_GATES[cell])}" for cell in cells)
        torch = "; ".join(", ".join(GATES[cell]) for cell in cells)
        yield (
            f"the recurrent nodes keep their gate blocks in ONNX's order ({onnx}), not "
            f"PyTorch's ({torch}): the shapes are the same, the values are not in the same places"
        )
    if denses and steps is None:
        yield _steps_note(gathered)


def _steps_note(gathered: bool) -> str:
    where = "one step (picked by a Gather, or the final state)" if gathered else "every step"
    place = "last" if gathered else "all"
    return f"the dense layers read {where}: --outputs {place} (override with --outputs)"


def proof_onnx(recovered: Recovered, shapes_in_file: dict[str, tuple[int, ...]]) -> tuple[Row, ...]:
    """Each initializer the network uses against the shape rnncalc predicts for it: a
    recurrent node's W, R or B stacks its directions' tensors (num_directions, ...), each
    direction's concatenated (B: bias_ih then bias_hh); a dense weight that the file holds
    as (in, out) is PyTorch's transposed.  A network recovered from a state_dict's names
    (``do_constant_folding=False``) is proved as :func:`.recover.proof` proves one.
    """
    if not isinstance(recovered, OnnxRecovered):
        return proof(recovered, shapes_in_file)
    transposed = recovered.transposed
    groups: dict[str, list[shapes.Weight]] = {}
    for w in shapes.rnn_weights(recovered.network):
        groups.setdefault(recovered.names[w.name], []).append(w)
    rows = []
    for file_name, weights in groups.items():
        first = weights[0]
        if first.part == "recurrent":
            ways = list(dict.fromkeys(w.direction for w in weights))
            length = sum(w.shape[0] for w in weights if w.direction == ways[0])
            predicted = (len(ways), length, *first.shape[1:])
        else:
            predicted = first.shape[::-1] if file_name in transposed else first.shape
        name = " + ".join(w.name for w in weights)
        rows.append(Row(name, file_name, predicted, shapes_in_file.get(file_name)))
    return tuple(rows)
