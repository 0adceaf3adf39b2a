"""Splitting a large batch across threads, each with single-threaded BLAS."""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
from collections.abc import Iterator
from typing import Any

#: Split the batch only when each thread's recurrent GEMM per step has at least this many
#: multiply-adds (2^20: (32 x 256) @ (256 x 256) splits, a float64 pass of B=64, H=256 went
#: from 33 to 20 ms).  Below it, thread start-up and the BLAS workers that keep spinning
#: for a while after their thread count is lowered cost more than the split saves
#: (measured with tests/benchmarks/forward.py on 2 cores).
_SPLIT_MIN_MACS = 1 << 20


def batch_chunks(batch: int, macs_per_row: int, threads: int | None) -> list[slice]:
    """Split the batch into contiguous row ranges, one per thread."""
    if threads is None:
        # The whole batch's step too small to split asks no more (the CPU count costs 2 us).
        threads = 1 if batch * macs_per_row < _SPLIT_MIN_MACS else _usable_cpus()
        if (batch // threads) * macs_per_row < _SPLIT_MIN_MACS or _blas_controller() is None:
            threads = 1
    count = max(1, min(threads, batch))
    bounds = [batch * k // count for k in range(count + 1)]
    return [slice(lo, hi) for lo, hi in itertools.pairwise(bounds)]


def pair_directions(batch: int, macs_per_row: int, threads: int | None) -> bool:
    """Whether a bidirectional layer runs its two directions at once, one thread each: when
    two threads may run (``threads`` unset or at least 2; two CPUs; BLAS's threads can be
    limited) and a direction's batch would not be split (its steps' products are small).
    """
    if threads is not None and threads < 2:
        return False
    if (_usable_cpus() if threads is None else threads) < 2 or _blas_controller() is None:
        return False
    return len(batch_chunks(batch, macs_per_row, threads)) == 1


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@functools.cache
def _blas_controller() -> Any:
    """threadpoolctl's handle on NumPy's BLAS, or None when it cannot set the thread count."""
    from threadpoolctl import ThreadpoolController

    blas = ThreadpoolController().select(user_api="blas")
    return blas if blas.lib_controllers else None


def step_blas(macs: int, split: bool) -> contextlib.AbstractContextManager[None]:
    """BLAS's threads for a pass's steps, whose products have ``macs`` multiply-adds: as
    they are for a batch ``split`` across threads (one each already) or for a product large
    enough to share (:data:`_SPLIT_MIN_MACS`); else one thread.  On a smaller product,
    waking and waiting for BLAS's threads costs more than they share: 40x on an
    (8 x 129) @ (129 x 512) product with the other core busy.
    """
    if split or macs >= _SPLIT_MIN_MACS:
        return contextlib.nullcontext()
    return single_threaded_blas()


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS on one thread inside the block, so that our threads do not oversubscribe."""
    controller = _blas_controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=1):
        yield
