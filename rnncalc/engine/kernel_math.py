"""What the compiled kernels compute with: products through NumPy's BLAS, and tanh and
sigmoid in each precision, all callable from compiled code only.

Their tanh is written out (:func:`tanh`): libm's is one call per element, which no
compiler vectorises, and costs more than the matrix product on the wide shapes; this one is
arithmetic only, so each loop runs on SIMD lanes, within 4e-16 of NumPy's tanh in float64.
The kernels compute in the arrays' precision: float32 arrays get a float32 tanh
(:func:`_tanh32`, within 1.7e-7), on twice as many SIMD lanes.  This module imports numba.
"""

from __future__ import annotations

import math
from typing import Any

import llvmlite.binding
import numpy as np
from numba import njit, types
from numba.extending import overload

from .blas import gemm_addresses
from .types import Array

#: Compiled functions: no Python exceptions in the loops (a division by zero gives inf, as
#: NumPy does), so they vectorise; FMA contraction only (no reassociation: results stay
#: reproducible); cached on disk; free of the GIL, for the batch's threads.
_kernel = njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
#: The same, inlined where called: the per-element functions.
_inline = njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"}, inline="always")

_ADDRESSES = gemm_addresses()
if isinstance(_ADDRESSES, str):
    raise ImportError(_ADDRESSES)
# NumPy's products under names of our own, which the cached machine code calls by name.
llvmlite.binding.add_symbol("rnncalc_sgemm", _ADDRESSES[0])
llvmlite.binding.add_symbol("rnncalc_dgemm", _ADDRESSES[1])


def _cblas_gemm(letter: str, t: types.Type) -> types.ExternalFunction:
    """cblas_?gemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc),
    64-bit integers.
    """
    i32, i64 = types.int32, types.int64
    pointer = types.CPointer(t)  # type: ignore[no-untyped-call]
    signature = types.void(
        i32, i32, i32, i64, i64, i64, t, pointer, i64, pointer, i64, t, pointer, i64
    )
    return types.ExternalFunction(f"rnncalc_{letter}gemm", signature)


_sgemm = _cblas_gemm("s", types.float32)
_dgemm = _cblas_gemm("d", types.float64)
ROW_MAJOR, NO_TRANS = 101, 111


#: Products of at most this many rows are summed by a compiled loop: BLAS's call costs more
#: than a one-row product of a step (7 us against 3 us for (1 x 65) @ (65 x 256)).
LOOP_ROWS = 2


def gemm(a: Array, b: Array, c: Array) -> None:
    """c = a @ b in compiled code, through NumPy's BLAS (or, for at most :data:`LOOP_ROWS`
    rows, a loop): matrices of rows (each row contiguous, rows any distance apart: a view of
    some rows of a wider array will do).
    """
    raise NotImplementedError("called from compiled code only")


@_kernel
def _rows_product(a: Array, b: Array, c: Array) -> None:
    """c = a @ b, row by row: each row of b scaled and added, a loop on SIMD lanes."""
    for i in range(a.shape[0]):
        ai, ci = a[i], c[i]
        for j in range(b.shape[1]):
            ci[j] = 0.0
        for k in range(a.shape[1]):
            v, bk = ai[k], b[k]
            for j in range(b.shape[1]):
                ci[j] += v * bk[j]


@overload(gemm)
def _gemm(a: Any, b: Any, c: Any) -> Any:  # numba's types at typing, arrays when run
    product: Any = _sgemm if a.dtype == types.float32 else _dgemm
    one, zero = (np.float32(1), np.float32(0)) if a.dtype == types.float32 else (1.0, 0.0)

    def implementation(a: Any, b: Any, c: Any) -> None:
        if a.shape[0] <= LOOP_ROWS:
            _rows_product(a, b, c)
            return
        size = a.itemsize
        product(
            ROW_MAJOR, NO_TRANS, NO_TRANS, a.shape[0], b.shape[1], a.shape[1],
            one, a.ctypes, a.strides[0] // size, b.ctypes, b.strides[0] // size,
            zero, c.ctypes, c.strides[0] // size,
        )  # fmt: skip

    return implementation


