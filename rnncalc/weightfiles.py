"""Weights and inputs from files, and results to a file, for ``rnncalc forward``.

Files are read with ``allow_pickle=False``, so loading never runs code from a file.  Every
mismatch is a :class:`ArrayFileError` whose message names the file, the key, the expected
and the found shape.  Results are written to a temporary file that replaces the target
only when complete: a file is written whole or not at all.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .shapes import Weight

Array = npt.NDArray[Any]

#: Keys that ``forward --save`` writes besides the weights; a weights file may carry them.
RESULT_KEYS = ("x", "h", "y")

#: Sizes read off files: each size's value and where it came from, for messages.
Found = dict[str, tuple[int, str]]


class ArrayFileError(ValueError):
    """A weights or inputs file that cannot be used; the message says why."""


def _load(path: Path) -> Any:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ArrayFileError(f"{path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ArrayFileError(f"{path}: not a readable NumPy file ({error})") from None


def _numeric(path: Path, key: str, array: Array) -> Array:
    if array.dtype.kind not in "iuf":
        raise ArrayFileError(f"{path}: {key} holds {array.dtype} values; expected real numbers")
    return array


def load_weights(path: Path) -> dict[str, Array]:
    """All arrays of an ``.npz`` archive, by name."""
    data = _load(path)
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ArrayFileError(f"{path}: expected an .npz archive of named arrays (np.savez)")
    try:
        with data:
            return {key: _numeric(path, key, data[key]) for key in data.files}
    except ArrayFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ArrayFileError(f"{path}: a damaged .npz archive ({error})") from None


def load_inputs(path: Path) -> Array:
    """The input x from an ``.npy`` file: three dimensions (B, T, I), batch first."""
    data = _load(path)
    if not isinstance(data, np.ndarray):
        raise ArrayFileError(f"{path}: expected one array in an .npy file (np.save)")
    if data.ndim != 3 or 0 in data.shape:
        raise ArrayFileError(
            f"{path}: x has shape {tuple(data.shape)}; expected (B, T, I): batch, timesteps, "
            "input size, none of them 0"
        )
    return _numeric(path, "x", data)


def sizes_from_weights(path: Path, arrays: Mapping[str, Array]) -> Found:
    """input_size, hidden_size and output_size read off W_xh and W_yh."""
    w_xh = arrays.get("W_xh")
    if w_xh is None or w_xh.ndim != 2 or 0 in w_xh.shape:
        found = "missing" if w_xh is None else f"shape {tuple(w_xh.shape)}"
        raise ArrayFileError(f"{path}: W_xh is {found}; expected a matrix of shape (I, H)")
    w_yh = arrays.get("W_yh")
    if w_yh is not None and (w_yh.ndim != 2 or w_yh.shape[1] == 0):
        raise ArrayFileError(
            f"{path}: W_yh has shape {tuple(w_yh.shape)}; expected a matrix of shape (H, O)"
        )
    source = f"the weights in {path}"
    return {
        "input_size": (int(w_xh.shape[0]), source),
        "hidden_size": (int(w_xh.shape[1]), source),
        "output_size": (0 if w_yh is None else int(w_yh.shape[1]), source),
    }


#: The sizes an input x of shape (B, T, I) fixes, in its axis order.
INPUT_FIELDS = ("batch_size", "timesteps", "input_size")


class SizeConflict(ValueError):
    """A size option given explicitly that a file contradicts; ``field`` names the size."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def sizes_from_inputs(path: Path, x: Array, found: Found) -> Found:
    """Add B, T and I from x to the sizes already ``found``; they must agree."""
    merged = dict(found)
    for field, value in zip(INPUT_FIELDS, x.shape, strict=True):
        if field in merged and merged[field][0] != value:
            known, source = merged[field]
            raise ArrayFileError(
                f"x in {path} has {field.replace('_', ' ')} {value}, but {source} have {known}"
            )
        merged[field] = (int(value), f"x in {path}")
    return merged


def resolve_sizes(sizes: Mapping[str, int], given: set[str], found: Found) -> dict[str, int]:
    """The sizes to run with: read off the files where they say, else the options'.

    An option in ``given`` (set explicitly) that a file contradicts is a SizeConflict.
    """
    resolved = dict(sizes)
    for field, (value, source) in found.items():
        if field in given and sizes[field] != value:
            name = "--" + field.replace("_", "-")
            raise SizeConflict(
                field,
                f"{name} {sizes[field]} disagrees with {source}, which give "
                f"{field.replace('_', ' ')} {value}; leave the option out or make them agree.",
            )
        resolved[field] = value
    return resolved


def check_weights(
    path: Path, arrays: Mapping[str, Array], expected: tuple[Weight, ...]
) -> list[str]:
    """Raise unless every expected weight is present with its shape; return unknown keys."""
    for w in expected:
        array = arrays.get(w.name)
        letters = "(" + ", ".join(w.symbols) + (",)" if len(w.symbols) == 1 else ")")
        if array is None:
            raise ArrayFileError(
                f"{path}: {w.name} is missing; expected shape {w.shape} = {letters}"
            )
        if tuple(array.shape) != w.shape:
            raise ArrayFileError(
                f"{path}: {w.name} has shape {tuple(array.shape)}; expected {w.shape} = {letters}"
            )
    known = {w.name for w in expected} | set(RESULT_KEYS)
    return sorted(set(arrays) - known)


def save_arrays(path: Path, arrays: Mapping[str, Array]) -> None:
    """Write an ``.npz`` archive atomically: complete at ``path``, or no file at all."""
    directory = path.parent
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            contiguous: dict[str, Any] = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
            np.savez(handle, **contiguous)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
