"""Weights and inputs from files, and results to a file, for ``rnncalc forward``.

Files are read by :mod:`rnncalc.formats.npy`, which never runs code from a file and checks
declared sizes before reading.  Every mismatch is an :class:`ArrayFileError` whose message
names the file, the key, the expected and the found shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np
import numpy.typing as npt

from ..files import open_regular
from ..model import shapes
from ..model.shapes import Weight
from ..model.spec import ModelSpec, skeleton
from .npy import ArrayFileError, read_npy, read_npz

Array = npt.NDArray[Any]

#: Keys that ``forward --save`` writes besides the weights; a weights file may carry them.
RESULT_KEYS = ("x", "x_decoder", "h", "y")

#: Sizes read off files: each size's value and where it came from, for messages.
Found = dict[str, tuple[int, str]]


class Shaped(Protocol):
    """An array, or what a file's header declares of one: sizes are read off shapes alone."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def ndim(self) -> int: ...


def load_inputs(path: Path, max_bytes: int) -> Array:
    """The input x from an ``.npy`` file: three dimensions (B, T, I), batch first."""
    data = read_npy(path, max_bytes)
    if data.ndim != 3 or 0 in data.shape:
        raise ArrayFileError(
            f"{path}: x has shape {tuple(data.shape)}; expected (B, T, I): batch, timesteps, "
            "input size, none of them 0"
        )
    return data


def load_stage_inputs(path: Path, max_bytes: int, encoder_decoder: bool) -> dict[str, Array]:
    """A whole network's inputs: x from an ``.npy`` file, or for an encoder-decoder also
    from an ``.npz`` archive holding x and, optionally, x_decoder (the target tokens).
    Their shapes are the caller's to check.
    """
    if not encoder_decoder or _is_npy(path):
        return {"x": read_npy(path, max_bytes)}
    arrays = read_npz(path, max_bytes)
    unknown = sorted(set(arrays) - {"x", "x_decoder"})
    if "x" not in arrays or unknown:
        found = ", ".join(repr(key)[:40] for key in sorted(arrays)[:5]) or "nothing"
        raise ArrayFileError(
            f"{path}: an encoder-decoder's inputs are x and x_decoder (optional); it holds {found}"
        )
    return {key: arrays[key] for key in ("x", "x_decoder") if key in arrays}


def _is_npy(path: Path) -> bool:
    """Whether the file starts as an .npy file does (else it is taken for an archive)."""
    with open_regular(path, ArrayFileError) as file:
        return file.read(6) == b"\x93NUMPY"


def sizes_from_weights(path: Path, arrays: Mapping[str, Shaped], probe: ModelSpec) -> Found:
    """I, H and O (and P for a PyTorch LSTM) read off the file.

    ``probe`` is the model to read (cell, convention, layers, ...) with any sizes: the
    names of its tensors do not depend on them.  The first input matrix fixes I and H
    through its symbols (say ("4·H", "I") for PyTorch's weight_ih_l0), the output matrix
    fixes O (none: O = 0), and PyTorch's weight_hr_l0 fixes P.
    """
    source = f"the weights in {path}"
    found: Found = {}
    if probe.cell == "lstm" and probe.convention == "pytorch" and "weight_hr_l0" in arrays:
        projection = arrays["weight_hr_l0"]
        if projection.ndim != 2 or 0 in projection.shape:
            raise ArrayFileError(
                f"{path}: weight_hr_l0 has shape {tuple(projection.shape)}; expected (P, H)"
            )
        found["proj_size"] = (int(projection.shape[0]), source)
        probe = skeleton(probe, proj_size=1)
    listed = shapes.rnn_weights(skeleton(probe))
    first, head = listed[0], next(w for w in listed if w.role == "output")
    key = _key(arrays, first.name)
    if key is None:
        raise ArrayFileError(
            f"{path}: {first.name} is missing; expected shape ({', '.join(first.symbols)}), "
            "from which the sizes are read" + _convention_hint(arrays, probe)
        )
    sizes = _solve(path, first, arrays[key], {})
    key = _key(arrays, head.name)
    sizes = _solve(path, head, arrays[key], sizes) if key else {**sizes, "output_size": 0}
    found.update({field: (value, source) for field, value in sizes.items()})
    return found


