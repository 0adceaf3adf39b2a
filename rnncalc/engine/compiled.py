"""The compiled pass: each direction's time loop as one numba kernel, no interpreter per step.

The NumPy pass (:mod:`.fast`) spends a few microseconds of interpreter and call overhead on
each of its ten or so array operations per step, and makes a pass over memory for each; on
short, narrow steps that is most of its time.  These kernels run the same steps with the
same buffers (:mod:`.fast` projects the inputs and splits the batch), but compiled: each
step is one BLAS product of [h_{t-1}, 1] with [W_h; b_h] and one loop over the batch and
units that does every gate's arithmetic in registers.

Their products, tanh and sigmoid are :mod:`.kernel_math`'s.

numba compiles each kernel on its first call for each dtype and caches the machine code on
disk (``cache=True``: next to this file, or in numba's per-user cache when that is not
writable; ``NUMBA_CACHE_DIR`` moves it), so later processes only load it.  This module
imports numba: import it only when the compiled pass runs (see :mod:`.engines`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .kernel_math import _kernel, gemm, sigmoid, tanh
from .types import Array

if TYPE_CHECKING:
    from .assemble import DirectionParams, Network

#: Activation codes of the vanilla RNN's f_h, as :data:`HIDDEN_CODES` maps names to them.
TANH, RELU, SIGMOID, IDENTITY = range(4)
HIDDEN_CODES = {"tanh": TANH, "relu": RELU, "sigmoid": SIGMOID, "identity": IDENTITY}


@_kernel
def _activate(v: float, code: int) -> float:
    if code == TANH:
        return tanh(v)
    if code == RELU:
        return max(v, 0.0)
    if code == SIGMOID:
        return sigmoid(v)
    return v


# One step's element-wise work, rows lo to lo + len(a) of the batch, at step t.  ``a`` holds
# [h_{t-1}, 1] [W_h; b_h] for those rows, ``z`` (B, T, G*H) the input projections, ``hs``
# (T+1, B, S+1) the time-major states; ``prev`` and ``cur`` index hs.  Each loop reads and
# writes contiguous rows, so the compiler vectorises it.


@_kernel
def rnn_rows(a: Array, z: Array, t: int, lo: int, hs: Array, cur: int, code: int) -> None:
    """h = f(a + z_t), f by its code (:data:`HIDDEN_CODES`)."""
    units = a.shape[1]
    for b in range(a.shape[0]):
        ab, zb, out = a[b], z[lo + b, t], hs[cur, lo + b]
        if code == TANH:
            for j in range(units):
                out[j] = tanh(ab[j] + zb[j])
        else:
            for j in range(units):
                out[j] = _activate(ab[j] + zb[j], code)


@_kernel
def lstm_rows(
    a: Array, z: Array, t: int, lo: int, c: Array, hs: Array, cur: int, cell_out: Array,
    projecting: bool,
) -> None:  # fmt: skip
    """Gates i, f, g, o (PyTorch's order): c = f*c + i*g in place, o*tanh(c) into the
    states, or into ``cell_out`` (rows from 0) for a projection to multiply.
    """
    units = a.shape[1] // 4
    for b in range(a.shape[0]):
        ab, zb, cb = a[b], z[lo + b, t], c[lo + b]
        out = cell_out[b] if projecting else hs[cur, lo + b]
        for j in range(units):
            i = sigmoid(ab[j] + zb[j])
            f = sigmoid(ab[units + j] + zb[units + j])
            g = tanh(ab[2 * units + j] + zb[2 * units + j])
            o = sigmoid(ab[3 * units + j] + zb[3 * units + j])
            cell = f * cb[j] + i * g
            cb[j] = cell
            out[j] = o * tanh(cell)


@_kernel
def gru_rows(a: Array, z: Array, t: int, lo: int, hs: Array, prev: int, cur: int) -> None:
    """Gates r, z, n reset after the product: n = tanh(z_n + r*a_n), h = n + u*(h - n)."""
    units = a.shape[1] // 3
    for b in range(a.shape[0]):
        ab, zb, hb, out = a[b], z[lo + b, t], hs[prev, lo + b], hs[cur, lo + b]
        for j in range(units):
            r = sigmoid(ab[j] + zb[j])
            u = sigmoid(ab[units + j] + zb[units + j])
            n = tanh(zb[2 * units + j] + r * ab[2 * units + j])
            out[j] = n + u * (hb[j] - n)


@_kernel
def gru_reset_rows(a: Array, z: Array, t: int, lo: int, hs: Array, prev: int, reset: Array) -> None:
    """A GRU that resets before the product, first half: r*h into ``reset`` (``a`` holds
    the r and u columns only).
    """
    units = a.shape[1] // 2
    for b in range(a.shape[0]):
        ab, zb, hb, rb = a[b], z[lo + b, t], hs[prev, lo + b], reset[b]
        for j in range(units):
            rb[j] = sigmoid(ab[j] + zb[j]) * hb[j]


@_kernel
def gru_before_rows(
    a: Array, n: Array, z: Array, t: int, lo: int, hs: Array, prev: int, cur: int
) -> None:
    """Second half: n = tanh(z_n + (r*h) W_hn) from ``n`` = (r*h) W_hn, h = n + u*(h - n)."""
    units = n.shape[1]
    for b in range(a.shape[0]):
        ab, nb, zb, hb, out = a[b], n[b], z[lo + b, t], hs[prev, lo + b], hs[cur, lo + b]
        for j in range(units):
            u = sigmoid(ab[units + j] + zb[units + j])
            v = tanh(nb[j] + zb[2 * units + j])
            out[j] = v + u * (hb[j] - v)


# Whole runs of steps: each step one product (through NumPy's BLAS) and its rows.


@_kernel
def _order(steps: int, s: int, reverse: bool) -> tuple[int, int, int]:
    """Step ``s`` in reading order as (t, prev, cur): the time index and the states read
    and written.
    """
    if reverse:
        t = steps - 1 - s
        return t, t + 1, t
    return s, s, s + 1


@_kernel
def rnn_steps(
    z: Array, w: Array, hs: Array, lo: int, hi: int, reverse: bool, first: int, stop: int,
    code: int,
) -> None:  # fmt: skip
    """Steps ``first`` to ``stop`` (in reading order) of rows ``lo:hi`` of a vanilla RNN:
    h_t = f(z_t + [h_{t-1}, 1] [W_h; b_h]).  ``z`` holds x_t W_x + b_x.
    """
    a = np.empty((hi - lo, w.shape[1]), hs.dtype)
    for s in range(first, stop):
        t, prev, cur = _order(z.shape[1], s, reverse)
        gemm(hs[prev, lo:hi], w, a)
        rnn_rows(a, z, t, lo, hs, cur, code)


@_kernel
def lstm_steps(
    z: Array, w: Array, hs: Array, c: Array, w_hr: Array, lo: int, hi: int, reverse: bool,
    first: int, stop: int,
) -> None:  # fmt: skip
    """Steps ``first`` to ``stop`` of rows ``lo:hi`` of an LSTM; then h W_hr when ``w_hr``
    (H, P) has columns.  ``c`` (B, H), the cell state, is updated in place.
    """
    size = hs.shape[2] - 1
    projecting = w_hr.shape[1] > 0
    a = np.empty((hi - lo, w.shape[1]), hs.dtype)
    cell_out = np.empty((hi - lo, c.shape[1]), hs.dtype)
    for s in range(first, stop):
        t, prev, cur = _order(z.shape[1], s, reverse)
        gemm(hs[prev, lo:hi], w, a)
        lstm_rows(a, z, t, lo, c, hs, cur, cell_out, projecting)
        if projecting:
            gemm(cell_out, w_hr, hs[cur, lo:hi, :size])


@_kernel
def gru_steps(
    z: Array, w: Array, hs: Array, lo: int, hi: int, reverse: bool, first: int, stop: int
) -> None:
    """Steps ``first`` to ``stop`` of rows ``lo:hi`` of a GRU that resets after the
    product (PyTorch; Keras reset_after=True).
    """
    a = np.empty((hi - lo, w.shape[1]), hs.dtype)
    for s in range(first, stop):
        t, prev, cur = _order(z.shape[1], s, reverse)
        gemm(hs[prev, lo:hi], w, a)
        gru_rows(a, z, t, lo, hs, prev, cur)


@_kernel
def gru_before_steps(
    z: Array, w_rz: Array, w_n: Array, hs: Array, lo: int, hi: int, reverse: bool, first: int,
    stop: int,
) -> None:  # fmt: skip
    """Steps ``first`` to ``stop`` of rows ``lo:hi`` of a GRU that resets before the
    product (the textbook GRU: seed; Keras reset_after=False): ``w_rz`` holds the r and u
    columns of [W_h; b_h], ``w_n`` W_hn.
    """
    a = np.empty((hi - lo, w_rz.shape[1]), hs.dtype)
    reset = np.empty((hi - lo, w_n.shape[0]), hs.dtype)
    n = np.empty((hi - lo, w_n.shape[1]), hs.dtype)
    for s in range(first, stop):
        t, prev, cur = _order(z.shape[1], s, reverse)
        gemm(hs[prev, lo:hi], w_rz, a)
        gru_reset_rows(a, z, t, lo, hs, prev, reset)
        gemm(reset, w_n, n)
        gru_before_rows(a, n, z, t, lo, hs, prev, cur)


def bind_steps(
    net: Network,
    p: DirectionParams,
    z: Array,
    w_aug: Array,
    hs: Array,
    c: Array,
    reverse: bool,
    hidden_activation: str,
) -> Callable[[int, int, int, int], None]:
    """The compiled kernel of this direction's cell, bound to its buffers: called with
    rows ``lo:hi`` and steps ``first:stop`` (in reading order).  Gates stay in canonical
    order; every array is C-contiguous in the pass's dtype.
    """
    dtype = hs.dtype
    if net.cell == "rnn":
        code = HIDDEN_CODES[hidden_activation]
        return lambda lo, hi, first, stop: rnn_steps(
            z, w_aug, hs, lo, hi, reverse, first, stop, code
        )
    if net.cell == "lstm":
        units = c.shape[1]
        w_hr = np.empty((units, 0), dtype) if p.w_hr is None else p.w_hr
        w_hr = np.ascontiguousarray(w_hr, dtype)
        return lambda lo, hi, first, stop: lstm_steps(
            z, w_aug, hs, c, w_hr, lo, hi, reverse, first, stop
        )
    if net.reset_after:
        return lambda lo, hi, first, stop: gru_steps(z, w_aug, hs, lo, hi, reverse, first, stop)
    units = w_aug.shape[1] // 3
    w_rz = np.ascontiguousarray(w_aug[:, : 2 * units])
    w_n = np.ascontiguousarray(p.w_h[:, 2 * units :], dtype)
    return lambda lo, hi, first, stop: gru_before_steps(
        z, w_rz, w_n, hs, lo, hi, reverse, first, stop
    )


def load(cell: str, reset_after: bool, dtype: np.dtype[Any]) -> None:
    """Compile, or load from the cache, the kernel of ``cell`` for ``dtype`` now, by one
    step of one unit with the argument types of a real pass: a timed pass then runs
    machine code only.
    """
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    z, hs = np.zeros((1, 1, gates), dtype), np.zeros((2, 1, 2), dtype)
    w = np.zeros((2, gates), dtype)
    if cell == "rnn":
        rnn_steps(z, w, hs, 0, 1, False, 0, 1, TANH)
    elif cell == "lstm":
        lstm_steps(z, w, hs, np.zeros((1, 1), dtype), np.zeros((1, 0), dtype), 0, 1, False, 0, 1)
    elif reset_after:
        gru_steps(z, w, hs, 0, 1, False, 0, 1)
    else:
        gru_before_steps(z, w[:, :2].copy(), np.zeros((1, 1), dtype), hs, 0, 1, False, 0, 1)
