"""Any convention's weights read into one canonical form per layer and direction.

Weights arrive by their convention's names and shapes (seed, PyTorch or Keras, as listed by
:mod:`rnncalc.model.shapes`) and become row-vector matrices (``x_t W_x``), gates in
PyTorch's order (LSTM i, f, g, o; GRU r, z, n), an input-side and a recurrent-side bias.
The fast pass and the step-by-step equations both start from this form, so a convention's
layout is read in exactly one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..model import shapes
from ..model.spec import GATES, ModelSpec
from .types import Array


@dataclass(frozen=True)
class DirectionParams:
    """One direction of one layer in canonical form (gates in PyTorch's order)."""

    w_x: Array  # (in, G*H)
    w_h: Array  # (H or P, G*H)
    b_x: Array  # (G*H,): zeros when absent
    b_h: Array  # (G*H,): the recurrent-side bias; zeros when absent
    w_hr: Array | None  # (H, P): PyTorch's LSTM projection, row form


@dataclass(frozen=True)
class Network:
    """A whole network in canonical form: its layers (each a tuple of directions) and head."""

    cell: str
    reset_after: bool
    layers: tuple[tuple[DirectionParams, ...], ...]
    head: tuple[Array, Array] | None  # (W_y (D*H, O), b_y (O,))

    @property
    def state_size(self) -> int:
        """Features each direction emits: P with a projection, else H."""
        p = self.layers[0][0]
        if p.w_hr is not None:
            return int(p.w_hr.shape[1])
        return int(p.w_h.shape[1]) // len(GATES[self.cell])


def gru_resets_after(spec: ModelSpec) -> bool:
    """PyTorch's and Keras's default GRU apply the reset gate after the recurrent product."""
    return spec.convention == "pytorch" or spec.keras_reset_after


def assemble(spec: ModelSpec, arrays: Mapping[str, Array], dtype: Any) -> Network:
    """Read the convention's arrays into canonical form, using the shape list's metadata."""
    listed = shapes.rnn_weights(spec)
    h, order = spec.hidden_size, GATES[spec.cell]
    width = len(order) * h
    layers = []
    for layer in range(spec.layers):
        directions = []
        for direction in shapes.directions(spec):
            features, _ = shapes.layer_inputs(spec, layer)
            parts: dict[str, Array] = {
                "w_x": np.zeros((features, width), dtype),
                "w_h": np.zeros((spec.state_size, width), dtype),
                "b_x": np.zeros(width, dtype),
                "b_h": np.zeros(width, dtype),
            }
            w_hr = None
            for w in listed:
                if w.layer != layer or w.direction != direction or w.part != "recurrent":
                    continue
                a = np.asarray(arrays[w.name], dtype)
                a = a.T if w.transposed else a
                if w.role == "projection":
                    expected = (h, spec.proj_size)
                    if a.shape != expected:
                        raise ValueError(f"{w.name} gives {a.shape}, expected {expected}")
                    w_hr = a
                elif w.role == "input_recurrent":  # [h_{t-1}, x_t] W_h: W_hh stacked over W_xh
                    _place(parts["w_h"], a[: spec.state_size], w, order, h)
                    _place(parts["w_x"], a[spec.state_size :], w, order, h)
                elif w.role == "biases":  # Keras reset_after: row 0 input, row 1 recurrent
                    _place(parts["b_x"], a[0], w, order, h)
                    _place(parts["b_h"], a[1], w, order, h)
                else:
                    target = {"input": "w_x", "recurrent": "w_h", "input_bias": "b_x"}
                    _place(parts[target.get(w.role, "b_h")], a, w, order, h)
            directions.append(DirectionParams(w_hr=w_hr, **parts))
        layers.append(tuple(directions))
    head = None
    if spec.has_output_layer:
        w_y, b_y = (w for w in listed if w.part == "output")
        matrix = np.asarray(arrays[w_y.name], dtype)
        head = (matrix.T if w_y.transposed else matrix, np.asarray(arrays[b_y.name], dtype))
    return Network(spec.cell, gru_resets_after(spec), tuple(layers), head)


def _place(target: Array, source: Array, w: shapes.Weight, order: str, h: int) -> None:
    """Copy ``source``'s gate blocks (in the order ``w.gates``) to their canonical columns.

    The canonical shape comes from the sizes alone, so a tensor whose listed shape is wrong
    raises here instead of being cut to fit.
    """
    expected = (*target.shape[:-1], len(w.gates) * h)
    if source.shape != expected:
        raise ValueError(f"{w.name} gives {source.shape} in row form, expected {expected}")
    for k, gate in enumerate(w.gates):
        j = order.index(gate)
        target[..., j * h : (j + 1) * h] = source[..., k * h : (k + 1) * h]
