"""`rnncalc forward` from the command line: every option and every error path."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from click.testing import CliRunner, Result

from rnncalc.cli import cli
from rnncalc.formats.save import reserve
from rnncalc.formats.weights import write_npz
from rnncalc.model import shapes

REFERENCE = Path(__file__).parent / "reference"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["forward", *map(str, args)], prog_name="rnncalc")


def run_json(*args: str | Path) -> dict[str, Any]:
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


#: Arrays for np.savez(file, **arrays), cast to this because mypy checks a ** argument
#: against savez's own allow_pickle: bool as well.
Npz = dict[str, Any]


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture
def seed_files(tmp_path: Path) -> tuple[Path, Path, dict[str, np.ndarray]]:
    """The PyTorch-made seed case as a weights .npz and an inputs .npy."""
    ref = load(REFERENCE / "forward_seed.npz")
    weights = tmp_path / "w.npz"
    seed_weights = {k: ref[k] for k in ("W_xh", "W_hh", "b_h", "W_yh", "b_y")}
    np.savez(weights, **cast(Npz, seed_weights))
    inputs = tmp_path / "x.npy"
    np.save(inputs, ref["x"])
    return weights, inputs, ref


def test_check_passes_on_the_seed_example() -> None:
    result = run("--check")
    assert result.exit_code == 0
    assert "All 11 checks passed." in result.stdout
    assert "Forward pass: T=3, I=4, H=3, O=1, batch 1, float64" in result.stdout


def test_json_keys() -> None:
    data = run_json("--check", "--repeat", "3")
    assert set(data) == {"model", "options", "ok", "checks", "shapes", "timing"}
    assert data["ok"] is True
    assert {"name", "expected", "actual", "ok"} <= set(data["checks"][0])
    assert set(data["timing"]) == {"seconds", "repeat", "gflops", "flops", "engine"}
    assert data["timing"]["repeat"] == 3
    assert data["timing"]["flops"] == 132  # 2·B·T·(I·H + H·H) + 2·B·H·O, B = 1
    assert data["options"] == {
        "batch_size": 1,
        "dtype": "float64",
        "repeat": 3,
        "seed": 0,
        "engine": "auto",
    }
    assert data["model"] == {
        "convention": "seed",
        "timesteps": 3,
        "input_size": 4,
        "layers": [{"kind": "rnn", "hidden_size": 3}, {"kind": "dense", "units": 1}],
    }


def test_without_check_reports_shapes_and_timing_only() -> None:
    data = run_json("-T", "5", "-B", "4", "-O", "2", "--outputs", "all")
    assert data["checks"] == []
    assert data["shapes"] == {"x": [4, 5, 4], "h": [4, 5, 3], "y": [4, 5, 2]}
    table = run("-T", "5").stdout
    assert "The forward pass ran (no checks: add --check)." in table
    assert "│ h     │ (1, 5, 3) │" in table


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "identity"])
def test_every_hidden_activation(activation: str) -> None:
    assert run_json("--check", "--hidden-activation", activation)["ok"]


@pytest.mark.parametrize("activation", ["identity", "tanh", "sigmoid", "softmax"])
def test_every_output_activation(activation: str) -> None:
    assert run_json("--check", "--output-activation", activation, "-O", "3")["ok"]


def test_outputs_all_gives_y_at_every_step() -> None:
    data = run_json("--check", "--outputs", "all", "-T", "6", "-O", "2")
    assert data["shapes"]["y"] == [1, 6, 2]
    assert data["ok"]


def test_no_output_layer() -> None:
    data = run_json("--check", "-O", "0")
    assert "y" not in data["shapes"]
    assert data["ok"]


def test_weights_and_inputs_files_reproduce_pytorch(
    seed_files: tuple[Path, Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    weights, inputs, ref = seed_files
    out = tmp_path / "out.npz"
    result = run("--check", "--weights", weights, "--inputs", inputs, "--save", out)
    assert result.exit_code == 0, result.output
    saved = load(out)
    assert set(saved) == {"W_xh", "W_hh", "b_h", "W_yh", "b_y", "x", "h", "y"}
    np.testing.assert_allclose(saved["h"], ref["h"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(saved["y"], ref["y"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(saved["x"], ref["x"])


def test_saved_file_runs_again_as_weights(tmp_path: Path) -> None:
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    assert run("--seed", "3", "-B", "5", "--save", first).exit_code == 0
    result = run("--weights", first, "--seed", "3", "-B", "5", "--save", second)
    assert result.exit_code == 0
    assert result.stderr == ""  # x, h and y in a saved file are not unknown keys
    np.testing.assert_array_equal(load(first)["h"], load(second)["h"])


def test_float32_saves_float32(tmp_path: Path) -> None:
    out = tmp_path / "out.npz"
    assert run("--check", "--dtype", "float32", "--save", out).exit_code == 0
    assert {a.dtype for a in load(out).values()} == {np.dtype("float32")}


def test_seed_makes_runs_reproducible(tmp_path: Path) -> None:
    paths = [tmp_path / f"{n}.npz" for n in range(3)]
    for path, seed in zip(paths, ("1", "1", "2"), strict=True):
        assert run("--seed", seed, "--save", path).exit_code == 0
    a, b, c = (load(p)["h"] for p in paths)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_sizes_come_from_the_files(seed_files: tuple[Path, Path, dict[str, np.ndarray]]) -> None:
    weights, inputs, _ = seed_files
    data = run_json("--weights", weights, "--inputs", inputs, "-T", "3", "-I", "4")
    assert data["shapes"] == {"x": [2, 3, 4], "h": [2, 3, 3], "y": [2, 1]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-H", "5"], "--hidden-size 5 disagrees with the weights in"),
        (["-O", "2"], "--output-size 2 disagrees with the weights in"),
        (["-T", "9"], "--timesteps 9 disagrees with x in"),
        (["-B", "7"], "--batch-size 7 disagrees with x in"),
    ],
)
def test_explicit_sizes_must_agree_with_files(
    seed_files: tuple[Path, Path, dict[str, np.ndarray]], args: list[str], message: str
) -> None:
    weights, inputs, _ = seed_files
    result = run("--weights", weights, "--inputs", inputs, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_inputs_must_agree_with_weights(
    seed_files: tuple[Path, Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    weights, _, _ = seed_files
    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((2, 3, 5)))
    result = run("--weights", weights, "--inputs", wide)
    assert result.exit_code == 2
    assert "has input size 5, but the weights in" in result.stderr
    assert "have 4" in result.stderr


def weights_file(tmp_path: Path, **arrays: Any) -> Path:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


GOOD = {
    "W_xh": np.zeros((4, 3)),
    "W_hh": np.zeros((3, 3)),
    "b_h": np.zeros(3),
    "W_yh": np.zeros((3, 1)),
    "b_y": np.zeros(1),
}


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (
            {k: v for k, v in GOOD.items() if k != "W_hh"},
            "W_hh is missing; expected shape (3, 3) = (H, H)",
        ),
        ({**GOOD, "W_hh": np.zeros((3, 4))}, "W_hh has shape (3, 4); expected (3, 3) = (H, H)"),
        ({**GOOD, "b_h": np.zeros((1, 3))}, "b_h has shape (1, 3); expected (3,) = (H,)"),
        (
            {k: v for k, v in GOOD.items() if k != "b_y"},
            "b_y is missing; expected shape (1,) = (O,)",
        ),
        ({**GOOD, "W_xh": np.zeros(4)}, "W_xh has shape (4,); expected (I, H)"),
        (
            {"W_hh": np.zeros((3, 3))},
            "W_xh is missing; expected shape (I, H), from which the sizes are read",
        ),
        ({**GOOD, "W_yh": np.zeros(3)}, "W_yh has shape (3,); expected (H, O)"),
        ({**GOOD, "b_h": np.array(["a", "b", "c"])}, "b_h: holds <U1 values; expected integers"),
        ({**GOOD, "b_h": np.zeros(3, complex)}, "b_h: holds complex128 values"),
    ],
)
def test_bad_weights_name_the_key(tmp_path: Path, arrays: dict[str, Any], message: str) -> None:
    result = run("--weights", weights_file(tmp_path, **arrays))
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Invalid value for '--weights'" in result.stderr
    assert "Traceback" not in result.output


def test_another_conventions_file_gets_a_hint(tmp_path: Path) -> None:
    path = weights_file(tmp_path, weight_ih_l0=np.zeros((3, 4)), weight_hh_l0=np.zeros((3, 3)))
    result = run("--weights", path)
    assert result.exit_code == 2
    assert "(the names look like the pytorch convention: --convention pytorch)" in result.stderr


def test_unknown_keys_are_ignored_with_a_warning(tmp_path: Path) -> None:
    result = run("--weights", weights_file(tmp_path, **GOOD, extra=np.zeros(2)))
    assert result.exit_code == 0
    assert "rnncalc: ignoring extra in" in result.stderr


def test_no_output_layer_when_the_weights_have_none(tmp_path: Path) -> None:
    arrays = {k: GOOD[k] for k in ("W_xh", "W_hh", "b_h")}
    result = run("--weights", weights_file(tmp_path, **arrays), "--check", "-f", "json")
    assert result.exit_code == 0
    assert "y" not in json.loads(result.stdout)["shapes"]


class Trap:
    """Unpickling this would create the marker file: proof that loading runs no code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path.touch, (self.marker,))


