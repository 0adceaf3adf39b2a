"""The header of an ``.npy`` file, read and checked as data: its magic bytes and version,
its length (at most NumPy's own limit), and its dictionary literal of dtype, order and
shape, each refused with one line (an :class:`ArrayFileError`) when it is not what NumPy
writes.  :mod:`rnncalc.formats.npy` reads the data it declares.
"""

from __future__ import annotations

import ast
import io
import math
import re
import struct
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..files import FileError

_MAGIC = b"\x93NUMPY"
#: Per .npy format version: how the header length is stored, and the header's encoding.
_VERSIONS = {(1, 0): ("<H", "latin-1"), (2, 0): ("<I", "latin-1"), (3, 0): ("<I", "utf-8")}
_MAX_HEADER = 10_000  # NumPy's own default max_header_size
_KEYS = {"descr", "fortran_order", "shape"}
_MAX_DIMS = 32
_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")  # what np.load takes for an archive


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


def _brief(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
