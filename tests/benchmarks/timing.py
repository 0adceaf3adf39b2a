"""What the command-timing benchmarks share: the console script, and medians of whole
commands timed in interleaved rounds (so that drift in the machine's speed hits every command
alike).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path


def installed_script() -> str:
    """The rnncalc console script beside this Python (not a shell shim); exits if absent."""
    script = Path(sys.executable).parent / "rnncalc"
    if not script.exists():
        sys.exit(f"rnncalc is not installed beside {sys.executable}: pip install .")
    return str(script)


def wall_time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def interleaved_medians(commands: dict[str, list[str]], rounds: int) -> dict[str, float]:
    """Each command's median wall time in seconds over ``rounds`` interleaved rounds, after
    one untimed run of each (to warm the file cache).
    """
    for command in commands.values():
        wall_time(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            times[name].append(wall_time(command))
    return {name: statistics.median(values) for name, values in times.items()}
