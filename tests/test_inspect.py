"""``rnncalc inspect``: framework-made checkpoints read, recognised, proved and described;
the model file it writes gives the same count; files it cannot read refused in one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from rnncalc.analysis.inspect import inspect_listing
from rnncalc.cli import cli
from rnncalc.formats.safetensors import read_safetensors
from rnncalc.model.recover import proof

CHECKPOINTS = Path(__file__).parent / "reference" / "checkpoints"
LM = str(CHECKPOINTS / "lm_tied.safetensors")
CONV_GRU = str(CHECKPOINTS / "conv_gru_bf16.safetensors")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["inspect", *args], prog_name="rnncalc")


def test_a_tied_language_model() -> None:
    """Embedding 11 x 6, a 2-layer LSTM of 6, the decoder tied: 66 + 2·(4·6·(6 + 6) + 2·24)
    + 11 = 749, the decoder's weight saved once as the embedding's.
    """
    data = json.loads(run(LM, "-f", "json").output)
    assert data["totals"]["parameters"] == data["totals"]["network"] == 749
    assert data["ok"] is True
    assert data["format"] == "safetensors"
    assert data["model"]["layers"][-1] == {
        "kind": "dense",
        "units": 11,
        "steps": "all",
        "tie": True,
    }
    embedding = data["tensors"][0]
    assert (embedding["name"], embedding["also"], embedding["role"]) == (
        "embedding.weight", "linear.weight", "token -> vector"
    )  # fmt: skip
    assert data["command"].startswith("rnncalc params -T 3 --vocab-size 11 -I 6 -H 6 -c lstm")
    assert data["totals"]["bytes_on_disk"] == {"float32": 4 * 749}


def test_other_tensors_are_listed_and_counted() -> None:
    """Conv1d(3, 8, 5) 120 + 8 and LayerNorm(8) 16 are no recurrent layer: 144 others."""
    data = json.loads(run(CONV_GRU, "-f", "json").output)
    others = [t["name"] for t in data["tensors"] if t["role"] == "other"]
    assert others == ["conv.bias", "conv.weight", "norm.bias", "norm.weight"]
    assert data["totals"]["other"] == 144
    # 2 directions x (3·4·(8 + 4) + 2·12) per layer, 2 layers; head 2·8 + 2
    assert data["totals"]["network"] == 2 * 2 * (144 + 24) + 18 == 690
    assert data["totals"]["bytes_on_disk"] == {"bfloat16": 2 * 834}


@pytest.mark.parametrize("path", [LM, CONV_GRU])
def test_the_model_file_gives_the_files_count(tmp_path: Path, path: str) -> None:
    written = run(path, "--format", "toml")
    assert written.exit_code == 0
    model = tmp_path / "model.toml"
    model.write_text(written.output)
    params = CliRunner().invoke(cli, ["params", "--model", str(model), "-q"])
    data = json.loads(run(path, "-f", "json").output)
    assert int(params.output) == data["totals"]["parameters"] - data["totals"]["other"]
    assert int(run(path, "-q").output) == data["totals"]["parameters"]


def test_the_command_line_builds_the_same_network() -> None:
    data = json.loads(run(CONV_GRU, "-f", "json").output)
    args = data["command"].split()[2:]
    params = CliRunner().invoke(cli, ["params", *args, "-f", "json"])
    assert json.loads(params.output)["model"] == data["model"]


def test_table_shows_roles_proof_and_notes() -> None:
    output = run(LM).output
    assert "token -> vector; also linear.weight, tied" in output
    assert "All 11 predicted tensors are in the file with their shapes." in output
    assert "Note: linear.weight is not in the file" in output
    assert "--outputs last|all" in output


def test_outputs_override_the_guess() -> None:
    data = json.loads(run(CONV_GRU, "-f", "json", "--outputs", "all", "-T", "7").output)
    assert data["model"]["timesteps"] == 7
    assert data["model"]["layers"][-1]["steps"] == "all"
    assert not any("does not say" in note for note in data["notes"])


def test_a_shape_that_differs_is_named_and_exits_1() -> None:
    report = inspect_listing(read_safetensors(LM))
    files = {t.name: t.shape for t in report.listing.tensors}
    rows = proof(report.recovered, {**files, "lstm.bias_hh_l1": (23,)})
    (bad,) = [row for row in rows if not row.ok]
    assert (bad.name, bad.predicted, bad.found) == ("lstm.bias_hh_l1", (24,), (23,))


def test_npz_files_named_as_pytorch_names_them(tmp_path: Path) -> None:
    path = tmp_path / "weights.npz"
    np.savez(path, weight_ih_l0=np.zeros((12, 5)), weight_hh_l0=np.zeros((12, 3)),
             bias_ih_l0=np.zeros(12), bias_hh_l0=np.zeros(12))  # fmt: skip
    data = json.loads(run(str(path), "-f", "json").output)
    assert data["format"] == "npz"
    assert data["totals"]["parameters"] == 4 * 3 * (5 + 3 + 2)  # an LSTM: G·H = 12
    assert data["model"]["layers"] == [{"kind": "lstm", "hidden_size": 3}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a checkpoint rnncalc reads"),
        (b"\x80\x02}q\x00.", "a legacy (pre-1.6) PyTorch file"),
        (b"\x89HDF\r\n\x1a\n" + b"\0" * 8, "a damaged HDF5 file"),
        (b"PK\x05\x06" + b"\0" * 18, "a zip archive that is no checkpoint"),
    ],
)
def test_files_it_cannot_read(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(content)
    result = run(str(path))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_tensors_that_form_no_network(tmp_path: Path) -> None:
    path = tmp_path / "conv.npz"
    arrays: dict[str, object] = {"conv.weight": np.zeros((8, 3, 5))}
    np.savez(path, **arrays)  # type: ignore[arg-type]
    result = run(str(path))
    assert result.exit_code == 2
    assert f"{path}: no recurrent module" in result.output


TORCH = json.loads((CHECKPOINTS / "torch_checkpoints.json").read_text())
RECURRENT = [name for name in TORCH if name not in ("dtypes.pt", "views.pt", "whole_model.pt")]


@pytest.mark.parametrize("name", RECURRENT)
def test_pytorch_checkpoints(name: str) -> None:
    """Every torch.save file of tests/reference/make_torch_checkpoints.py: the tensors torch
    listed, each tied group once, recovered and proved.
    """
    expected = TORCH[name]
    data = json.loads(run(str(CHECKPOINTS / name), "-f", "json").output)
    assert [[t["name"], t["dtype"], t["shape"]] for t in data["tensors"]] == expected["tensors"]
    sizes = {n: _count(s) for n, _, s in expected["tensors"]}
    copies = sum(sizes[n] for group in expected["tied"] for n in group[1:])
    assert data["totals"]["parameters"] == sum(sizes.values()) - copies
    assert data["ok"] is True


def _count(shape: list[int]) -> int:
    n = 1
    for dim in shape:
        n *= dim
    return n


def test_a_pytorch_language_model_marks_its_tied_copy() -> None:
    data = json.loads(run(str(CHECKPOINTS / "lm_tied.pt"), "-f", "json").output)
    linear = next(t for t in data["tensors"] if t["name"] == "linear.weight")
    assert (linear["parameters"], linear["rnncalc_name"]) == (0, "linear.weight")
    assert data["totals"]["parameters"] == 749  # as the safetensors copy of the same model
    assert data["totals"]["bytes_on_disk"] == {"float32": 4 * 749}  # one storage, saved once
    assert "one tensor saved as embedding.weight and linear.weight (tied weights)" in data["notes"]


def test_a_training_checkpoint_says_where_its_weights_were() -> None:
    data = json.loads(run(str(CHECKPOINTS / "checkpoint.pt"), "-f", "json").output)
    assert any("the entry 'model_state_dict'" in note for note in data["notes"])


def test_a_whole_pickled_model_is_refused_by_its_class() -> None:
    result = run(str(CHECKPOINTS / "whole_model.pt"))
    assert result.exit_code == 2
    assert "refuses to load the global 'make_checkpoints.LanguageModel'" in result.output


def test_an_onnx_language_model_packs_its_biases() -> None:
    """torch.onnx.export's LSTM node: W (D, 4H, I), R, and B (D, 8H) holding bias_ih and
    bias_hh; the gates in ONNX's order; the head a MatMul of the (in, out) weight.
    """
    data = json.loads(run(str(CHECKPOINTS / "onnx_lm.onnx"), "-f", "json").output)
    assert data["format"] == "onnx"
    assert data["ok"] is True
    assert data["totals"]["parameters"] == 570  # sum(p.numel()) in PyTorch
    bias = next(t for t in data["tensors"] if t["shape"] == [1, 40])
    assert (bias["rnncalc_name"], bias["also"]) == ("lstm.bias_ih_l0", "lstm.bias_hh_l0")
    assert "packed with lstm.bias_hh_l0" in run(str(CHECKPOINTS / "onnx_lm.onnx")).output
    assert "[i,o,f,c]" in run(str(CHECKPOINTS / "onnx_lm.onnx")).output


def test_a_file_that_crashes_the_hdf5_library_is_one_line() -> None:
    """A Keras 2 .h5 damaged by fuzzing (tests/reference/checkpoints/keras_crash.h5) makes
    libhdf5 segfault: read in a child process, it is an error message, exit 2.
    """
    result = run(str(CHECKPOINTS / "keras_crash.h5"))
    assert result.exit_code == 2
    assert "a damaged file: the HDF5 library crashed reading it" in result.output


def test_a_keras_model_is_read_from_its_config() -> None:
    data = json.loads(run(str(CHECKPOINTS / "keras_lm.keras"), "-f", "json").output)
    assert (data["format"], data["convention"], data["ok"]) == ("keras", "keras", True)
    assert data["totals"]["parameters"] == 1312  # model.count_params()
    kinds = [layer["kind"] for layer in data["model"]["layers"]]
    assert kinds == ["embedding", "lstm", "lstm", "dense"]
