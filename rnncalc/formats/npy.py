"""Read ``.npy`` and ``.npz`` files as data, never as code, and check them before trusting them.

Only regular files are read.  Every size a file declares is checked against the memory limit,
and against what the file holds, before anything is allocated; then each array is allocated
once, at its declared size, and read straight into.  Nothing is ever unpickled.  Anything wrong
is an :class:`ArrayFileError` whose one-line message starts with the file's path.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from ..files import cannot, open_regular
from ..units import format_bytes
from .npy_header import (
    _MAGIC,
    _ZIP_STARTS,
    ArrayFileError,
    _brief,
    _Header,
    _read_header,
)

__all__ = ["ArrayFileError", "Declared", "NpzArchive", "open_npz", "read_npy", "read_npz"]

Array = npt.NDArray[Any]

_INTP_MAX = int(np.iinfo(np.intp).max)
_CHUNK = 1 << 20  # bytes per read into an array

_END = b"PK\x05\x06"  # end of central directory record: 22 bytes, last in the file
_END64_LOCATOR = b"PK\x06\x07"  # 20 bytes, just before the end record
_END64 = b"PK\x06\x06"  # zip64 end record: 56 bytes, just before the locator
_MAX_MEMBERS = 10_000
_MAX_DIRECTORY = _MAX_MEMBERS * 256  # bytes of central directory that many members can need
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    OverflowError,
    NotImplementedError,
    RuntimeError,
)


def read_npy(path: Path, max_bytes: int) -> Array:
    """The one array of an ``.npy`` file (``np.save``), read only if it fits in *max_bytes*."""
    where = str(path)
    with open_regular(path, ArrayFileError) as stream:
        try:
            header = _read_header(stream, where)
            _check_size(header, where, max_bytes)
            held = os.fstat(stream.fileno()).st_size - header.length
            if held < header.data_bytes:
                declared = _bytes(header.data_bytes)
                raise ArrayFileError(
                    f"{where}: truncated: declares {declared} of data, holds {held}"
                )
            if held > header.data_bytes:
                extra = _bytes(held - header.data_bytes)
                raise ArrayFileError(f"{where}: has {extra} after its data")
            return _read_data(stream, header, where)
        except OSError as error:
            raise ArrayFileError(cannot(path, "read", error)) from None


@dataclass(frozen=True)
class Declared:
    """What an array's .npy header declares, before any of its data is read."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of data, an exact Python int."""
        return math.prod(self.shape) * self.dtype.itemsize


class NpzArchive:
    """An open ``.npz`` archive whose every header has been read and checked.

    ``declared`` gives each array's shape and dtype by key, in archive order; :meth:`read`
    reads the data of the arrays asked for, and only those.
    """

    def __init__(
        self, path: Path, archive: zipfile.ZipFile, plan: list[tuple[str, zipfile.ZipInfo, _Header]]
    ) -> None:
        self.path, self._archive = path, archive
        self._plan = {key: (info, header) for key, info, header in plan}
        self.declared = {
            key: Declared(header.shape, header.dtype) for key, (_, header) in self._plan.items()
        }

    def read(self, keys: Iterable[str]) -> dict[str, Array]:
        """The arrays of ``keys``, each allocated once at its declared size and read into."""
        arrays = {}
        try:
            for key in keys:
                info, header = self._plan[key]
                with self._archive.open(info) as member:
                    member.read(header.length)
                    # A ZipExtFile: a BufferedIOBase, which IO[bytes] does not say.
                    stream = cast(io.BufferedIOBase, member)
                    arrays[key] = _read_data(stream, header, _where(self.path, key))
        except _ZIP_ERRORS as error:
            raise _damaged(self.path, error) from None
        return arrays


@contextlib.contextmanager
def open_npz(path: Path, max_bytes: int) -> Iterator[NpzArchive]:
    """An ``.npz`` archive (``np.savez``) opened and surveyed: every member's header is read
    and checked, and their total checked against *max_bytes*, before any data is read.
    """
    with open_regular(path, ArrayFileError) as stream:
        try:
            _check_archive(stream, path)
        except OSError as error:
            raise ArrayFileError(cannot(path, "read", error)) from None
        try:
            archive = zipfile.ZipFile(stream)
        except _ZIP_ERRORS as error:
            raise _damaged(path, error) from None
        with archive:
            try:
                plan = _survey(archive, path, max_bytes)
            except ArrayFileError:
                raise
            except _ZIP_ERRORS as error:
                raise _damaged(path, error) from None
            yield NpzArchive(path, archive, plan)


def read_npz(path: Path, max_bytes: int) -> dict[str, Array]:
    """The arrays of an ``.npz`` archive (``np.savez``) by key, in archive order."""
    with open_npz(path, max_bytes) as archive:
        return archive.read(archive.declared)


def _damaged(path: Path, error: BaseException) -> ArrayFileError:
    reason = _brief(" ".join(str(error).split()) or "it ends early", 100)
    return ArrayFileError(f"{path}: damaged .npz archive ({reason})")


