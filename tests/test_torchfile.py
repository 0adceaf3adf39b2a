"""torch.save files: files written by PyTorch listed and read exactly, and hostile files (code
in the pickle, lying sizes, storages outside the archive) refused with one line naming them,
nothing run.  The hostile pickles are written here opcode by opcode; no PyTorch needed.
"""
# ruff: noqa: E501 (the tables of hostile files read best one case a line)

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncalc.formats import torch_arrays, torch_opcode_check, torchfile
from rnncalc.formats.tensors import FormatError
from rnncalc.formats.torch_arrays import read_torch_array, read_torch_arrays
from rnncalc.formats.torchfile import read_torch, survey_torch

CHECKPOINTS = Path(__file__).parent / "reference" / "checkpoints"
LISTED = json.loads((CHECKPOINTS / "torch_checkpoints.json").read_text())


@pytest.mark.parametrize("name", sorted(LISTED))
def test_every_reference_file_is_listed_exactly(name: str) -> None:
    """tests/reference/make_torch_checkpoints.py: names, dtypes and shapes in torch's order."""
    checkpoint = survey_torch(str(CHECKPOINTS / name))
    listing = checkpoint.listing
    assert listing.format == "pytorch"
    found = [[t.name, t.dtype, list(t.shape)] for t in listing.tensors]
    assert found == LISTED[name]["tensors"]
    assert [list(group) for group in checkpoint.tied()] == LISTED[name]["tied"]
    assert all(t.offset == -1 for t in listing.tensors)


def test_a_whole_model_is_refused_naming_its_class() -> None:
    """torch.save(model) pickles the model's class, which only its code can rebuild."""
    path = str(CHECKPOINTS / "whole_model.pt")
    with pytest.raises(FormatError) as error:
        read_torch(path)
    assert str(error.value) == (
        f"{path}: refuses to load the global 'make_checkpoints.LanguageModel': a checkpoint "
        "holds tensors, not code (save model.state_dict(), not the model)"
    )


def test_tied_weights_and_training_checkpoints_are_told() -> None:
    lm = read_torch(str(CHECKPOINTS / "lm_tied.pt"))
    assert lm.notes == ("one tensor saved as embedding.weight and linear.weight (tied weights)",)
    trained = read_torch(str(CHECKPOINTS / "checkpoint.pt"))
    assert trained.notes == (
        "the weights are the entry 'model_state_dict'; "
        "also in the file: epoch, optimizer_state_dict, loss",
    )
    assert [t.name for t in trained.tensors][:2] == ["weight_ih_l0", "weight_hh_l0"]


def test_values_are_read_exactly() -> None:
    with np.load(CHECKPOINTS / "torch_expected.npz") as expected:
        for key in expected.files:
            file, name = key.split("/")
            array = read_torch_array(str(CHECKPOINTS / file), name, 1 << 20)
            assert array.dtype == expected[key].dtype, key
            np.testing.assert_array_equal(array, expected[key], err_msg=key)
    views = read_torch_arrays(str(CHECKPOINTS / "views.pt"), ["sliced", "transposed"], 1 << 20)
    assert views["sliced"].tolist() == [[4.0, 6.0], [8.0, 10.0]]


def test_reading_checks_the_memory_limit_before_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_read(*args: Any) -> None:
        raise AssertionError("read")

    monkeypatch.setattr(torch_arrays, "_array", no_read)
    with pytest.raises(FormatError, match=r"needs 528 B, more than the memory limit of 100 B"):
        read_torch_arrays(str(CHECKPOINTS / "lm_tied.pt"), ["embedding.weight"], 100)


def test_float8_values_are_refused_and_listed() -> None:
    path = str(CHECKPOINTS / "dtypes.pt")
    assert {t.name: t.nbytes for t in read_torch(path).tensors}["float8_e4m3fn"] == 2
    with pytest.raises(FormatError, match="reading float8_e4m3fn values is not supported"):
        read_torch_array(path, "float8_e4m3fn", 1 << 20)
    assert read_torch_array(path, "uint16", 100).tolist() == [0, 0]
    with pytest.raises(FormatError, match="holds no tensor 'nothing'"):
        read_torch_array(path, "nothing", 100)


# Pickles written opcode by opcode, as torch.save writes them (protocol 2).


def glob(module: str, name: str) -> bytes:
    return f"c{module}\n{name}\n".encode()


def text(value: str) -> bytes:
    raw = value.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def ints(*values: int) -> bytes:
    return b"(" + b"".join(b"J" + struct.pack("<i", v) for v in values) + b"t"


