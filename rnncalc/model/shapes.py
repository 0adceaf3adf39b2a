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
* embeddings: ``nn.Embedding`` ``weight`` and Keras ``Embedding`` ``embeddings``, both
  (vocab_size, dim); a tied output layer shares it (``nn.Linear(dim, vocab).weight`` has the
  same shape), so it is listed with ``tied`` set and counted once, at the embedding.

How a whole network's tensors are named in each convention is :mod:`rnncalc.model.naming`;
each layer kind contributes its tensors in one function below (:func:`_embedding`,
:func:`_seed_cell`, :func:`_pytorch_cell`, :func:`_keras_cell`, :func:`_dense`), and the
dense equivalent in :func:`dense_weights`.

Standard library only.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from .naming import (
    KERAS_LAYER,
    KerasNames,
    Letters,
    dense_steps,
    pytorch_modules,
    seed_dense_names,
    times,
)
from .network import Dense, Embedding, Network, Recurrent, Stage
from .record import Record
from .spec import GATES, ModelSpec, SpecError, shown

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The most stacked layers whose tensors are listed one by one.  Deeper stacks are
#: counted (terms, below) but not listed: a table of their tensors would have thousands
#: of rows, and a model that deep is almost always a typo.
MAX_LISTED_LAYERS = 100

Role = Literal[
    "embedding",
    "input",
    "hidden",
    "recurrent",
    "input_recurrent",
    "input_bias",
    "recurrent_bias",
    "biases",
    "projection",
    "dense",
    "dense_bias",
    "output",
    "output_bias",
]
Part = Literal["embedding", "recurrent", "hidden", "output"]
Direction = Literal["forward", "backward"]

#: Keras stores the GRU's gates as z, r, h (h being our n); its LSTM as i, f, c, o.
KERAS_GATES = {"rnn": "h", "lstm": "ifgo", "gru": "zrn"}

#: Roles of tensors that are added, not multiplied: biases.
BIAS_ROLES = frozenset({"input_bias", "recurrent_bias", "biases", "dense_bias", "output_bias"})

ROLE_DESCRIPTIONS: dict[Role, str] = {
    "embedding": "token -> vector",
    "input": "input -> hidden",
    "hidden": "hidden -> hidden",
    "recurrent": "hidden -> hidden",
    "input_recurrent": "[hidden, input] -> hidden",
    "input_bias": "hidden bias",
    "recurrent_bias": "recurrent bias",
    "biases": "input and recurrent biases",
    "projection": "projection",
    "dense": "dense layer",
    "dense_bias": "dense bias",
    "output": "hidden -> output",
    "output_bias": "output bias",
}


class Weight(Record):
    """One weight tensor: its name, its shape in numbers and in letters, and its place.

    ``gates`` lists, in order, the gate blocks the tensor holds along its gate axis;
    ``transposed`` marks PyTorch's (out, in) layout, where the seed and Keras use (in, out).
    ``group`` labels the subtotal the tensor counts towards.  ``layer`` is the stacked
    recurrent layer it belongs to, or for other layers how many stacked layers precede it
    (the seed's output layer sits at L); ``stage`` (0, or 1 for a decoder), ``module`` (the
    layer's index in its stage) and ``sublayer`` (its place in a stack) place it in a
    :class:`~rnncalc.model.network.Network`.  ``tied`` names the tensor whose storage it
    shares (a language model's output layer and its embedding): it then adds nothing to
    the count.
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
        "stage",
        "module",
        "sublayer",
        "tied",
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
    stage: int
    module: int
    sublayer: int
    tied: str

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
        stage: int = 0,
        module: int = 0,
        sublayer: int = 0,
        tied: str = "",
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
            stage=stage,
            module=module,
            sublayer=sublayer,
            tied=tied,
        )

    @property
    def elements(self) -> int:
        """Number of elements, an exact Python int."""
        return math.prod(self.shape)

    @property
    def count(self) -> int:
        """Parameters the tensor adds to the model: its elements, or 0 when ``tied`` (they
        are counted at the tensor it shares).
        """
        return 0 if self.tied else math.prod(self.shape)


class Term:
    """A weight and how many tensors like it a model holds: 1, or s-1 for a tensor of the
    second layer of a stack of s, which every layer above it repeats with the same shape.

    Terms fold a stack of any depth in constant work: sum ``count`` over them for a total,
    over those of one role for a cost.  The weights come from stacks of at most two
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
        """Parameters of all the tensors this term stands for."""
        return self.weight.count * self.times

    @property
    def elements(self) -> int:
        """Elements of all the tensors this term stands for (tied ones included)."""
        return self.weight.elements * self.times

    @property
    def repeated(self) -> bool:
        """Whether the term stands for layers 2 to s of a stack (``times`` is s-1)."""
        return self.weight.sublayer == 1


