"""``rnncalc inspect`` reads metadata, not data: a 2 GB checkpoint against a 2 KB one.

Writes, in a temporary folder, two safetensors files of the same network (an embedding, a
2-layer LSTM, a tied decoder): one of a few kilobytes, one whose embedding makes it 2 GiB,
sparse (the header is written and the file extended, so the data costs no disk).  Runs
``rnncalc inspect FILE -q`` on each ``--rounds`` times, interleaved, and prints the medians
and their ratio.  Target: at most 1.10 (the same time, within the machine's noise).

Run from a regular install: ``python tests/benchmarks/inspect.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.10


def write_safetensors(path: Path, vocab: int, width: int) -> int:
    """A language model's header with zero data, extended to its declared size; its bytes."""
    tensors: list[tuple[str, tuple[int, ...]]] = [("embedding.weight", (vocab, width))]
    for k in range(2):
        tensors += [
            (f"lstm.weight_ih_l{k}", (4 * width, width)),
            (f"lstm.weight_hh_l{k}", (4 * width, width)),
            (f"lstm.bias_ih_l{k}", (4 * width,)),
            (f"lstm.bias_hh_l{k}", (4 * width,)),
        ]
    tensors.append(("linear.bias", (vocab,)))
    header, offset = {}, 0
    for name, shape in tensors:
        size = 4
        for dim in shape:
            size *= dim
        header[name] = {
            "dtype": "F32",
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = json.dumps(header).encode()
    with path.open("wb") as stream:
        stream.write(struct.pack("<Q", len(raw)) + raw)
        stream.truncate(8 + len(raw) + offset)
    return 8 + len(raw) + offset


def wall_time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    script = Path(sys.executable).parent / "rnncalc"
    if not script.exists():
        sys.exit(f"rnncalc is not installed beside {sys.executable}: pip install .")
    with tempfile.TemporaryDirectory() as folder:
        small, large = Path(folder) / "small.safetensors", Path(folder) / "large.safetensors"
        sizes = {
            "2 KB file": write_safetensors(small, 11, 6),
            "2 GB file": write_safetensors(large, 1_000_000, 512),
        }
        commands = {
            "2 KB file": [str(script), "inspect", str(small), "-q"],
            "2 GB file": [str(script), "inspect", str(large), "-q"],
        }
        for command in commands.values():
            wall_time(command)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(wall_time(command))
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, seconds in median.items():
        print(f"{name}: {sizes[name]:>13,} bytes, median {seconds * 1000:6.1f} ms")
    ratio = median["2 GB file"] / median["2 KB file"]
    verdict = "ok" if ratio <= TARGET else f"over target {TARGET}"
    print(f"ratio 2 GB / 2 KB: {ratio:.3f} ({verdict})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
