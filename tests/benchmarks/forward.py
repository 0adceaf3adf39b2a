"""rnncalc's forward pass against PyTorch and NumPy's GEMM: every cell, dtype and shape.

For each cell (RNN, LSTM, GRU, an LSTM with a projection to H/2, and the three
bidirectional), dtype (float32, float64) and shape (B, T, I, H), it times, in interleaved
rounds so that the machine's drifting speed hits every contender alike:

* rnncalc's compiled pass (``network_forward(..., engine="compiled")``, a reused
  workspace), when numba is installed (``pip install '.[fast]'``);
* rnncalc's NumPy pass (``engine="numpy"``), the fallback;
* ``torch.nn.RNN/LSTM/GRU`` (no_grad, batch_first, the same dtype, thread count and
  weights, loaded by their state_dict names), when torch is importable;
* NumPy's square matrix product (2048^3), the rate a pass bound by matrix products can
  at most reach.

One layer is timed, without an output layer: FLOPs = 2*B*T*D*G*H*(I + S) (+ 2*B*T*D*H*P
for a projection) for G gate blocks (1, 4, 3) and state size S.  Every figure is a median
over rounds of per-round ratios, so a slow moment slows both sides of a ratio.  It prints
a table in Markdown (the README's), each entry "speed against torch (share of the GEMM
rate)", and checks the targets: the compiled pass at least 1.0x torch everywhere, and at
least 85% of the GEMM rate on (256, 50, 512, 512).

    python tests/benchmarks/forward.py                         # without torch: GEMM only
    PYTHONPATH=. /path/to/venv-with-torch/bin/python tests/benchmarks/forward.py
    ... forward.py --cell lstm --dtype float32 --rounds 3      # a part of the table
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

from rnncalc.engine import Workspace, assemble, network_forward
from rnncalc.engine.engines import unavailable
from rnncalc.engine.run import init_weights
from rnncalc.model import shapes
from rnncalc.model.spec import Cell, ModelSpec

try:
    import torch
except ImportError:  # the benchmark runs without torch, with fewer comparisons
    torch = None

SHAPES = [(64, 100, 128, 256), (1, 1000, 32, 64), (256, 50, 512, 512), (8, 200, 64, 128)]
GEMM_BOUND = (256, 50, 512, 512)
#: Variant name -> (cell, bidirectional, projection as a fraction of H).
VARIANTS: dict[str, tuple[Cell, bool, int]] = {
    "rnn": ("rnn", False, 0),
    "lstm": ("lstm", False, 0),
    "gru": ("gru", False, 0),
    "lstm proj": ("lstm", False, 2),
    "bi-rnn": ("rnn", True, 0),
    "bi-lstm": ("lstm", True, 0),
    "bi-gru": ("gru", True, 0),
}
TARGET_VS_TORCH = 1.0
TARGET_ROOFLINE = 0.85
GEMM_SIZE = 2048
#: Seconds to wait before timing each contender: BLAS and OpenMP worker threads keep
#: spinning for a while after a call, and would otherwise slow whoever runs next.
SETTLE = 0.2
#: Seconds of runs per contender per round, at most --repeat runs.
BUDGET = 1.0
TORCH_MODULES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def median_seconds(func: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pass_flops(variant: str, shape: tuple[int, int, int, int]) -> int:
    cell, bidirectional, fraction = VARIANTS[variant]
    b, t, i, h = shape
    p = h // fraction if fraction else 0
    per_direction = 2 * b * t * GATES[cell] * h * (i + (p or h)) + 2 * b * t * h * p
    return per_direction * (2 if bidirectional else 1)


def contenders(
    variant: str, shape: tuple[int, int, int, int], dtype: str
) -> dict[str, Callable[[], Any]]:
    """rnncalc's passes and (with torch) torch.nn, on the same weights, checked to agree."""
    cell, bidirectional, fraction = VARIANTS[variant]
    b, t, i, h = shape
    p = h // fraction if fraction else 0
    spec = ModelSpec(
        t, i, h, 0, cell=cell, bidirectional=bidirectional, proj_size=p, convention="pytorch"
    )
    weights = init_weights(shapes.rnn_weights(spec), np.random.default_rng(0), dtype, h)
    x = np.random.default_rng(1).standard_normal((b, t, i)).astype(dtype)
    net = assemble(spec, weights, np.dtype(dtype))
    workspace = Workspace()
    numpy_h = network_forward(net, x, workspace=workspace)[0].copy()
    tolerance = 1e-4 if dtype == "float32" else 1e-10
    runs: dict[str, Callable[[], Any]] = {}
    if unavailable() is None:
        compiled_h = network_forward(net, x, workspace=workspace, engine="compiled")[0]
        assert np.max(np.abs(compiled_h - numpy_h)) < tolerance, "the two passes disagree"
        runs["compiled"] = lambda: network_forward(net, x, workspace=workspace, engine="compiled")
    runs["numpy"] = lambda: network_forward(net, x, workspace=workspace)
    if torch is not None:
        module = getattr(torch.nn, TORCH_MODULES[cell])(
            i, h, batch_first=True, bidirectional=bidirectional, **({"proj_size": p} if p else {})
        )
        module = module.to(getattr(torch, dtype))
        module.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        xt = torch.from_numpy(x)

        def torch_run() -> Any:
            with torch.no_grad():
                return module(xt)

        reference = torch_run()[0].numpy()
        assert np.max(np.abs(numpy_h - reference)) < tolerance, "rnncalc and PyTorch disagree"
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


