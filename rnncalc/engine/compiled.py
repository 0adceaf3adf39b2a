"""The compiled pass: each direction's time loop as one numba kernel, no interpreter per step.

The NumPy pass (:mod:`.fast`) spends a few microseconds of interpreter and call overhead on
each of its ten or so array operations per step, and makes a pass over memory for each; on
short, narrow steps that is most of its time.  These kernels run the same steps on the
same buffers, but compiled: each step is one product h_{t-1} W_h (b_h is in the input
projections) and one loop over the batch and units that does every gate's arithmetic in
registers.  Each kernel computes some of the units (all, or one thread's share: the
threads meet at a barrier after each step, :mod:`.kernel_sync`) for some rows of the batch
(all, or one thread's share), as :mod:`.compiled_run` splits the work; the weights come in
blocks per thread (:mod:`.kernel_binding`).

Their products, tanh and sigmoid are :mod:`.kernel_math`'s.

numba compiles each kernel on its first call for each dtype and caches the machine code on
disk (``cache=True``: next to this file, or in numba's per-user cache when that is not
writable; ``NUMBA_CACHE_DIR`` moves it), so later processes only load it.  This module
imports numba: import it only when the compiled pass runs (see :mod:`.engines`).
"""

from __future__ import annotations

import numpy as np

from .kernel_math import _kernel, gemm, gemm_w, sigmoid, tanh
from .kernel_sync import barrier
from .types import Array

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


# One step's element-wise work on units u0 to u0 + part of rows lo to lo + len(a), at step t.  ``a``
# holds those units' columns of [h_{t-1}, 1] [W_h; b_h], gate after gate (part columns
# each), ``z`` (B, T, G*H) the input projections in canonical order, ``hs`` (T+1, B, S+1)
# the time-major states; ``prev`` and ``cur`` index hs.  Each loop reads and writes
# contiguous runs of a row, so the compiler vectorises it.


@_kernel
def rnn_rows(a: Array, z: Array, t: int, lo: int, u0: int, hs: Array, cur: int, code: int) -> None:
    """h = f(a + z_t), f by its code (:data:`HIDDEN_CODES`)."""
    part = a.shape[1]
    for b in range(a.shape[0]):
        ab, zb, out = a[b], z[lo + b, t, u0 : u0 + part], hs[cur, lo + b, u0 : u0 + part]
        if code == TANH:
            for j in range(part):
                out[j] = tanh(ab[j] + zb[j])
        else:
            for j in range(part):
                out[j] = _activate(ab[j] + zb[j], code)


@_kernel
def lstm_rows(a: Array, z: Array, t: int, lo: int, u0: int, c: Array, out: Array) -> None:
    """Gates i, f, g, o (PyTorch's order): c = f*c + i*g in place, o*tanh(c) into ``out``
    (B, H): the states, or the cell output a projection multiplies.
    """
    part, units = a.shape[1] // 4, c.shape[1]
    for b in range(a.shape[0]):
        ab, zb = a[b], z[lo + b, t]
        zi, zf = zb[u0 : u0 + part], zb[units + u0 : units + u0 + part]
        zg, zo = zb[2 * units + u0 : 2 * units + u0 + part], zb[3 * units + u0 :]
        cb, ob = c[lo + b, u0 : u0 + part], out[lo + b, u0 : u0 + part]
        for j in range(part):
            i = sigmoid(ab[j] + zi[j])
            f = sigmoid(ab[part + j] + zf[j])
            g = tanh(ab[2 * part + j] + zg[j])
            o = sigmoid(ab[3 * part + j] + zo[j])
            cell = f * cb[j] + i * g
            cb[j] = cell
            ob[j] = o * tanh(cell)


@_kernel
def gru_rows(
    a: Array, z: Array, t: int, lo: int, u0: int, b_n: Array, hs: Array, prev: int, cur: int
) -> None:
    """Gates r, z, n reset after the product: n = tanh(z_n + r*(a_n + b_hn)) (``b_n`` is
    b_hn (H,)), h = n + u*(h - n).
    """
    part, units = a.shape[1] // 3, z.shape[2] // 3
    for b in range(a.shape[0]):
        ab, zb = a[b], z[lo + b, t]
        zr, zu = zb[u0 : u0 + part], zb[units + u0 : units + u0 + part]
        zn = zb[2 * units + u0 :]
        hb, out = hs[prev, lo + b, u0 : u0 + part], hs[cur, lo + b, u0 : u0 + part]
        bn = b_n[u0 : u0 + part]
        for j in range(part):
            r = sigmoid(ab[j] + zr[j])
            u = sigmoid(ab[part + j] + zu[j])
            n = tanh(zn[j] + r * (ab[2 * part + j] + bn[j]))
            out[j] = n + u * (hb[j] - n)


