"""Splitting a pass across threads: the NumPy pass's batch (each share with single-threaded
BLAS), the compiled pass's units (each thread its columns of every step).
"""

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


#: Split a compiled step's units only when its product has at least this many
#: multiply-adds (2^15: an LSTM of H=64 with B=1 steps in about 2 us, which two threads
#: would save less of than their waiting for each other and starting cost).
_COLUMN_SPLIT_MIN_MACS = 1 << 15
#: Units each thread takes at least, and a multiple of which each share starts at: SIMD
#: lanes' worth (8 float32, two AVX registers of float64).
_UNIT_ALIGN = 8


def unit_parts(units: int, step_macs: int, threads: int | None) -> list[tuple[int, int]]:
    """The compiled pass's split of a step's ``units`` across threads, as (first, stop)
    ranges, one per thread: when ``threads`` is unset, across every usable CPU, when the
    step's product (``step_macs``) is large enough, each share has :data:`_UNIT_ALIGN`
    units and BLAS's threads can be limited; else as many as asked (at most one per unit).
    """
    if threads is None:
        threads = 1
        if step_macs >= _COLUMN_SPLIT_MIN_MACS and _blas_controller() is not None:
            threads = min(_usable_cpus(), units // _UNIT_ALIGN)
    return even_parts(units, max(1, min(threads, units)))


def even_parts(count: int, parts: int) -> list[tuple[int, int]]:
    """``count`` items in ``parts`` contiguous ranges as even as can be, each starting at a
    multiple of :data:`_UNIT_ALIGN` when every range can have that many (some ranges are
    empty when ``count`` < ``parts``).
    """
    align = _UNIT_ALIGN if count >= parts * _UNIT_ALIGN else 1
    bounds = [count * k // parts // align * align for k in range(parts)] + [count]
    return list(itertools.pairwise(bounds))


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


@contextlib.contextmanager
def pinned(cpu: int | None) -> Iterator[None]:
    """The calling thread on CPU ``cpu`` alone inside the block (where the system lets a
    thread choose: Linux; elsewhere, and for None, as it was).  Threads that wait for each
    other by spinning need a core each, and a woken thread is often put on the core of the
    thread that woke it, where they took turns: 4 us a step on two cores, 12 on one.
    """
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def usable_cpu_list() -> list[int]:
    """The CPUs this process may run on, in order (their count where they cannot be known)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _usable_cpus() -> int:
    """The CPUs this process may use: those it may run on, at most its cgroup's CPU quota
    (a container limited to one CPU still sees all of the host's, and threads that spin
    while they wait for each other would share that one).
    """
    count = len(usable_cpu_list())
    quota = cpu_quota()
    return count if quota is None else max(1, min(count, quota))


@functools.cache
def cpu_quota(path: str = "/sys/fs/cgroup/cpu.max") -> int | None:
    """Whole CPUs a cgroup v2 quota allows (``cpu.max``: "quota period", or "max" for
    none), at least 1; None where there is no quota or no such file.
    """
    try:
        with open(path, encoding="ascii") as limits:
            quota, period = limits.read().split()[:2]
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if quota == "max" or not (quota.isdigit() and period.isdigit()) or int(period) == 0:
        return None
    return max(1, int(quota) // int(period))


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
