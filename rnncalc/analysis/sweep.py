"""Sweep sizes fast: totals and MACs compiled once per model structure from the shape list.

A sweep can have millions of rows, too many to build every weight list.  Yet the shape
list already writes each tensor's shape in letters (``("4·H1", "E")``), so for one model
structure (cells, convention, stacked or not, directions, biases, layers present) its
total is one polynomial in the sizes: Σ over tensors of the product of their symbols.
This module turns the shape list's terms (:func:`rnncalc.model.shapes.rnn_terms`,
:func:`~rnncalc.model.shapes.dense_terms`) into that polynomial, multiplied out with like
terms collected, compiles it once, and evaluates it per row; tests check it against
:func:`rnncalc.analysis.counts.count_params` and :func:`rnncalc.analysis.cost.estimate_cost`.

Every size of a network is a :class:`Slot`, named by the letter its shapes use
(:class:`rnncalc.model.naming.Letters`: T, I or V and E, H or H1, H2, ..., U, O, a
decoder's ending in ``d``), and L for the stack of a network's one recurrent layer.  A
tied output layer has as many units as the vocabulary, so its letter stands for V; a
projection P is a constant.  Standard library only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from ..model import shapes
from ..model.naming import Letters
from ..model.network import Dense, Embedding, Layer, Network, Recurrent, Stage
from ..model.shapes import Term
from ..model.spec import DTYPE_BYTES, ModelSpec, Outputs
from .ranges import Sizes

#: The seed's sizes, as its columns name them: ModelSpec field -> letter.
SIZES = {
    "timesteps": "T",
    "input_size": "I",
    "hidden_size": "H",
    "output_size": "O",
    "layers": "L",
}
#: What each row holds after its sizes, in order.
COUNTS = (
    "rnn_total",
    "dense_total",
    "ratio",
    "rnn_macs",
    "dense_macs",
    "rnn_float32_bytes",
    "dense_float32_bytes",
)
#: The columns of a sweep of the seed's model: its sizes, then the counts.
COLUMNS = (*SIZES, *COUNTS)
Evaluate = Callable[..., tuple[int, int, int, int]]
Row = tuple[int | float, ...]
_FLOAT32 = DTYPE_BYTES["float32"]


class Slot(NamedTuple):
    """One size of a network: its letter, and where it lives: ``stage``, ``module`` (the
    layer's index in the stage, -1 for the stage's own T and I) and the ``field``.
    """

    letter: str
    stage: int
    module: int
    field: str


def slots(network: Network) -> tuple[Slot, ...]:
    """Every size of ``network`` in order: per stage T, then I or V and E, then each
    layer's (a tied layer's units follow V and are left out), and L last for the stack of
    a network's one recurrent layer.
    """
    found: list[Slot] = []
    for s, stage in enumerate(network.stages):
        letters = Letters(network, s)
        found.append(Slot(letters.size("T"), s, -1, "timesteps"))
        if stage.embedding is not None:
            found.append(Slot(letters.size("V"), s, 0, "vocab_size"))
            found.append(Slot(letters.size("E"), s, 0, "dim"))
        else:
            found.append(Slot(letters.size("I"), s, -1, "input_size"))
        m = j = 0
        for k, layer in enumerate(stage.layers):
            if isinstance(layer, Recurrent):
                found.append(Slot(letters.recurrent(m, "H"), s, k, "hidden_size"))
                m += 1
            elif isinstance(layer, Dense):
                if not layer.tie:
                    found.append(Slot(letters.dense(j), s, k, "units"))
                j += 1
    stacked = _stacked(network)
    if stacked is not None:
        found.append(Slot("L", 0, stacked, "stack"))
    return tuple(found)


def _stacked(network: Network) -> int | None:
    """The index of a one-stage network's only recurrent layer, whose stack is L."""
    if network.encoder_decoder:
        return None
    ks = [k for k, layer in enumerate(network.stages[0].layers) if isinstance(layer, Recurrent)]
    return ks[0] if len(ks) == 1 else None


def _optional(network: Network) -> int | None:
    """The index of a one-stage network's only dense layer, untied: it may be left out
    (O = 0, the seed's network without an output layer).
    """
    if network.encoder_decoder:
        return None
    dense = [(k, layer) for k, layer in enumerate(network.stages[0].layers)
             if isinstance(layer, Dense)]  # fmt: skip
    return dense[0][0] if len(dense) == 1 and not dense[0][1].tie else None


