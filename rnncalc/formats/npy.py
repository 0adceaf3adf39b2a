"""Read ``.npy`` and ``.npz`` files as data, never as code, and check them before trusting them.

Only regular files are read.  Every size a file declares is checked against the memory limit,
and against what the file holds, before anything is allocated; then each array is allocated
once, at its declared size, and read straight into.  Nothing is ever unpickled.  Anything wrong
is an :class:`ArrayFileError` whose one-line message starts with the file's path.
"""

from __future__ import annotations

import ast
import contextlib
import io
import math
import os
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from ..files import FileError, cannot, open_regular
from ..units import format_bytes

Array = npt.NDArray[Any]

_MAGIC = b"\x93NUMPY"
#: Per .npy format version: how the header length is stored, and the header's encoding.
_VERSIONS = {(1, 0): ("<H", "latin-1"), (2, 0): ("<I", "latin-1"), (3, 0): ("<I", "utf-8")}
_MAX_HEADER = 10_000  # NumPy's own default max_header_size
_KEYS = {"descr", "fortran_order", "shape"}
_MAX_DIMS = 32
_INTP_MAX = int(np.iinfo(np.intp).max)
_CHUNK = 1 << 20  # bytes per read into an array

_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")  # what np.load takes for an archive
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


class ArrayFileError(FileError):
    """A weights or inputs file that cannot be used.

    The message, one line starting with the file's path, says why.
    """


@dataclass(frozen=True)
class _Header:
    """What an .npy header declares, and how many bytes precede the data."""

    dtype: np.dtype[Any]
    fortran_order: bool
    shape: tuple[int, ...]
    length: int

    @property
    def data_bytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


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


def _read_header(stream: io.BufferedIOBase, where: str) -> _Header:
    """Read and check an .npy header, leaving *stream* at the start of the data."""
    start = stream.read(len(_MAGIC) + 2)
    if not start.startswith(_MAGIC):
        if not start:
            reason = "it is empty"
        elif _MAGIC.startswith(start):
            raise ArrayFileError(f"{where}: truncated (it ends inside its .npy header)")
        elif start.startswith(_ZIP_STARTS):
            reason = "it is a zip archive, as np.savez writes"
        else:
            reason = "it does not start with NumPy's magic bytes"
        raise ArrayFileError(f"{where}: not an .npy file ({reason})")
    if len(start) < len(_MAGIC) + 2:
        raise ArrayFileError(f"{where}: truncated (it ends inside its .npy header)")
    version = (start[-2], start[-1])
    if version not in _VERSIONS:
        raise ArrayFileError(
            f"{where}: .npy format version {version[0]}.{version[1]} is not one of 1.0, 2.0, 3.0"
        )
    length_format, encoding = _VERSIONS[version]
    field = stream.read(struct.calcsize(length_format))
    if len(field) < struct.calcsize(length_format):
        raise ArrayFileError(f"{where}: truncated (it ends inside its .npy header)")
    (length,) = struct.unpack(length_format, field)
    if length > _MAX_HEADER:
        raise ArrayFileError(
            f"{where}: its .npy header declares {length} bytes, more than the {_MAX_HEADER} allowed"
        )
    raw = stream.read(length)
    if len(raw) < length:
        raise ArrayFileError(f"{where}: truncated (it ends inside its .npy header)")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        raise ArrayFileError(f"{where}: its .npy header is not valid UTF-8") from None
    dtype, fortran_order, shape = _parse_header(text, where)
    return _Header(dtype, fortran_order, shape, len(start) + len(field) + length)


def _parse_header(text: str, where: str) -> tuple[np.dtype[Any], bool, tuple[int, ...]]:
    """The dtype, fortran_order and shape of an .npy header's dictionary literal."""
    try:
        with warnings.catch_warnings():  # a stray escape ("\\c") warns while it parses
            warnings.simplefilter("ignore")
            header = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ArrayFileError(f"{where}: its .npy header is not a dictionary of literals") from None
    if not isinstance(header, dict):
        kind = type(header).__name__
        article = "an" if kind[0] in "aeiou" else "a"
        raise ArrayFileError(f"{where}: its .npy header is {article} {kind}, not a dictionary")
    if header.keys() != _KEYS:
        keys = _brief(", ".join(sorted(repr(key) for key in header)))
        raise ArrayFileError(
            f"{where}: its .npy header has keys {{{keys}}}; expected descr, fortran_order, shape"
        )
    if not isinstance(header["fortran_order"], bool):
        found = _brief(repr(header["fortran_order"]))
        raise ArrayFileError(f"{where}: its .npy header's fortran_order is {found}, not a bool")
    return _dtype(header["descr"], where), header["fortran_order"], _shape(header["shape"], where)


def _dtype(descr: object, where: str) -> np.dtype[Any]:
    """The plain numeric dtype that *descr* names: integers or floats."""
    shown = _brief(repr(descr))
    if isinstance(descr, list | tuple):
        raise ArrayFileError(
            f"{where}: holds structured values ({shown}); expected integers or floats"
        )
    unknown = ArrayFileError(f"{where}: its .npy header names no NumPy dtype ({shown})")
    # A type code or name, such as '<f8' or 'float64', and nothing that np.dtype parses further.
    if not isinstance(descr, str) or not re.fullmatch(r"[<>|=]?[A-Za-z?][A-Za-z0-9]*", descr):
        raise unknown
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated names are refused below, not warned of
            dtype = np.dtype(descr)
    except (TypeError, ValueError):
        raise unknown from None
    if dtype.kind not in "iuf":
        raise ArrayFileError(
            f"{where}: holds {_brief(str(dtype))} values; expected integers or floats"
        )
    return dtype


def _shape(value: object, where: str) -> tuple[int, ...]:
    """*value* as a shape: a tuple of at most 32 non-negative integers, none of them a bool."""
    dims = tuple(
        dim
        for dim in (value if isinstance(value, tuple) else ())
        if isinstance(dim, int) and not isinstance(dim, bool) and dim >= 0
    )
    if not isinstance(value, tuple) or len(dims) != len(value):
        raise ArrayFileError(
            f"{where}: its .npy header's shape {_brief(repr(value))} "
            "is not a tuple of non-negative integers"
        )
    if len(dims) > _MAX_DIMS:
        raise ArrayFileError(
            f"{where}: declares {len(dims)} dimensions; at most {_MAX_DIMS} are allowed"
        )
    return dims


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


def _brief(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shape_text(shape: tuple[int, ...]) -> str:
    """``(2, 3)``, ``(5,)``; cut short when long."""
    text = f"({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''})"
    return text if len(text) <= 60 else text[:56] + "...)"


def _bytes(count: int) -> str:
    return "1 byte" if count == 1 else f"{count} bytes"
