"""The one source of truth for weight shapes.

Every count, breakdown, explanation and forward-pass array in rnncalc is derived from the
tuples returned here; nothing else multiplies sizes together to count parameters.

Shapes follow the seed's row-vector convention: an input row x_t (1 x I) is multiplied on
the right, x_t W_xh, so W_xh has shape I x H.  The counts agree with the frameworks:
``torch.nn.RNN(I, H)`` holds I*H + H*H + 2*H parameters (its ``bias_ih`` and ``bias_hh``
are two copies of the seed's b_h; see the PyTorch ``nn.RNN`` docs, "Variables"), Keras
``SimpleRNN(H)`` holds I*H + H*H + H (``kernel``, ``recurrent_kernel``, ``bias``), and a
dense layer ``Linear``/``Dense`` from n to m units holds n*m + m.

Standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from .spec import ModelSpec

Role = Literal["input", "recurrent", "input_recurrent", "bias", "output", "output_bias"]
Part = Literal["recurrent", "hidden", "output"]

ROLE_DESCRIPTIONS: dict[Role, str] = {
    "input": "input -> hidden",
    "recurrent": "hidden -> hidden",
    "input_recurrent": "[hidden, input] -> hidden",
    "bias": "hidden bias",
    "output": "hidden -> output",
    "output_bias": "output bias",
}


@dataclass(frozen=True)
class Weight:
    """One weight tensor: its name, its shape in numbers and in the seed's letters."""

    name: str
    shape: tuple[int, ...]
    symbols: tuple[str, ...]
    role: Role
    part: Part

    @property
    def count(self) -> int:
        """Number of elements, an exact Python int."""
        return math.prod(self.shape)


def rnn_weights(spec: ModelSpec) -> tuple[Weight, ...]:
    """Weights of the seed's RNN, in the order the seed lists them.

    ``separate``: W_xh (I x H), W_hh (H x H), b_h (H).  ``concat``: W_h ((H+I) x H), the
    vertical stack of W_hh over W_xh, and b_h.  Then the output layer W_yh (H x O) and
    b_y (O), unless ``output_size`` is 0.
    """
    i, h = spec.input_size, spec.hidden_size
    if spec.notation == "concat":
        hidden: tuple[Weight, ...] = (
            Weight("W_h", (h + i, h), ("H+I", "H"), "input_recurrent", "recurrent"),
        )
    else:
        hidden = (
            Weight("W_xh", (i, h), ("I", "H"), "input", "recurrent"),
            Weight("W_hh", (h, h), ("H", "H"), "recurrent", "recurrent"),
        )
    hidden += (Weight("b_h", (h,), ("H",), "bias", "recurrent"),)
    return hidden + _output_layer("W_yh", "b_y", h, "H", spec.output_size)


def dense_weights(spec: ModelSpec) -> tuple[Weight, ...]:
    """Weights of the seed's dense equivalent: an MLP over the flattened input.

    The input layer has T*I units (every timestep's input side by side), the hidden layer
    T*H units (one per RNN hidden unit per step) and the output layer O units, so
    W_1 is (T*I) x (T*H), b_1 is T*H, W_2 is (T*H) x O and b_2 is O.
    """
    t = spec.timesteps
    width = t * spec.hidden_size
    hidden = (
        Weight("W_1", (t * spec.input_size, width), ("T·I", "T·H"), "input", "hidden"),
        Weight("b_1", (width,), ("T·H",), "bias", "hidden"),
    )
    return hidden + _output_layer("W_2", "b_2", width, "T·H", spec.output_size)


def _output_layer(
    weight: str, bias: str, features: int, symbol: str, outputs: int
) -> tuple[Weight, ...]:
    if outputs == 0:
        return ()
    return (
        Weight(weight, (features, outputs), (symbol, "O"), "output", "output"),
        Weight(bias, (outputs,), ("O",), "output_bias", "output"),
    )