def as_network(model: ModelSpec | Network) -> Network:
    """The network a model describes: itself, or the seed-style spec's network."""
    return model if isinstance(model, Network) else model.network()


def rnn_weights(model: ModelSpec | Network) -> tuple[Weight, ...]:
    """Every weight of the recurrent network, in the order its convention lists them.

    Raises SpecError beyond :data:`MAX_LISTED_LAYERS` stacked layers (use
    :func:`rnn_terms`).
    """
    network = as_network(model)
    _listable(network)
    return tuple(_Walk(network, None).rnn())


def dense_weights(model: ModelSpec | Network) -> tuple[Weight, ...]:
    """Weights of the dense equivalent, the seed's rule for whole networks.

    Each stacked recurrent layer becomes a fully connected layer over the whole flattened
    sequence: T*in inputs (every step's features side by side) to T*D*H units (one per RNN
    hidden unit per step and direction), so the seed's 12 -> 9 -> 1 comes out.  A
    decoder's layer also reads its encoder layer's T*D*H outputs, in place of the final
    state it starts from.  Everything else keeps its kind: an embedding is the same table,
    a dense layer on every step reads each step's D*H units, and the first dense layer on
    the last step reads them all (T*D*H), as the seed's output layer does.  A tied layer
    stays tied when it reads one step of the embedding's width.  Raises SpecError beyond
    :data:`MAX_LISTED_LAYERS` stacked layers (use :func:`dense_terms`).
    """
    network = as_network(model)
    _listable(network)
    return tuple(_Walk(network, None).dense())


def rnn_terms(model: ModelSpec | Network) -> tuple[Term, ...]:
    """The recurrent network's weights as terms: constant work for any stack depth."""
    network = as_network(model)
    return _terms(network, _Walk(network, 2).rnn())


def dense_terms(model: ModelSpec | Network) -> tuple[Term, ...]:
    """The dense equivalent's weights as terms: a stack's hidden layers 2 to s repeat 2."""
    network = as_network(model)
    return _terms(network, _Walk(network, 2).dense())


def _terms(network: Network, weights: Iterator[Weight]) -> tuple[Term, ...]:
    terms = []
    for w in weights:
        times = 1
        if w.sublayer == 1:
            layer = network.stages[w.stage].layers[w.module]
            assert isinstance(layer, Recurrent)
            times = layer.stack - 1
        terms.append(Term(w, times))
    return tuple(terms)


def _listable(network: Network) -> None:
    depth = sum(stage.depth for stage in network.stages)
    if depth > MAX_LISTED_LAYERS:
        raise SpecError(
            "layers",
            f"tensors are listed one by one for at most {MAX_LISTED_LAYERS} stacked layers, "
            f"got {shown(depth)}; totals work at any depth (params -q, cost, sweep, fit)",
        )


def by_group(weights: tuple[Weight, ...]) -> dict[str, list[Weight]]:
    """The weights of each subtotal group, groups and weights in list order."""
    groups: dict[str, list[Weight]] = {}
    for w in weights:
        groups.setdefault(w.group, []).append(w)
    return groups


def directions(spec: ModelSpec | Recurrent) -> tuple[Direction, ...]:
    """The directions of each layer: forward, and backward when bidirectional."""
    return ("forward", "backward") if spec.bidirectional else ("forward",)


def layer_inputs(spec: ModelSpec, layer: int) -> tuple[int, str]:
    """Features entering ``layer`` of a seed-style stack, in numbers and letters: I, then
    D*H (D*P).
    """
    if layer == 0:
        return spec.input_size, "I"
    letter = "P" if spec.proj_size else "H"
    return spec.directions * spec.state_size, times(spec.directions, letter)


