"""Binding a direction's buffers to the compiled kernels (:mod:`.compiled`), for the
threads that share its steps: weights in per-thread blocks, each thread's units and rows,
the barrier's counters.  This module imports numba: import it only when the compiled pass
runs (:func:`rnncalc.engine.engines.kernels`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..model.spec import GATES
from .compiled import (
    HIDDEN_CODES,
    TANH,
    gru_before_steps,
    gru_steps,
    lstm_steps,
    project,
    rnn_steps,
)
from .kernel_math import DOT_ROWS, _kernel
from .kernel_sync import abort, counters
from .types import Array

if TYPE_CHECKING:
    from .assemble import DirectionParams, Network


def part_columns(gates: int, units: int, u0: int, u1: int) -> Array:
    """The columns of units ``u0:u1`` in a matrix of ``gates`` blocks of ``units``
    columns, gate after gate.
    """
    return np.concatenate([np.arange(g * units + u0, g * units + u1) for g in range(gates)])


@_kernel
def _transpose_columns(matrix: Array, columns: Array, block: Array) -> None:
    """block[n, r] = matrix[r, columns[n]], sixteen rows of ``matrix`` at a time, so that
    what is read stays in cache while it is written out (NumPy's transposing copy took
    2.6 ms for a (256 x 1024) float32 matrix, this 0.85 ms).
    """
    for first in range(0, matrix.shape[0], 16):
        last = min(first + 16, matrix.shape[0])
        for n in range(columns.shape[0]):
            column, out = columns[n], block[n]
            for r in range(first, last):
                out[r] = matrix[r, column]


def fill_blocks(
    flat: Array, matrix: Array, gates: int, parts: Sequence[tuple[int, int]], transposed: bool
) -> Array:
    """Write ``matrix`` (k, gates * units) into ``flat`` as one C-contiguous block per part
    of its units, gate after gate, so that part (u0, u1) is ``flat[k*gates*u0 :
    k*gates*u1]``: a (k, gates * (u1 - u0)) matrix, or its transpose when ``transposed``
    (:func:`rnncalc.engine.compiled._block`).  Returns ``flat``'s used prefix.
    """
    height, units = matrix.shape[0], matrix.shape[1] // gates
    source = np.ascontiguousarray(matrix)
    for u0, u1 in parts:
        segment = flat[height * gates * u0 : height * gates * u1]
        columns = part_columns(gates, units, u0, u1)
        if transposed:
            _transpose_columns(source, columns, segment.reshape(-1, height))
        else:
            np.take(source, columns, axis=1, out=segment.reshape(height, -1), mode="clip")
    return flat[: height * gates * units]


@dataclass(frozen=True)
class Steps:
    """A direction's kernel bound to its buffers, for ``parties`` threads: ``project(me,
    lo, hi)`` computes rows ``lo:hi`` of the input projections (of B*T), ``run(me, lo, hi,
    first, stop)`` thread ``me``'s units of steps ``first:stop`` (in reading order) of
    rows ``lo:hi`` of the batch; both say whether they went to the end.  ``abort()`` stops
    every thread at its next barrier.
    """

    parties: int
    project: Callable[[int, int, int], bool]
    run: Callable[[int, int, int, int, int], bool]
    abort: Callable[[], None]


def bind_steps(
    net: Network,
    p: DirectionParams,
    x: Array,
    z: Array,
    w_aug: Array,
    hs: Array,
    c: Array,
    reverse: bool,
    hidden_activation: str,
    parts: Sequence[tuple[int, int]],
    projection_parts: Sequence[tuple[int, int]],
    rows: int,
) -> Steps:
    """The compiled kernel of this direction's cell, bound to its input ``x`` (B, T, I) and
    buffers, its units split in ``parts`` (and a projection's columns in
    ``projection_parts``), one per thread, each multiplying at most ``rows`` rows.  Fills
    ``w_aug`` (S+1, G*H) with W_h in blocks (:func:`fill_blocks`), transposed for the
    compiled loop's products of up to :data:`DOT_ROWS` rows, else as BLAS takes them.  b_h
    is added to the input projections instead (each step's product then sums over S terms,
    SIMD lanes' worth for the usual sizes), but for a GRU's n gate, where the reset gate
    scales it.  Gates stay in canonical order; every array is C-contiguous in the pass's
    dtype.
    """
    dtype, transposed = hs.dtype, rows <= DOT_ROWS
    gates = len(GATES[net.cell])
    units = p.w_h.shape[1] // gates
    folded = p.b_h.copy()  # b_h joins b_x in z, but for the n gate of a GRU
    if net.cell == "gru":
        folded[2 * units :] = 0
    flags, parties, flat = counters(len(parts)), len(parts), w_aug.reshape(-1)
    batch = hs.shape[1]
    run: Callable[[int, int, int, int, int], bool]
    if net.cell == "rnn":
        code = HIDDEN_CODES[hidden_activation]
        fill_blocks(flat, p.w_h, 1, parts, transposed)

        def run(me: int, lo: int, hi: int, first: int, stop: int) -> bool:
            u0, u1 = parts[me]
            return bool(rnn_steps(z, flat, hs, lo, hi, u0, u1, reverse, first, stop, flags, me,
                                  parties, code, transposed))  # fmt: skip

    elif net.cell == "lstm":
        fill_blocks(flat, p.w_h, 4, parts, transposed)
        w_hr = np.empty(0, dtype)
        if p.w_hr is not None:
            w_hr = np.empty(p.w_hr.size, dtype)
            fill_blocks(w_hr, p.w_hr, 1, projection_parts, transposed)
        cell_out = np.empty((batch, units), dtype)

        def run(me: int, lo: int, hi: int, first: int, stop: int) -> bool:
            (u0, u1), (p0, p1) = parts[me], projection_parts[me]
            return bool(lstm_steps(z, flat, hs, c, w_hr, cell_out, lo, hi, u0, u1, p0, p1, reverse,
                                   first, stop, flags, me, parties, transposed))  # fmt: skip

    elif net.reset_after:
        fill_blocks(flat, p.w_h, 3, parts, transposed)
        b_n = np.ascontiguousarray(p.b_h[2 * units :], dtype)

        def run(me: int, lo: int, hi: int, first: int, stop: int) -> bool:
            u0, u1 = parts[me]
            return bool(gru_steps(z, flat, b_n, hs, lo, hi, u0, u1, reverse, first, stop, flags, me,
                                  parties, transposed))  # fmt: skip

    else:
        rz = slice(0, 2 * units)
        w_rz = fill_blocks(flat, p.w_h[:, rz], 2, parts, transposed)
        rest = flat[w_rz.size :]  # (S+1)*3H holds S*2H, then W_hn's H*H
        w_n = fill_blocks(rest, p.w_h[:, 2 * units :], 1, parts, transposed)
        reset = np.empty((batch, units), dtype)

        def run(me: int, lo: int, hi: int, first: int, stop: int) -> bool:
            u0, u1 = parts[me]
            return bool(gru_before_steps(z, w_rz, w_n, hs, reset, lo, hi, u0, u1, reverse, first,
                                         stop, flags, me, parties, transposed))  # fmt: skip

    rows = x.shape[0] * x.shape[1]
    x_rows = np.ascontiguousarray(x).reshape(rows, x.shape[2])
    z_rows = z.reshape(rows, z.shape[2])
    w_x = np.ascontiguousarray(p.w_x, dtype)
    b_x = np.asarray(p.b_x + folded, dtype)

    def prepare(me: int, lo: int, hi: int) -> bool:
        if parties == 1:  # one product, on as many BLAS threads as it is worth
            np.matmul(x_rows[lo:hi], w_x, out=z_rows[lo:hi])
            np.add(z_rows[lo:hi], b_x, out=z_rows[lo:hi])
            return True
        return bool(project(x_rows, w_x, b_x, z_rows, lo, hi, flags, me, parties))

    return Steps(parties, prepare, run, lambda: abort(flags))


def load(cell: str, reset_after: bool, dtype: np.dtype[Any]) -> None:
    """Compile, or load from the cache, the kernel of ``cell`` for ``dtype`` now, by one
    step of one unit with the argument types of a real pass: a timed pass then runs
    machine code only.
    """
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    z, hs = np.zeros((1, 1, gates), dtype), np.zeros((2, 1, 2), dtype)
    w, one = np.zeros((2, gates), dtype), np.zeros((1, 1), dtype)
    flags, flat = counters(1), w.reshape(-1)
    for transposed in (True, False):
        fill_blocks(flat.copy(), w, gates, [(0, 1)], transposed)
    project(np.zeros((1, 1), dtype), w[:1], w[0], z[0], 0, 1, flags, 0, 1)
    if cell == "rnn":
        rnn_steps(z, flat, hs, 0, 1, 0, 1, False, 0, 1, flags, 0, 1, TANH, True)
    elif cell == "lstm":
        lstm_steps(z, flat, hs, one, flat[:0], one, 0, 1, 0, 1, 0, 0, False, 0, 1, flags, 0, 1,
                   True)  # fmt: skip
    elif reset_after:
        gru_steps(z, flat, flat[:1], hs, 0, 1, 0, 1, False, 0, 1, flags, 0, 1, True)
    else:
        gru_before_steps(z, flat[:4], flat[:1], hs, one, 0, 1, 0, 1, False, 0, 1, flags, 0, 1,
                         True)  # fmt: skip
