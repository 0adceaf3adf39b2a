"""NumPy's own matrix product, found for the compiled kernels to call.

The kernels multiply through the BLAS library NumPy itself runs on, so that both passes
(and the GEMM rate the benchmark compares them with) use the same code, under the same
thread limits (:mod:`.threads`).  NumPy's wheels ship OpenBLAS with 64-bit integer
``cblas_sgemm``/``cblas_dgemm`` under a suffix (``scipy_cblas_sgemm64_`` since NumPy 2,
``cblas_sgemm64_`` before); another BLAS (Accelerate, MKL, a 32-bit build) is not called
from compiled code, and ``forward`` runs its NumPy pass there.
"""

from __future__ import annotations

import ctypes
import functools

#: Names of the 64-bit integer CBLAS products in NumPy's OpenBLAS, newest first: float32's
#: and float64's.
SYMBOLS = (
    ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_"),
    ("cblas_sgemm64_", "cblas_dgemm64_"),
)


@functools.cache
def gemm_addresses() -> tuple[int, int] | str:
    """The addresses of NumPy's float32 and float64 CBLAS products, or why there are none."""
    import numpy  # noqa: F401  (loads its BLAS, which threadpoolctl then sees)
    from threadpoolctl import ThreadpoolController

    libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    for library in libraries:
        try:
            handle = ctypes.CDLL(library.filepath)
        except OSError:
            continue
        for names in SYMBOLS:
            if all(hasattr(handle, name) for name in names):
                single, double = (
                    ctypes.cast(getattr(handle, name), ctypes.c_void_p).value for name in names
                )
                if single and double:
                    return single, double
    found = ", ".join(f"{lib.internal_api} ({lib.filepath})" for lib in libraries) or "none found"
    return (
        "the compiled pass calls NumPy's OpenBLAS with 64-bit integers, as NumPy's wheels "
        f"ship it; this NumPy's BLAS: {found} (--engine numpy)"
    )