class _Walk:
    """One pass over a network's layers in order, naming and shaping their tensors.

    ``cap`` lists at most that many layers of each stack (2 for terms: the second stands
    for the rest); names and counters still advance as if all were listed.
    """

    def __init__(self, network: Network, cap: int | None) -> None:
        self.network, self.cap = network, cap
        self.keras = KerasNames()
        self.convention = network.convention
        #: The encoder's dense-equivalent outputs: (first depth, units, letters) per layer.
        self.encoder_outputs: list[tuple[int, int, str]] = []

    def _prefix(self, s: int) -> str:
        return ("encoder.", "decoder.")[s] if self.network.encoder_decoder else ""

    def _group(self, s: int, label: str) -> str:
        return (("encoder ", "decoder ")[s] if self.network.encoder_decoder else "") + label

    def _listed(self, layer: Recurrent) -> int:
        return layer.stack if self.cap is None else min(layer.stack, self.cap)

    # The recurrent network ------------------------------------------------------------

    def rnn(self) -> Iterator[Weight]:
        for s, stage in enumerate(self.network.stages):
            yield from self._rnn_stage(s, stage)

    def _rnn_stage(self, s: int, stage: Stage) -> Iterator[Weight]:
        modules = pytorch_modules(self.network, s) if self.convention == "pytorch" else []
        letters = Letters(self.network, s)
        width, letter = stage.features, letters.size("E" if stage.embedding else "I")
        depth, m, j = 0, 0, 0
        single = stage.depth == 1 and not stage.recurrent[0].bidirectional
        embedding = ""
        for k, layer in enumerate(stage.layers):
            if isinstance(layer, Embedding):
                w = _embedding(self, s, k, layer, modules, letters)
                embedding = w.name
                yield w
            elif isinstance(layer, Recurrent):
                state = letters.recurrent(m, "P" if layer.proj_size else "H")
                for sub in range(self._listed(layer)):
                    cell = _Cell(self, s, stage, k, layer, sub, depth + sub, letters, m)
                    cell.inputs = (width, letter)
                    cell.module = modules[k] if modules else ""
                    cell.single = single
                    yield from cell.weights()
                    width, letter = layer.width, times(layer.directions, state)
                if self.convention == "keras" and not layer.name:
                    self.keras.skip(KERAS_LAYER[layer.cell], layer.stack - self._listed(layer))
                    if layer.bidirectional:
                        self.keras.skip("bidirectional", layer.stack - self._listed(layer))
                width, letter = layer.width, times(layer.directions, state)
                depth += layer.stack
                m += 1
            else:
                yield from _dense(self, s, stage, k, layer, j, (width, letter), depth, embedding)
                width, letter = layer.units, letters.dense(j)
                j += 1

    # The dense equivalent ---------------------------------------------------------------

    def _encoder_output(self, depth: int) -> tuple[int, str]:
        """The encoder's stacked layer ``depth`` in the dense equivalent: units, letters."""
        below = [(units, symbol) for first, units, symbol in self.encoder_outputs if first <= depth]
        return below[-1]

    def dense(self) -> Iterator[Weight]:
        hidden_layers = sum(stage.depth for stage in self.network.stages)
        for s, stage in enumerate(self.network.stages):
            yield from self._dense_stage(s, stage, hidden_layers)

    def _dense_stage(self, s: int, stage: Stage, hidden_layers: int) -> Iterator[Weight]:
        letters = Letters(self.network, s)
        t, t_letter = stage.timesteps, letters.size("T")
        prefix = self._prefix(s)
        width, letter = stage.features, letters.size("E" if stage.embedding else "I")
        flattened = dense_steps(stage)
        n = depth = j = m = 0
        embedding: tuple[str, int] | None = None
        for k, layer in enumerate(stage.layers):
            if isinstance(layer, Embedding):
                v, e = layer.vocab_size, layer.dim
                name = prefix + "W_e"
                embedding = (name, e)
                yield Weight(
                    name,
                    (v, e),
                    (letters.size("V"), letters.size("E")),
                    "embedding",
                    "embedding",
                    self._group(s, "embedding"),
                    stage=s,
                    module=k,
                )
            elif isinstance(layer, Recurrent):
                units = t * layer.directions * layer.hidden_size
                unit_letter = times(layer.directions, letters.recurrent(m, "H"))
                for sub in range(self._listed(layer)):
                    n += 1
                    inputs, symbol = t * width, f"{t_letter}·{letter}"
                    if s == 1:
                        extra, extra_symbol = self._encoder_output(depth + sub)
                        inputs, symbol = inputs + extra, f"{symbol}+{extra_symbol}"
                    group = "hidden" if hidden_layers == 1 else f"hidden layer {n}"
                    out_symbol = f"{t_letter}·{unit_letter}"
                    yield Weight(
                        f"{prefix}W_{n}",
                        (inputs, units),
                        (symbol, out_symbol),
                        "input" if n == 1 else "hidden",
                        "hidden",
                        self._group(s, group),
                        depth + sub,
                        stage=s,
                        module=k,
                        sublayer=sub,
                    )
                    yield Weight(
                        f"{prefix}b_{n}",
                        (units,),
                        (out_symbol,),
                        "input_bias",
                        "hidden",
                        self._group(s, group),
                        depth + sub,
                        stage=s,
                        module=k,
                        sublayer=sub,
                    )
                    width, letter = layer.directions * layer.hidden_size, unit_letter
                if s == 0:
                    self.encoder_outputs.append((depth, units, f"{t_letter}·{unit_letter}"))
                n += layer.stack - self._listed(layer)
                width, letter = layer.directions * layer.hidden_size, unit_letter
                depth += layer.stack
                m += 1
            else:
                n += 1
                inputs, symbol = (t * width, f"{t_letter}·{letter}") if flattened[k] else (
                    width, letter)  # fmt: skip
                tied = ""
                if layer.tie and embedding is not None and not flattened[k]:
                    tied = embedding[0] if embedding[1] == width else ""
                last = j == len(stage.dense) - 1
                group = self._group(s, "output" if last else f"dense {j + 1}")
                unit = letters.dense(j)
                yield Weight(
                    f"{prefix}W_{n}",
                    (inputs, layer.units),
                    (symbol, unit),
                    "output" if last else "dense",
                    "output",
                    group,
                    depth,
                    stage=s,
                    module=k,
                    tied=tied,
                )
                if layer.bias:
                    yield _dense_bias(f"{prefix}b_{n}", layer.units, unit, last, group, depth, s, k)
                width, letter = layer.units, unit
                j += 1


