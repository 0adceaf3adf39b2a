"""The memory part of :mod:`rnncalc.analysis.cost`: bytes of the parameters per data type,
of the activations a forward pass keeps for backpropagation, and of a training step.

Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model.network import Network
from ..model.spec import DTYPE_BYTES
from .cost_compute import _dense_layers
from .tools import recurrent_layers

PARAMETER_DTYPES = ("float32", "float16", "bfloat16", "int8")


@dataclass(frozen=True)
class Memory:
    """Bytes: parameters per data type, activations of a forward pass, a training step."""

    parameter_count: int
    activation_elements: dict[str, int]
    activation_formulas: dict[str, str]
    dtype: str

    @property
    def parameters(self) -> dict[str, int]:
        """Bytes of the parameters stored as float32, float16, bfloat16 and int8."""
        return {name: self.parameter_count * DTYPE_BYTES[name] for name in PARAMETER_DTYPES}

    @property
    def activations(self) -> int:
        """Bytes of the activations kept for backpropagation, in ``dtype``."""
        return sum(self.activation_elements.values()) * DTYPE_BYTES[self.dtype]

    @property
    def activation_bytes(self) -> dict[str, int]:
        """Bytes of each kind of activation kept, in ``dtype``."""
        return {name: n * self.itemsize for name, n in self.activation_elements.items()}

    @property
    def itemsize(self) -> int:
        """Bytes per element of ``dtype``."""
        return DTYPE_BYTES[self.dtype]

    @property
    def training(self) -> dict[str, int]:
        """Weights, gradients, Adam's two moments (each the size of the weights) and the
        activations kept for backpropagation through time, in ``dtype``.
        """
        weights = self.parameter_count * DTYPE_BYTES[self.dtype]
        return {
            "weights": weights,
            "gradients": weights,
            "adam_moments": 2 * weights,
            "activations": self.activations,
        }

    @property
    def training_total(self) -> int:
        """Bytes of a training step: the sum of :attr:`training`."""
        return sum(self.training.values())

    def to_dict(self) -> dict[str, Any]:
        """Parameters per dtype, the activations (elements, formulas, bytes), training."""
        return {
            "parameters": self.parameters,
            "activations": {
                "elements": self.activation_elements,
                "formulas": self.activation_formulas,
                "bytes": self.activations,
            },
            "training": {**self.training, "total": self.training_total},
        }


Kept = dict[str, tuple[int, str]]


def _keep(kept: dict[str, list[tuple[int, str, str]]]) -> Kept:
    """Sum each kind's parts; one part keeps its formula in letters."""
    out: Kept = {}
    for name, parts in kept.items():
        total = sum(n for n, _, _ in parts)
        if len(parts) == 1:
            out[name] = (total, f"{parts[0][1]} = {parts[0][2]}")
        else:
            out[name] = (total, " + ".join(numbers for _, _, numbers in parts))
    return out


def _inputs(network: Network, b: int, kept: dict[str, list[tuple[int, str, str]]]) -> None:
    """Each stage's inputs, as vectors: I features, or the embedding's E per token."""
    for stage in network.stages:
        width, letter = (stage.features, "E" if stage.embedding else "I")
        kept.setdefault("inputs", []).append(
            (b * stage.timesteps * width, f"B·T·{letter}", f"{b}·{stage.timesteps}·{width}")
        )


def _outputs(network: Network, b: int, kept: dict[str, list[tuple[int, str, str]]]) -> None:
    """Each dense layer's outputs, once or at every step: the same in both models."""
    for stage, layer in _dense_layers(network):
        last = layer is stage.dense[-1]
        steps = stage.timesteps if layer.steps == "all" else 1
        kept.setdefault("outputs" if last else "dense outputs", []).append(
            (
                b * steps * layer.units,
                f"B·{'T·' if steps > 1 else ''}{'O' if last else 'U'}",
                f"{b}·{f'{steps}·' if steps > 1 else ''}{layer.units}",
            )
        )


def _rnn_activations(network: Network, b: int) -> Kept:
    """Elements a forward pass keeps for backpropagation through time, with formulas: the
    input vectors (an embedding's rows), every layer's states and gate buffers, the dense
    layers' outputs.
    """
    kept: dict[str, list[tuple[int, str, str]]] = {}
    _inputs(network, b, kept)
    for stage, layer, _ in recurrent_layers(network):
        t, runs = stage.timesteps, layer.stack * layer.directions
        ld = f"{b}·{t}·{layer.stack}·{layer.directions}"
        s, h, g = layer.state_size, layer.hidden_size, layer.gates
        state = "P" if layer.proj_size else "H"
        kept.setdefault("hidden states", []).append(
            (b * t * runs * s, f"B·T·L·D·{state}", f"{ld}·{s}")
        )
        if layer.cell != "rnn":
            kept.setdefault("gate buffers", []).append(
                (b * t * runs * g * h, f"B·T·L·D·{g}·H", f"{ld}·{g}·{h}")
            )
        if layer.cell == "lstm":
            kept.setdefault("cell states", []).append((b * t * runs * h, "B·T·L·D·H", f"{ld}·{h}"))
    _outputs(network, b, kept)
    return _keep(kept)


def _dense_activations(network: Network, b: int) -> Kept:
    """The dense equivalent's inputs, hidden units (T·D·H per recurrent layer) and the
    dense layers' outputs.
    """
    kept: dict[str, list[tuple[int, str, str]]] = {}
    _inputs(network, b, kept)
    for stage, layer, _ in recurrent_layers(network):
        t, d, h = stage.timesteps, layer.directions, layer.hidden_size
        kept.setdefault("hidden units", []).append(
            (b * layer.stack * t * d * h, "B·L·T·D·H", f"{b}·{layer.stack}·{t}·{d}·{h}")
        )
    _outputs(network, b, kept)
    return _keep(kept)


def _memory(parameters: int, kept: Kept, dtype: str) -> Memory:
    elements = {name: n for name, (n, _) in kept.items()}
    formulas = {name: formula for name, (_, formula) in kept.items()}
    return Memory(parameters, elements, formulas, dtype)
