"""The process around a command: its standard streams and signals.

* Text that the output's encoding cannot hold falls back to ASCII: box drawing to ``+-|``,
  ``×`` to ``x``, ``·`` to ``*``, arrows to ``->``, so ``PYTHONIOENCODING=latin-1`` or an
  ASCII terminal gets a readable table instead of a UnicodeEncodeError.
* A closed pipe (``rnncalc sweep ... | head``) ends the process quietly by SIGPIPE, the
  status a shell reports for ``yes | head`` (141); nothing is left half-written, since a
  file is renamed into place before any output is written.
* SIGTERM runs the same clean-up as Ctrl-C (temporary files are removed), exit 143.
* Writing to a full disk or a closed stdout is one line on stderr and exit 1.

Standard library only.
"""

from __future__ import annotations

# The C module behind signal: importing signal itself builds its enums, 1.2 ms of start-up.
import _signal
import codecs
import contextlib
import os
import sys
from types import FrameType

#: Characters rnncalc prints that need a stand-in on an ASCII or Latin-1 stream.
FALLBACKS = {
    "×": "x",
    "·": "*",
    "²": "^2",
    "→": "->",
    "←": "<-",
    "▶": ">",
    "◀": "<",
    "▲": "^",
    "█": "#",
    "…": "...",
    "≤": "<=",
    "≥": ">=",
    "−": "-",
    "⋮": ":",
}
ERRORS = "rnncalc-fallback"
#: Exit status for output that could not be written.
OUTPUT_ERROR = 1


def fallback(char: str) -> str:
    """An ASCII stand-in for one character: box drawing by its shape, else the table above."""
    import unicodedata  # only when a stream cannot hold a character

    if char in FALLBACKS:
        return FALLBACKS[char]
    name = unicodedata.name(char, "")
    if name.startswith("BOX DRAWINGS"):
        words = set(name.split())
        if words & {"DOWN", "UP", "LEFT", "RIGHT", "AND", "ARC", "DIAGONAL"}:
            return "+"
        return "-" if "HORIZONTAL" in words else "|"
    return ascii(char)[1:-1]  # \uff52, not a look-alike that would change what was typed


def _replace(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(fallback(char) for char in text), error.end


def prepare() -> None:
    """Set up the streams and signals of a command-line run (see the module's docstring)."""
    codecs.register_error(ERRORS, _replace)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=ERRORS)
    if hasattr(_signal, "SIGPIPE"):
        _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    _signal.signal(_signal.SIGTERM, _terminate)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def emit(text: str, err: bool = False) -> None:
    """Write ``text`` to stdout (or stderr) in the stream's own encoding, and flush.

    (click.echo would rewrap an ASCII stream as UTF-8; here the encoding the user set is
    kept, with the fallback above for what it cannot hold.)  A closed stderr is skipped.
    """
    stream = sys.stderr if err else sys.stdout
    if stream is None:
        return
    stream.write(text)
    stream.flush()


def message(text: str, longest: int = 400) -> str:
    """``text`` as one line for stderr: newlines, control and direction characters escaped
    (a file name cannot break the line or turn it around), and the middle of a long line
    cut, so that no message echoes pages of input.
    """
    line = "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)
    if len(line) <= longest:
        return line
    return f"{line[: longest * 2 // 3]} ... {line[-longest // 4 :]} ({len(line):,} characters)"


def write_failed(error: OSError) -> int:
    """Report output that could not be written; return the exit status to use."""
    with contextlib.suppress(OSError, AttributeError, ValueError):
        # Point stdout at /dev/null, so that the flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    reason = error.strerror or str(error)
    with contextlib.suppress(OSError, AttributeError, ValueError):
        sys.stderr.write(f"rnncalc: cannot write the output: {reason}\n")
        sys.stderr.flush()
    return OUTPUT_ERROR
