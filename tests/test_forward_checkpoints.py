"""`rnncalc forward --weights FILE` on framework-made checkpoints (.pt, .safetensors, .onnx):
the network recovered from the file, its h and y equal what torch and onnxruntime computed
(tests/reference/make_checkpoint_forward.py), and what a bad file or option gets.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from click.testing import CliRunner, Result

from rnncalc.analysis.checkpoint_weights import CheckpointWeights, open_checkpoint, read_weights
from rnncalc.cli import cli
from rnncalc.engine.run import RunOptions, run
from rnncalc.formats import safetensors
from rnncalc.formats.safetensors import read_safetensors_arrays
from rnncalc.formats.tensors import FormatError
from rnncalc.model.modelfile import from_dict, to_dict, to_toml
from rnncalc.model.network import Network

REFERENCE = Path(__file__).parent / "reference"
CHECKPOINTS = REFERENCE / "checkpoints"
CASES: dict[str, dict[str, Any]] = json.loads(
    (REFERENCE / "checkpoint_forward_cases.json").read_text()
)
Npz = dict[str, Any]


def reference(case: str) -> dict[str, np.ndarray]:
    with np.load(REFERENCE / f"checkpoint_forward_{case}.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def forward(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["forward", *map(str, args)], prog_name="rnncalc")


def inputs_file(tmp_path: Path, ref: dict[str, np.ndarray]) -> Path:
    """x as an .npy, or x and x_decoder as an .npz for an encoder-decoder."""
    if "x_decoder" in ref:
        path = tmp_path / "x.npz"
        np.savez(path, x=ref["x"], x_decoder=ref["x_decoder"])
        return path
    path = tmp_path / "x.npy"
    np.save(path, ref["x"])
    return path


def saved(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def test_every_format_and_16_bit_type_is_among_the_cases() -> None:
    files = {case["file"] for case in CASES.values()}
    assert {Path(f).suffix for f in files} == {".pt", ".safetensors", ".onnx"}
    assert {"lstm_bfloat16.pt", "lstm_float16.pt", "conv_gru_bf16.safetensors"} <= files
    assert {case["dtype"] for case in CASES.values()} == {"float32", "float64"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_matches_the_framework(case: str, tmp_path: Path) -> None:
    entry, ref = CASES[case], reference(case)
    out = tmp_path / "out.npz"
    result = forward("--weights", CHECKPOINTS / entry["file"], "--inputs",
                     inputs_file(tmp_path, ref), "--save", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert all(line.startswith("rnncalc: ") for line in result.stderr.splitlines())
    run_ = saved(out)
    assert run_["h"].dtype == np.dtype(entry["dtype"])  # the file's precision
    np.testing.assert_allclose(run_["h"], ref["h"], rtol=0, atol=entry["tolerance"])
    assert ("y" in run_) == ("y" in ref)
    if "y" in ref:
        np.testing.assert_allclose(run_["y"], ref["y"], rtol=0, atol=entry["tolerance"])
    np.testing.assert_array_equal(run_["x"], ref["x"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_python_api_matches_the_framework_and_proves_the_shapes(case: str) -> None:
    entry, ref = CASES[case], reference(case)
    loaded = open_checkpoint(str(CHECKPOINTS / entry["file"]), timesteps=ref["x"].shape[1])
    api_matches(loaded, loaded.network, ref, entry["tolerance"])


def api_matches(
    loaded: CheckpointWeights, network: Network, ref: dict[str, np.ndarray], tolerance: float
) -> None:
    """``run`` on the reference inputs (the decoder's length from x_decoder) passes its
    checks and gives the reference's h and y within ``tolerance``.
    """
    if "x_decoder" in ref:
        decoder = network.stages[1].replace(timesteps=ref["x_decoder"].shape[1])
        network = network.replace(stages=(network.stages[0], decoder))
    report, result = run(
        network,
        RunOptions(ref["x"].shape[0], dtype=loaded.dtype),
        check=True,
        weights=read_weights(loaded, 1 << 20),
        x=ref["x"],
        x_decoder=ref.get("x_decoder"),
    )
    assert report.ok, [c for c in report.checks if not c.ok]
    np.testing.assert_allclose(result.h, ref["h"], rtol=0, atol=tolerance)
    assert (result.y is not None) == ("y" in ref)
    if result.y is not None:
        np.testing.assert_allclose(result.y, ref["y"], rtol=0, atol=tolerance)


def test_16_bit_files_hold_to_float32_s_tolerance() -> None:
    """Widening bfloat16 and float16 to float32 is exact, so rnncalc and torch run the same
    float32 numbers: float32's tolerance holds.  Torch's own 16-bit pass is more than ten
    times further from it than that tolerance, which no tolerance on rnncalc could follow.
    """
    for case in ("lstm_bfloat16", "lstm_float16"):
        entry = CASES[case]
        assert entry["tolerance"] == CASES["checkpoint"]["tolerance"] == 2e-5
        assert entry["native_16bit_difference"] > 10 * entry["tolerance"]


def test_what_the_file_does_not_say_is_said(tmp_path: Path) -> None:
    """A state_dict does not place its dense layers, and the run ignores a convolution;
    an ONNX graph places them.
    """
    ref = reference("conv_gru_bf16")
    path, x = CHECKPOINTS / "conv_gru_bf16.safetensors", inputs_file(tmp_path, ref)
    result = forward("--weights", path, "--inputs", x)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"rnncalc: {path} does not say where its dense layers run: the last step (set --outputs)",
        f"rnncalc: ignoring conv.bias, conv.weight, norm.bias, norm.weight in {path}",
    ]
    quiet = forward("--weights", path, "--inputs", x, "--outputs", "last")
    assert quiet.stderr.splitlines()[0].startswith("rnncalc: ignoring")
    graph = CHECKPOINTS / "onnx_gru_bi.onnx"  # the graph says where its head runs
    onnx = forward("--weights", graph, "--inputs", inputs_file(tmp_path, reference("onnx_gru_bi")))
    assert (onnx.exit_code, onnx.stderr) == (0, "")


def test_a_tied_weight_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[list[str]] = []
    original = safetensors.read_safetensors_arrays

    def counting(path: str, names: Any, max_bytes: int) -> Any:
        read.append(list(names))
        return original(path, names, max_bytes)

    monkeypatch.setattr(safetensors, "read_safetensors_arrays", counting)
    weights = read_weights(open_checkpoint(str(CHECKPOINTS / "lm_tied.safetensors")), 1 << 20)
    assert "linear.weight" not in weights
    (names,) = read
    assert len(names) == len(set(names)) == 10
    assert "embedding.weight" in names


def test_dtype_option_overrides_the_file_s(tmp_path: Path) -> None:
    ref, out = reference("lm_tied"), tmp_path / "out.npz"
    result = forward("--weights", CHECKPOINTS / "lm_tied.pt", "--inputs",
                     inputs_file(tmp_path, ref), "--save", out, "--dtype", "float64")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert saved(out)["h"].dtype == np.float64
    np.testing.assert_allclose(saved(out)["h"], ref["h"], rtol=0, atol=2e-5)


def test_outputs_and_activations_may_be_given(tmp_path: Path) -> None:
    ref, out = reference("lm_tied"), tmp_path / "out.npz"
    x = inputs_file(tmp_path, ref)
    result = forward("--weights", CHECKPOINTS / "lm_tied.pt", "--inputs", x, "--save", out,
                     "--outputs", "last", "--output-activation", "softmax", "-T", "5")  # fmt: skip
    assert result.exit_code == 0, result.output
    y = saved(out)["y"]
    assert y.shape == (3, 11)
    np.testing.assert_allclose(y.sum(axis=1), 1, atol=1e-6)
    assert (y.argmax(axis=1) == ref["y"][:, -1].argmax(axis=1)).all()


def test_onnx_activations_are_the_graph_s(tmp_path: Path) -> None:
    ref = reference("onnx_rnn_relu")
    x, path = inputs_file(tmp_path, ref), CHECKPOINTS / "onnx_rnn_relu.onnx"
    agreed = forward("--weights", path, "--inputs", x, "--hidden-activation", "relu")
    assert agreed.exit_code == 0, agreed.output
    result = forward("--weights", path, "--inputs", x, "--hidden-activation", "tanh")
    assert result.exit_code == 2
    assert "--hidden-activation tanh disagrees with" in result.stderr
    assert "whose graph applies relu" in result.stderr
    result = forward("--weights", CHECKPOINTS / "lm_tied.pt", "--hidden-activation", "relu")
    assert result.exit_code == 2
    assert "lm_tied.pt holds no vanilla RNN layer" in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["-H", "8"], "--hidden-size 8 disagrees with {path}, which holds --hidden-size 6"),
        (["--bidirectional"], "--bidirectional disagrees with {path}, which holds no --bidir"),
        (["-c", "gru"], "--cell gru disagrees with {path}, which holds --cell lstm"),
        (["--vocab-size", "12"], "--vocab-size 12 disagrees with {path}, which holds --vocab"),
        (["--no-bias"], "--no-bias disagrees with {path}, which holds --bias"),
    ],
)
def test_options_that_disagree_with_the_file_name_both(options: list[str], message: str) -> None:
    path = CHECKPOINTS / "lm_tied.pt"
    result = forward("--weights", path, *options)
    assert result.exit_code == 2
    assert message.format(path=path) in " ".join(result.stderr.split())
    agreed = forward("--weights", path, "-H", "6", "-c", "lstm", "-L", "2", "--tie")
    assert agreed.exit_code == 0, agreed.output


def test_an_encoder_decoder_takes_no_layer_flags() -> None:
    result = forward("--weights", CHECKPOINTS / "encoder_decoder.pt", "-H", "5")
    assert result.exit_code == 2
    assert "flags cannot describe its network" in result.stderr


def test_a_model_file_runs_on_the_checkpoint_it_describes(tmp_path: Path) -> None:
    """The model file inspect writes, its dense layers named (a model file may name its
    layers; the checkpoint's tensors are found by place, not by name).
    """
    ref, path = reference("onnx_lm"), CHECKPOINTS / "onnx_lm.onnx"
    described = to_dict(open_checkpoint(str(path)).network)
    described["layers"][-1]["name"] = "decoder"
    model, out = tmp_path / "m.toml", tmp_path / "out.npz"
    model.write_text(to_toml(from_dict(described)))
    result = forward("--model", model, "--weights", path, "--inputs", inputs_file(tmp_path, ref),
                     "--save", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(saved(out)["y"], ref["y"], rtol=0, atol=2e-5)
    assert "decoder.weight" in saved(out)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"hidden_size": 7},
            "the model's lstm.weight_ih_l0 is (1, 20, 4) in the file (as "
            "'onnx::LSTM_223'); the model needs (1, 28, 4)",
        ),
        ({"bidirectional": True}, "has no counterpart in the file"),
        ({"stack": 3}, "has no counterpart in the file"),
    ],
)
def test_a_model_file_must_have_the_file_s_shapes(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = CHECKPOINTS / "onnx_lm.onnx"
    described = to_dict(open_checkpoint(str(path)).network)
    described["layers"][1].update(change)
    model = tmp_path / "m.toml"
    model.write_text(to_toml(from_dict(described)))
    result = forward("--model", model, "--weights", path)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())


def write_safetensors(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A float32 safetensors file, as the format's specification lays it out."""
    header: dict[str, Any] = {}
    offset = 0
    for name, array in arrays.items():
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}  # fmt: skip
        offset += array.nbytes
    text = json.dumps(header).encode()
    data = b"".join(np.ascontiguousarray(a, "<f4").tobytes() for a in arrays.values())
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)