@_kernel
def gru_reset_rows(
    a: Array, z: Array, t: int, lo: int, u0: int, hs: Array, prev: int, reset: Array
) -> None:
    """A GRU that resets before the product, first half: r*h into ``reset`` (B, H) (``a``
    holds the r and u columns only).
    """
    part = a.shape[1] // 2
    for b in range(a.shape[0]):
        ab, zr = a[b], z[lo + b, t, u0 : u0 + part]
        hb, rb = hs[prev, lo + b, u0 : u0 + part], reset[lo + b, u0 : u0 + part]
        for j in range(part):
            rb[j] = sigmoid(ab[j] + zr[j]) * hb[j]


@_kernel
def gru_before_rows(
    a: Array, n: Array, z: Array, t: int, lo: int, u0: int, hs: Array, prev: int, cur: int
) -> None:
    """Second half: n = tanh(z_n + (r*h) W_hn) from ``n`` = (r*h) W_hn, h = n + u*(h - n)."""
    part, units = n.shape[1], z.shape[2] // 3
    for b in range(a.shape[0]):
        ab, nb, zb = a[b], n[b], z[lo + b, t]
        zu, zn = zb[units + u0 : units + u0 + part], zb[2 * units + u0 :]
        hb, out = hs[prev, lo + b, u0 : u0 + part], hs[cur, lo + b, u0 : u0 + part]
        for j in range(part):
            u = sigmoid(ab[part + j] + zu[j])
            v = tanh(nb[j] + zn[j])
            out[j] = v + u * (hb[j] - v)


# Whole runs of steps of rows lo to hi by one of ``parties`` threads (``me``), which computes
# units u0 to u1 (weights ``transposed`` or not, as :func:`_block` says):
# each step one product (through NumPy's BLAS) of the whole previous state with those
# units' columns of [W_h; b_h], their rows, and a barrier.  Weights come flat, each
# thread's columns a contiguous block (:func:`fill_blocks`, :func:`_block`).  Each returns
# False when stopped by the abort flag.


@_kernel
def _block(flat: Array, rows: int, lo: int, hi: int, transposed: bool) -> Array:
    """Columns ``lo:hi`` of a matrix of ``rows`` rows stored as
    :func:`rnncalc.engine.kernel_binding.fill_blocks` does: a C-contiguous (rows, hi - lo)
    matrix, or (hi - lo, rows) when ``transposed``.
    """
    block = flat[rows * lo : rows * hi]
    return block.reshape((hi - lo, rows)) if transposed else block.reshape((rows, hi - lo))


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
    z: Array, w: Array, hs: Array, lo: int, hi: int, u0: int, u1: int, reverse: bool,
    first: int, stop: int, flags: Array, me: int, parties: int, code: int,
    transposed: bool,
) -> bool:  # fmt: skip
    """Steps ``first`` to ``stop`` (in reading order) of a vanilla RNN:
    h_t = f(z_t + [h_{t-1}, 1] [W_h; b_h]).  ``z`` holds x_t W_x + b_x.
    """
    mine = _block(w, hs.shape[2] - 1, u0, u1, transposed)
    a = np.empty((hi - lo, u1 - u0), hs.dtype)
    for s in range(first, stop):
        t, prev, cur = _order(z.shape[1], s, reverse)
        gemm_w(hs[prev, lo:hi], mine, a, transposed)
        rnn_rows(a, z, t, lo, u0, hs, cur, code)
        if parties > 1 and not barrier(flags, me, parties):
            return False
    return True


