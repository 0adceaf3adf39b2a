"""Which pass runs the recurrent layers: the compiled kernels or NumPy.

``compiled`` (:mod:`.compiled`) needs numba (``pip install 'rnncalc[fast]'``) and NumPy's
own OpenBLAS, which its kernels call (:mod:`.blas`).  ``numpy`` (:mod:`.fast`) needs
nothing more and is the fallback.  ``auto`` takes the compiled pass when it can run and
the run is long enough to repay loading it (:data:`AUTO_MIN_SECONDS`), else NumPy.
"""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Literal

Engine = Literal["compiled", "numpy"]
ENGINES = ("auto", "compiled", "numpy")

#: auto compiles when the NumPy pass would take at least this long: importing numba and
#: loading the cached kernels cost about a second (compiling them, the first time a cell and
#: dtype run, about 14 s more), and the compiled pass saves 1.1x to 10x the NumPy pass's
#: time, not all of it.
AUTO_MIN_SECONDS = 3.0
#: What the estimate charges the NumPy pass per recurrent step (interpreter and calls, an
#: LSTM's ten operations) and per floating-point operation (BLAS at 10 GFLOP/s).
_SECONDS_PER_STEP = 15e-6
_SECONDS_PER_FLOP = 1 / 10e9


def unavailable() -> str | None:
    """Why the compiled pass cannot run here, or None when it can (numba is not imported)."""
    if importlib.util.find_spec("numba") is None:
        return "the compiled pass needs numba: pip install 'rnncalc[fast]' (or --engine numpy)"
    from .blas import gemm_addresses

    found = gemm_addresses()
    return found if isinstance(found, str) else None


def choose(engine: str, steps: int, flops: int) -> Engine:
    """The pass to run for ``engine`` (auto, compiled or numpy), for a run of ``steps``
    recurrent steps (layers x directions x T x repeats) and ``flops`` operations.  Raises
    ValueError when compiled is asked for and cannot run.
    """
    if engine == "numpy":
        return "numpy"
    why = unavailable()
    if engine == "compiled":
        if why is not None:
            raise ValueError(why)
        return "compiled"
    numpy_seconds = steps * _SECONDS_PER_STEP + flops * _SECONDS_PER_FLOP
    return "compiled" if why is None and numpy_seconds >= AUTO_MIN_SECONDS else "numpy"


def kernels() -> ModuleType:
    """The compiled kernels, bound to a pass's buffers (importing it imports numba)."""
    from . import kernel_binding

    return kernel_binding


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM held back inside the block (compiling the kernels: up to 14 s the
    first time), then acted on as they would have been, the first of them: numba turns an
    interruption while it compiles into an unrelated error with a traceback.  Only in the
    main thread, the one Python runs signal handlers in; elsewhere the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {int(sig): signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        handler = previous[caught[0]]
        if callable(handler):
            handler(caught[0], None)
        elif handler in (signal.SIG_DFL, None):
            signal.raise_signal(caught[0])
