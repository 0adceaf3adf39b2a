"""The one source of truth for weight shapes.

Every count, breakdown, explanation, memory estimate and forward-pass array in rnncalc is
derived from the tuples returned here; nothing else multiplies sizes together to count
parameters.

Sources of the layouts (and so of the counts):

* seed: the vanilla RNN of the seed page, row vectors (x_t W_xh, W_xh of shape I x H), one
  bias per gate block; gated cells get one W_x*, W_h*, b_* per gate, which is the textbook
  LSTM and GRU (GRU with the reset gate applied before the recurrent product).
* pytorch: ``torch.nn.RNN/LSTM/GRU`` state_dict, see the "Variables" section of each class's
  documentation: ``weight_ih_l{k}`` (G*H, in), ``weight_hh_l{k}`` (G*H, H or P),
  ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (G*H), ``weight_hr_l{k}`` (P, H) with ``proj_size``,
  ``_reverse`` for the backward direction; layer k > 0 takes D*H (D*P) inputs.  Gate order
  i, f, g, o (LSTM) and r, z, n (GRU).  Head ``nn.Linear``: ``weight`` (O, in), ``bias``.
* keras: ``keras.layers.SimpleRNN/LSTM/GRU`` cells: ``kernel`` (in, G*H),
  ``recurrent_kernel`` (H, G*H), ``bias`` (G*H), or (2, 3*H) for a GRU with
  ``reset_after=True`` (the default); ``Bidirectional`` holds forward_/backward_ copies.
  Gate order i, f, c, o (LSTM) and z, r, h (GRU).  Head ``Dense``: ``kernel`` (in, O), ``bias``.

Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from .record import Record
from .spec import GATES, ModelSpec, SpecError, shown

#: The most stacked layers whose tensors are listed one by one.  Deeper stacks are
#: counted (terms, below) but not listed: a table of their tensors would have thousands
#: of rows, and a model that deep is almost always a typo.
MAX_LISTED_LAYERS = 100

Role = Literal[
    "input",
    "hidden",
    "recurrent",
    "input_recurrent",
    "input_bias",
    "recurrent_bias",
    "biases",
    "projection",
    "output",
    "output_bias",
]
Part = Literal["recurrent", "hidden", "output"]
Direction = Literal["forward", "backward"]

#: Keras stores the GRU's gates as z, r, h (h being our n); its LSTM as i, f, c, o.
KERAS_GATES = {"rnn": "h", "lstm": "ifgo", "gru": "zrn"}
KERAS_LAYER = {"rnn": "simple_rnn", "lstm": "lstm", "gru": "gru"}

#: Roles of tensors that are added, not multiplied: biases.
BIAS_ROLES = frozenset({"input_bias", "recurrent_bias", "biases", "output_bias"})

ROLE_DESCRIPTIONS: dict[Role, str] = {
    "input": "input -> hidden",
    "hidden": "hidden -> hidden",
    "recurrent": "hidden -> hidden",
    "input_recurrent": "[hidden, input] -> hidden",
    "input_bias": "hidden bias",
    "recurrent_bias": "recurrent bias",
    "biases": "input and recurrent biases",
    "projection": "projection",
    "output": "hidden -> output",
    "output_bias": "output bias",
}


class Weight(Record):
    """One weight tensor: its name, its shape in numbers and in letters, and its place.

    ``gates`` lists, in order, the gate blocks the tensor holds along its gate axis;
    ``transposed`` marks PyTorch's (out, in) layout, where the seed and Keras use (in, out).
    ``group`` labels the subtotal the tensor counts towards.
    """

    FIELDS = (
        "name",
        "shape",
        "symbols",
        "role",
        "part",
        "group",
        "layer",
        "direction",
        "gates",
        "transposed",
    )
    __slots__ = FIELDS
    name: str
    shape: tuple[int, ...]
    symbols: tuple[str, ...]
    role: Role
    part: Part
    group: str
    layer: int
    direction: Direction
    gates: str
    transposed: bool

    def __init__(
        self,
        name: str,
        shape: tuple[int, ...],
        symbols: tuple[str, ...],
        role: Role,
        part: Part,
        group: str,
        layer: int = 0,
        direction: Direction = "forward",
        gates: str = "",
        transposed: bool = False,
    ) -> None:
        self._set(
            name=name,
            shape=shape,
            symbols=symbols,
            role=role,
            part=part,
            group=group,
            layer=layer,
            direction=direction,
            gates=gates,
            transposed=transposed,
        )

    @property
    def count(self) -> int:
        """Number of elements, an exact Python int."""
        return math.prod(self.shape)


class Term:
    """A weight and how many tensors like it a model holds: 1, or L-1 for a tensor of layer
    1, which every layer above the first repeats with the same shape.

    Terms fold a stack of any depth in constant work: sum ``count`` over them for a total,
    over those of one role for a cost.  The weights come from a stack of at most two
    layers, so their names and ``layer`` numbers are not the deep model's: list tensors
    with :func:`rnn_weights` instead.  (A plain class: a dataclass costs start-up time.)
    """

    __slots__ = ("times", "weight")

    def __init__(self, weight: Weight, times: int) -> None:
        self.weight, self.times = weight, times

    def __repr__(self) -> str:
        return f"Term({self.weight.name!r}, times={self.times})"

    @property
    def count(self) -> int:
        """Elements of all the tensors this term stands for."""
        return self.weight.count * self.times

    @property
    def repeated(self) -> bool:
        """Whether the term stands for layers 1 to L-1 (``times`` is L-1), not one tensor."""
        return self.weight.layer == 1 and self.weight.part != "output"


def rnn_terms(spec: ModelSpec) -> tuple[Term, ...]:
    """The recurrent network's weights as terms: constant work for any number of layers."""
    return _terms(rnn_weights, spec)