def lm_arrays() -> dict[str, np.ndarray]:
    path = str(CHECKPOINTS / "lm_tied.safetensors")
    names = [t.name for t in safetensors.read_safetensors(path).tensors]
    return read_safetensors_arrays(path, names, 1 << 20)


def test_a_written_safetensors_file_runs_as_the_original(tmp_path: Path) -> None:
    path, out = tmp_path / "lm.safetensors", tmp_path / "out.npz"
    write_safetensors(path, lm_arrays())
    ref = reference("lm_tied_safetensors")
    result = forward("--weights", path, "--inputs", inputs_file(tmp_path, ref), "--save", out)
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(saved(out)["y"], forward_y(tmp_path, ref))


def forward_y(tmp_path: Path, ref: dict[str, np.ndarray]) -> np.ndarray:
    out = tmp_path / "original.npz"
    result = forward("--weights", CHECKPOINTS / "lm_tied.safetensors", "--inputs",
                     inputs_file(tmp_path, ref), "--save", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    return saved(out)["y"]


def damaged(tmp_path: Path, name: str, cut: int) -> Path:
    path = tmp_path / name
    path.write_bytes((CHECKPOINTS / name).read_bytes()[:cut])
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: damaged(d, "lm_tied.pt", 2000), "lm_tied.pt: a damaged zip archive"),
        (lambda d: damaged(d, "lm_tied.safetensors", 1000), "lm_tied.safetensors: truncated"),
        (lambda d: damaged(d, "onnx_lm.onnx", 1500), "onnx_lm.onnx: not an ONNX model, or a"),
        (lambda d: damaged(d, "onnx_lm.onnx", 0), "onnx_lm.onnx: not an ONNX model: no graph"),
    ],
)
def test_a_damaged_file_gets_one_line(tmp_path: Path, make: Any, message: str) -> None:
    result = forward("--weights", make(tmp_path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert message in line


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (None, "lstm lacks bias_hh_l1 for a 2-layer LSTM"),  # recovery
        (-1, "lstm.bias_hh_l1 is (23,) in the file"),  # proof
    ],
)
def test_a_missing_or_misshapen_tensor_is_named(
    tmp_path: Path, cut: int | None, message: str
) -> None:
    arrays = lm_arrays()
    if cut is None:
        del arrays["lstm.bias_hh_l1"]
    else:
        arrays["lstm.bias_hh_l1"] = arrays["lstm.bias_hh_l1"][:cut]
    path = tmp_path / "lm.safetensors"
    write_safetensors(path, arrays)
    result = forward("--weights", path)
    assert result.exit_code == 2
    assert message in result.stderr