def test_pickled_objects_are_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    trap = np.empty(1, dtype=object)
    trap[0] = Trap(marker)
    path = tmp_path / "trap.npz"
    np.savez(path, W_xh=trap)
    assert pickle.loads(pickle.dumps(Trap(tmp_path / "probe"))) is None  # the trap works...
    assert (tmp_path / "probe").exists()
    result = run("--weights", path)
    assert result.exit_code == 2
    assert "holds object values" in result.stderr
    assert not marker.exists()  # ...but rnncalc never springs it
    npy = tmp_path / "trap.npy"
    np.save(npy, trap)
    result = run("--inputs", npy)
    assert result.exit_code == 2
    assert not marker.exists()


@pytest.mark.parametrize(
    ("option", "content", "message"),
    [
        ("--weights", None, "no such file"),
        ("--weights", b"not numpy at all", "not an .npz file (it is not a zip archive)"),
        ("--inputs", None, "no such file"),
        ("--inputs", b"\x93NUMPY garbage", ".npy format version 32.103 is not one of"),
    ],
)
def test_unreadable_files(tmp_path: Path, option: str, content: bytes | None, message: str) -> None:
    path = tmp_path / "file"
    if content is not None:
        path.write_bytes(content)
    result = run(option, path)
    assert result.exit_code == 2
    assert message in result.stderr
    assert f"Invalid value for '{option}'" in result.stderr


