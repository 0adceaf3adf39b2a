"""The compiled pass on several threads: its products, its split of a step's units, the
barrier its threads wait at, and what happens when one of them is interrupted.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numba import njit

from rnncalc import ModelSpec
from rnncalc.engine import assemble, engines, kernel_math, kernel_sync, network_forward
from rnncalc.engine import threads as engine_threads
from rnncalc.engine.run import init_weights
from rnncalc.engine.types import ADVANCE_EVERY
from rnncalc.model import shapes

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


@njit
def _product(a: np.ndarray, bt: np.ndarray, c: np.ndarray) -> None:
    kernel_math.gemm_t(a, bt, c)


@njit(nogil=True)
def _wait(flags: np.ndarray, me: int, parties: int) -> bool:
    return kernel_sync.barrier(flags, me, parties)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    ("rows", "depth", "cols"),
    [(1, 1, 1), (1, 65, 256), (2, 7, 5), (3, 9, 13), (7, 33, 31), (33, 17, 6), (64, 8, 12),
     (65, 16, 20), (130, 40, 9)],
)  # fmt: skip
def test_products_match_numpy(rows: int, depth: int, cols: int, dtype: str) -> None:
    """Odd rows, columns not a multiple of four or eight, the row blocks' edges, and past
    :data:`DOT_ROWS` (BLAS); ``a`` wider than ``bt`` is deep, as the states with their
    column of ones are.
    """
    rng = np.random.default_rng(rows * 1000 + depth * 10 + cols)
    a = rng.standard_normal((rows, depth + 1)).astype(dtype)
    bt = rng.standard_normal((cols, depth)).astype(dtype)
    c = np.full((rows, cols), np.nan, dtype)
    _product(a, bt, c)
    exact = a[:, :depth].astype(np.float64) @ bt.astype(np.float64).T
    scale = np.abs(a[:, :depth]).astype(np.float64) @ np.abs(bt).astype(np.float64).T
    unit = np.finfo(dtype).eps
    assert np.all(np.abs(c - exact) <= 2 * depth * unit * scale + 1e-300)


def test_even_parts_align_to_simd_lanes_when_each_can_have_them() -> None:
    assert engine_threads.even_parts(128, 2) == [(0, 64), (64, 128)]
    assert engine_threads.even_parts(100, 2) == [(0, 48), (48, 100)]
    assert engine_threads.even_parts(100, 3) == [(0, 32), (32, 64), (64, 100)]
    assert engine_threads.even_parts(6, 2) == [(0, 3), (3, 6)]  # too few to align
    assert engine_threads.even_parts(3, 4) == [(0, 0), (0, 1), (1, 2), (2, 3)]
    assert engine_threads.even_parts(0, 2) == [(0, 0), (0, 0)]


def test_unit_parts_split_large_steps_across_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_threads, "_usable_cpus", lambda: 2)
    assert engine_threads.unit_parts(128, 8 * 129 * 512, None) == [(0, 64), (64, 128)]
    assert engine_threads.unit_parts(64, 65 * 256, None) == [(0, 64)]  # 2^14: too small
    assert engine_threads.unit_parts(8, 2**20, None) == [(0, 8)]  # 8 units: one share
    assert engine_threads.unit_parts(6, 10, 2) == [(0, 3), (3, 6)]  # asked for: as asked
    assert engine_threads.unit_parts(1, 10, 4) == [(0, 1)]
    assert engine_threads.unit_parts(128, 2**30, 1) == [(0, 128)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    ("cell", "reset_after", "proj"),
    [("rnn", True, 0), ("lstm", True, 0), ("lstm", True, 20), ("gru", True, 0),
     ("gru", False, 0)],
)  # fmt: skip
def test_units_split_across_threads_give_the_numpy_pass_s_states(
    cell: str, reset_after: bool, proj: int, dtype: str
) -> None:
    """Three threads on 40 units (8, 16 and 16; a projection's 20 columns in unaligned
    thirds), two layers, the states handed on and the head included.  One sequence: a
    batch would be split across the threads instead, and a bidirectional layer's small
    steps run its two directions at once.
    """
    options: dict[str, Any] = {"cell": cell, "layers": 2, "proj_size": proj}
    options["convention"] = "pytorch"
    if not reset_after:  # the textbook GRU: Keras's reset_after=False
        options.update(convention="keras", reset_after=False)
    spec = ModelSpec(9, 5, 40, 3, **options)
    weights = init_weights(shapes.rnn_weights(spec), np.random.default_rng(0), dtype, 40)
    net = assemble(spec, weights, np.dtype(dtype))
    x = np.random.default_rng(1).standard_normal((1, 9, 5)).astype(dtype)
    assert engine_threads.unit_parts(40, 1, 3) == [(0, 8), (8, 24), (24, 40)]
    h, y = network_forward(net, x, threads=1)
    h, y = h.copy(), y.copy()  # type: ignore[union-attr]
    h3, y3 = network_forward(net, x, threads=3, engine="compiled")
    np.testing.assert_allclose(h3, h, rtol=0, atol=TOLERANCE[dtype])
    np.testing.assert_allclose(y3, y, rtol=0, atol=TOLERANCE[dtype])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cell", "reset_after", "proj"),
    [("rnn", True, 0), ("lstm", True, 6), ("gru", True, 0), ("gru", False, 0)],
)
def test_more_rows_than_the_compiled_loop_takes_multiply_through_blas(
    cell: str, reset_after: bool, proj: int
) -> None:
    """70 rows on one thread: past DOT_ROWS, the weights are stored for BLAS, untransposed."""
    assert kernel_math.DOT_ROWS < 70
    options: dict[str, Any] = {"cell": cell, "proj_size": proj, "convention": "pytorch"}
    if not reset_after:
        options.update(convention="keras", reset_after=False)
    spec = ModelSpec(5, 3, 12, 2, **options)
    weights = init_weights(shapes.rnn_weights(spec), np.random.default_rng(0), "float64", 12)
    net = assemble(spec, weights, np.float64)
    x = np.random.default_rng(1).standard_normal((70, 5, 3))
    h = network_forward(net, x, threads=1)[0].copy()
    compiled = network_forward(net, x, threads=1, engine="compiled")[0]
    np.testing.assert_allclose(compiled, h, rtol=0, atol=1e-12)


def test_the_barrier_waits_for_every_thread_and_the_abort_flag_frees_it() -> None:
    flags = kernel_sync.counters(2)
    passed: list[bool] = []
    waiting = threading.Thread(target=lambda: passed.append(_wait(flags, 1, 2)))
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive()  # thread 0 has not come yet
    assert _wait(flags, 0, 2)
    waiting.join(10)
    assert passed == [True]
    waiting = threading.Thread(target=lambda: passed.append(_wait(flags, 1, 2)))
    waiting.start()
    waiting.join(0.2)
    kernel_sync.abort(flags)
    waiting.join(10)
    assert passed == [True, False]
    assert not _wait(flags, 0, 2)  # once raised, every barrier returns at once


def test_an_interrupted_pass_stops_its_other_threads() -> None:
    """The first thread's progress report raises; the pass raises it, and returns only
    after the other thread has left its barrier (else it would spin on for ever).
    """
    spec = ModelSpec(3 * ADVANCE_EVERY, 4, 64, 0, cell="lstm", convention="pytorch")
    weights = init_weights(shapes.rnn_weights(spec), np.random.default_rng(0), "float64", 64)
    net = assemble(spec, weights, np.float64)

    def stop(done: int) -> None:
        raise KeyboardInterrupt

    def run() -> Any:
        network_forward(net, np.ones((1, 3 * ADVANCE_EVERY, 4)), threads=2, advance=stop,
                        engine="compiled")  # fmt: skip

    before = threading.active_count()
    with pytest.raises(KeyboardInterrupt):
        run()
    assert threading.active_count() <= before + 1  # the kept helper, idle
    h = network_forward(net, np.ones((1, 3 * ADVANCE_EVERY, 4)), threads=2, engine="compiled")
    assert np.isfinite(h[0]).all()  # the helper is free for the next pass


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no thread affinity here")
def test_pinned_holds_a_thread_on_one_cpu_and_lets_it_go() -> None:
    before = os.sched_getaffinity(0)
    cpu = min(before)
    with engine_threads.pinned(cpu):
        assert os.sched_getaffinity(0) == {cpu}
    assert os.sched_getaffinity(0) == before
    with engine_threads.pinned(None):
        assert os.sched_getaffinity(0) == before


def test_signals_wait_until_the_kernels_are_compiled() -> None:
    """Ctrl-C while numba compiles would surface as numba's RuntimeError: it is held back
    and raised once the block is over; SIGTERM reaches its own handler (the command line's
    exit 143) the same way, once, and the handlers are as they were.
    """
    heard: list[int] = []
    before = signal.signal(signal.SIGTERM, lambda signum, frame: heard.append(signum))
    try:
        finished = []

        def signalled() -> None:
            with engines.signals_deferred():
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGTERM)
                finished.append(True)  # no interruption inside

        with pytest.raises(KeyboardInterrupt):
            signalled()
        assert finished == [True]
        assert heard == []  # only the first signal is acted on
        with engines.signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
        assert heard == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_cgroup_quota_caps_the_cpus_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    limits = tmp_path / "cpu.max"
    for text, expected in [("150000 100000\n", 1), ("400000 100000", 4), ("max 100000", None),
                           ("50000 100000", 1), ("junk", None), ("1 0", None)]:  # fmt: skip
        limits.write_text(text)
        engine_threads.cpu_quota.cache_clear()
        assert engine_threads.cpu_quota(str(limits)) == expected
    assert engine_threads.cpu_quota(str(tmp_path / "absent")) is None
    monkeypatch.setattr(engine_threads, "cpu_quota", lambda: 1)
    monkeypatch.setattr(engine_threads, "usable_cpu_list", lambda: [0, 1, 2, 3])
    assert engine_threads._usable_cpus() == 1
    assert engine_threads.unit_parts(128, 2**20, None) == [(0, 128)]