@_kernel
def lstm_steps(
    z: Array, w: Array, hs: Array, c: Array, w_hr: Array, cell_out: Array, lo: int, hi: int,
    u0: int, u1: int, p0: int, p1: int, reverse: bool, first: int, stop: int, flags: Array,
    me: int,
    parties: int, transposed: bool,
) -> bool:  # fmt: skip
    """Steps ``first`` to ``stop`` of an LSTM; with a projection (``w_hr``, W_hr (H, P) in
    blocks, not empty), o*tanh(c) goes to ``cell_out`` (B, H) and, once every thread has
    written its units, this one multiplies columns ``p0:p1`` of h W_hr.  ``c`` (B, H), the cell
    state, is updated in place.
    """
    projecting = w_hr.size > 0
    mine = _block(w, hs.shape[2] - 1, 4 * u0, 4 * u1, transposed)
    mine_r = _block(w_hr, c.shape[1], p0, p1, transposed)
    projected = np.empty((hi - lo, p1 - p0), hs.dtype)
    a = np.empty((hi - lo, 4 * (u1 - u0)), hs.dtype)
    for s in range(first, stop):
        t, prev, cur = _order(z.shape[1], s, reverse)
        gemm_w(hs[prev, lo:hi], mine, a, transposed)
        if not projecting:
            lstm_rows(a, z, t, lo, u0, c, hs[cur])
        else:
            lstm_rows(a, z, t, lo, u0, c, cell_out)
            if parties > 1 and not barrier(flags, me, parties):
                return False
            gemm_w(cell_out[lo:hi], mine_r, projected, transposed)
            hs[cur, lo:hi, p0:p1] = projected
        if parties > 1 and not barrier(flags, me, parties):
            return False
    return True


@_kernel
def gru_steps(
    z: Array, w: Array, b_n: Array, hs: Array, lo: int, hi: int, u0: int, u1: int,
    reverse: bool, first: int, stop: int, flags: Array, me: int, parties: int,
    transposed: bool,
) -> bool:  # fmt: skip
    """Steps ``first`` to ``stop`` of a GRU that resets after the product (PyTorch; Keras
    reset_after=True); ``b_n`` is b_hn, which the reset gate scales.
    """
    mine = _block(w, hs.shape[2] - 1, 3 * u0, 3 * u1, transposed)
    a = np.empty((hi - lo, 3 * (u1 - u0)), hs.dtype)
    for s in range(first, stop):
        t, prev, cur = _order(z.shape[1], s, reverse)
        gemm_w(hs[prev, lo:hi], mine, a, transposed)
        gru_rows(a, z, t, lo, u0, b_n, hs, prev, cur)
        if parties > 1 and not barrier(flags, me, parties):
            return False
    return True


@_kernel
def gru_before_steps(
    z: Array, w_rz: Array, w_n: Array, hs: Array, reset: Array, lo: int, hi: int, u0: int,
    u1: int, reverse: bool, first: int, stop: int, flags: Array, me: int, parties: int,
    transposed: bool,
) -> bool:  # fmt: skip
    """Steps ``first`` to ``stop`` of a GRU that resets before the product (the textbook
    GRU: seed; Keras reset_after=False): ``w_rz`` holds the r and u columns of [W_h; b_h],
    ``w_n`` W_hn (H, H), both in blocks; r*h goes to ``reset`` (B, H), and once every
    thread has written its units, this one multiplies its columns of (r*h) W_hn.
    """
    mine, mine_n = (
        _block(w_rz, hs.shape[2] - 1, 2 * u0, 2 * u1, transposed),
        _block(w_n, hs.shape[2] - 1, u0, u1, transposed),
    )
    a = np.empty((hi - lo, 2 * (u1 - u0)), hs.dtype)
    n = np.empty((hi - lo, u1 - u0), hs.dtype)
    for s in range(first, stop):
        t, prev, cur = _order(z.shape[1], s, reverse)
        gemm_w(hs[prev, lo:hi], mine, a, transposed)
        gru_reset_rows(a, z, t, lo, u0, hs, prev, reset)
        if parties > 1 and not barrier(flags, me, parties):
            return False
        gemm_w(reset[lo:hi], mine_n, n, transposed)
        gru_before_rows(a, n, z, t, lo, u0, hs, prev, cur)
        if parties > 1 and not barrier(flags, me, parties):
            return False
    return True


@_kernel
def project(
    x: Array, w_x: Array, b_x: Array, z: Array, lo: int, hi: int, flags: Array, me: int,
    parties: int,
) -> bool:  # fmt: skip
    """Rows ``lo:hi`` of z = x W_x + b_x (``x`` (B*T, I), ``z`` (B*T, G*H)): one thread's
    share of the input projections; then it waits until every thread has done its own,
    since each step reads some units of every row.  False when stopped by the abort flag.
    """
    gemm(x[lo:hi], w_x, z[lo:hi])
    for r in range(lo, hi):
        row = z[r]
        for j in range(row.shape[0]):
            row[j] += b_x[j]
    return parties == 1 or barrier(flags, me, parties)