def test_weights_must_be_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "w.npy"
    np.save(path, np.zeros((4, 3)))
    result = run("--weights", path)
    assert result.exit_code == 2
    assert "not an .npz file (it is an .npy file of one array" in result.stderr


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 3)), "x has shape (2, 3); expected (B, T, I)"),
        (np.zeros((2, 0, 4)), "none of them 0"),
        (np.array([[["a"]]]), "holds <U1 values"),
    ],
)
def test_bad_inputs(tmp_path: Path, array: np.ndarray, message: str) -> None:
    path = tmp_path / "x.npy"
    np.save(path, array)
    result = run("--inputs", path)
    assert result.exit_code == 2
    assert message in result.stderr


def test_inputs_npz_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.npz"
    np.savez(path, x=np.zeros((1, 2, 3)))
    result = run("--inputs", path)
    assert result.exit_code == 2
    assert "not an .npy file (it is a zip archive" in result.stderr


def test_save_into_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = run("--save", tmp_path / "nowhere" / "out.npz")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_save_is_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.npz"
    target.write_bytes(b"previous")

    def broken(handle: Any, **arrays: Any) -> None:
        handle.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"), reserve(target) as save:
        save.commit(lambda handle: write_npz(handle, {"h": np.zeros(3)}))
    assert target.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["out.npz"]