def dense_terms(spec: ModelSpec) -> tuple[Term, ...]:
    """The dense equivalent's weights as terms: hidden layers 2 to L repeat layer 2."""
    return _terms(dense_weights, spec)


def _terms(build: Callable[[ModelSpec], tuple[Weight, ...]], spec: ModelSpec) -> tuple[Term, ...]:
    listed = build(spec.replace(layers=min(spec.layers, 2)))
    terms = (Term(w, 1) for w in listed)
    return tuple(Term(t.weight, spec.layers - 1) if t.repeated else t for t in terms)


def _listable(spec: ModelSpec) -> None:
    if spec.layers > MAX_LISTED_LAYERS:
        raise SpecError(
            "layers",
            f"tensors are listed one by one for at most {MAX_LISTED_LAYERS} layers, got "
            f"{shown(spec.layers)}; totals work at any depth (params -q, cost, sweep, fit)",
        )


def by_group(weights: tuple[Weight, ...]) -> dict[str, list[Weight]]:
    """The weights of each subtotal group, groups and weights in list order."""
    groups: dict[str, list[Weight]] = {}
    for w in weights:
        groups.setdefault(w.group, []).append(w)
    return groups


def directions(spec: ModelSpec) -> tuple[Direction, ...]:
    """The directions of each layer: forward, and backward when bidirectional."""
    return ("forward", "backward") if spec.bidirectional else ("forward",)


def layer_inputs(spec: ModelSpec, layer: int) -> tuple[int, str]:
    """Features entering ``layer``, in numbers and letters: I, then D*H (D*P)."""
    if layer == 0:
        return spec.input_size, "I"
    letter = "P" if spec.proj_size else "H"
    return spec.directions * spec.state_size, _times(spec.directions, letter)


