"""Sweep sizes fast: totals and MACs compiled once per model structure from the shape list.

A sweep can have millions of rows, too many to build every weight list.  Yet the shape
list already writes each tensor's shape in letters (``("4·H1", "E")``), so for one model
structure (cells, convention, stacked or not, directions, biases, layers present) its
total is one polynomial in the sizes: Σ over tensors of the product of their symbols.
:mod:`rnncalc.analysis.sweep_polynomial` turns the shape list's terms into that
polynomial and compiles it once; this module names each row's sizes and evaluates it per
row; tests check it against :func:`rnncalc.analysis.counts.count_params` and
:func:`rnncalc.analysis.cost.estimate_cost`.

Every size of a network is a :class:`Slot`, named by the letter its shapes use
(:class:`rnncalc.model.naming.Letters`: T, I or V and E, H or H1, H2, ..., U, O, a
decoder's ending in ``d``), and L for the stack of a network's one recurrent layer.  A
tied output layer has as many units as the vocabulary, so its letter stands for V; a
projection P is a constant.  Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from ..model.naming import Letters
from ..model.network import Dense, Embedding, Layer, Network, Recurrent, Stage
from ..model.spec import DTYPE_BYTES, ModelSpec, Outputs
from .ranges import Sizes
from .sweep_polynomial import Evaluate, compiled

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


def count_rows(swept: Mapping[Any, Sizes]) -> int:
    """How many rows the sweep has, exactly (ranges may be longer than len() allows)."""
    total = 1
    for values in swept.values():
        total *= values.length
    return total
