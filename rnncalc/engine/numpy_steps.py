"""The NumPy pass's steps, one function per cell: a step's product and its element-wise work
in place, on the buffers :mod:`.fast` gives it (see its docstring for the layout and why).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .assemble import DirectionParams
from .types import Array


def _gate_sigmoid(a: Array) -> None:
    # sigma(a) = (1 + tanh(a/2)) / 2, in place and without temporaries: gates are mixed
    # into sums, where its absolute error (~1e-16) is what matters.
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


@dataclass(frozen=True)
class _Chunk:
    """What every step of one direction needs for its rows of the batch: the parameters,
    [W_h; b_h], the LSTM's cell state, two scratch rows and f_h.
    """

    p: DirectionParams
    w_aug: Array
    c: Array
    scratch: Array
    f_h: Callable[[Array], None]


StepFunction = Callable[[_Chunk, Array, Array, Array], None]


def _rnn_step(k: _Chunk, z: Array, prev: Array, out: Array) -> None:
    np.matmul(prev, k.w_aug, out=out)
    out += z
    k.f_h(out)


def _lstm_layout(a: Array) -> Array:
    """Gate columns i, f, g, o reordered to i, f, o, g, the sigmoid gates halved: then one
    tanh serves all four, as sigma(v) = (1 + tanh(v/2)) / 2.
    """
    h = a.shape[-1] // 4
    out = np.empty_like(a)
    for k, (source, scale) in enumerate(((0, 0.5), (1, 0.5), (3, 0.5), (2, 1.0))):
        np.multiply(a[..., source * h : (source + 1) * h], scale, out=out[..., k * h : (k + 1) * h])
    return out


def _lstm_step(k: _Chunk, z: Array, prev: Array, out: Array) -> None:
    a, c = k.scratch[0], k.c
    h = c.shape[1]
    np.matmul(prev, k.w_aug, out=a)
    a += z
    np.tanh(a, out=a)  # tanh(v/2) for i, f, o; tanh(v) for g (see _lstm_layout)
    gates = a[:, : 3 * h]
    gates *= 0.5
    gates += 0.5
    c *= a[:, h : 2 * h]
    g = a[:, 3 * h :]
    g *= a[:, :h]
    c += g
    cell_out = k.scratch[1][:, :h]
    np.tanh(c, out=cell_out)
    o = a[:, 2 * h : 3 * h]
    if k.p.w_hr is None:
        np.multiply(o, cell_out, out=out)
    else:
        cell_out *= o
        np.matmul(cell_out, k.p.w_hr, out=out)


def _gru_step(k: _Chunk, z: Array, prev: Array, out: Array) -> None:
    a = k.scratch[0]
    h = a.shape[1] // 3
    np.matmul(prev, k.w_aug, out=a)  # h W_h + b_h
    gates = a[:, : 2 * h]
    gates += z[:, : 2 * h]
    _gate_sigmoid(gates)
    n = a[:, 2 * h :]
    n *= a[:, :h]  # r * (h W_hn + b_hn)
    n += z[:, 2 * h :]
    np.tanh(n, out=n)
    _blend(n, a[:, h : 2 * h], prev[:, :h], out, k.scratch[1][:, :h])


def _gru_before_step(k: _Chunk, z: Array, prev: Array, out: Array) -> None:
    a = k.scratch[0]
    h = a.shape[1] // 3
    gates = a[:, : 2 * h]
    np.matmul(prev, k.w_aug[:, : 2 * h], out=gates)
    gates += z[:, : 2 * h]
    _gate_sigmoid(gates)
    reset = k.scratch[1][:, :h]
    np.multiply(a[:, :h], prev[:, :h], out=reset)  # r * h
    n = a[:, 2 * h :]
    np.matmul(reset, k.p.w_h[:, 2 * h :], out=n)
    n += z[:, 2 * h :]
    np.tanh(n, out=n)
    _blend(n, a[:, h : 2 * h], prev[:, :h], out, reset)


def _blend(n: Array, update: Array, h: Array, out: Array, scratch: Array) -> None:
    """out = (1 - z)*n + z*h, written as n + z*(h - n)."""
    np.subtract(h, n, out=scratch)
    scratch *= update
    np.add(n, scratch, out=out)


_STEPS: dict[str, StepFunction] = {
    "rnn": _rnn_step,
    "lstm": _lstm_step,
    "gru": _gru_step,
    "gru_before": _gru_before_step,
}
