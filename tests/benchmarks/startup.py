"""Start-up time of `rnncalc params`, as ratios against importing what it must import.

Runs each command ``--rounds`` times, interleaved so that drift in the machine's speed hits
every command alike, and prints the median wall time of each and two ratios:

* ``rnncalc params --format json`` against ``python -c "import click"``
* ``rnncalc params --model FILE --format json`` (a model file: an encoder-decoder with
  embeddings, as the README's seq2seq.toml) against ``python -c "import click"``
* ``rnncalc params`` (a rich table) against ``python -c "import click, rich.console, rich.table"``

Target: every ratio at most 1.25.  Run: ``python tests/benchmarks/startup.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from timing import installed_script, interleaved_medians

TARGET = 1.25

#: The README's seq2seq.toml (Sutskever et al. 2014): two stages, embeddings, a head.
MODEL = """\
convention = "pytorch"
timesteps = 30
[[encoder.layers]]
kind = "embedding"
vocab_size = 160_000
dim = 1000
[[encoder.layers]]
kind = "lstm"
hidden_size = 1000
stack = 4
[[decoder.layers]]
kind = "embedding"
vocab_size = 80_000
dim = 1000
[[decoder.layers]]
kind = "lstm"
hidden_size = 1000
stack = 4
[[decoder.layers]]
kind = "dense"
units = 80_000
steps = "all"
activation = "softmax"
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    rnncalc = installed_script()
    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / "seq2seq.toml"
        model.write_text(MODEL)
        return measure(rnncalc, str(model), args.rounds)


def measure(rnncalc: str, model: str, rounds: int) -> int:
    """Time every command, interleaved; print the medians and the ratios; 1 if over."""
    commands = {
        "import click": [sys.executable, "-c", "import click"],
        "import click+rich": [sys.executable, "-c", "import click, rich.console, rich.table"],
        "params --format json": [rnncalc, "params", "--format", "json"],
        "params --model --format json": [rnncalc, "params", "--model", model, "--format", "json"],
        "params (table)": [rnncalc, "params"],
    }
    median = interleaved_medians(commands, rounds)
    for name, seconds in median.items():
        print(f"{name:30} median {seconds * 1000:7.1f} ms over {rounds} runs")
    ok = True
    for name, baseline in (
        ("params --format json", "import click"),
        ("params --model --format json", "import click"),
        ("params (table)", "import click+rich"),
    ):
        ratio = median[name] / median[baseline]
        ok &= ratio <= TARGET
        verdict = "ok" if ratio <= TARGET else f"over target {TARGET}"
        print(f"ratio {name} / {baseline}: {ratio:.3f} ({verdict})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
