"""Progress of long work, on stderr, when stderr is a terminal.

The library reports phases and steps done (:class:`rnncalc.engine.results.Progress`); this draws
them with rich, but only once the work has lasted half a second, so that quick runs never
flash a bar, and it clears the bar when done: stdout stays the data alone.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

#: Seconds of work before a bar appears.
DELAY = 0.5


class TerminalProgress:
    """Phases and steps drawn as a transient rich progress bar on stderr."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._bar: Any = None
        self._task: Any = None
        self._phase = ("", 1, 0)  # name, total, completed before the bar appeared

    def phase(self, name: str, total: int) -> None:
        """A new phase of ``total`` steps begins."""
        if self._bar is None:
            self._phase = (name, total, 0)
        else:
            self._bar.update(self._task, description=name, total=total, completed=0)

    def advance(self, done: int) -> None:
        """``done`` more steps of the phase are done."""
        if self._bar is not None:
            self._bar.advance(self._task, done)
            return
        name, total, completed = self._phase
        self._phase = (name, total, completed + done)
        if time.monotonic() - self._started >= DELAY:
            self._show()

    def _show(self) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self._bar = Progress(console=Console(stderr=True), transient=True)
        self._bar.start()
        name, total, completed = self._phase
        self._task = self._bar.add_task(name, total=total, completed=completed)

    def close(self) -> None:
        """Clear the bar, if it appeared."""
        if self._bar is not None:
            self._bar.stop()


@contextlib.contextmanager
def progress_on_terminal() -> Iterator[TerminalProgress | None]:
    """A :class:`TerminalProgress` if stderr is a terminal, else None (nothing is drawn)."""
    if sys.stderr is None or not sys.stderr.isatty():
        yield None
        return
    progress = TerminalProgress()
    try:
        yield progress
    finally:
        progress.close()
