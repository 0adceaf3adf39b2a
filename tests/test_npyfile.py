"""rnncalc.formats.npy: .npy and .npz files read as data, with every declared size checked first."""

from __future__ import annotations

import io
import os
import pickle
import socket
import struct
import threading
import time
import tracemalloc
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rnncalc.formats.npy import ArrayFileError, read_npy, read_npz

Array = npt.NDArray[Any]
Reader = Callable[[Path, int], Any]

GIB = 1 << 30
FAST = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
DTYPES = [
    np.dtype(f"{order}{code}")
    for code in ("i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8", "f16")
    for order in "<>"
]
KEY_CHARACTERS = st.characters(codec="utf-8", exclude_characters="\x00")  # as zipfile keeps them
GOOD_HEADER = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }"


def refused(reader: Reader, path: Path, max_bytes: int = GIB) -> str:
    """The message *reader* refuses *path* with, checked to be one clean line."""
    with pytest.raises(ArrayFileError) as caught:
        reader(path, max_bytes)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    said = message.removeprefix(f"{path}: ")
    assert "\n" not in said
    assert "\r" not in said
    assert "pickle" not in said.lower()
    assert len(said) < 240
    return message


def npy(header: str | bytes, data: bytes = b"", version: tuple[int, int] = (1, 0)) -> bytes:
    """A hand-made .npy file: magic, version, header length, header, data."""
    raw = (
        header.encode("latin-1" if version < (3, 0) else "utf-8")
        if isinstance(header, str)
        else header
    )
    length = struct.pack("<H" if version == (1, 0) else "<I", len(raw))
    return b"\x93NUMPY" + bytes(version) + length + raw + data


def zip_bytes(
    members: list[tuple[str, bytes]],
    method: int = zipfile.ZIP_STORED,
    flags: int = 0,
    size: int | None = None,
    crc: int | None = None,
) -> bytes:
    """A hand-made zip archive of *members* (name, payload as stored), with fields to lie in."""
    local, central = bytearray(), bytearray()
    for name, payload in members:
        encoded = name.encode()
        fields = (
            20,
            flags,
            method,
            0,
            33,
            zlib.crc32(payload) if crc is None else crc,
            len(payload),
            len(payload) if size is None else size,
            len(encoded),
        )
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, 0, len(local))
        central += encoded
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", *fields, 0) + encoded + payload
    count = len(members)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central), len(local), 0)
    return bytes(local + central + end)


def same(result: Array, expected: Array) -> None:
    assert result.dtype == expected.dtype
    assert result.dtype.str == expected.dtype.str
    assert result.shape == expected.shape
    assert result.flags.c_contiguous == expected.flags.c_contiguous
    assert result.flags.f_contiguous == expected.flags.f_contiguous
    assert result.tobytes() == expected.tobytes()


@st.composite
def arrays(draw: st.DrawFn) -> Array:
    """Arrays of every dtype allowed, with any bytes as values (NaN payloads included)."""
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    count = int(np.prod(shape))
    data = draw(st.binary(min_size=count * dtype.itemsize, max_size=count * dtype.itemsize))
    array = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    return np.asfortranarray(array) if draw(st.booleans()) else array


# Valid files: the same arrays as np.load


@FAST
@given(array=arrays(), version=st.sampled_from([None, (1, 0), (2, 0), (3, 0)]))
def test_npy_reads_as_np_load_does(tmp_path: Path, array: Array, version: Any) -> None:
    path = tmp_path / "x.npy"
    with path.open("wb") as file:
        np.lib.format.write_array(file, array, version=version)
    same(read_npy(path, GIB), np.load(path, allow_pickle=False))


