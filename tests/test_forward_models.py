"""LSTM, GRU, stacked and bidirectional passes against PyTorch- and Keras-made references."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncalc import ModelSpec
from rnncalc.cli import cli
from rnncalc.engine.run import RunOptions, run

REFERENCE = Path(__file__).parent / "reference"
MODELS: dict[str, dict[str, Any]] = json.loads((REFERENCE / "forward_cases.json").read_text())[
    "models"
]
MODEL_FIELDS = ("cell", "layers", "bidirectional", "convention", "bias", "proj_size", "reset_after")
RESULTS = ("x", "h", "y")


#: Arrays for np.savez(file, **arrays), cast to this because mypy checks a ** argument
#: against savez's own allow_pickle: bool as well.
Npz = dict[str, Any]


def load(name: str) -> dict[str, np.ndarray]:
    with np.load(REFERENCE / f"forward_{name}.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def spec_of(case: dict[str, Any]) -> ModelSpec:
    return ModelSpec(
        case["T"], case["I"], case["H"], case["O"], **{f: case[f] for f in MODEL_FIELDS}
    )


def options_of(case: dict[str, Any]) -> RunOptions:
    hidden = case["hidden"] if case["cell"] == "rnn" else None  # gated cells have their own
    return RunOptions(case["B"], "float64", hidden, case["output"], case["outputs"])


def test_references_cover_cells_conventions_and_variants() -> None:
    cases = MODELS.values()
    assert {(c["cell"], c["convention"]) for c in cases} >= {
        ("lstm", "pytorch"), ("gru", "pytorch"), ("rnn", "pytorch"), ("gru", "keras"),
        ("lstm", "keras"), ("rnn", "keras"), ("lstm", "seed"), ("gru", "seed"),
    }  # fmt: skip
    assert any(c["proj_size"] for c in cases)
    assert any(not c["reset_after"] for c in cases)
    assert any(c["bidirectional"] and c["layers"] > 1 for c in cases)
    assert any(not c["bias"] for c in cases)
    assert min(c["tolerance"] for c in cases if c["convention"] == "pytorch") == 1e-12


@pytest.mark.parametrize("name", sorted(MODELS))
def test_pass_matches_the_framework(name: str) -> None:
    case, ref = MODELS[name], load(name)
    weights = {k: v for k, v in ref.items() if k not in RESULTS}
    report, result = run(spec_of(case), options_of(case), check=True, weights=weights, x=ref["x"])
    assert report.ok, [c for c in report.checks if not c.ok]
    assert result is not None
    np.testing.assert_allclose(result.h, ref["h"], rtol=0, atol=case["tolerance"])
    if case["O"]:
        assert result.y is not None
        np.testing.assert_allclose(result.y, ref["y"], rtol=0, atol=case["tolerance"])
    else:
        assert result.y is None


@pytest.mark.parametrize(
    "name", ["pytorch_lstm_proj_bi_all", "keras_gru_reset_before_bi", "seed_lstm"]
)
def test_cli_runs_a_framework_file_as_is(name: str, tmp_path: Path) -> None:
    case, ref = MODELS[name], load(name)
    weights, inputs, out = tmp_path / "w.npz", tmp_path / "x.npy", tmp_path / "out.npz"
    prefix = "sequential/" if case["convention"] == "keras" else ""  # as Keras paths come
    np.savez(weights, **cast(Npz, {prefix + k: v for k, v in ref.items() if k not in RESULTS}))
    np.save(inputs, ref["x"])
    args = ["forward", "--check", "--weights", str(weights), "--inputs", str(inputs)]
    args += ["--save", str(out), "--cell", case["cell"], "--convention", case["convention"]]
    args += ["--layers", str(case["layers"]), "--outputs", case["outputs"]]
    args += ["--output-activation", case["output"]]
    if case["bidirectional"]:
        args.append("--bidirectional")
    if not case["reset_after"]:
        args.append("--no-reset-after")
    result = CliRunner().invoke(cli, args, prog_name="rnncalc")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    with np.load(out, allow_pickle=False) as saved:
        np.testing.assert_allclose(saved["h"], ref["h"], rtol=0, atol=case["tolerance"])
        np.testing.assert_allclose(saved["y"], ref["y"], rtol=0, atol=case["tolerance"])


def test_pytorch_state_dict_without_a_head_infers_no_output_layer(tmp_path: Path) -> None:
    ref = load("pytorch_lstm_stack_no_head")
    weights = tmp_path / "lstm.npz"
    np.savez(weights, **cast(Npz, {k: v for k, v in ref.items() if k not in RESULTS}))
    args = ["forward", "--check", "-c", "lstm", "--convention", "pytorch", "-L", "3"]
    result = CliRunner().invoke(cli, [*args, "--weights", str(weights), "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model"]["input_size"] == 3
    assert data["model"]["layers"] == [
        {"kind": "lstm", "hidden_size": 5, "stack": 3}
    ]  # no output layer
    assert "y" not in data["shapes"]


def test_projection_size_is_read_off_the_file(tmp_path: Path) -> None:
    ref = load("pytorch_lstm_proj_bi_all")
    weights = tmp_path / "lstm.npz"
    np.savez(weights, **cast(Npz, {k: v for k, v in ref.items() if k not in RESULTS}))
    args = ["forward", "-c", "lstm", "--convention", "pytorch", "-L", "2", "--bidirectional"]
    result = CliRunner().invoke(cli, [*args, "--weights", str(weights), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"]["layers"][0]["proj_size"] == 2
    result = CliRunner().invoke(cli, [*args, "--weights", str(weights), "--proj-size", "1"])
    assert result.exit_code == 2
    assert "--proj-size 1 disagrees with the weights in" in result.stderr


model_options = st.fixed_dictionaries(
    {
        "cell": st.sampled_from(["rnn", "lstm", "gru"]),
        "layers": st.integers(1, 3),
        "bidirectional": st.booleans(),
        "convention": st.sampled_from(["seed", "pytorch", "keras"]),
        "bias": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None)
@given(
    model=model_options,
    sizes=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(2, 6), st.integers(0, 3)),
    batch=st.integers(1, 4),
    outputs=st.sampled_from(["last", "all"]),
    variant=st.booleans(),
    dtype=st.sampled_from(["float32", "float64"]),
)
def test_checks_pass_for_any_model(
    model: dict[str, Any],
    sizes: tuple[int, int, int, int],
    batch: int,
    outputs: Any,
    variant: bool,
    dtype: Any,
) -> None:
    if model["cell"] == "lstm" and model["convention"] == "pytorch" and variant:
        model = {**model, "proj_size": 1}
    if model["cell"] == "gru" and model["convention"] == "keras":
        model = {**model, "reset_after": variant}
    spec = ModelSpec(*sizes, **model)
    report, result = run(spec, RunOptions(batch, dtype, outputs=outputs), check=True)
    assert report.ok, [c for c in report.checks if not c.ok]
    assert result is not None
    d = spec.directions * spec.state_size
    assert result.h.shape == (batch, spec.timesteps, d)
