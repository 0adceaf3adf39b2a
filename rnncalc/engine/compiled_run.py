"""Running one direction in the compiled kernels, on as many threads as it pays: a large
batch in shares, each stepped by its own thread; a small one whole, each step's units
split across threads that wait for each other at a barrier after every step, each held
on its own core.  Importing this module does not import numba.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from ..model.spec import GATES
from .assemble import DirectionParams, Network
from .engines import kernels
from .threads import (
    even_parts,
    pinned,
    single_threaded_blas,
    step_blas,
    unit_parts,
    usable_cpu_list,
)
from .types import ADVANCE_EVERY, Advance, Array

if TYPE_CHECKING:
    from .kernel_binding import Steps


@functools.cache
def _helpers(count: int) -> ThreadPoolExecutor:
    """``count`` threads kept for the compiled pass's shares, the same ones pass after pass
    and direction after direction (starting threads each time cost about 0.1 ms a thread
    and a share of a short pass).  Passes run from several threads at once queue for them.
    """
    return ThreadPoolExecutor(count, thread_name_prefix="rnncalc-part")


def compiled_direction(
    net: Network,
    p: DirectionParams,
    x: Array,
    z: Array,
    w_aug: Array,
    hs: Array,
    c: Array,
    reverse: bool,
    hidden_activation: str,
    chunks: list[slice],
    threads: int | None,
    advance: Advance | None,
) -> None:
    """Run one direction in a compiled kernel: the batch's ``chunks`` each stepped by its
    own thread when there are several, else the whole batch with each step's units split
    across threads (:func:`rnncalc.engine.threads.unit_parts`).
    """
    batch, steps, _ = x.shape
    width, size = p.w_x.shape[1], hs.shape[2] - 1
    units, macs = width // len(GATES[net.cell]), batch * width * p.w_h.shape[0]
    parts = unit_parts(units, macs, threads) if len(chunks) == 1 else [(0, units)]
    projection = even_parts(size if p.w_hr is not None else 0, len(parts))
    most = max(chunk.stop - chunk.start for chunk in chunks)  # rows one call multiplies
    bound = kernels().bind_steps(
        net, p, x, z, w_aug, hs, c, reverse, hidden_activation, parts, projection, most
    )
    if len(chunks) == 1:  # every thread its units of the whole batch
        rows = batch * steps

        def share(me: int) -> bool:
            lo, hi = rows * me // bound.parties, rows * (me + 1) // bound.parties
            return bound.project(me, lo, hi) and _steps(bound, me, 0, batch, steps, advance)

        if bound.parties == 1:
            with step_blas(macs, False):
                share(0)
        else:
            _on_threads(bound.parties, share, bound.abort)
        return

    def rows_share(me: int) -> bool:  # thread ``me`` all units of its rows, alone
        lo, hi = chunks[me].start, chunks[me].stop
        bound.project(0, lo * steps, hi * steps)
        return _steps(bound, 0, lo, hi, steps, advance if me == 0 else None)

    _on_threads(len(chunks), rows_share, bound.abort)


def _steps(bound: Steps, me: int, lo: int, hi: int, steps: int, advance: Advance | None) -> bool:
    """Thread ``me``'s share of every step of rows ``lo:hi``, a few hundred steps at a
    time, telling ``advance``; False when stopped by the abort flag.
    """
    for first in range(0, steps, ADVANCE_EVERY):
        stop = min(first + ADVANCE_EVERY, steps)
        if not bound.run(me, lo, hi, first, stop):
            return False
        if advance is not None and me == 0:
            advance(stop - first)
    return True


def _on_threads(count: int, work: Callable[[int], bool], abort: Callable[[], None]) -> None:
    """``work(me)`` for me = 0 to count - 1 at once: 0 on this thread, the others on kept
    helpers, each held on its own CPU when there are enough, with BLAS on one thread each.
    If this thread's share raises, ``abort()`` stops the others (at their next barrier)
    before the error goes on.
    """
    cpus = usable_cpu_list()
    start = threading.Barrier(count) if count <= len(cpus) else None

    def pinned_work(me: int) -> bool:
        with pinned(cpus[me] if start is not None else None):
            if start is not None:
                start.wait()  # every thread on its own core before any spins
            return work(me)

    with single_threaded_blas():
        others = [_helpers(count - 1).submit(pinned_work, me) for me in range(1, count)]
        try:
            pinned_work(0)
        except BaseException:
            abort()
            if start is not None:
                start.abort()
            wait(others)
            raise
        for other in others:
            other.result()