def _check_size(header: _Header, where: str, max_bytes: int) -> None:
    """Refuse an array larger than *max_bytes*, or one that NumPy cannot hold."""
    declared = f"shape {_shape_text(header.shape)} of {header.dtype}"
    if header.data_bytes > max_bytes:
        raise ArrayFileError(
            f"{where}: declares {declared}, {format_bytes(header.data_bytes)}, more than the "
            f"memory limit of {format_bytes(max_bytes)} (--max-memory)"
        )
    if math.prod(dim for dim in header.shape if dim) * header.dtype.itemsize > _INTP_MAX:
        raise ArrayFileError(f"{where}: declares {declared}, more than NumPy can index")


def _read_data(stream: io.BufferedIOBase, header: _Header, where: str) -> Array:
    """Allocate the declared array and fill it from *stream*."""
    try:
        flat = np.empty(math.prod(header.shape), header.dtype)
    except MemoryError:
        raise ArrayFileError(
            f"{where}: out of memory for {format_bytes(header.data_bytes)} of data"
        ) from None
    buffer = flat.view(np.uint8).data
    filled = 0
    while filled < len(buffer):
        got = stream.readinto(buffer[filled : filled + _CHUNK])
        if not got:
            raise ArrayFileError(
                f"{where}: truncated: declares {_bytes(header.data_bytes)} of data, holds {filled}"
            )
        filled += got
    if header.fortran_order:
        return flat.reshape(header.shape[::-1]).transpose()
    return flat.reshape(header.shape)


def _check_archive(stream: io.BufferedReader, path: Path) -> None:
    """Refuse what is no zip archive, and one whose directory is too large to parse."""
    start = stream.read(4)
    if start not in _ZIP_STARTS:
        if not start:
            reason = "it is empty"
        elif _MAGIC.startswith(start):
            reason = "it is an .npy file of one array, as np.save writes"
        else:
            reason = "it is not a zip archive"
        raise ArrayFileError(f"{path}: not an .npz file ({reason})")
    # The end record zipfile reads: the file's last 22 bytes (np.savez writes no comment),
    # and the zip64 end record if a locator precedes it.
    stream.seek(max(os.fstat(stream.fileno()).st_size - 98, 0))
    tail = stream.read()
    end = tail[-22:]
    if len(end) < 22 or not end.startswith(_END) or not end.endswith(b"\0\0"):
        raise ArrayFileError(
            f"{path}: damaged .npz archive (it does not end with a zip directory; truncated?)"
        )
    members, directory = struct.unpack_from("<HI", end, 10)
    if tail[-42:-38] == _END64_LOCATOR and tail[-98:-94] == _END64:
        members, directory = struct.unpack_from("<QQ", tail, len(tail) - 98 + 32)
    if members > _MAX_MEMBERS:
        raise ArrayFileError(
            f"{path}: declares {members} arrays, more than the {_MAX_MEMBERS} allowed"
        )
    if directory > _MAX_DIRECTORY:
        raise ArrayFileError(
            f"{path}: damaged .npz archive (its directory declares {directory} bytes, "
            f"more than {_MAX_MEMBERS} arrays need)"
        )


def _survey(
    archive: zipfile.ZipFile, path: Path, max_bytes: int
) -> list[tuple[str, zipfile.ZipInfo, _Header]]:
    """Every member's key and checked header, reading no data."""
    infos = archive.infolist()
    if len(infos) > _MAX_MEMBERS:
        raise ArrayFileError(
            f"{path}: holds {len(infos)} members, more than the {_MAX_MEMBERS} allowed"
        )
    plan: list[tuple[str, zipfile.ZipInfo, _Header]] = []
    keys: set[str] = set()
    total = 0
    for info in infos:
        name = _brief(repr(info.filename))
        key = info.filename.removesuffix(".npy")
        if not key or key == info.filename:
            raise ArrayFileError(f"{path}: member {name} is not an .npy array")
        if key in keys:
            raise ArrayFileError(f"{path}: holds two arrays named {_brief(repr(key))}")
        if info.flag_bits & 0x1:
            raise ArrayFileError(f"{path}: member {name} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArrayFileError(
                f"{path}: member {name} is compressed with method {info.compress_type}; "
                "expected stored or deflated, as np.savez writes"
            )
        where = _where(path, key)
        with archive.open(info) as member:
            header = _read_header(cast(io.BufferedIOBase, member), where)
        _check_size(header, where, max_bytes)
        if info.file_size != header.length + header.data_bytes:
            raise ArrayFileError(
                f"{path}: damaged .npz archive (member {name} holds {info.file_size} bytes; "
                f"its .npy header declares {header.length + header.data_bytes})"
            )
        total += header.data_bytes
        keys.add(key)
        plan.append((key, info, header))
    if total > max_bytes:
        raise ArrayFileError(
            f"{path}: its arrays declare {format_bytes(total)} in all, more than the memory "
            f"limit of {format_bytes(max_bytes)} (--max-memory)"
        )
    return plan


def _where(path: Path, key: str) -> str:
    """How messages name the array *key* of the archive *path*."""
    shown = key if key.isprintable() and len(key) <= 60 else _brief(repr(key))
    return f"{path}: {shown}"


def _shape_text(shape: tuple[int, ...]) -> str:
    """``(2, 3)``, ``(5,)``; cut short when long."""
    text = f"({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''})"
    return text if len(text) <= 60 else text[:56] + "...)"


def _bytes(count: int) -> str:
    return "1 byte" if count == 1 else f"{count} bytes"
