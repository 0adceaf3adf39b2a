"""Running one direction in the compiled kernels, on as many threads as it pays: a large
batch in shares, each stepped by its own thread; a small one whole, each step's units
split across threads that wait for each other at a barrier after every step, each held
on its own core.  Importing this module does not import numba.
"""

from __future__ import annotations

import functools
import threading
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
    """``count`` threads kept for the compiled pass's parts, the same ones pass after pass:
    a new thread starts on its parent's core and spins there until the scheduler moves it,
    which costs a short pass up to half its time.
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
    bound = kernels().bind_steps(
        net, p, x, z, w_aug, hs, c, reverse, hidden_activation, parts, projection
    )
    if len(chunks) == 1:
        _run_compiled(bound, batch, steps, macs, advance)
        return
    with single_threaded_blas(), ThreadPoolExecutor(len(chunks)) as pool:
        for done in [pool.submit(_run_rows, bound, rows, steps, advance) for rows in chunks]:
            done.result()


def _run_rows(bound: Steps, rows: slice, steps: int, advance: Advance | None) -> None:
    """Rows ``rows`` of the batch through a one-thread compiled kernel, from their input
    projections on; the share from row 0 tells ``advance``.
    """
    bound.project(0, rows.start * steps, rows.stop * steps)
    for first in range(0, steps, ADVANCE_EVERY):
        stop = min(first + ADVANCE_EVERY, steps)
        bound.run(0, rows.start, rows.stop, first, stop)
        if advance is not None and rows.start == 0:
            advance(stop - first)


def _run_compiled(
    bound: Steps, batch: int, steps: int, step_macs: int, advance: Advance | None
) -> None:
    """Run a direction's compiled kernel on the whole batch, a few hundred steps at a time,
    each of its threads on its units; the first tells ``advance``.  If that thread is
    interrupted, the others are stopped at their next barrier before this returns.
    """

    def share(me: int, start: threading.Barrier | None) -> None:
        with pinned(cpus[me] if start is not None else None):
            if start is not None:
                start.wait()  # every thread on its own core before any spins
            rows, parties = batch * steps, bound.parties
            if not bound.project(me, rows * me // parties, rows * (me + 1) // parties):
                return
            for first in range(0, steps, ADVANCE_EVERY):
                stop = min(first + ADVANCE_EVERY, steps)
                if not bound.run(me, 0, batch, first, stop):
                    return
                if advance is not None and me == 0:
                    advance(stop - first)

    cpus = usable_cpu_list()
    if bound.parties == 1:
        with step_blas(step_macs, False):
            share(0, None)
        return
    start = threading.Barrier(bound.parties) if bound.parties <= len(cpus) else None
    with single_threaded_blas():
        others = [
            _helpers(bound.parties - 1).submit(share, me, start) for me in range(1, bound.parties)
        ]
        try:
            share(0, start)
        except BaseException:
            bound.abort()
            if start is not None:
                start.abort()
            wait(others)
            raise
        for other in others:
            other.result()