def measure(
    variant: str, dtype: str, shape: tuple[int, int, int, int], rounds: int, repeat: int
) -> dict[str, float]:
    """Median ratios over rounds: ``<engine> vs torch`` and ``<engine> of gemm``, and each
    contender's median milliseconds (``<name> ms``).
    """
    flops = pass_flops(variant, shape)
    runs = contenders(variant, shape, dtype)
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    ratios: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, func in runs.items():
            time.sleep(SETTLE)  # let the previous contender's idle threads stop spinning
            start = time.perf_counter()
            func()  # warm caches and thread pools
            once = time.perf_counter() - start
            seconds[name].append(median_seconds(func, max(1, min(repeat, int(BUDGET / once)))))
        gemm = gemm_gflops(dtype, 3)
        for engine in ("compiled", "numpy"):
            if engine not in runs:
                continue
            ours = seconds[engine][-1]
            ratios.setdefault(f"{engine} of gemm", []).append(flops / ours / 1e9 / gemm)
            if "torch" in runs:
                ratios.setdefault(f"{engine} vs torch", []).append(seconds["torch"][-1] / ours)
    result = {key: statistics.median(values) for key, values in ratios.items()}
    result.update({f"{k} ms": statistics.median(v) * 1000 for k, v in seconds.items()})
    return result


def entry(result: dict[str, float], engine: str) -> str:
    share = f"{result[f'{engine} of gemm']:.0%}"
    if f"{engine} vs torch" not in result:
        return share + " of GEMM"
    return f"{result[f'{engine} vs torch']:.2f}x ({share})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--repeat", type=int, default=5, help="most runs per contender per round")
    parser.add_argument("--dtype", choices=["float32", "float64"], action="append")
    parser.add_argument("--cell", choices=list(VARIANTS), action="append")
    parser.add_argument(
        "--shape", type=int, choices=range(len(SHAPES)), action="append", help="index in SHAPES"
    )
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    if torch is not None:
        torch.set_num_threads(threads)
    why = unavailable()
    print(
        f"numpy {np.__version__}, torch {torch.__version__ if torch else 'not installed'}, "
        f"compiled pass: {'yes' if why is None else why}; {threads} threads, "
        f"{args.rounds} rounds"
    )
    engines = ["compiled", "numpy"] if why is None else ["numpy"]
    ok = True
    rows: list[str] = []
    for variant in args.cell or list(VARIANTS):
        for dtype in args.dtype or ["float32", "float64"]:
            entries: dict[str, list[str]] = {engine: [] for engine in engines}
            for shape in [SHAPES[k] for k in args.shape or range(len(SHAPES))]:
                result = measure(variant, dtype, shape, args.rounds, args.repeat)
                times = ", ".join(f"{k[:-3]} {v:.2f} ms" for k, v in result.items() if "ms" in k)
                print(f"{variant} {dtype} {shape}: {times}", flush=True)
                for engine in engines:
                    entries[engine].append(entry(result, engine))
                if "compiled" in engines:
                    vs_torch = result.get("compiled vs torch", TARGET_VS_TORCH)
                    roof = result["compiled of gemm"] if shape == GEMM_BOUND else 1.0
                    ok &= vs_torch >= TARGET_VS_TORCH and roof >= TARGET_ROOFLINE
            for engine in engines:
                rows.append(f"| {variant} | {dtype} | {engine} | " + " | ".join(entries[engine]))
    shown = [SHAPES[k] for k in args.shape or range(len(SHAPES))]
    print("\n| cell | dtype | pass | " + " | ".join(str(s) for s in shown) + " |")
    print("|---|---|---|" + "---|" * len(shown))
    print("\n".join(row + " |" for row in rows))
    print(
        f"\ntargets: compiled >= {TARGET_VS_TORCH}x torch everywhere, >= {TARGET_ROOFLINE:.0%} "
        f"of GEMM on {GEMM_BOUND}: {'ok' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
