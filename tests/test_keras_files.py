"""Keras files: every file Keras wrote (tests/reference/make_keras_checkpoints.py) listed
from its metadata and recovered with Keras's own count; damaged, lying and bomb archives
refused in one line; configs read as data.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli import imported_modules

from rnncalc.formats.keras import read_keras, read_keras_array, read_keras_config
from rnncalc.formats.tensors import FormatError
from rnncalc.model import shapes
from rnncalc.model.network import Dense, Recurrent
from rnncalc.model.recover import RecoveryError, proof
from rnncalc.model.recover_keras import recover_keras

CHECKPOINTS = Path(__file__).parent / "reference" / "checkpoints"
FILES = json.loads((CHECKPOINTS / "keras_checkpoints.json").read_text())["files"]
RNN = CHECKPOINTS / "keras_rnn.keras"


@pytest.mark.parametrize("row", FILES, ids=[row["file"] for row in FILES])
def test_every_file_keras_wrote(row: dict[str, Any]) -> None:
    path = str(CHECKPOINTS / row["file"])
    listing = read_keras(path)
    assert sorted([t.name, list(t.shape)] for t in listing.tensors) == sorted(row["datasets"])
    legacy = row["file"].endswith(".h5") and not row["file"].endswith(".weights.h5")
    assert listing.format == ("keras-h5" if legacy else "keras")
    recovered = recover_keras(listing, path, 5)
    assert all(r.ok for r in proof(recovered, {t.name: t.shape for t in listing.tensors}))
    network = sum(w.count for w in shapes.rnn_weights(recovered.network))
    assert network == row["count_params"] - row["not_modelled"]
    other = sum(math.prod(t.shape) for t in recovered.other)
    assert network + other == listing.total
    assert recovered.network.convention == "keras"


def test_the_config_tells_what_shapes_cannot() -> None:
    """keras_gru: Dense(1, sigmoid) on the last step after GRU(4); keras_rnn: relu, softmax;
    the .weights.h5 of the same model says what it chose instead.
    """
    path = str(CHECKPOINTS / "keras_gru.keras")
    layers = recover_keras(read_keras(path), path, 6).network.stages[0].layers
    assert layers == (
        Recurrent("gru", 5, reset_after=False),
        Dense(2, steps="all"),
        Recurrent("gru", 4),
        Dense(1, "sigmoid"),
    )
    rnn = recover_keras(read_keras(str(RNN)), str(RNN), 4).network.stages[0].layers
    assert rnn[0] == Recurrent("rnn", 5, bias=False, activation="relu")
    assert rnn[1] == Dense(2, "softmax")
    weights = str(CHECKPOINTS / "keras_rnn.weights.h5")
    guessed = recover_keras(read_keras(weights), weights, 4, "all")
    assert guessed.network.stages[0].layers[1] == Dense(2, steps="all")
    assert "activations are not in it" in " ".join(guessed.notes)


def test_the_steps_the_input_declares_are_noted() -> None:
    path = str(CHECKPOINTS / "keras_gru.keras")
    listing = read_keras(path)
    assert "declares" not in " ".join(recover_keras(listing, path, 6).notes)
    assert "declares 6 steps (-T 6" in " ".join(recover_keras(listing, path, 3).notes)


def test_optimizer_state_and_custom_layers_are_other() -> None:
    rnn = recover_keras(read_keras(str(RNN)), str(RNN), 4)
    assert {t.name.partition("/")[0] for t in rnn.other} == {"optimizer"}
    path = str(CHECKPOINTS / "keras_lambda.keras")
    recovered = recover_keras(read_keras(path), path, 4)
    assert [t.name for t in recovered.other] == ["layers/scale/vars/0"]
    notes = " ".join(recovered.notes)
    assert "lambda (Lambda) has no weights" in notes
    assert "scale (Scale) is no layer rnncalc models" in notes


def test_a_lambda_config_is_read_as_data() -> None:
    """The Lambda's code is a base64 string of the config: it stays a string."""
    config = read_keras_config(str(CHECKPOINTS / "keras_lambda.keras"))
    assert config is not None
    function = config["config"]["layers"][1]["config"]["function"]
    assert function["class_name"] == "__lambda__"
    assert isinstance(function["config"]["code"], str)


def test_an_encoder_decoder_from_the_functional_config() -> None:
    path = str(CHECKPOINTS / "keras_encoder_decoder.keras")
    network = recover_keras(read_keras(path), path, 4).network
    encoder, decoder = network.stages
    assert [type(x).__name__ for x in encoder.layers] == ["Embedding", "Recurrent"]
    assert [type(x).__name__ for x in decoder.layers] == ["Embedding", "Recurrent", "Dense"]
    assert decoder.layers[-1] == Dense(15, "softmax", "all")


def test_offsets_are_places_in_the_archive() -> None:
    """Keras stores its weights member uncompressed: each dataset's bytes are in the
    .keras file at the listed offset, as read_keras_array reads them.
    """
    listing = read_keras(str(RNN))
    data = RNN.read_bytes()
    for t in listing.tensors[:4]:
        array = read_keras_array(str(RNN), t.name, 1 << 20)
        raw = np.frombuffer(data[t.offset : t.offset + t.nbytes], dtype=array.dtype)
        assert np.array_equal(raw.reshape(t.shape), array)
    assert listing.metadata["keras_version"] == "3.15.1"