#: A tensor name each convention's first layer always has, to recognise a file's convention.
_MARKS = {"pytorch": "weight_ih_l0", "keras": "kernel", "seed": "W_x"}


def _convention_hint(arrays: Mapping[str, Shaped], probe: ModelSpec) -> str:
    """A hint when the file's names look like another convention's (or another cell's)."""
    for convention, mark in _MARKS.items():
        if convention != probe.convention and any(mark in key for key in arrays):
            return f" (the names look like the {convention} convention: --convention {convention})"
    return " (check --cell, --layers and --bidirectional against the file's names)"


_LETTERS = {"I": "input_size", "H": "hidden_size", "O": "output_size", "P": "proj_size"}


def _solve(path: Path, w: Weight, array: Shaped, known: dict[str, int]) -> dict[str, int]:
    """Sizes that make ``array``'s shape match ``w``'s symbols (``I``, ``4·H``, ``H+I``)."""
    letters = "(" + ", ".join(w.symbols) + ")"
    if array.ndim != len(w.symbols) or 0 in array.shape:
        raise ArrayFileError(f"{path}: {w.name} has shape {tuple(array.shape)}; expected {letters}")
    solved = dict(known)
    pending = []
    for symbol, dim in zip(w.symbols, array.shape, strict=True):
        if "+" in symbol:
            pending.append((symbol, int(dim)))
            continue
        factor, _, letter = symbol.rpartition("·")
        count = int(factor) if factor else 1
        field = _LETTERS.get(letter)
        if field is None or dim % count or solved.get(field, dim // count) != dim // count:
            known_text = f" with {letter} = {solved[field]}" if field in solved else ""
            raise ArrayFileError(
                f"{path}: {w.name} has shape {tuple(array.shape)}; expected {letters}{known_text}"
            )
        solved[field] = int(dim) // count
    for symbol, dim in pending:  # "H+I" once H is known
        first, second = symbol.split("+")
        solved[_LETTERS[second]] = dim - solved[_LETTERS[first]]
        if solved[_LETTERS[second]] < 1:
            raise ArrayFileError(
                f"{path}: {w.name} has shape {tuple(array.shape)}; expected {letters}"
            )
    return solved


def _key(arrays: Mapping[str, Shaped], name: str) -> str | None:
    """The key for ``name``: itself, or the one key that ends in ``/name`` (Keras paths
    carry the model's name in front, like ``sequential/lstm/lstm_cell/kernel``).
    """
    if name in arrays:
        return name
    matches = [key for key in arrays if key.endswith("/" + name)]
    return matches[0] if len(matches) == 1 else None


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


def match_weights(
    path: Path, arrays: Mapping[str, Shaped], expected: tuple[Weight, ...]
) -> tuple[dict[str, str], list[str]]:
    """The file's key for each expected weight's listed name, and the keys left unused.

    Raises unless every expected weight is present with its shape.  A key may carry a
    prefix (``sequential/lstm/lstm_cell/kernel`` for ``lstm/lstm_cell/kernel``).
    """
    matched: dict[str, str] = {}
    used: set[str] = set()
    for w in expected:
        letters = "(" + ", ".join(w.symbols) + (",)" if len(w.symbols) == 1 else ")")
        key = _key(arrays, w.name)
        if key is None:
            raise ArrayFileError(
                f"{path}: {w.name} is missing; expected shape {w.shape} = {letters}"
            )
        array = arrays[key]
        if tuple(array.shape) != w.shape:
            raise ArrayFileError(
                f"{path}: {w.name} has shape {tuple(array.shape)}; expected {w.shape} = {letters}"
            )
        matched[w.name] = key
        used.add(key)
    unknown = sorted(set(arrays) - used - set(RESULT_KEYS))
    return matched, unknown


def write_npz(handle: BinaryIO, arrays: Mapping[str, Array]) -> None:
    """Write ``arrays`` by name to an open binary file as an ``.npz`` archive (np.savez)."""
    contiguous: dict[str, Any] = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    np.savez(handle, **contiguous)
