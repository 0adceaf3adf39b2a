"""safetensors headers: files written by the safetensors library read back exactly, and every
file the reference reader refuses is refused with one line naming it.
"""
# ruff: noqa: E501 (the table of refused files reads best one case a line)

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncalc.formats.safetensors import DTYPES, read_safetensors
from rnncalc.formats.tensors import DTYPE_BITS, FormatError

CHECKPOINTS = Path(__file__).parent / "reference" / "checkpoints"


def write(path: Path, header: Any, data: bytes = b"", length: int | None = None) -> str:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    size = len(raw) if length is None else length
    path.write_bytes(struct.pack("<Q", size) + raw + data)
    return str(path)


def test_a_language_model_written_by_the_library() -> None:
    """tests/reference/make_checkpoints.py: save_file drops the tied decoder weight."""
    listing = read_safetensors(str(CHECKPOINTS / "lm_tied.safetensors"))
    shapes = {t.name: t.shape for t in listing.tensors}
    assert shapes["embedding.weight"] == (11, 6)
    assert shapes["lstm.weight_ih_l1"] == (24, 6)
    assert "linear.weight" not in shapes
    assert listing.metadata == {"format": "pt"}
    assert listing.total == 66 + 11 + 4 * 24 + 4 * 144
    assert listing.bytes_by_dtype() == {"float32": 4 * listing.total}
    data = (CHECKPOINTS / "lm_tied.safetensors").read_bytes()
    first = listing.tensors[0]
    assert data[first.offset : first.offset + first.nbytes] != b"\0" * first.nbytes
    assert max(t.offset + t.nbytes for t in listing.tensors) == len(data)


def test_every_dtype_the_library_writes() -> None:
    listing = read_safetensors(str(CHECKPOINTS / "dtypes.safetensors"))
    assert {t.name: t.dtype for t in listing.tensors} == {t.name: t.name for t in listing.tensors}
    assert {t.name: t.nbytes for t in listing.tensors}["bfloat16"] == 8


@pytest.mark.parametrize(
    ("dtype", "count", "nbytes"), [("F4", 6, 3), ("F6_E2M3", 4, 3), ("C64", 2, 16)]
)
def test_sub_byte_and_complex_types(tmp_path: Path, dtype: str, count: int, nbytes: int) -> None:
    path = write(
        tmp_path / "m.safetensors",
        {"x": {"dtype": dtype, "shape": [count], "data_offsets": [0, nbytes]}},
        b"\0" * nbytes,
    )
    (tensor,) = read_safetensors(path).tensors
    assert (tensor.dtype, tensor.count, tensor.nbytes) == (DTYPES[dtype], count, nbytes)


def test_every_dtype_has_a_size() -> None:
    assert set(DTYPES.values()) <= set(DTYPE_BITS)


ONE = {"x": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}


@pytest.mark.parametrize(
    ("header", "data", "length", "message"),
    [
        (ONE, b"\0\0", 10**9, "the header declares 1,000,000,000 bytes, more than"),
        (ONE, b"\0\0", 500, "truncated: the header declares 500 bytes"),
        (b"[1, 2]", b"", None, "not a JSON object"),
        (b"{not json", b"", None, "damaged safetensors header"),
        (b'{"x": 1, "x": 2}', b"", None, "appears twice"),
        (b"{\xff}", b"", None, "not UTF-8"),
        ({"x": {"dtype": "ZZ", "shape": [1], "data_offsets": [0, 1]}}, b"\0", None, "unknown dtype 'ZZ'"),
        ({"x": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, None, "unknown dtype"),
        ({"x": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 1]}}, b"\0", None, "whole numbers"),
        ({"x": {"dtype": "U8", "shape": [True], "data_offsets": [0, 1]}}, b"\0", None, "whole numbers"),
        ({"x": {"dtype": "U8", "shape": [2], "data_offsets": [2, 0]}}, b"\0\0", None, "[begin, end]"),
        ({"x": {"dtype": "U8", "shape": [2]}}, b"\0\0", None, "no data_offsets"),
        ({"x": [1]}, b"", None, "expected an object"),
        ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, None, "needs 8 bytes, data_offsets give 4"),
        ({"x": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}, b"\0\0", None, "do not end on a byte"),
        (ONE, b"\0\0\0", None, "1 bytes after the last tensor belong to none"),
        (ONE, b"\0", None, "truncated: the tensors need 2 bytes"),
        ({**ONE, "y": {"dtype": "U8", "shape": [1], "data_offsets": [3, 4]}}, b"\0" * 4, None, "leaves a gap"),
        ({**ONE, "y": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}, b"\0" * 2, None, "overlaps"),
        ({"__metadata__": {"a": 1}, **ONE}, b"\0\0", None, "__metadata__ must map strings"),
        ({"x": {"dtype": "U8", "shape": [2**40, 2**40], "data_offsets": [0, 1]}}, b"\0", None, "needs"),
    ],
)  # fmt: skip
def test_files_the_reference_reader_refuses(
    tmp_path: Path, header: Any, data: bytes, length: int | None, message: str
) -> None:
    path = write(tmp_path / "bad.safetensors", header, data, length)
    with pytest.raises(FormatError) as error:
        read_safetensors(path)
    text = str(error.value)
    assert text.startswith(path)
    assert message in text
    assert "\n" not in text


def test_short_files_and_other_paths(tmp_path: Path) -> None:
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"\1\0")
    with pytest.raises(FormatError, match="shorter than a header"):
        read_safetensors(str(short))
    with pytest.raises(FormatError, match="not a regular file"):
        read_safetensors(str(tmp_path))
    with pytest.raises(FormatError, match="no such file"):
        read_safetensors(str(tmp_path / "missing"))


VALID = (CHECKPOINTS / "lm_tied.safetensors").read_bytes()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_damaged_files_give_a_listing_or_one_clear_error(
    tmp_path: Path, data: st.DataObject
) -> None:
    raw = bytearray(VALID)
    for _ in range(data.draw(st.integers(0, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    path = tmp_path / "damaged.safetensors"
    path.write_bytes(bytes(raw[:cut]))
    try:
        listing = read_safetensors(str(path))
    except FormatError as error:
        message = str(error)
        assert message.startswith(str(path)), message
        assert "\n" not in message
    else:
        assert sum(t.nbytes for t in listing.tensors) <= len(raw[:cut])