def size_of(network: Network, slot: Slot) -> int:
    """The value ``network`` holds for ``slot``."""
    stage = network.stages[slot.stage]
    value: int = getattr(stage if slot.module < 0 else stage.layers[slot.module], slot.field)
    return value


def with_sizes(network: Network, sizes: Mapping[Slot, int]) -> Network:
    """``network`` with the sizes given, checked again: a tied layer's units follow the
    vocabulary, and units of 0 leave the one dense layer out (see :func:`slots`).

    Raises SpecError when the sizes break a rule (a hidden size not above P, a tied layer
    that reads another width than the embedding's ...).
    """
    stages = []
    for s, stage in enumerate(network.stages):
        top = {slot.field: v for slot, v in sizes.items() if slot.stage == s and slot.module < 0}
        layers: list[Layer] = []
        for k, layer in enumerate(stage.layers):
            changes: dict[str, Any] = {
                slot.field: v for slot, v in sizes.items() if (slot.stage, slot.module) == (s, k)
            }
            if isinstance(layer, Dense) and layer.tie and isinstance(layers[0], Embedding):
                changes["units"] = layers[0].vocab_size
            if changes.get("units", 1) == 0:
                continue
            layers.append(layer.replace(**changes) if changes else layer)
        timesteps = top.get("timesteps", stage.timesteps)
        stages.append(Stage(timesteps, top.get("input_size", stage.input_size), tuple(layers)))
    return network.replace(stages=tuple(stages))


def is_seed(network: Network) -> bool:
    """Whether the network is the seed's shape (one recurrent layer, at most one plain dense
    layer), whose sweep columns keep the seed's names (``timesteps``, ... ``layers``).
    """
    return ModelSpec.from_network(network) is not None


class Sweep:
    """The rows of a sweep over one network's sizes.

    ``network`` holds the sizes that are not swept, and for the one dense layer that may be
    left out (O = 0) a value above 0.  ``outputs="all"`` counts every dense layer's MACs at
    every step (the seed's ``--outputs``), whatever the layers' own ``steps``.
    """

    def __init__(self, network: Network, outputs: Outputs = "last") -> None:
        self.network, self.outputs = network, outputs
        self.slots = slots(network)
        self.letters = tuple(slot.letter for slot in self.slots)
        self._stacked = _stacked(network)
        self._optional = _optional(network)
        tied = {}
        for s, stage in enumerate(network.stages):
            letters = Letters(network, s)
            for j, layer in enumerate(stage.dense):
                if layer.tie:
                    tied[letters.dense(j)] = letters.size("V")
        self._renames = tuple(sorted(tied.items()))
        constants = {}
        for s, stage in enumerate(network.stages):
            letters = Letters(network, s)
            for m, recurrent in enumerate(stage.recurrent):
                if recurrent.proj_size:
                    constants[letters.recurrent(m, "P")] = recurrent.proj_size
        self._constants = tuple(sorted(constants.items()))
        self._evaluators: dict[tuple[bool, bool], Evaluate] = {}

    @property
    def columns(self) -> tuple[str, ...]:
        """The size columns: the seed's field names for its shape, else the letters."""
        if not is_seed(self.network):
            return self.letters
        names = {letter: name for name, letter in SIZES.items()}
        return tuple(names[letter] for letter in self.letters)

    def index(self, stage: int, module: int, field: str) -> int:
        """The position of a size among :attr:`slots` (ValueError when there is none)."""
        for k, slot in enumerate(self.slots):
            if (slot.stage, slot.module, slot.field) == (stage, module, field):
                return k
        raise ValueError(f"no size {field} at layer {module} of stage {stage}")

    def model(self, varying: Iterable[int]) -> dict[str, Any]:
        """The network as a model file's contents (:func:`rnncalc.model.modelfile.to_dict`),
        the sizes at the ``varying`` slot positions null (a tied layer's units with V).
        """
        from ..model.modelfile import to_dict

        data = to_dict(self.network)
        for position in varying:
            slot = self.slots[position]
            stage = data if slot.module < 0 or "layers" in data else data["encoder"]
            if slot.module < 0:
                stage[slot.field] = None
                continue
            stage["layers"][slot.module][slot.field] = None
            if slot.field == "vocab_size":
                for layer in stage["layers"]:
                    if layer.get("tie"):
                        layer["units"] = None
        return data

    def sizes(self) -> list[int]:
        """The network's own value of every slot."""
        return [size_of(self.network, slot) for slot in self.slots]

    def evaluator(self, stacked: bool, head: bool) -> Evaluate:
        """(slot values, in order) -> (RNN total, dense total, RNN MACs, dense MACs) for
        the structure with the one recurrent layer stacked or not and the optional dense
        layer present or not.
        """
        key = (stacked, head)
        if key in self._evaluators:
            return self._evaluators[key]
        network = self.network
        if self._stacked is not None:
            layer = network.stages[0].layers[self._stacked]
            network = _replace_layer(network, self._stacked, layer.replace(stack=1 + stacked))
        if self._optional is not None and not head:
            stage = network.stages[0]
            layers = stage.layers[: self._optional] + stage.layers[self._optional + 1 :]
            network = network.replace(stages=(stage.replace(layers=layers),))
        evaluate = self._evaluators[key] = compiled(
            network, self.letters, self._stacked, self._renames, self._constants, self.outputs
        )
        return evaluate

    def rows(self, swept: Mapping[int, Sequence[int]]) -> Iterator[Row]:
        """Every combination of the swept sizes (by slot position; the last varying
        fastest), lazily: the slot values, then the values of :data:`COUNTS`.  MACs are per
        sequence for a batch of one.
        """
        positions = list(swept)
        sizes = self.sizes()
        last = len(sizes)
        sizes.append(1)  # what an absent L or O reads: not stacked, a head
        layers = last if self._stacked is None else self.letters.index("L")
        head = last
        if self._optional is not None:
            head = self.index(0, self._optional, "units")
        evaluators = self._evaluators
        for values in _product(list(swept.values())):
            for position, value in zip(positions, values, strict=True):
                sizes[position] = value
            key = (sizes[layers] > 1, sizes[head] > 0)
            evaluate = evaluators.get(key) or self.evaluator(*key)
            rnn, dense, rnn_macs, dense_macs = evaluate(*sizes)
            yield (*sizes[:last], rnn, dense, dense / rnn, rnn_macs, dense_macs,
                   _FLOAT32 * rnn, _FLOAT32 * dense)  # fmt: skip


