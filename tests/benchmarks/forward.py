"""Throughput of rnncalc's forward pass against a naive loop, PyTorch, and NumPy's GEMM.

For each cell (rnn, lstm, gru), shape (B, T, I, H) and dtype it times, in interleaved
rounds so that the machine's drifting speed hits every contender alike:

* rnncalc's pass (``rnncalc.engine.network_forward`` with a reused workspace),
* the naive per-step loop (``stepwise_forward``: the equations as written, step by step),
* ``torch.nn.RNN/LSTM/GRU`` (no_grad, same dtype, same thread count, same weights loaded
  by their state_dict names), when torch is importable,
* NumPy's square matrix product, the roofline for a pass bound by matrix multiplication.

The recurrent layer alone is timed (no output layer), FLOPs = 2*B*T*G*(I*H + H*H) for G
gate blocks (1, 4, 3).  Each ratio is a median over rounds of per-round ratios.  Targets:
at least 1.25x PyTorch's throughput on the first two shapes, and on the third at least
1.1x PyTorch and 85% of the square-GEMM GFLOP/s.

    python tests/benchmarks/forward.py             # numpy only: naive loop and GEMM
    /path/to/venv-with-torch/bin/python tests/benchmarks/forward.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rnncalc.engine import Workspace, assemble, network_forward, stepwise_forward
from rnncalc.engine.run import init_weights
from rnncalc.model import shapes
from rnncalc.model.spec import ModelSpec

try:
    import torch
except ImportError:  # the benchmark runs without torch, with fewer comparisons
    torch = None

SHAPES = [(64, 100, 128, 256), (1, 1000, 32, 64), (256, 50, 512, 512)]
TARGET_VS_TORCH = {0: 1.25, 1: 1.25, 2: 1.1}
TARGET_ROOFLINE = {2: 0.85}
GEMM_SIZE = 2048
#: Seconds to wait before timing each contender: BLAS and OpenMP worker threads keep
#: spinning for a while after a call, and would otherwise slow whoever runs next.
SETTLE = 0.3
TORCH_MODULES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def median_seconds(func: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def contenders(
    cell: str, shape: tuple[int, int, int, int], dtype: str
) -> dict[str, Callable[[], Any]]:
    """rnncalc's pass, the naive loop and (with torch) torch.nn, on the same weights."""
    b, t, i, h = shape
    spec = ModelSpec(t, i, h, 0, cell=cell, convention="pytorch")  # type: ignore[arg-type]
    weights = init_weights(shapes.rnn_weights(spec), np.random.default_rng(0), dtype, h)
    x = np.random.default_rng(1).standard_normal((b, t, i)).astype(dtype)
    net = assemble(spec, weights, np.dtype(dtype))
    workspace = Workspace()
    fast = network_forward(net, x, workspace=workspace)[0].copy()
    naive = stepwise_forward(net, x)[0]
    tolerance = 1e-4 if dtype == "float32" else 1e-10
    assert np.max(np.abs(fast - naive)) < tolerance, "rnncalc and the naive loop disagree"
    runs: dict[str, Callable[[], Any]] = {
        "rnncalc": lambda: network_forward(net, x, workspace=workspace),
        "naive": lambda: stepwise_forward(net, x),
    }
    if torch is not None:
        module = getattr(torch.nn, TORCH_MODULES[cell])(i, h, batch_first=True)
        module = module.to(getattr(torch, dtype))
        module.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        xt = torch.from_numpy(x)

        def torch_run() -> Any:
            with torch.no_grad():
                return module(xt)

        reference = torch_run()[0].numpy()
        assert np.max(np.abs(fast - reference)) < tolerance, "rnncalc and PyTorch disagree"
        runs["torch"] = torch_run
    return runs


def gemm_gflops(dtype: str, repeat: int) -> float:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((GEMM_SIZE, GEMM_SIZE)).astype(dtype)
    b = rng.standard_normal((GEMM_SIZE, GEMM_SIZE)).astype(dtype)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    seconds = median_seconds(lambda: np.matmul(a, b, out=out), repeat)
    return 2 * GEMM_SIZE**3 / seconds / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per contender per round")
    parser.add_argument("--dtype", choices=["float32", "float64"], action="append")
    parser.add_argument("--cell", choices=list(TORCH_MODULES), action="append")
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    if torch is not None:
        torch.set_num_threads(threads)
    print(
        f"numpy {np.__version__}, torch {torch.__version__ if torch else 'not installed'}, "
        f"{threads} threads, {args.rounds} rounds x {args.repeat} runs"
    )
    ok = True
    cases = [
        (cell, dtype, index, shape)
        for cell in args.cell or list(TORCH_MODULES)
        for dtype in args.dtype or ["float32", "float64"]
        for index, shape in enumerate(SHAPES)
    ]
    for cell, dtype, index, shape in cases:
        b, t, i, h = shape
        flops = 2 * b * t * GATES[cell] * (i * h + h * h)
        runs = contenders(cell, shape, dtype)
        seconds: dict[str, list[float]] = {name: [] for name in [*runs, "gemm"]}
        ratios: dict[str, list[float]] = {"naive": [], "torch": [], "roofline": []}
        for _ in range(args.rounds):
            for name, func in runs.items():
                repeat = 1 if name == "naive" and flops > 1e9 else args.repeat
                time.sleep(SETTLE)  # let the previous contender's idle threads stop spinning
                func()  # warm caches and thread pools
                seconds[name].append(median_seconds(func, repeat))
            gemm = gemm_gflops(dtype, 3)
            seconds["gemm"].append(gemm)
            ours = seconds["rnncalc"][-1]
            ratios["naive"].append(seconds["naive"][-1] / ours)
            ratios["roofline"].append(flops / ours / 1e9 / gemm)
            if "torch" in runs:
                ratios["torch"].append(seconds["torch"][-1] / ours)
        ms = {k: statistics.median(v) * 1000 for k, v in seconds.items() if k != "gemm"}
        line = (
            f"{cell} {dtype} B,T,I,H={shape}: rnncalc {ms['rnncalc']:.2f} ms "
            f"({flops / ms['rnncalc'] / 1e6:.1f} GFLOP/s); "
            f"naive {ms['naive']:.2f} ms (x{statistics.median(ratios['naive']):.2f}); "
            f"{statistics.median(ratios['roofline']):.0%} of square GEMM "
            f"({statistics.median(seconds['gemm']):.0f} GFLOP/s)"
        )
        verdicts = []
        if ratios["torch"]:
            vs_torch = statistics.median(ratios["torch"])
            line += f"; torch {ms['torch']:.2f} ms: rnncalc x{vs_torch:.2f}"
            target = TARGET_VS_TORCH[index]
            verdicts.append(f"vs torch >= {target}: {'ok' if vs_torch >= target else 'MISSED'}")
            ok &= vs_torch >= target
        if index in TARGET_ROOFLINE:
            roof = statistics.median(ratios["roofline"])
            target = TARGET_ROOFLINE[index]
            verdicts.append(f"roofline >= {target:.0%}: {'ok' if roof >= target else 'MISSED'}")
            ok &= roof >= target
        print(line + (" [" + ", ".join(verdicts) + "]" if verdicts else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
