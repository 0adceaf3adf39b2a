"""Open files as data: regular files only, so that no device, FIFO or socket is ever read.

A path is checked before it is opened (a FIFO would block the open) and the open file again
(it may have changed in between).  Every refusal is a :class:`FileError` whose one-line
message starts with the path.  Standard library only.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path  # only a type here: pathlib costs every start-up 5 ms


class FileError(ValueError):
    """A file rnncalc will not or cannot read; the message starts with its path."""


_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)


def open_regular(path: Path | str, error: type[FileError] = FileError) -> io.BufferedReader:
    """*path* opened for reading, if it is a regular file (symbolic links followed); else
    raise ``error`` with a one-line message that starts with the path.
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError) as failure:
        raise error(_open_failure(path, failure)) from None
    _require_regular(path, mode, error)  # so that no device or FIFO is ever opened
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as failure:
        raise error(_open_failure(path, failure)) from None
    try:
        _require_regular(path, os.fstat(fd).st_mode, error)  # it may have changed since the stat
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _require_regular(path: Path | str, mode: int, error: type[FileError]) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "an unusual kind of file")
        raise error(f"{path}: not a regular file ({kind})")


def _open_failure(path: Path | str, error: OSError | ValueError) -> str:
    if isinstance(error, FileNotFoundError):
        if os.path.islink(path):
            return f"{path}: a symbolic link to a file that does not exist"
        return f"{path}: no such file"
    return cannot(path, "open", error)


def cannot(path: Path | str, action: str, error: OSError | ValueError) -> str:
    """A one-line message for an OSError: ``PATH: cannot read: permission denied``."""
    reason = getattr(error, "strerror", None) or str(error)
    return f"{path}: cannot {action}: {reason[:1].lower()}{reason[1:]}"