@FAST
@given(
    named=st.dictionaries(
        st.text(KEY_CHARACTERS, min_size=1, max_size=8), arrays(), max_size=4
    ).filter(lambda named: not {"file", "allow_pickle"} & named.keys()),  # np.savez's own
    compressed=st.booleans(),
)
def test_npz_reads_as_np_load_does(
    tmp_path: Path, named: dict[str, Array], compressed: bool
) -> None:
    path = tmp_path / "w.npz"
    # cast: mypy checks a ** argument against savez's own allow_pickle: bool as well
    (np.savez_compressed if compressed else np.savez)(path, **cast(dict[str, Any], named))
    result = read_npz(path, GIB)
    with np.load(path, allow_pickle=False) as loaded:
        assert list(result) == loaded.files == list(named)
        for key, array in result.items():
            same(array, loaded[key])


def test_npz_member_names_become_keys_as_np_load_makes_them(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, W_xh=np.ones((2, 3), ">f4"), b=np.zeros(0, "<u2"), s=np.int8(-3))
    result = read_npz(path, GIB)
    assert list(result) == ["W_xh", "b", "s"]
    assert result["W_xh"].dtype == np.dtype(">f4")
    assert result["s"].shape == ()
    assert result["s"] == -3


def test_an_empty_archive_has_no_arrays(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez(path)
    assert read_npz(path, GIB) == {}


def test_the_limit_is_inclusive(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((4, 4)))
    assert read_npy(path, 128).shape == (4, 4)
    message = refused(read_npy, path, 127)
    assert message.endswith(
        "declares shape (4, 4) of float64, 128 B, more than the memory limit of 127 B "
        "(--max-memory)"
    )


def test_the_limit_counts_all_arrays_of_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, a=np.zeros(100), b=np.zeros(100))
    assert set(read_npz(path, 1600)) == {"a", "b"}
    assert refused(read_npz, path, 1599).endswith(
        "its arrays declare 1.56 KiB in all, more than the memory limit of 1.56 KiB (--max-memory)"
    )


