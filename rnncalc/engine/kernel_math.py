"""What the compiled kernels compute with: matrix products (a compiled loop for a step's
few rows, NumPy's BLAS for more), and tanh and sigmoid in each precision, all callable
from compiled code only.

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
#: NumPy does), so they vectorise; FMA contraction only (no reassociation but in the
#: products' sums, :data:`_summing`); cached on disk; free of the GIL, for the threads.
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


#: Products of at most this many rows are summed by a compiled loop (:func:`_dot_rows`),
#: larger ones by BLAS.  On (8 x 129) @ (129 x 512) the loop takes 38 us in float32 and 74
#: us in float64, OpenBLAS 41 and 96 us, and two threads' OpenBLAS calls at once slow each
#: other down; at 128 rows BLAS's blocking wins.
DOT_ROWS = 64
TRANS = 112


def gemm(a: Array, b: Array, c: Array) -> None:
    """c = a @ b in compiled code, through NumPy's BLAS: matrices of rows (each row
    contiguous, rows any distance apart: a view of some rows of a wider array will do).
    """
    raise NotImplementedError("called from compiled code only")


def gemm_t(a: Array, bt: Array, c: Array) -> None:
    """c = a[:, :k] @ bt.T in compiled code (``bt`` (n, k); ``a`` may have more columns,
    which are not read): by :func:`_dot_rows` for at most :data:`DOT_ROWS` rows, else
    through NumPy's BLAS; matrices of rows as for :func:`gemm`.
    """
    raise NotImplementedError("called from compiled code only")


def _zero(x: Array) -> Any:
    """0 in the dtype of the array ``x``, in compiled code."""
    raise NotImplementedError("called from compiled code only")


@overload(_zero)
def _zero_of(x: Any) -> Any:
    zero = np.float32(0) if x.dtype == types.float32 else 0.0

    def implementation(x: Any) -> Any:
        return zero

    return implementation


#: Compiled with reassociation allowed, so that sums over k run on SIMD lanes (in an order
#: fixed by the code and the CPU's vector width, as BLAS's are: the same run to run).
_summing = njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "reassoc"})


#: Rows of ``a`` whose products with four columns are summed before the next four: their
#: 32 rows of up to 513 float32 stay in the core's caches while all of ``bt`` streams by
#: once, where one pass of ``bt`` per two rows had two threads at once wait on memory.
ROW_BLOCK = 32


@_summing
def _dot_rows(a: Array, bt: Array, c: Array) -> None:
    """c = a @ bt.T as dot products of rows, two rows of ``a`` by four of ``bt`` at a time:
    eight sums in registers per pass over k, each term loaded once for four or two uses.
    Neither packs nor allocates, so it runs the same on any number of threads at once.
    """
    rows, depth, cols = a.shape[0], bt.shape[1], bt.shape[0]
    for top in range(0, rows, ROW_BLOCK):
        end = min(top + ROW_BLOCK, rows)
        for j in range(0, cols - 3, 4):
            b0, b1, b2, b3 = bt[j], bt[j + 1], bt[j + 2], bt[j + 3]
            for i in range(top, end - 1, 2):
                a0, a1 = a[i], a[i + 1]
                s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = _zero(c)
                for k in range(depth):
                    x0, x1 = a0[k], a1[k]
                    s00 += x0 * b0[k]
                    s01 += x0 * b1[k]
                    s02 += x0 * b2[k]
                    s03 += x0 * b3[k]
                    s10 += x1 * b0[k]
                    s11 += x1 * b1[k]
                    s12 += x1 * b2[k]
                    s13 += x1 * b3[k]
                c[i, j], c[i, j + 1], c[i, j + 2], c[i, j + 3] = s00, s01, s02, s03
                c[i + 1, j], c[i + 1, j + 1], c[i + 1, j + 2], c[i + 1, j + 3] = s10, s11, s12, s13
        if (end - top) % 2:
            _dot_row(a[end - 1], bt, c[end - 1])
        for j in range(cols - cols % 4, cols):
            for i in range(top, end - (end - top) % 2):
                c[i, j] = _dot(a[i], bt[j])


@_summing
def _dot_row(a: Array, bt: Array, c: Array) -> None:
    """c = a @ bt.T for one row ``a``, eight columns at a time (eight sums to keep both
    multiply-add units busy), the last few one by one.
    """
    cols = bt.shape[0]
    for j in range(0, cols - 7, 8):
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = _zero(c)
        b0, b1, b2, b3 = bt[j], bt[j + 1], bt[j + 2], bt[j + 3]
        b4, b5, b6, b7 = bt[j + 4], bt[j + 5], bt[j + 6], bt[j + 7]
        for k in range(bt.shape[1]):
            x = a[k]
            s0 += x * b0[k]
            s1 += x * b1[k]
            s2 += x * b2[k]
            s3 += x * b3[k]
            s4 += x * b4[k]
            s5 += x * b5[k]
            s6 += x * b6[k]
            s7 += x * b7[k]
        c[j], c[j + 1], c[j + 2], c[j + 3] = s0, s1, s2, s3
        c[j + 4], c[j + 5], c[j + 6], c[j + 7] = s4, s5, s6, s7
    for j in range(cols - cols % 8, cols):
        c[j] = _dot(a, bt[j])


@_summing
def _dot(x: Array, y: Array) -> Any:
    """The dot product of ``y`` with the first len(y) terms of ``x``."""
    total = _zero(x)
    for k in range(y.shape[0]):
        total += x[k] * y[k]
    return total


def _product(t: types.Type) -> tuple[Any, Any, Any]:
    """The CBLAS product of this dtype, and 1 and 0 in it."""
    if t == types.float32:
        return _sgemm, np.float32(1), np.float32(0)
    return _dgemm, 1.0, 0.0


def _blas(a: Array, b: Array, c: Array, trans: bool) -> None:
    """c = a[:, :k] @ b (``trans``: a[:, :k] @ b.T), k the depth of ``b``, through NumPy's
    CBLAS, in compiled code.
    """
    raise NotImplementedError("called from compiled code only")


@overload(_blas)
def _blas_of(a: Any, b: Any, c: Any, trans: Any) -> Any:  # numba's types at typing
    product, one, zero = _product(a.dtype)

    def implementation(a: Any, b: Any, c: Any, trans: Any) -> None:
        size = a.itemsize
        cols, depth = (b.shape[0], b.shape[1]) if trans else (b.shape[1], b.shape[0])
        product(
            ROW_MAJOR, NO_TRANS, TRANS if trans else NO_TRANS, a.shape[0], cols, depth,
            one, a.ctypes, a.strides[0] // size, b.ctypes, b.strides[0] // size,
            zero, c.ctypes, c.strides[0] // size,
        )  # fmt: skip

    return implementation


@overload(gemm)
def _gemm(a: Any, b: Any, c: Any) -> Any:
    def implementation(a: Any, b: Any, c: Any) -> None:
        _blas(a, b, c, False)

    return implementation


@overload(gemm_t)
def _gemm_t(a: Any, bt: Any, c: Any) -> Any:
    def implementation(a: Any, bt: Any, c: Any) -> None:
        if a.shape[0] <= DOT_ROWS:
            _dot_rows(a, bt, c)
        else:
            _blas(a, bt, c, True)

    return implementation


def gemm_w(a: Array, w: Array, c: Array, transposed: bool) -> None:
    """c = a[:, :k] @ W in compiled code, ``w`` holding W (k, n) or, ``transposed``, W.T
    (n, k): :func:`gemm_t` for the latter, BLAS's own order for the former, which it
    multiplies 3% to 5% faster than a transposed W (rows past :data:`DOT_ROWS`).
    """
    raise NotImplementedError("called from compiled code only")


@overload(gemm_w)
def _gemm_w(a: Any, w: Any, c: Any, transposed: Any) -> Any:
    def implementation(a: Any, w: Any, c: Any, transposed: Any) -> None:
        if transposed:
            gemm_t(a, w, c)
        else:
            _blas(a, w, c, False)

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