def rnn_weights(spec: ModelSpec) -> tuple[Weight, ...]:
    """Every weight of the recurrent network, in the order its convention lists them.

    Raises SpecError beyond :data:`MAX_LISTED_LAYERS` layers (use :func:`rnn_terms`).
    """
    _listable(spec)
    build = {"seed": _seed_cell, "pytorch": _pytorch_cell, "keras": _keras_cell}[spec.convention]
    weights: list[Weight] = []
    for layer in range(spec.layers):
        for direction in directions(spec):
            weights.extend(build(spec, layer, direction))
    return (*weights, *_head(spec))


def dense_weights(spec: ModelSpec) -> tuple[Weight, ...]:
    """Weights of the seed's dense equivalent: an MLP over the flattened input.

    The input layer has T*I units (every timestep's input side by side), each of the L
    hidden layers T*D*H units (one per RNN hidden unit per step and direction) and the
    output layer O units: W_1 is (T*I) x (T*D*H), W_2 ... W_L are (T*D*H) x (T*D*H), and
    W_{L+1} is (T*D*H) x O, each followed by its bias.  Raises SpecError beyond
    :data:`MAX_LISTED_LAYERS` layers (use :func:`dense_terms`).
    """
    _listable(spec)
    t = spec.timesteps
    width = t * spec.directions * spec.hidden_size
    width_symbol = "T·" + _times(spec.directions, "H")
    weights: list[Weight] = []
    features, features_symbol = t * spec.input_size, "T·I"
    for k in range(1, spec.layers + 1):
        group = "hidden" if spec.layers == 1 else f"hidden layer {k}"
        weights += [
            Weight(
                f"W_{k}",
                (features, width),
                (features_symbol, width_symbol),
                "input" if k == 1 else "hidden",
                "hidden",
                group,
                k - 1,
            ),
            Weight(f"b_{k}", (width,), (width_symbol,), "input_bias", "hidden", group, k - 1),
        ]
        features, features_symbol = width, width_symbol
    if spec.has_output_layer:
        k = spec.layers + 1
        weights += [
            Weight(
                f"W_{k}",
                (width, spec.output_size),
                (width_symbol, "O"),
                "output",
                "output",
                "output",
                spec.layers,
            ),
            Weight(
                f"b_{k}",
                (spec.output_size,),
                ("O",),
                "output_bias",
                "output",
                "output",
                spec.layers,
            ),
        ]
    return tuple(weights)


def _times(count: int, letter: str) -> str:
    return letter if count == 1 else f"{count}·{letter}"


class _Place:
    """Where a recurrent tensor sits: its layer, direction and subtotal group.

    (A plain class: a dataclass would cost start-up time for nothing here.)
    """

    __slots__ = ("direction", "group", "layer")

    def __init__(self, layer: int, direction: Direction, group: str) -> None:
        self.layer, self.direction, self.group = layer, direction, group

    def weight(
        self,
        name: str,
        shape: tuple[int, ...],
        symbols: tuple[str, ...],
        role: Role,
        gates: str,
        transposed: bool = False,
    ) -> Weight:
        return Weight(
            name,
            shape,
            symbols,
            role,
            "recurrent",
            self.group,
            self.layer,
            self.direction,
            gates,
            transposed,
        )


def _place(spec: ModelSpec, layer: int, direction: Direction) -> _Place:
    if spec.layers == 1 and not spec.bidirectional:
        group = "recurrent"
    else:
        group = f"layer {layer}" + (f" {direction}" if spec.bidirectional else "")
    return _Place(layer, direction, group)