def test_a_header_of_numpys_maximum_length_is_read(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    path.write_bytes(npy(GOOD_HEADER.ljust(10_000), bytes(8)))
    assert read_npy(path, GIB).shape == (1,)
    path.write_bytes(npy(GOOD_HEADER.ljust(10_001), bytes(8)))
    assert refused(read_npy, path).endswith(
        "its .npy header declares 10001 bytes, more than the 10000 allowed"
    )


# Damaged files: an equal array or one clear line, whatever the damage


def valid_files() -> dict[str, tuple[Reader, bytes]]:
    files: dict[str, tuple[Reader, bytes]] = {}
    buffer = io.BytesIO()
    np.save(buffer, np.asfortranarray(np.arange(6, dtype=">i4").reshape(2, 3)))
    files["npy"] = (read_npy, buffer.getvalue())
    for name, save in (("npz", np.savez), ("compressed", np.savez_compressed)):
        buffer = io.BytesIO()
        save(buffer, a=np.arange(5.0), b=np.ones((2, 2), "u1"))
        files[name] = (read_npz, buffer.getvalue())
    return files


VALID = valid_files()


def equal_or_refused(reader: Reader, path: Path) -> None:
    """Either an ArrayFileError, or what np.load reads from the same bytes."""
    try:
        result = reader(path, GIB)
    except ArrayFileError:
        refused(reader, path)
        return
    if isinstance(result, dict):
        with np.load(path, allow_pickle=False) as loaded:
            assert list(result) == loaded.files
            for key, array in result.items():
                same(array, loaded[key])
    else:
        same(result, np.load(path, allow_pickle=False))


@pytest.mark.parametrize("name", sorted(VALID))
def test_every_truncation_is_refused(tmp_path: Path, name: str) -> None:
    reader, data = VALID[name]
    path = tmp_path / "f"
    for length in range(len(data)):
        path.write_bytes(data[:length])
        refused(reader, path)
    path.write_bytes(data)
    equal_or_refused(reader, path)


@settings(FAST, max_examples=200)
@given(
    name=st.sampled_from(sorted(VALID)),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_flipped_bytes_give_an_equal_array_or_a_clear_refusal(
    tmp_path: Path, name: str, flips: list[tuple[int, int]]
) -> None:
    reader, data = VALID[name]
    damaged = bytearray(data)
    for index, value in flips:
        damaged[index % len(damaged)] = value
    path = tmp_path / "f"
    path.write_bytes(bytes(damaged))
    equal_or_refused(reader, path)


def test_a_stray_escape_in_the_header_is_refused_without_a_warning(tmp_path: Path) -> None:
    """Python warns of an invalid escape while it parses such a literal; the user sees the
    refusal alone (a hypothesis example found it).
    """
    path = tmp_path / "x.npy"
    path.write_bytes(npy("{'descr': '<f\\c', 'fortran_order': False, 'shape': (1,), }", bytes(8)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert refused(read_npy, path).endswith("its .npy header names no NumPy dtype ('<f\\\\c')")


def test_trailing_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    path.write_bytes(npy(GOOD_HEADER, bytes(11)))
    assert refused(read_npy, path).endswith("has 3 bytes after its data")


def test_a_data_error_in_an_archive_is_damage(tmp_path: Path) -> None:
    """zipfile's CRC check, at the end of a member, reports as a damaged archive."""
    path = tmp_path / "w.npz"
    np.savez(path, a=np.arange(4.0))
    data = bytearray(path.read_bytes())
    data[data.index(b"\x93NUMPY") + 130] ^= 0xFF  # a byte of the array's values
    path.write_bytes(bytes(data))
    assert refused(read_npz, path).endswith("damaged .npz archive (Bad CRC-32 for file 'a.npy')")


# Hostile headers


def literals() -> st.SearchStrategy[object]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=2**62),
        st.floats(),
        st.text(max_size=10),
        st.binary(max_size=10),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.lists(inner, max_size=4).map(tuple),
            st.dictionaries(st.text(max_size=12), inner, max_size=4),
        ),
        max_leaves=12,
    )


def not_numeric(descr: str) -> bool:
    try:
        return np.dtype(descr).kind not in "iuf"
    except Exception:  # np.dtype parses some strings with ast, and fails every way it can
        return True


BAD_DESCR = st.one_of(
    st.sampled_from(["|O", "O", "<c16", "<U5", "|S3", "a3", "|V8", "<M8[ns]", "<m8", "T"]),
    st.sampled_from(["<f8,<i4", "(2,)<f8", "float64junk", "<f8\n", "", "<04", "f8[2]"]),
    st.text(max_size=12).filter(not_numeric),
    literals().filter(lambda value: not isinstance(value, str)),
)
BAD_DIM = st.one_of(
    st.integers(max_value=-1),
    st.booleans(),
    st.floats(),
    st.text(max_size=3),
    st.none(),
    st.just(1.0),
)
BAD_SHAPE = st.one_of(
    literals().filter(lambda value: not isinstance(value, tuple)),
    st.lists(st.integers(0, 3), max_size=3),
    st.tuples(st.integers(0, 3), BAD_DIM, st.integers(0, 3)),
    st.lists(st.just(1), min_size=33, max_size=40).map(tuple),
    st.tuples(st.integers(min_value=2**40, max_value=10**4000)),
    st.lists(st.integers(min_value=2**63), min_size=1, max_size=32).map(tuple),
    st.just((2**63, 0)),
    st.just((2**62, 2, 0)),
    st.just((10**30,)),
)
GOOD = {"descr": "<f8", "fortran_order": False, "shape": (1,)}


def one_bad_value() -> st.SearchStrategy[str]:
    """A header whose keys are right and only one value wrong."""
    return st.one_of(
        BAD_DESCR.map(lambda descr: repr({**GOOD, "descr": descr})),
        literals()
        .filter(lambda value: not isinstance(value, bool))
        .map(lambda order: repr({**GOOD, "fortran_order": order})),
        BAD_SHAPE.map(lambda shape: repr({**GOOD, "shape": shape})),
    )


def nested(depth: int) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            "(" * depth + ")" * depth,
            "[" * depth + "]" * depth,
            "{'a': " * depth + "1" + "}" * depth,
            "-" * depth + "1",
            "1" + "+1" * depth,
            "2" + "**2" * depth,
            "a" + "[0]" * depth,
            "f" + "()" * depth,
            "{" * depth,
            "9" * depth,
        ]
    )