def _replace_layer(network: Network, k: int, layer: Layer) -> Network:
    stage = network.stages[0]
    layers = (*stage.layers[:k], layer, *stage.layers[k + 1 :])
    return network.replace(stages=(stage.replace(layers=layers), *network.stages[1:]))


def rows(
    template: ModelSpec, swept: Mapping[str, Sequence[int]], outputs: Outputs = "last"
) -> Iterator[Row]:
    """The seed's sweep: every combination of the swept sizes (ModelSpec fields; the last
    varying fastest), lazily, as tuples in the order of :data:`COLUMNS`.

    ``template`` gives the model options and the sizes that are not swept.  MACs are per
    sequence for a batch of one.
    """
    plan = Sweep(template.replace(output_size=max(1, template.output_size)).network(), outputs)
    position = {name: k for k, name in enumerate(SIZES)}
    if template.output_size == 0 and "output_size" not in swept:
        swept = {"output_size": [0], **swept}  # one value: the order of the rows stays
    return plan.rows({position[name]: values for name, values in swept.items()})


def _product(sequences: list[Sequence[int]]) -> Iterator[tuple[int, ...]]:
    """itertools.product without copying its inputs into tuples (ranges stay lazy)."""
    if not sequences:
        yield ()
        return
    first, rest = sequences[0], sequences[1:]
    for value in first:
        for tail in _product(rest):
            yield (value, *tail)