#: 1/(k+1)! for k = 0 to 15: e^y - 1 = y (1/1! + y/2! + y^2/3! + ... + y^15/16!).
_INVERSE_FACTORIALS = tuple(1.0 / math.factorial(k + 1) for k in range(16))
(_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7,
 _C8, _C9, _C10, _C11, _C12, _C13, _C14, _C15) = _INVERSE_FACTORIALS  # fmt: skip
#: The same in float32, to 1/12!.
(_F0, _F1, _F2, _F3, _F4, _F5, _F6, _F7,
 _F8, _F9, _F10, _F11) = (np.float32(c) for c in _INVERSE_FACTORIALS[:12])  # fmt: skip
_F_HALF, _F_ONE, _F_TWO, _F_NINE = np.float32(0.5), np.float32(1), np.float32(2), np.float32(9)
_F_SCALE = np.float32(2 / 16)


def tanh(x: float) -> float:
    """tanh(x) in compiled code, in the precision of x (:func:`_tanh64`, :func:`_tanh32`)."""
    raise NotImplementedError("called from compiled code only")


def sigmoid(x: float) -> float:
    """sigma(x) = (1 + tanh(x/2)) / 2 in compiled code, in the precision of x."""
    raise NotImplementedError("called from compiled code only")


@_inline
def _tanh64(x: float) -> float:
    """tanh(x) = m / (m + 2) with m = e^(2|x|) - 1, sign restored.

    m comes from e^y - 1 at y = 2|x|/64 <= 0.625 (its Taylor series to y^16, below 1e-18
    relative, evaluated by Estrin's scheme: four multiplications deep, not sixteen), squared
    up six times by e^(2y) - 1 = m (m + 2), which keeps small arguments' relative precision.
    |x| is capped at 20, where tanh is 1 to 8e-18; NaN stays NaN.  Worst error against
    NumPy's tanh over [-25, 25]: 3.4e-16.  Each loop of these is bound by the length of
    this chain of operations, not by their number.
    """
    a = min(abs(x), 20.0)
    y = a * (2.0 / 64.0)
    y2 = y * y
    y4 = y2 * y2
    r0 = (_C0 + _C1 * y) + (_C2 + _C3 * y) * y2
    r1 = (_C4 + _C5 * y) + (_C6 + _C7 * y) * y2
    r2 = (_C8 + _C9 * y) + (_C10 + _C11 * y) * y2
    r3 = (_C12 + _C13 * y) + (_C14 + _C15 * y) * y2
    m = y * ((r0 + r1 * y4) + (r2 + r3 * y4) * (y4 * y4))
    for _ in range(6):
        m = m * (m + 2.0)
    return math.copysign(m / (m + 2.0), x)


@_inline
def _tanh32(x: np.float32) -> np.float32:
    """The same in float32 arithmetic, twice the SIMD lanes: y = 2|x|/16 <= 1.125 (|x|
    capped at 9, where float32's tanh is 1), the series to y^12, squared up four times.
    Worst error against tanh in float64 over [-25, 25]: 1.7e-7 (NumPy's float32 tanh: 6e-8).
    """
    a = min(abs(x), _F_NINE)
    y = a * _F_SCALE
    y2 = y * y
    y4 = y2 * y2
    r0 = (_F0 + _F1 * y) + (_F2 + _F3 * y) * y2
    r1 = (_F4 + _F5 * y) + (_F6 + _F7 * y) * y2
    r2 = (_F8 + _F9 * y) + (_F10 + _F11 * y) * y2
    m = y * ((r0 + r1 * y4) + r2 * (y4 * y4))
    for _ in range(4):
        m = m * (m + _F_TWO)
    return np.float32(math.copysign(m / (m + _F_TWO), x))


@overload(tanh)
def _tanh(x: Any) -> Any:
    if x == types.float32:

        def single(x: Any) -> Any:
            return _tanh32(x)

        return single

    def double(x: Any) -> Any:
        return _tanh64(x)

    return double


@overload(sigmoid)
def _sigmoid(x: Any) -> Any:
    if x == types.float32:

        def single(x: Any) -> Any:
            return _F_HALF + _F_HALF * _tanh32(_F_HALF * x)

        return single

    def double(x: Any) -> Any:
        return 0.5 + 0.5 * _tanh64(0.5 * x)

    return double