HEADERS = st.one_of(
    st.text(max_size=200),
    literals().filter(lambda value: not isinstance(value, dict)).map(repr),
    st.dictionaries(st.text(max_size=15), literals(), max_size=5)
    .filter(lambda header: header.keys() != GOOD.keys())
    .map(repr),
    one_bad_value(),
    st.integers(1, 4_990).flatmap(nested),
    st.just(repr({**GOOD, "shape": (10**300,) * 32})),
)


@FAST
@given(header=HEADERS, version=st.sampled_from([(1, 0), (2, 0), (3, 0)]))
def test_hostile_headers_are_refused(tmp_path: Path, header: str, version: tuple[int, int]) -> None:
    path = tmp_path / "x.npy"
    try:
        data = npy(header, bytes(8), version)
    except UnicodeEncodeError:  # not Latin-1: write it as version 3.0, UTF-8
        data = npy(header, bytes(8), (3, 0))
    path.write_bytes(data)
    refused(read_npy, path)


@FAST
@given(raw=st.binary(max_size=300), version=st.sampled_from([(1, 0), (2, 0), (3, 0)]))
def test_headers_of_random_bytes_are_refused(
    tmp_path: Path, raw: bytes, version: tuple[int, int]
) -> None:
    path = tmp_path / "x.npy"
    path.write_bytes(npy(raw, bytes(8), version))
    refused(read_npy, path)


@pytest.mark.parametrize(
    ("data", "ending"),
    [
        (b"", "not an .npy file (it is empty)"),
        (b"\x93NUM", "truncated (it ends inside its .npy header)"),
        (b"Name:\tpython\n", "not an .npy file (it does not start with NumPy's magic bytes)"),
        (b"PK\x03\x04" + bytes(30), "not an .npy file (it is a zip archive, as np.savez writes)"),
        (npy(GOOD_HEADER, bytes(8), (4, 0)), ".npy format version 4.0 is not one of 1.0, 2.0, 3.0"),
        (npy(b"{'descr': '\xff'}", b"", (3, 0)), "its .npy header is not valid UTF-8"),
        (npy("[1, 2]"), "its .npy header is a list, not a dictionary"),
        (npy("7"), "its .npy header is an int, not a dictionary"),
        (npy("(" * 300 + ")" * 300), "its .npy header is not a dictionary of literals"),
        (
            npy("{'descr': '<f8', 'shape': ()}"),
            "its .npy header has keys {'descr', 'shape'}; expected descr, fortran_order, shape",
        ),
        (
            npy(repr({**GOOD, "descr": "<c16"})),
            "holds complex128 values; expected integers or floats",
        ),
        (
            npy(repr({**GOOD, "descr": [("a", "<f8")]})),
            "holds structured values ([('a', '<f8')]); expected integers or floats",
        ),
        (npy(repr({**GOOD, "descr": "<f7"})), "its .npy header names no NumPy dtype ('<f7')"),
        (
            npy(repr({**GOOD, "fortran_order": 0})),
            "its .npy header's fortran_order is 0, not a bool",
        ),
        (
            npy(repr({**GOOD, "shape": (2, True)})),
            "its .npy header's shape (2, True) is not a tuple of non-negative integers",
        ),
        (npy(repr({**GOOD, "shape": (1,) * 33})), "declares 33 dimensions; at most 32 are allowed"),
        (
            npy(repr({**GOOD, "shape": (2**63,)})),
            "declares shape (9223372036854775808,) of float64, 64.00 EiB, "
            "more than the memory limit of 1.00 GiB (--max-memory)",
        ),
        (
            npy(repr({**GOOD, "shape": (2**63, 0)})),
            "declares shape (9223372036854775808, 0) of float64, more than NumPy can index",
        ),
        (
            npy(repr({**GOOD, "shape": (10**30,) * 3})),
            "declares shape (1000000000000000000000000000000, 1000000000000000000000..."
            ") of float64, 8.00e+90 B, more than the memory limit of 1.00 GiB (--max-memory)",
        ),
        (
            npy(repr({**GOOD, "shape": (3,)}), bytes(20)),
            "truncated: declares 24 bytes of data, holds 20",
        ),
    ],
)
def test_what_is_wrong_is_said_in_one_line(tmp_path: Path, data: bytes, ending: str) -> None:
    path = tmp_path / "x.npy"
    path.write_bytes(data)
    assert refused(read_npy, path) == f"{path}: {ending}"


