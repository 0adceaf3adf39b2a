"""A result file written whole or not at all, checked before the work that fills it.

:func:`reserve` runs before a command does its work: the target must be a regular file or
a new name in an existing folder (never a symbolic link, a device or a FIFO, which a
rename would replace), and a temporary file is made beside it at once, so that a folder
that cannot be written is reported before the run, not after.  The temporary file has
the mode the result will have (the existing file's, or 0666 less the umask, as any new
file) and a short name, so that a target name of 255 characters still works.  The
result is written to it, flushed to disk and renamed over the target; on any error,
Ctrl-C or SIGTERM the temporary file is removed.  Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
}


class SaveError(ValueError):
    """A target that cannot be written; the message names the path and the reason."""


class Reservation:
    """A temporary file beside the target, to be committed (renamed over it) or dropped."""

    def __init__(self, path: Path, handle: BinaryIO, temporary: Path) -> None:
        self.path, self.handle, self.temporary = path, handle, temporary

    def commit(self, write: Callable[[BinaryIO], None]) -> None:
        """Write the result with ``write``, flush it to disk and rename it over the target."""
        write(self.handle)
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        _check_target(self.path)  # it may have become a link or a device meanwhile
        os.replace(self.temporary, self.path)
        with contextlib.suppress(OSError):  # make the rename itself durable
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)

    def drop(self) -> None:
        """Remove the temporary file (a no-op once committed).

        Closing flushes what is buffered, which fails again on a full disk: the file is
        removed all the same, and the error that ended the write is the one reported.
        """
        with contextlib.suppress(OSError):
            self.handle.close()
        with contextlib.suppress(OSError):
            self.temporary.unlink()


@contextlib.contextmanager
def reserve(path: Path) -> Iterator[Reservation]:
    """Check ``path`` and make its temporary file; drop it unless committed in the block.

    Raises SaveError when the target cannot be written.
    """
    mode = _check_target(path)
    try:
        fd, name = tempfile.mkstemp(prefix=".rnncalc-", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise SaveError(
            f"{path}: cannot write in the folder {_folder(path)}: {_reason(error)}"
        ) from None
    reservation = Reservation(path, os.fdopen(fd, "wb"), Path(name))
    try:
        os.fchmod(fd, mode)
        yield reservation
    finally:
        reservation.drop()


def _check_target(path: Path) -> int:
    """The mode the result will have; raise SaveError unless ``path`` may be replaced."""
    if not path.name or str(path).endswith(os.sep):
        raise SaveError(f"{path}: give a file name, not a folder")
    try:
        folder = os.stat(_folder(path))
    except FileNotFoundError:
        raise SaveError(f"{path}: the folder {_folder(path)} does not exist") from None
    except OSError as error:
        raise SaveError(f"{path}: the folder {_folder(path)}: {_reason(error)}") from None
    if not stat.S_ISDIR(folder.st_mode):
        raise SaveError(f"{path}: {_folder(path)} is not a folder")
    try:
        target = os.lstat(path)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
    except OSError as error:
        raise SaveError(f"{path}: {_reason(error)}") from None
    if not stat.S_ISREG(target.st_mode):
        kind = KINDS.get(stat.S_IFMT(target.st_mode), "not a regular file")
        raise SaveError(f"{path} is {kind}: give a regular file or a new name")
    return stat.S_IMODE(target.st_mode) & 0o777


def _folder(path: Path) -> str:
    return str(path.parent) if str(path.parent) else "."


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()