def test_an_array_larger_than_allowed_is_not_read() -> None:
    with pytest.raises(FormatError, match=r"needs 60 bytes, more than the 59 allowed"):
        read_keras_array(str(RNN), "layers/simple_rnn/cell/vars/0", 59)
    with pytest.raises(FormatError, match="no dataset 'layers/none'"):
        read_keras_array(str(RNN), "layers/none", 1 << 20)


def rezip(source: Path, target: Path, compression: int = zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", compression) as new:
        for info in old.infolist():
            new.writestr(info.filename, old.read(info))


def test_a_compressed_archive_is_extracted_alone(tmp_path: Path) -> None:
    path = tmp_path / "m.keras"
    rezip(RNN, path)
    listing = read_keras(str(path))
    assert {t.offset for t in listing.tensors} == {-1}
    assert listing.total == read_keras(str(RNN)).total
    assert recover_keras(listing, str(path), 4).network.stages[0].input_size == 3


def test_a_member_that_declares_a_huge_size_is_refused_before_extraction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bomb.keras"
    rezip(RNN, path)
    data = bytearray(path.read_bytes())
    central = _central_entry(data, b"model.weights.h5")
    data[central + 24 : central + 28] = (0xFFFFFFF0).to_bytes(4, "little")
    path.write_bytes(data)
    monkeypatch.setattr("tempfile.TemporaryDirectory", _no_extraction)
    with pytest.raises(FormatError, match=r"refused as a decompression bomb"):
        read_keras(str(path))


def _central_entry(data: bytearray, name: bytes) -> int:
    """Where the central directory entry of member ``name`` starts."""
    return data.rindex(b"PK\x01\x02", 0, data.rindex(name))


def _no_extraction(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("extracted")


def test_a_stored_member_longer_than_the_archive(tmp_path: Path) -> None:
    data = bytearray(RNN.read_bytes())
    central = _central_entry(data, b"model.weights.h5")
    size = int.from_bytes(data[central + 24 : central + 28], "little") + 10**6
    data[central + 20 : central + 28] = size.to_bytes(4, "little") * 2
    path = tmp_path / "lying.keras"
    path.write_bytes(data)
    with pytest.raises(FormatError, match=rf"^{path}: truncated: model.weights.h5 declares"):
        read_keras(str(path))


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"config.json": b"{}"}, "a zip archive without model.weights.h5"),
        ({"config.json": b"{", "model.weights.h5": b""}, "damaged HDF5 file"),
        ({"model.weights.npz": b"", "config.json": b"{}"}, "its weights are .npz"),
    ],
)
def test_archives_that_are_no_keras_model(
    tmp_path: Path, members: dict[str, bytes], message: str
) -> None:
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(FormatError, match=message) as caught:
        read_keras(str(path))
    assert str(caught.value).startswith(f"{path}: ")


def test_a_truncated_weights_file(tmp_path: Path) -> None:
    data = (CHECKPOINTS / "keras_rnn.weights.h5").read_bytes()
    path = tmp_path / "cut.weights.h5"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=rf"^{path}: a damaged HDF5 file: "):
        read_keras(str(path))


def test_weights_of_an_encoder_decoder_need_the_config(tmp_path: Path) -> None:
    """The archive's weights member alone is a .weights.h5: two embeddings, no config."""
    with zipfile.ZipFile(CHECKPOINTS / "keras_encoder_decoder.keras") as archive:
        path = archive.extract("model.weights.h5", tmp_path)
    with pytest.raises(RecoveryError, match="two embeddings"):
        recover_keras(read_keras(path), path, 4)


MUTABLE = {name: (CHECKPOINTS / name).read_bytes() for name in ("keras_rnn.keras",
           "keras_rnn.weights.h5")}  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(sorted(MUTABLE)),
    st.lists(st.tuples(st.integers(0, 30_000), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(0, 30_000),
)
def test_mutated_files_give_a_listing_or_one_line(
    tmp_path: Path, name: str, changes: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(MUTABLE[name])
    for position, value in changes:
        data[position % len(data)] = value
    path = tmp_path / name
    path.write_bytes(bytes(data[: len(data) - cut % 200]))
    message = _outcome(str(path))
    assert "\n" not in message
    assert not message or message.startswith(f"{path}: ") or "tensors: " in message


def _outcome(path: str) -> str:
    """What reading and recovering ``path`` says: nothing, or its one error."""
    try:
        recover_keras(read_keras(path), path, 3)
    except (FormatError, RecoveryError) as error:
        return str(error)
    return ""


def test_start_up_of_other_commands_does_not_import_h5py() -> None:
    assert not {m for m in imported_modules("params", "--format", "json") if m.startswith("h5py")}


def test_a_gru_without_bias_says_which_reset_it_chose(tmp_path: Path) -> None:
    """Keras's GRU keeps its bias (2, 3H) when it resets after the recurrent product and
    (3H,) when before; without bias the shapes cannot tell, and the choice is said.
    """
    import h5py

    path = tmp_path / "gru.weights.h5"
    with h5py.File(path, "w") as h5:
        h5["layers/gru/cell/vars/0"] = np.zeros((3, 12), np.float32)
        h5["layers/gru/cell/vars/1"] = np.zeros((4, 12), np.float32)
    recovered = recover_keras(read_keras(str(path)), str(path), 3)
    (gru,) = recovered.network.stages[0].recurrent
    assert (gru.cell, gru.bias, gru.reset_after) == ("gru", False, True)
    assert any("does not say where it resets" in note for note in recovered.notes)
    assert all(
        row.ok for row in proof(recovered, {t.name: t.shape for t in read_keras(str(path)).tensors})
    )