def test_a_huge_declared_shape_is_refused_before_any_allocation(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    path.write_bytes(npy(repr({**GOOD, "shape": (10_000, 10_000, 10_000)})))
    tracemalloc.start()
    try:
        first = refused(read_npy, path, GIB)
        second = refused(read_npy, path, 1 << 50)  # within the limit, but not in the file
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert first.endswith(
        "declares shape (10000, 10000, 10000) of float64, 7.28 TiB, "
        "more than the memory limit of 1.00 GiB (--max-memory)"
    )
    assert second.endswith("truncated: declares 8000000000000 bytes of data, holds 0")
    assert peak < 1 << 20


# Hostile archives


def test_a_zip_bomb_is_refused_before_decompressing(tmp_path: Path) -> None:
    """A member whose header declares 3 GB of float64 zeros, deflated to under 3 MB.

    Its CRC is left wrong: computing the right one means reading 3 GB, and a reader that
    refuses the bomb never gets far enough to check it.
    """
    count = 375_000_000
    header = npy(repr({**GOOD, "shape": (count,)}).ljust(118))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(1 << 20)
    head = compressor.compress(header) + compressor.flush(zlib.Z_FULL_FLUSH)
    middle = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(count * 8, len(block))
    stream = head + middle * blocks + compressor.compress(bytes(rest)) + compressor.flush()
    path = tmp_path / "bomb.npz"
    path.write_bytes(
        zip_bytes([("x.npy", stream)], zipfile.ZIP_DEFLATED, size=len(header) + count * 8, crc=0)
    )
    assert path.stat().st_size < 3_000_000
    tracemalloc.start()
    started = time.perf_counter()
    try:
        message = refused(read_npz, path, GIB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 1
    assert peak < 1 << 20
    assert message.endswith(
        "x: declares shape (375000000,) of float64, 2.79 GiB, "
        "more than the memory limit of 1.00 GiB (--max-memory)"
    )


def a_member(array: Array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "ending"),
    [
        (b"", "not an .npz file (it is empty)"),
        (
            a_member(np.zeros(2)),
            "not an .npz file (it is an .npy file of one array, as np.save writes)",
        ),
        (b"Name:\tpython\n", "not an .npz file (it is not a zip archive)"),
        (
            zip_bytes([("x.npy", a_member(np.zeros(2)))])[:-5],
            "damaged .npz archive (it does not end with a zip directory; truncated?)",
        ),
        (
            zip_bytes([("x.npy", a_member(np.zeros(2))), ("notes.txt", b"hi")]),
            "member 'notes.txt' is not an .npy array",
        ),
        (zip_bytes([(".npy", a_member(np.zeros(2)))]), "member '.npy' is not an .npy array"),
        (
            zip_bytes([("x.npy", b"hello")]),
            "x: not an .npy file (it does not start with NumPy's magic bytes)",
        ),
        (
            zip_bytes([("a.npy", a_member(np.zeros(2))), ("a.npy", a_member(np.ones(3)))]),
            "holds two arrays named 'a'",
        ),
        (
            zip_bytes([("x.npy", a_member(np.zeros(2)))], flags=1),
            "member 'x.npy' is encrypted",
        ),
        (
            zip_bytes([("x.npy", a_member(np.zeros(2)))], method=zipfile.ZIP_BZIP2),
            "member 'x.npy' is compressed with method 12; expected stored or deflated, "
            "as np.savez writes",
        ),
        (
            zip_bytes([("x.npy", a_member(np.zeros(2)))], size=200),
            "damaged .npz archive (member 'x.npy' holds 200 bytes; its .npy header declares 144)",
        ),
        (
            zip_bytes([("x.npy", a_member(np.zeros(2, "c8")))]),
            "x: holds complex64 values; expected integers or floats",
        ),
        (
            zip_bytes([("x.npy", b"\xff" * 20)], method=zipfile.ZIP_DEFLATED),
            "damaged .npz archive (Error -3 while decompressing data: invalid block type)",
        ),
    ],
)
def test_what_is_wrong_with_an_archive_is_said_in_one_line(
    tmp_path: Path, data: bytes, ending: str
) -> None:
    path = tmp_path / "w.npz"
    path.write_bytes(data)
    assert refused(read_npz, path) == f"{path}: {ending}"


def test_a_truncated_archive_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez_compressed(path, a=np.arange(100.0))
    path.write_bytes(path.read_bytes()[:-30])
    assert "damaged .npz archive" in refused(read_npz, path)


def test_an_encrypted_member_as_zipfile_reads_it_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, a=np.arange(3.0))
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(signature) + offset] |= 1
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive, pytest.raises(RuntimeError, match="encrypted"):
        archive.read("a.npy")
    assert refused(read_npz, path).endswith("member 'a.npy' is encrypted")