def tensor(
    key: str = "0",
    numel: int = 4,
    offset: int = 0,
    size: tuple[int, ...] = (4,),
    stride: tuple[int, ...] = (1,),
    storage: bytes = glob("torch", "FloatStorage"),
    metadata: bytes = b"",
) -> bytes:
    """``_rebuild_tensor_v2`` called on a storage, as torch pickles a tensor."""
    persistent = b"((" + text("storage") + storage + text(key) + text("cpu") + ints(numel)[1:-1]
    return (
        glob("torch._utils", "_rebuild_tensor_v2")
        + persistent
        + b"tQ"
        + ints(offset)[1:-1]
        + ints(*size)
        + ints(*stride)
        + b"\x89"
        + glob("collections", "OrderedDict")
        + b")R"
        + metadata
        + b"tR"
    )


def state(**entries: bytes) -> bytes:
    items = b"".join(text(name) + value for name, value in entries.items())
    return b"\x80\x02" + glob("collections", "OrderedDict") + b")R(" + items + b"u."


FOUR = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)


def archive(
    path: Path,
    pickled: bytes,
    storages: dict[str, bytes] | None = None,
    extra: dict[str, bytes] | None = None,
    byteorder: bytes = b"little",
    compression: int = zipfile.ZIP_STORED,
) -> str:
    """A torch.save-style zip: archive/data.pkl, archive/data/<key>, archive/byteorder."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        out.writestr("archive/data.pkl", pickled)
        out.writestr("archive/byteorder", byteorder)
        for key, data in (storages if storages is not None else {"0": FOUR}).items():
            out.writestr(f"archive/data/{key}", data, compress_type=compression)
        for name, data in (extra or {}).items():
            out.writestr(name, data)
        out.writestr("archive/version", b"3\n")
    return str(path)


def test_a_crafted_state_dict_reads_as_torch_would(tmp_path: Path) -> None:
    path = archive(tmp_path / "m.pt", state(w=tensor(), v=tensor(offset=1, size=(2,), stride=(2,))))
    assert [(t.name, t.shape) for t in read_torch(path).tensors] == [("w", (4,)), ("v", (2,))]
    assert read_torch_arrays(path, ["w", "v"], 1000)["v"].tolist() == [2.0, 4.0]
    negated = tensor(metadata=b"}" + text("neg") + b"\x88s")
    parameter = glob("torch._utils", "_rebuild_parameter") + b"(" + tensor() + b"\x88}tR"
    path = archive(tmp_path / "p.pt", state(n=negated, p=parameter))
    arrays = read_torch_arrays(path, ["n", "p"], 1000)
    assert (arrays["n"].tolist(), arrays["p"].tolist()) == ([-1, -2, -3, -4], [1, 2, 3, 4])
    sized = tensor().replace(ints(4), glob("torch", "Size") + b"(" + ints(4) + b"tR", 1)
    assert read_torch(archive(tmp_path / "s.pt", state(w=sized))).tensors[0].shape == (4,)
    big = archive(
        tmp_path / "big.pt",
        state(w=tensor()),
        {"0": struct.pack(">4f", 1, 2, 3, 4)},
        byteorder=b"big",
    )
    assert read_torch_array(big, "w", 1000).tolist() == [1.0, 2.0, 3.0, 4.0]


class Reduce:
    """An object that pickles as a call of ``function(*args)``."""

    def __init__(self, function: Callable[..., Any], *args: Any) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple[Any, ...]:
        return self.function, self.args


def hostile(marker: Path) -> dict[str, tuple[bytes, str]]:
    """Pickles that would run code (each would create ``marker``), and the global each names."""
    touch = f"open({str(marker)!r}, 'w')"
    return {
        "os.system": (b"\x80\x02" + glob("os", "system") + text(f"touch {marker}") + b"\x85R.", "os.system"),
        "posix.system": (pickle.dumps(Reduce(os.system, f"touch {marker}"), protocol=2), "posix.system"),
        "builtins.eval": (pickle.dumps(Reduce(eval, touch), protocol=4), "builtins.eval"),
        "builtins.exec": (pickle.dumps(Reduce(exec, touch), protocol=5), "builtins.exec"),
        "subprocess.Popen": (pickle.dumps(Reduce(subprocess.Popen, ["touch", str(marker)])), "subprocess.Popen"),
        "nested": (pickle.dumps({"w": Reduce(OrderedDict, Reduce(eval, touch))}, protocol=2), "__builtin__.eval"),
        "getattr": (b"\x80\x02" + glob("__builtin__", "getattr") + glob("os", "path") + text("x") + b"\x86R.", "__builtin__.getattr"),
        "inside a state_dict": (state(w=tensor(), x=glob("builtins", "exec") + text(touch) + b"\x85R"), "builtins.exec"),
        "INST": (b"(S'touch " + str(marker).encode() + b"'\nios\nsystem\n.", "os.system"),
        "a storage class": (state(w=tensor(storage=glob("torch", "cuda.FloatStorage"))), "torch.cuda.FloatStorage"),
        "a model class": (b"\x80\x02" + glob("__main__", "Net") + b")\x81.", "__main__.Net"),
    }  # fmt: skip


def test_pickles_that_would_run_code_are_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for case, (pickled, name) in hostile(marker).items():
        path = archive(tmp_path / "evil.pt", pickled)
        with pytest.raises(FormatError) as error:
            read_torch(path)
        message = str(error.value)
        assert message.startswith(f"{path}: refuses to load the global {name!r}"), case
        assert "\n" not in message
        assert not marker.exists(), case


@pytest.mark.parametrize(
    ("pickled", "storages", "message"),
    [
        (state(w=glob("torch._utils", "_rebuild_tensor_v2") + ints(1, 2, 3) + b"R"), None, "calls torch._utils._rebuild_tensor_v2 with arguments (int, int, int) that do not describe a tensor"),
        (state(w=glob("torch._utils", "_rebuild_parameter") + b"(" + text("x") + b"\x88}tR"), None, "calls torch._utils._rebuild_parameter with arguments (str, bool, dict)"),
        (state(w=glob("torch", "float32") + b")R"), None, "calls torch.float32, which is not a function"),
        (b"\x80\x02" + glob("torch._utils", "_rebuild_tensor_v2") + b"}b.", None, "sets the state of the global torch._utils._rebuild_tensor_v2"),
        (state(w=tensor() + b"}b"), None, "sets the state of a tensor"),
        (state(w=tensor(key="../../etc/passwd")), None, "names the storage '../../etc/passwd', which is not a storage key"),
        (state(w=tensor(key="9")), None, "tensor 'w': its storage '9' is not in the archive"),
        (state(w=b"(" + text("file") + b"tQ"), None, "holds a persistent id that is not a storage"),
        (state(w=tensor(numel=5)), None, "declares 5 float32 elements (20 bytes); the archive's member holds 16"),
        (state(w=tensor()), {"0": FOUR[:12]}, "declares 4 float32 elements (16 bytes); the archive's member holds 12"),
        (state(w=tensor(offset=2, size=(3,))), None, "shape (3,) with stride (1,) from element 2 reaches element 5 of a storage of 4"),
        (state(w=tensor(size=(2, 2), stride=(3, 1))), None, "reaches element 5 of a storage of 4"),
        (state(w=tensor(), v=tensor(numel=2, size=(2,))), None, "the storage '0' is declared twice"),
        (state(w=tensor(storage=glob("torch", "QInt8Storage"))), None, "holds a QInt8Storage, which rnncalc does not read"),
        (b"\x80\x02N" + b"r\xff\xff\xff\x7f" + b".", None, "damaged pickle in data.pkl (memo index 2147483647 out of range at byte 3)"),
        (b"\x80\x02)" + b"\x85" * 200 + b".", None, "nests objects more than 100 deep"),
        (b"\x80\x02}.extra", None, "damaged pickle in data.pkl (5 bytes after the pickle's end)"),
        (b"\x80\x02]" + tensor() + b"a.", None, "holds a list, not a state_dict of tensors"),
        (b"\x80\x02}" + text("epoch") + b"K\x03s.", None, "holds no tensors (a dict of epoch)"),
        (b"\x80\x02}q\x01" + text("x") + b"h\x01s.", None, "holds no tensors"),
        (b"\x80\x02\x8c\x09a.", None, "damaged pickle in data.pkl (it ends inside an argument of SHORT_BINUNICODE)"),
        (b"\x80\x02" + glob("torch", "Size") + b")\x81.", None, "uses the pickle opcode NEWOBJ, which a checkpoint does not need"),
        (b"\x80\x02\x82\x01.", None, "uses the pickle opcode EXT1"),
        (b"\x80\x02(itorch\nSize\n.", None, "uses the pickle opcode INST"),
        (b"\x80\x02t.", None, "damaged pickle in data.pkl (TUPLE without a MARK at byte 2)"),
        (b"\x80\x02(\x86.", None, "damaged pickle in data.pkl (TUPLE2 on too short a stack at byte 3)"),
        (b"\x80\x02\xff.", None, "damaged pickle in data.pkl (unknown opcode 0xff at byte 2, before STOP)"),
        (b"\x80\x02}", None, "damaged pickle in data.pkl (its end at byte 3, before STOP)"),
        (state(w=tensor(storage=glob("torch", "float32"))), None, "holds a persistent id that is not a storage"),
        (state(w=tensor().replace(b"_v2", b"_v3").replace(b"\x89", b"\x89" + glob("collections", "OrderedDict") + b")R" + glob("torch", "float16"), 1)), None, "calls torch._utils._rebuild_tensor_v3 on a typed storage"),
        (b"", None, "damaged pickle"),
    ],
)  # fmt: skip
def test_lying_and_odd_pickles_are_refused(
    tmp_path: Path, pickled: bytes, storages: dict[str, bytes] | None, message: str
) -> None:
    path = archive(tmp_path / "bad.pt", pickled, storages)
    with pytest.raises(FormatError) as error:
        read_torch(path)
    assert str(error.value).startswith(path)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_the_entry_that_holds_the_weights(tmp_path: Path) -> None:
    ema = text("ema") + b"}" + text("w") + tensor() + b"s"
    weights = text("state_dict") + b"}(" + text("w") + tensor() + text("step") + b"K\x01u"
    path = archive(tmp_path / "m.pt", b"\x80\x02}(" + ema + weights + b"u.")
    assert read_torch(path).notes == (
        "the weights are the entry 'state_dict'; also in the file: ema",
        "other entries that hold tensors: ema",
        "left aside, not tensors: step (an int)",
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "not a PyTorch file (it is empty)"),
        (lambda p: p.write_bytes(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.rest"), "a legacy (pre-1.6) PyTorch file; re-save it with torch.save(obj, path) from PyTorch 1.6 or later"),
        (lambda p: p.write_bytes(b"{}"), "not a PyTorch file (it is not a zip archive"),
        (lambda p: archive(p, state(w=tensor()), compression=zipfile.ZIP_DEFLATED), "its storage '0' is compressed"),
        (lambda p: archive(p, state(w=tensor()), extra={"archive/constants.pkl": b""}), "a TorchScript archive"),
        (lambda p: archive(p, state(w=tensor()), extra={"archive/../../x": b""}), "the member 'archive/../../x' leaves the archive"),
        (lambda p: archive(p, state(w=tensor()), extra={"other/data.pkl": b""}), "several <archive>/data.pkl"),
        (lambda p: archive(p, state(w=tensor()), byteorder=b"middle"), "the byteorder record says b'middle'"),
        (lambda p: p.write_bytes(Path(archive(p, state(w=tensor()))).read_bytes()[:-30]), "damaged zip archive"),
        (lambda p: p.write_bytes(Path(archive(p, state(w=tensor()))).read_bytes().replace(b"\x10\x00\x00\x00\x10\x00\x00\x00", b"\x00\x00\x01\x00\x00\x00\x01\x00")), "truncated: the member 'archive/data/0' declares 65,536 bytes, which end past the file's"),
    ],
)  # fmt: skip
def test_files_that_are_not_torch_zips(
    tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    path = tmp_path / "bad.pt"
    make(path)
    with pytest.raises(FormatError) as error:
        read_torch(str(path))
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)


def test_the_opcodes_are_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch_opcode_check, "MAX_OPCODES", 100)
    path = archive(tmp_path / "m.pt", b"\x80\x02(" + b"N" * 100 + b"t.")
    with pytest.raises(FormatError, match="holds more than 100 pickle opcodes"):
        read_torch(path)


def test_the_pickle_size_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torchfile, "MAX_PICKLE_BYTES", 100)
    path = archive(tmp_path / "m.pt", state(w=tensor()))
    with pytest.raises(FormatError, match=r"data.pkl' declares \d+ B, more than the 100 B allowed"):
        read_torch(path)


VALID = (CHECKPOINTS / "lm_tied.pt").read_bytes()
with zipfile.ZipFile(io.BytesIO(VALID)) as _zip:
    PICKLE = _zip.read("lm_tied/data.pkl")
    STORAGES = {
        name.rsplit("/", 1)[1]: _zip.read(name) for name in _zip.namelist() if "/data/" in name
    }


def check_one(path: Path) -> None:
    """A listing, or one clear error; never another exception."""
    try:
        listing = read_torch(str(path))
    except FormatError as error:
        message = str(error)
        assert message.startswith(str(path)), message
        assert "\n" not in message
    else:
        assert all(t.nbytes <= len(VALID) for t in listing.tensors)


SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def mutated(data: st.DataObject, raw: bytes, least: int) -> bytes:
    """``raw`` with up to 4 bytes changed (at least ``least``)."""
    changed = bytearray(raw)
    for _ in range(data.draw(st.integers(least, 4))):
        changed[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    return bytes(changed)


@SETTINGS
@given(st.data())
def test_damaged_files_give_a_listing_or_one_clear_error(
    tmp_path: Path, data: st.DataObject
) -> None:
    path = tmp_path / "damaged.pt"
    path.write_bytes(mutated(data, VALID, 0)[: data.draw(st.integers(0, len(VALID)))])
    check_one(path)


@SETTINGS
@given(st.data())
def test_damaged_pickles_give_a_listing_or_one_clear_error(
    tmp_path: Path, data: st.DataObject
) -> None:
    """The pickle changed and zipped again, so that the zip's checksums let it through."""
    check_one(Path(archive(tmp_path / "damaged.pt", mutated(data, PICKLE, 1), STORAGES)))
