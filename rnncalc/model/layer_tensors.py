"""Each layer kind's tensors in each convention, for the walk in :mod:`rnncalc.model.shapes`:
an embedding's table (:func:`_embedding`), a stacked recurrent layer's cell in both
directions (:class:`_Cell`: seed, PyTorch and Keras layouts) and a dense layer's weight and
bias (:func:`_dense`, :func:`_dense_bias`).

Standard library only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .naming import KERAS_LAYER, Letters, pytorch_modules, seed_dense_names, times
from .network import Dense, Embedding, Recurrent, Stage
from .spec import GATES, ModelSpec
from .weight import Direction, Role, Weight

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .shapes import _Walk

#: Keras stores the GRU's gates as z, r, h (h being our n); its LSTM as i, f, c, o.
KERAS_GATES = {"rnn": "h", "lstm": "ifgo", "gru": "zrn"}


def directions(spec: ModelSpec | Recurrent) -> tuple[Direction, ...]:
    """The directions of each layer: forward, and backward when bidirectional."""
    return ("forward", "backward") if spec.bidirectional else ("forward",)


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