def _embedding(
    walk: _Walk, s: int, k: int, layer: Embedding, modules: list[str], letters: Letters
) -> Weight:
    if walk.convention == "pytorch":
        name = modules[k] + "weight"
    elif walk.convention == "keras":
        name = f"{layer.name or walk.keras.next('embedding')}/embeddings"
    else:
        name = walk._prefix(s) + "W_e"
    return Weight(
        name,
        (layer.vocab_size, layer.dim),
        (letters.size("V"), letters.size("E")),
        "embedding",
        "embedding",
        walk._group(s, "embedding"),
        stage=s,
        module=k,
    )


class _Cell:
    """One stacked recurrent layer (both directions): where it sits, what it reads."""

    inputs: tuple[int, str]
    module: str
    single: bool

    def __init__(
        self,
        walk: _Walk,
        s: int,
        stage: Stage,
        k: int,
        layer: Recurrent,
        sub: int,
        depth: int,
        letters: Letters,
        m: int,
    ) -> None:
        self.walk, self.s, self.stage, self.k, self.layer = walk, s, stage, k, layer
        self.sub, self.depth = sub, depth
        self.h = letters.recurrent(m, "H")
        self.p = letters.recurrent(m, "P")

    def weight(
        self,
        name: str,
        shape: tuple[int, ...],
        symbols: tuple[str, ...],
        role: Role,
        gates: str,
        direction: Direction,
        transposed: bool = False,
    ) -> Weight:
        if self.single:
            group = "recurrent"
        else:
            group = f"layer {self.depth}" + (f" {direction}" if self.layer.bidirectional else "")
        return Weight(
            name,
            shape,
            symbols,
            role,
            "recurrent",
            self.walk._group(self.s, group),
            self.depth,
            direction,
            gates,
            transposed,
            self.s,
            self.k,
            self.sub,
        )

    def weights(self) -> Iterator[Weight]:
        build = {"seed": self._seed, "pytorch": self._pytorch, "keras": self._keras}
        names = self._keras_names() if self.walk.convention == "keras" else {}
        for direction in directions(self.layer):
            yield from build[self.walk.convention](direction, names)

    def _seed(self, direction: Direction, _names: dict[str, str]) -> Iterator[Weight]:
        h, gates = self.layer.hidden_size, GATES[self.layer.cell]
        features, letter = self.inputs
        sfx = (f"_l{self.depth}" if self.stage.depth > 1 else "") + (
            "_reverse" if direction == "backward" else ""
        )
        prefix = self.walk._prefix(self.s)
        if self.walk.network.notation == "concat":
            width = times(len(gates), self.h)
            yield self.weight(
                f"{prefix}W_h{sfx}",
                (h + features, len(gates) * h),
                (f"{self.h}+{letter}", width),
                "input_recurrent",
                gates,
                direction,
            )
            if self.layer.bias:
                yield self.weight(
                    f"{prefix}b_h{sfx}", (len(gates) * h,), (width,), "input_bias", gates, direction
                )
            return
        for gate in gates:
            yield self.weight(
                f"{prefix}W_x{gate}{sfx}", (features, h), (letter, self.h), "input", gate, direction
            )
            yield self.weight(
                f"{prefix}W_h{gate}{sfx}", (h, h), (self.h, self.h), "recurrent", gate, direction
            )
            if self.layer.bias:
                yield self.weight(
                    f"{prefix}b_{gate}{sfx}", (h,), (self.h,), "input_bias", gate, direction
                )

    def _pytorch(self, direction: Direction, _names: dict[str, str]) -> Iterator[Weight]:
        layer = self.layer
        h, p, gates = layer.hidden_size, layer.proj_size, GATES[layer.cell]
        g, width = len(gates), times(len(gates), self.h)
        features, letter = self.inputs
        sfx = f"_l{self.sub}" + ("_reverse" if direction == "backward" else "")
        state, state_letter = (p, self.p) if p else (h, self.h)
        base = self.module
        yield self.weight(
            f"{base}weight_ih{sfx}", (g * h, features), (width, letter), "input", gates,
            direction, True,
        )  # fmt: skip
        yield self.weight(
            f"{base}weight_hh{sfx}", (g * h, state), (width, state_letter), "recurrent", gates,
            direction, True,
        )  # fmt: skip
        if layer.bias:
            yield self.weight(
                f"{base}bias_ih{sfx}", (g * h,), (width,), "input_bias", gates, direction
            )
            yield self.weight(
                f"{base}bias_hh{sfx}", (g * h,), (width,), "recurrent_bias", gates, direction
            )
        if p:
            yield self.weight(
                f"{base}weight_hr{sfx}", (p, h), (self.p, self.h), "projection", "", direction,
                True,
            )  # fmt: skip

    def _keras_names(self) -> dict[str, str]:
        """The layer's (and its Bidirectional wrapper's) Keras names, one per stacked layer."""
        layer, keras = self.layer, self.walk.keras
        base = KERAS_LAYER[layer.cell]
        if layer.name:
            name = layer.name if self.sub == 0 else f"{layer.name}_{self.sub}"
        else:
            name = keras.next(base)
        if not layer.bidirectional:
            return {"forward": name}
        wrapper = keras.next("bidirectional")
        return {d: f"{wrapper}/{d}_{name}" for d in ("forward", "backward")}

    def _keras(self, direction: Direction, names: dict[str, str]) -> Iterator[Weight]:
        layer = self.layer
        h, gates = layer.hidden_size, KERAS_GATES[layer.cell]
        g, width = len(gates), times(len(gates), self.h)
        features, letter = self.inputs
        base = KERAS_LAYER[layer.cell]
        prefix = f"{names[direction]}/{base}_cell/"
        yield self.weight(
            prefix + "kernel", (features, g * h), (letter, width), "input", gates, direction
        )
        yield self.weight(
            prefix + "recurrent_kernel", (h, g * h), (self.h, width), "recurrent", gates,
            direction,
        )  # fmt: skip
        if layer.bias and layer.cell == "gru" and layer.reset_after:
            yield self.weight(prefix + "bias", (2, g * h), ("2", width), "biases", gates, direction)
        elif layer.bias:
            yield self.weight(prefix + "bias", (g * h,), (width,), "input_bias", gates, direction)