def _seed_cell(spec: ModelSpec, layer: int, direction: Direction) -> list[Weight]:
    h, gates = spec.hidden_size, GATES[spec.cell]
    features, letter = layer_inputs(spec, layer)
    at = _place(spec, layer, direction)
    sfx = (f"_l{layer}" if spec.layers > 1 else "") + (
        "_reverse" if direction == "backward" else ""
    )
    if spec.notation == "concat":
        width = _times(len(gates), "H")
        weights = [
            at.weight(
                f"W_h{sfx}",
                (h + features, len(gates) * h),
                (f"H+{letter}", width),
                "input_recurrent",
                gates,
            ),
        ]
        if spec.bias:
            weights.append(at.weight(f"b_h{sfx}", (len(gates) * h,), (width,), "input_bias", gates))
        return weights
    weights = []
    for gate in gates:
        weights += [
            at.weight(f"W_x{gate}{sfx}", (features, h), (letter, "H"), "input", gate),
            at.weight(f"W_h{gate}{sfx}", (h, h), ("H", "H"), "recurrent", gate),
        ]
        if spec.bias:
            weights.append(at.weight(f"b_{gate}{sfx}", (h,), ("H",), "input_bias", gate))
    return weights


def _pytorch_cell(spec: ModelSpec, layer: int, direction: Direction) -> list[Weight]:
    h, p, gates = spec.hidden_size, spec.proj_size, GATES[spec.cell]
    g, width = len(gates), _times(len(gates), "H")
    features, letter = layer_inputs(spec, layer)
    at = _place(spec, layer, direction)
    sfx = f"_l{layer}" + ("_reverse" if direction == "backward" else "")
    state, state_letter = (p, "P") if p else (h, "H")
    weights = [
        at.weight(f"weight_ih{sfx}", (g * h, features), (width, letter), "input", gates, True),
        at.weight(
            f"weight_hh{sfx}", (g * h, state), (width, state_letter), "recurrent", gates, True
        ),
    ]
    if spec.bias:
        weights += [
            at.weight(f"bias_ih{sfx}", (g * h,), (width,), "input_bias", gates),
            at.weight(f"bias_hh{sfx}", (g * h,), (width,), "recurrent_bias", gates),
        ]
    if p:
        weights.append(at.weight(f"weight_hr{sfx}", (p, h), ("P", "H"), "projection", "", True))
    return weights


def _keras_cell(spec: ModelSpec, layer: int, direction: Direction) -> list[Weight]:
    h, gates = spec.hidden_size, KERAS_GATES[spec.cell]
    g, width = len(gates), _times(len(gates), "H")
    features, letter = layer_inputs(spec, layer)
    at = _place(spec, layer, direction)
    base = KERAS_LAYER[spec.cell]
    name = base if layer == 0 else f"{base}_{layer}"
    if spec.bidirectional:
        wrapper = "bidirectional" if layer == 0 else f"bidirectional_{layer}"
        name = f"{wrapper}/{direction}_{name}"
    prefix = f"{name}/{base}_cell/"
    weights = [
        at.weight(prefix + "kernel", (features, g * h), (letter, width), "input", gates),
        at.weight(prefix + "recurrent_kernel", (h, g * h), ("H", width), "recurrent", gates),
    ]
    if spec.bias and spec.keras_reset_after:
        weights.append(at.weight(prefix + "bias", (2, g * h), ("2", width), "biases", gates))
    elif spec.bias:
        weights.append(at.weight(prefix + "bias", (g * h,), (width,), "input_bias", gates))
    return weights


def _head(spec: ModelSpec) -> tuple[Weight, ...]:
    """The output layer on the last layer's D*H (D*P) features, unless O is 0."""
    if not spec.has_output_layer:
        return ()
    o = spec.output_size
    features = spec.directions * spec.state_size
    letter = _times(spec.directions, "P" if spec.proj_size else "H")
    names, shape, symbols, transposed = {
        "seed": (("W_yh", "b_y"), (features, o), (letter, "O"), False),
        "pytorch": (("weight", "bias"), (o, features), ("O", letter), True),
        "keras": (("dense/kernel", "dense/bias"), (features, o), (letter, "O"), False),
    }[spec.convention]
    return (
        Weight(
            names[0],
            shape,
            symbols,
            "output",
            "output",
            "output",
            spec.layers,
            "forward",
            "",
            transposed,
        ),
        Weight(names[1], (o,), ("O",), "output_bias", "output", "output", spec.layers),
    )