def test_a_central_directory_too_large_for_its_members_is_not_parsed(tmp_path: Path) -> None:
    """60,000 empty directory entries: refused from the end record, before zipfile parses them."""
    entry = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", *[0] * 16)
    directory = entry * 60_000
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(directory), 4, 0)
    path = tmp_path / "w.npz"
    path.write_bytes(b"PK\x03\x04" + directory + end)
    started = time.perf_counter()
    message = refused(read_npz, path)
    assert time.perf_counter() - started < 0.5
    assert message.endswith(
        "damaged .npz archive (its directory declares 2760000 bytes, more than 10000 arrays need)"
    )


def test_a_zip64_end_record_is_what_counts(tmp_path: Path) -> None:
    end64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 1, 1, 2**40, 0)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, 4, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, 46, 0xFFFFFFFF, 0)
    path = tmp_path / "w.npz"
    path.write_bytes(b"PK\x03\x04" + end64 + locator + end)
    assert refused(read_npz, path).endswith(
        "damaged .npz archive (its directory declares 1099511627776 bytes, more than 10000 "
        "arrays need)"
    )


def test_members_are_counted(tmp_path: Path) -> None:
    member = a_member(np.zeros(0))
    path = tmp_path / "w.npz"
    path.write_bytes(zip_bytes([(f"a{index}.npy", member) for index in range(3)]))
    assert list(read_npz(path, GIB)) == ["a0", "a1", "a2"]
    data = bytearray(path.read_bytes())
    data[-14:-10] = struct.pack("<2H", 10_001, 10_001)  # what the end record declares
    path.write_bytes(bytes(data))
    assert refused(read_npz, path).endswith("declares 10001 arrays, more than the 10000 allowed")
    entry = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", *[0] * 16)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(entry) * 10_001, 4, 0)
    path.write_bytes(b"PK\x03\x04" + entry * 10_001 + end)  # what the directory holds
    assert refused(read_npz, path).endswith("holds 10001 members, more than the 10000 allowed")


# Data, never code


class Marker:
    """Unpickled, it creates the file at *path*."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def test_object_arrays_are_refused_and_never_run(tmp_path: Path) -> None:
    live = tmp_path / "live"
    np.save(tmp_path / "live.npy", np.array([Marker(live)], dtype=object))
    np.load(tmp_path / "live.npy", allow_pickle=True)
    assert live.exists(), "the payload works when loaded unsafely"

    marker = tmp_path / "marker"
    path = tmp_path / "x.npy"
    np.save(path, np.array([Marker(marker)], dtype=object))
    archive = tmp_path / "w.npz"
    np.savez(archive, x=np.array([Marker(marker)], dtype=object))
    assert refused(read_npy, path) == f"{path}: holds object values; expected integers or floats"
    assert refused(read_npz, archive).endswith(
        ": x: holds object values; expected integers or floats"
    )
    raw = pickle.dumps(Marker(marker))
    path.write_bytes(raw)
    refused(read_npy, path)
    assert not marker.exists()


# Only regular files


def finishes(call: Callable[[], object], seconds: float = 5) -> BaseException | None:
    """What *call* raised, failing the test if it has not returned within *seconds*."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
        except BaseException as error:
            outcome.append(error)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s"
    return outcome[0]


