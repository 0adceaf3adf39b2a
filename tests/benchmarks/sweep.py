"""Rows per second of `rnncalc sweep --format csv`, against writing plain CSV rows.

Streams a sweep of ``--rows`` rows (timesteps 1..N for a 2-layer LSTM, and for a whole
network: an embedding, LSTMs of 256 and 128, an output layer tied to the embedding)
through rnncalc's own row generator and CSV writer into memory, and, in the same run, the
same number of rows of nine integers joined by commas (the cost of the output alone).
Target: at least 100,000 rows per second.

    python tests/benchmarks/sweep.py
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rnncalc.analysis.ranges import parse_sizes
from rnncalc.analysis.sweep import Sweep, rows
from rnncalc.model.network import Dense, Embedding, Network, Recurrent, Stage
from rnncalc.model.spec import ModelSpec
from rnncalc.render.sweep import csv_lines

TARGET = 100_000


def rnncalc_csv(count: int) -> None:
    spec = ModelSpec(cell="lstm", convention="pytorch", layers=2)
    sink = io.StringIO()
    for line in csv_lines(rows(spec, {"timesteps": parse_sizes(f"1..{count}")}), cost=True):
        sink.write(line)


def network_csv(count: int) -> None:
    layers = (
        Embedding(10_000, 128),
        Recurrent("lstm", 256),
        Recurrent("lstm", 128),
        Dense(10_000, steps="all", tie=True),
    )
    plan = Sweep(Network((Stage(1, None, layers),), "pytorch"))
    sink = io.StringIO()
    swept = {plan.letters.index("T"): parse_sizes(f"1..{count}")}
    for line in csv_lines(plan.rows(swept), True, plan.columns):
        sink.write(line)


def plain_csv(count: int) -> None:
    sink = io.StringIO()
    for k in range(count):
        sink.write(",".join(map(repr, (k, 4, 3, 1, 2, 28, 127, 4.5, 81))) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    runs = {"rnncalc": rnncalc_csv, "network": network_csv, "plain": plain_csv}
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, func in runs.items():
            start = time.perf_counter()
            func(args.rows)
            seconds[name].append(time.perf_counter() - start)
    rates = {}
    for name, what in (("rnncalc", "sweep csv"), ("network", "sweep csv, whole network")):
        rates[name] = args.rows / statistics.median(seconds[name])
        ratio = statistics.median(seconds[name]) / statistics.median(seconds["plain"])
        print(
            f"rnncalc {what}: {rates[name]:,.0f} rows/s (median of {args.rounds} rounds of "
            f"{args.rows:,} rows); {ratio:.2f}x the time of writing plain CSV rows"
        )
    slowest = min(rates.values())
    verdict = "ok" if slowest >= TARGET else "MISSED"
    print(f"target >= {TARGET:,} rows/s: {verdict}")
    return 0 if slowest >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
