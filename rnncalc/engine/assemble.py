"""Any convention's weights read into one canonical form per layer and direction.

Weights arrive by their convention's names and shapes (seed, PyTorch or Keras, as listed by
:mod:`rnncalc.model.shapes`) and become row-vector matrices (``x_t W_x``), gates in
PyTorch's order (LSTM i, f, g, o; GRU r, z, n), an input-side and a recurrent-side bias.
The fast pass and the step-by-step equations both start from this form, so a convention's
layout is read in exactly one place: :func:`assemble_network` for a whole network (its
embeddings, recurrent layers and dense layers, a tied layer reading the embedding's
table), and :func:`assemble` for the seed-style spec, whose stack and head it repackages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..model import network as model
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
    """Stacked layers of one cell in canonical form (each a tuple of directions) and,
    for the seed-style spec, its head.
    """

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


@dataclass(frozen=True)
class Lookup:
    """An embedding: token ids pick rows of ``table`` (V, E)."""

    table: Array


@dataclass(frozen=True)
class Stack:
    """A recurrent layer: its stacked layers (no head) and the vanilla RNN's f_h."""

    net: Network
    activation: str


@dataclass(frozen=True)
class Affine:
    """A dense layer in row form, y = f(x W + b), on the last step or on every step."""

    w: Array  # (in, units); a tied layer's is a copy of the embedding's table, transposed
    b: Array | None
    activation: str
    steps: str


Part = Lookup | Stack | Affine


@dataclass(frozen=True)
class Canonical:
    """A whole network in canonical form: each stage's layers, in order."""

    stages: tuple[tuple[Part, ...], ...]


def gru_resets_after(spec: ModelSpec) -> bool:
    """PyTorch's and Keras's default GRU apply the reset gate after the recurrent product."""
    return spec.convention == "pytorch" or spec.keras_reset_after


def assemble(spec: ModelSpec, arrays: Mapping[str, Array], dtype: Any) -> Network:
    """The seed-style spec's stack and head in canonical form (see :func:`assemble_network`)."""
    stack, *dense = assemble_network(spec.network(), arrays, dtype).stages[0]
    assert isinstance(stack, Stack)
    head = None
    if dense:
        (affine,) = dense
        assert isinstance(affine, Affine)
        assert affine.b is not None  # the spec's head has a bias
        head = (affine.w, affine.b)
    return Network(stack.net.cell, stack.net.reset_after, stack.net.layers, head)


def assemble_network(network: model.Network, arrays: Mapping[str, Array], dtype: Any) -> Canonical:
    """Read the convention's arrays into canonical form, using the shape list's metadata.

    A tied dense layer reads the embedding's table, stored once under the embedding's
    name.  A recurrent tensor or an embedding of the wrong shape raises ValueError; a dense
    layer's matrix is taken as it comes, so that a wrong one shows in its output's shape.
    """
    listed: dict[tuple[int, int], list[shapes.Weight]] = {}
    for w in shapes.rnn_weights(network):
        listed.setdefault((w.stage, w.module), []).append(w)
    stages = []
    for s, stage in enumerate(network.stages):
        width = stage.features
        parts: list[Part] = []
        for k, layer in enumerate(stage.layers):
            weights = listed.get((s, k), [])
            if isinstance(layer, model.Embedding):
                (w,) = weights
                table = np.asarray(arrays[w.name], dtype)
                if table.shape != w.shape:
                    raise ValueError(f"{w.name} gives {table.shape}, expected {w.shape}")
                parts.append(Lookup(table))
            elif isinstance(layer, model.Recurrent):
                net = _stack(network.convention, layer, weights, width, arrays, dtype)
                parts.append(Stack(net, layer.activation))
                width = layer.width
            else:
                w, *bias = weights
                matrix = np.asarray(arrays[w.tied or w.name], dtype)
                if w.transposed or w.tied:  # row form, contiguous for the GEMM
                    matrix = np.ascontiguousarray(matrix.T)
                b = np.asarray(arrays[bias[0].name], dtype) if bias else None
                parts.append(Affine(matrix, b, layer.activation, layer.steps))
                width = layer.units
        stages.append(tuple(parts))
    return Canonical(tuple(stages))


def _stack(
    convention: str,
    layer: model.Recurrent,
    listed: list[shapes.Weight],
    features: int,
    arrays: Mapping[str, Array],
    dtype: Any,
) -> Network:
    """One recurrent layer's stacked layers, each direction in canonical form."""
    h, size, order = layer.hidden_size, layer.state_size, GATES[layer.cell]
    width = len(order) * h
    layers = []
    for sub in range(layer.stack):
        directions = []
        for direction in shapes.directions(layer):
            parts: dict[str, Array] = {
                "w_x": np.zeros((features if sub == 0 else layer.width, width), dtype),
                "w_h": np.zeros((size, width), dtype),
                "b_x": np.zeros(width, dtype),
                "b_h": np.zeros(width, dtype),
            }
            w_hr = None
            for w in listed:
                if w.sublayer != sub or w.direction != direction:
                    continue
                a = np.asarray(arrays[w.name], dtype)
                a = a.T if w.transposed else a
                if w.role == "projection":
                    expected = (h, layer.proj_size)
                    if a.shape != expected:
                        raise ValueError(f"{w.name} gives {a.shape}, expected {expected}")
                    w_hr = a
                elif w.role == "input_recurrent":  # [h_{t-1}, x_t] W_h: W_hh stacked over W_xh
                    _place(parts["w_h"], a[:size], w, order, h)
                    _place(parts["w_x"], a[size:], w, order, h)
                elif w.role == "biases":  # Keras reset_after: row 0 input, row 1 recurrent
                    _place(parts["b_x"], a[0], w, order, h)
                    _place(parts["b_h"], a[1], w, order, h)
                else:
                    target = {"input": "w_x", "recurrent": "w_h", "input_bias": "b_x"}
                    _place(parts[target.get(w.role, "b_h")], a, w, order, h)
            directions.append(DirectionParams(w_hr=w_hr, **parts))
        layers.append(tuple(directions))
    resets_after = convention == "pytorch" or (convention == "keras" and layer.reset_after)
    return Network(layer.cell, resets_after, tuple(layers), None)


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
