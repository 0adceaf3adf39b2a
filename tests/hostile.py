"""Run rnncalc's command line in-process the way the console script does, for hostile tests.

:func:`invoke` calls :func:`rnncalc.cli.run` (the entry point's own error handling, not
CliRunner's) with stdout and stderr captured, a time limit that turns a hang into a
failure, and an output limit that ends an endless stream the way ``| head`` would.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

from rnncalc.cli import run

#: Seconds an invocation may take before it counts as a hang.
TIME_LIMIT = 15
#: Characters of output after which a stream counts as answered (as `| head` would stop it).
OUTPUT_LIMIT = 1_000_000
#: The exit statuses rnncalc promises.
STATUSES = {0, 1, 2, 130}


class Hang(Exception):
    """An invocation that did not answer within TIME_LIMIT seconds."""


class OutputLimit(Exception):
    """An invocation that wrote more than OUTPUT_LIMIT characters: a stream, cut short."""


class LimitedText(io.StringIO):
    """A text stream that stops the writer after OUTPUT_LIMIT characters."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        if self.tell() + len(text) > OUTPUT_LIMIT:
            raise OutputLimit
        return super().write(text)

    def isatty(self) -> bool:
        return False


@dataclass(frozen=True)
class Outcome:
    """What one invocation did: its status (None if its output was cut short) and streams."""

    args: tuple[str, ...]
    status: int | None
    stdout: str
    stderr: str

    def check(self) -> None:
        """The promises every invocation keeps, whatever its arguments."""
        shown = f"rnncalc {' '.join(self.args)[:300]}\n{self.stderr[-2000:]}"
        assert "Traceback" not in self.stderr + self.stdout, shown
        if self.status is None:  # a stream cut short: it answered, and goes on
            return
        assert self.status in STATUSES, shown
        assert len(self.stderr) < 2000, shown  # one message, no echo of a long argument
        if self.status == 2:
            assert self.stdout == "", shown
            assert self.stderr.rstrip().splitlines()[-1].startswith("Error: "), shown
        if self.status == 0 and self.format == "json":
            strict_json(self.stdout)

    @property
    def format(self) -> str | None:
        """The --format the arguments ask for (the last one given wins, as in click)."""
        found = None
        for name, value in zip(self.args, (*self.args[1:], None), strict=True):
            if name in ("-f", "--format"):
                found = value
            elif name.startswith("--format="):
                found = name.removeprefix("--format=")
            elif name.startswith("-f") and not name.startswith("--"):
                found = name[2:]
        return found


def strict_json(text: str) -> object:
    """Parse JSON, refusing NaN and Infinity (which json.loads would accept)."""

    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def invoke(*args: str) -> Outcome:
    """Run ``rnncalc ARGS`` in-process and return what it did."""
    out, err = LimitedText(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        with time_limit(TIME_LIMIT):
            status: int | None = run(list(args))
    except OutputLimit:
        status = None
    finally:
        sys.stdout, sys.stderr = saved
    return Outcome(args, status, out.getvalue(), err.getvalue())