@functools.cache
def compiled(
    structure: Network,
    letters: tuple[str, ...],
    stacked: int | None,
    renames: tuple[tuple[str, str], ...],
    constants: tuple[tuple[str, int], ...],
    outputs: Outputs,
) -> Evaluate:
    """(values of ``letters``) -> (RNN total, dense total, RNN MACs, dense MACs) for one
    structure.

    The polynomial is the shape list's terms: each tensor's symbols multiplied out (a tied
    tensor counts in MACs, not in totals), times L-1 for the tensors the stacked layer
    ``stacked`` repeats in layers 2 to L (so one compilation serves every depth), and like
    terms collected; ``renames`` replace letters (a tied layer's units by V), ``constants``
    are fixed sizes (P).  MACs are per sequence for a batch of one: matmul
    multiply-accumulates plus bias additions, each tensor applied as
    :mod:`rnncalc.analysis.cost` applies it (recurrent tensors at every step of their
    stage, a dense layer once or at every step, the embedding not at all, the dense
    equivalent's layers once unless they run at every step).
    """
    rename = dict(renames)
    if outputs == "all":  # the dense layers at every step, in both models (as cost has them)
        structure = _every_step(structure)
    timesteps = [Letters(structure, s).size("T") for s in range(len(structure.stages))]

    def steps(term: Term) -> str:
        part = term.weight.part
        if part == "embedding":
            return "0"
        t = timesteps[term.weight.stage]
        if part == "recurrent":
            return t
        if part == "output":
            layer = structure.stages[term.weight.stage].layers[term.weight.module]
            assert isinstance(layer, Dense)
            return t if layer.steps == "all" else "1"
        return "1"

    def polynomial(terms: Iterable[Term], macs: bool) -> Polynomial:
        chosen = ((t, steps(t) if macs else "1") for t in terms if macs or not t.weight.tied)
        return _sum(chosen, (0, stacked) if stacked is not None else None, rename)

    rnn = shapes.rnn_terms(structure)
    dense = shapes.dense_terms(structure)
    polynomials = [
        polynomial(rnn, False),
        polynomial(dense, False),
        polynomial(rnn, True),
        polynomial(dense, True),
    ]
    expressions = ", ".join(_source(p) for p in polynomials)
    fixed = "".join(f", {letter}={value}" for letter, value in constants)
    source = f"lambda {', '.join(letters)}, _=1{fixed}: ({expressions})"
    evaluate: Evaluate = eval(compile(source, "<rnncalc.analysis.sweep>", "eval"), {})
    return evaluate


def _every_step(network: Network) -> Network:
    """``network`` with every dense layer applied at every step."""
    stages = tuple(
        stage.replace(layers=tuple(
            layer.replace(steps="all") if isinstance(layer, Dense) else layer
            for layer in stage.layers
        ))
        for stage in network.stages
    )  # fmt: skip
    return network.replace(stages=stages)


#: A polynomial with integer coefficients: sorted tuple of letters (a monomial) -> coefficient.
Polynomial = dict[tuple[str, ...], int]


def _sum(
    terms: Iterable[tuple[Term, str]], stacked: tuple[int, int] | None, rename: dict[str, str]
) -> Polynomial:
    """Σ over the terms of the product of their symbols, times ``times``, and for tensors
    that layers 2 to s repeat times s-1: L-1 in the ``stacked`` layer (stage, index), the
    stack's own s-1 elsewhere; multiplied out and like terms collected.
    """
    total: Polynomial = {}
    for t, times in terms:
        product = _polynomial(times, rename)
        for symbol in t.weight.symbols:
            product = _times(product, _polynomial(symbol, rename))
        if t.repeated:
            here = (t.weight.stage, t.weight.module) == stacked
            product = _times(product, {("L",): 1, (): -1} if here else {(): t.times})
        for monomial, coefficient in product.items():
            total[monomial] = total.get(monomial, 0) + coefficient
    return total


def _polynomial(symbol: str, rename: dict[str, str]) -> Polynomial:
    """A shape symbol as a polynomial: ``4·H`` is {(H,): 4}, ``H+2·P`` {(H,): 1, (P,): 2}."""
    result: Polynomial = {}
    for term in symbol.split("+"):
        coefficient, letters = 1, []
        for factor in term.split("·"):
            if factor.isdigit():
                coefficient *= int(factor)
            else:
                letters.append(rename.get(factor, factor))
        monomial = tuple(sorted(letters))
        result[monomial] = result.get(monomial, 0) + coefficient
    return result


def _times(a: Polynomial, b: Polynomial) -> Polynomial:
    result: Polynomial = {}
    for left, x in a.items():
        for right, y in b.items():
            monomial = tuple(sorted(left + right))
            result[monomial] = result.get(monomial, 0) + x * y
    return result


def _source(polynomial: Polynomial) -> str:
    """Python for a polynomial: ``-4*H*H + H*O + 8*H``, bracketed in a balanced tree when
    long (a chain of thousands of additions is too deep for Python's compiler).
    """
    terms = [
        "*".join([*([str(c)] if c != 1 or not monomial else []), *monomial])
        for monomial, c in sorted(polynomial.items())
        if c
    ]
    return _balanced(terms) or "0"


def _balanced(terms: list[str]) -> str:
    if len(terms) <= 64:
        return " + ".join(terms)
    half = len(terms) // 2
    return f"({_balanced(terms[:half])}) + ({_balanced(terms[half:])})"


def count_rows(swept: Mapping[Any, Sizes]) -> int:
    """How many rows the sweep has, exactly (ranges may be longer than len() allows)."""
    total = 1
    for values in swept.values():
        total *= values.length
    return total