def test_files_that_are_no_network_are_refused(tmp_path: Path) -> None:
    result = forward("--weights", CHECKPOINTS / "dtypes.safetensors")
    assert result.exit_code == 2
    assert "no recurrent module" in result.stderr
    result = forward("--weights", CHECKPOINTS / "whole_model.pt")
    assert result.exit_code == 2
    assert "refuses to load the global 'make_checkpoints.LanguageModel'" in result.stderr
    keras = tmp_path / "model.keras"
    with zipfile.ZipFile(keras, "w") as archive:
        archive.writestr("config.json", "{}")
    result = forward("--weights", keras)
    assert result.exit_code == 2
    assert "a zip archive without model.weights.h5" in result.stderr


@pytest.mark.parametrize("name", ["lm_tied.safetensors", "lm_tied.pt", "onnx_lm.onnx"])
def test_max_memory_is_checked_before_reading(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    from rnncalc.formats import onnxfile, tensors, torch_arrays

    def refuse(*args: object) -> None:
        raise AssertionError("data was read")

    for module in (tensors, torch_arrays, safetensors):
        monkeypatch.setattr(module, "widened", refuse, raising=False)
    monkeypatch.setattr(onnxfile, "_numpy", refuse)
    result = forward("--weights", CHECKPOINTS / name, "--max-memory", "2KiB")
    assert result.exit_code == 2, result.output
    assert "KiB, more than the" in result.stderr
    assert "2.00 KiB (--max-memory)" in result.stderr or "1.00 KiB half the memory" in result.stderr
    loaded = open_checkpoint(str(CHECKPOINTS / name))
    with pytest.raises(FormatError, match="--max-memory"):
        # the network's float32 bytes: reading takes them twice (the data, the arrays made)
        read_weights(loaded, 4 * loaded.report.network_total)


def test_the_npz_path_is_unchanged(tmp_path: Path) -> None:
    """An .npz of the weights forward saved runs as before, by rnncalc's names."""
    ref, out = reference("lm_tied"), tmp_path / "out.npz"
    x = inputs_file(tmp_path, ref)
    assert forward("--weights", CHECKPOINTS / "lm_tied.pt", "--inputs", x, "--save", out)
    weights = tmp_path / "w.npz"
    np.savez(weights, **cast(Npz, {k: v for k, v in saved(out).items() if k not in "xhy"}))
    flags = ["--vocab-size", "11", "-I", "6", "-H", "6", "-c", "lstm", "-L", "2", "--tie",
             "--outputs", "all", "--convention", "pytorch", "--dtype", "float32"]  # fmt: skip
    again = forward("--weights", weights, "--inputs", x, *flags, "--save", tmp_path / "2.npz")
    assert again.exit_code == 0, again.output
    np.testing.assert_array_equal(saved(tmp_path / "2.npz")["y"], saved(out)["y"])


def test_pickles_that_would_run_code_run_nothing_through_forward(tmp_path: Path) -> None:
    from test_torchfile import archive, hostile

    marker = tmp_path / "ran"
    for case, (pickled, name) in hostile(marker).items():
        result = forward("--weights", archive(tmp_path / "evil.pt", pickled))
        assert result.exit_code == 2, case
        assert f"refuses to load the global {name!r}" in result.stderr, case
        assert not marker.exists(), case


KERAS = ["keras_lm.keras", "keras_gru.keras", "keras_rnn.keras", "keras_encoder_decoder.keras",
         "keras_lm.weights.h5", "keras_rnn.h5"]  # fmt: skip


@pytest.mark.parametrize("name", KERAS)
def test_keras_files_run_and_pass_the_check(name: str) -> None:
    """Keras files run from their own weights (a dense layer at every step between two
    recurrent layers included); their values against Keras: tests/test_forward_keras.py.
    """
    result = forward("--check", "--weights", CHECKPOINTS / name, "-T", "4", "-B", "2")
    assert result.exit_code == 0, result.output
    assert "checks passed." in result.output