def _dense(
    walk: _Walk,
    s: int,
    stage: Stage,
    k: int,
    layer: Dense,
    j: int,
    inputs: tuple[int, str],
    depth: int,
    embedding: str,
) -> Iterator[Weight]:
    """A dense layer's weight (tied or its own) and bias, in the convention's names."""
    features, letter = inputs
    letters = Letters(walk.network, s)
    units, unit = layer.units, letters.dense(j)
    last = j == len(stage.dense) - 1
    group = walk._group(s, "output" if last else f"dense {j + 1}")
    if walk.convention == "pytorch":
        module = pytorch_modules(walk.network, s)[k]
        names = (module + "weight", module + "bias")
        shape, symbols, transposed = (units, features), (unit, letter), True
    else:
        if walk.convention == "keras":
            name = layer.name or walk.keras.next("dense")
            names = (f"{name}/kernel", f"{name}/bias")
        else:
            prefix = walk._prefix(s)
            names = tuple(prefix + n for n in seed_dense_names(stage, j))  # type: ignore[assignment]
        shape, symbols, transposed = (features, units), (letter, unit), False
    yield Weight(
        names[0],
        shape,
        symbols,
        "output" if last else "dense",
        "output",
        group,
        depth,
        "forward",
        "",
        transposed,
        s,
        k,
        tied=embedding if layer.tie else "",
    )
    if layer.bias:
        yield _dense_bias(names[1], units, unit, last, group, depth, s, k)


def _dense_bias(
    name: str, units: int, unit: str, last: bool, group: str, depth: int, s: int, k: int
) -> Weight:
    """A dense layer's bias: the output bias of the last one, a dense bias before it."""
    role: Role = "output_bias" if last else "dense_bias"
    return Weight(name, (units,), (unit,), role, "output", group, depth, stage=s, module=k)