@pytest.mark.parametrize("reader", [read_npy, read_npz])
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path, reader: Reader) -> None:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    error = finishes(lambda: reader(path, GIB))
    assert isinstance(error, ArrayFileError)
    assert str(error) == f"{path}: not a regular file (a FIFO)"


@pytest.mark.parametrize("reader", [read_npy, read_npz])
def test_a_fifo_swapped_in_after_the_stat_does_not_hang_the_open(
    tmp_path: Path, reader: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stat is fooled, as by a file replaced between stat and open: the open must not wait."""
    path, regular = tmp_path / "fifo", tmp_path / "x.npy"
    os.mkfifo(path)
    regular.write_bytes(b"")
    real_stat = os.stat
    monkeypatch.setattr(
        os, "stat", lambda name, **kwargs: real_stat(regular if name == path else name, **kwargs)
    )
    error = finishes(lambda: reader(path, GIB))
    assert isinstance(error, ArrayFileError)
    assert str(error) == f"{path}: not a regular file (a FIFO)"


@pytest.mark.parametrize("reader", [read_npy, read_npz])
def test_what_is_no_regular_file_is_refused_by_kind(tmp_path: Path, reader: Reader) -> None:
    assert (
        refused(reader, Path("/dev/zero")) == "/dev/zero: not a regular file (a character device)"
    )
    assert refused(reader, tmp_path) == f"{tmp_path}: not a regular file (a directory)"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "s"))
        assert refused(reader, tmp_path / "s") == f"{tmp_path / 's'}: not a regular file (a socket)"


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="no /proc")
def test_proc_files_are_not_arrays() -> None:
    """Regular files by their kind, but of size 0, and /proc/self/mem fails to read at 0."""
    status, memory = Path("/proc/self/status"), Path("/proc/self/mem")
    assert refused(read_npy, status) == (
        f"{status}: not an .npy file (it does not start with NumPy's magic bytes)"
    )
    assert refused(read_npz, status) == f"{status}: not an .npz file (it is not a zip archive)"
    for reader in (read_npy, read_npz):
        assert refused(reader, memory) == f"{memory}: cannot read: input/output error"


@pytest.mark.parametrize("reader", [read_npy, read_npz])
def test_paths_that_cannot_be_opened(tmp_path: Path, reader: Reader) -> None:
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "file").write_bytes(b"")
    cases = {
        tmp_path / "missing": "no such file",
        tmp_path / "dangling": "a symbolic link to a file that does not exist",
        tmp_path / "loop": "cannot open: too many levels of symbolic links",
        tmp_path / ("x" * 300): "cannot open: file name too long",
        tmp_path / "file" / "x": "cannot open: not a directory",
    }
    for path, ending in cases.items():
        assert refused(reader, path) == f"{path}: {ending}"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_read_permission(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.zeros(2))
    path.chmod(0)
    assert refused(read_npy, path) == f"{path}: cannot open: permission denied"


def test_a_symbolic_link_to_a_file_is_followed(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(3))
    np.savez(tmp_path / "w.npz", a=np.arange(3))
    (tmp_path / "link.npy").symlink_to(tmp_path / "x.npy")
    (tmp_path / "link.npz").symlink_to(tmp_path / "w.npz")
    assert read_npy(tmp_path / "link.npy", GIB).tolist() == [0, 1, 2]
    assert read_npz(tmp_path / "link.npz", GIB)["a"].tolist() == [0, 1, 2]