def test_save_failure_is_reported_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(handle: Any, **arrays: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    result = run("--save", tmp_path / "out.npz")
    assert result.exit_code == 1
    assert "could not write" in result.stderr
    assert "disk full" in result.stderr
    assert os.listdir(tmp_path) == []


def test_max_memory_refuses_with_the_estimate() -> None:
    # The seed's check needs 2,024 bytes, 1,360 of them without the dense equivalent (see
    # tests/test_forward.py for the arithmetic, at B = 2).
    result = run("--check", "--max-memory", "1KiB")
    assert result.exit_code == 2
    assert (
        "Invalid value for '--max-memory': this run needs about 1.33 KiB (1,360 bytes), more "
        "than 1.00 KiB"
    ) in result.stderr
    data = json.loads(run("--check", "--max-memory", "2KiB", "-f", "json").stdout)
    assert data["ok"]
    assert "dense: hidden layer shape" in [c["name"] for c in data["checks"]]


def test_a_dense_equivalent_too_large_to_run_is_checked_by_its_shapes() -> None:
    data = json.loads(run("--check", "--max-memory", "1.5KiB", "-f", "json").stdout)
    assert data["ok"]
    names = [c["name"] for c in data["checks"]]
    assert not [name for name in names if name.startswith("dense: hidden")]
    dense = [c for c in data["checks"] if c["name"].startswith("dense: parameters by shapes")]
    assert dense[0]["name"] == "dense: parameters by shapes (not run: needs 664 B more)"
    assert (dense[0]["expected"], dense[0]["actual"]) == (127, 127)


def test_default_memory_limit_stops_a_huge_run_before_allocating() -> None:
    result = run("-T", "1000000", "-I", "1000000", "-H", "1000000")
    assert result.exit_code == 2
    assert "more than 1.00 GiB; use smaller sizes or raise the limit" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-memory", "lots"], "'lots' is not a size such as 512MiB"),
        (["--max-memory", "0"], "must be at least 1, got '0'"),
        (["--batch-size", "0"], "must be at least 1, got '0'"),
        (["--repeat", "0"], "must be at least 1, got '0'"),
        (["--seed", "-1"], "must be at least 0, got '-1'"),
        (["--dtype", "float16"], "the pass computes in float64 or float32, got 'float16'"),
        (["--dtype", "int16"], "'int16' is not one of 'float64', 'float32', 'float16'"),
        (["--hidden-activation", "gelu"], "'gelu' is not one of"),
        (["--output-activation", "gelu"], "'gelu' is not one of"),
        (["--outputs", "some"], "'some' is not one of 'last', 'all'"),
        (["--format", "csv"], "'csv' is not one of 'table', 'json'"),
        (["-T", "0"], "must be at least 1, got '0'"),
    ],
)
def test_bad_options(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_corrupted_shape_source_fails_with_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    original = shapes._Walk.rnn

    def wrong(walk: Any) -> Any:  # the one shape source gives W_hh one column too many
        for w in original(walk):
            yield w.replace(shape=(w.shape[0], w.shape[1] + 1)) if w.name == "W_hh" else w

    monkeypatch.setattr(shapes._Walk, "rnn", wrong)
    result = run("--check")
    assert result.exit_code == 1
    assert "forward pass runs" in result.stdout
    assert "FAIL" in result.stdout
    assert "The forward pass failed." in result.stdout
    assert result.exception is None or isinstance(result.exception, SystemExit)
    data = json.loads(run("--check", "-f", "json").stdout)
    assert data["ok"] is False
    assert data["timing"] is None


def test_real_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rnncalc", "forward", "--check", "-f", "json", "-T", "20"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True


def test_names_of_unused_arrays_are_shown_safely_and_briefly(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    extra = {f"extra_{k:03d}_" + "n" * 150: np.zeros(1) for k in range(300)}
    np.savez(
        path,
        **cast(Npz, GOOD),
        **cast(Npz, {"\u202e\u0007evil\n": np.zeros(1)}),
        **cast(Npz, extra),
    )
    result = run("--weights", path)
    assert result.exit_code == 0
    (line,) = result.stderr.splitlines()
    assert line.startswith("rnncalc: ignoring extra_000_" + "n" * 27 + "..., extra_001_")
    assert "and 296 more in" in line
    np.savez(path, **cast(Npz, GOOD), **cast(Npz, {"\u202e\u0007evil\n": np.zeros(1)}))
    (line,) = run("--weights", path).stderr.splitlines()
    assert line.startswith("rnncalc: ignoring \\u202e\\x07evil\\n in ")
    assert line.isprintable()
    assert line.isprintable()
    assert len(line) < 500
