"""`rnncalc forward --weights FILE` on Keras's own files (.keras, .weights.h5, Keras 2 .h5):
the network recovered from the file, its h and y equal what Keras computed from the same
file (tests/reference/make_keras_forward.py, keras 3.15.1 on torch 2.13.0).

Every reference Keras file is float32, so every case holds to 2e-5.  The largest
differences measured (h, y): keras_lm (.keras, .weights.h5 and .h5) 9.3e-10, 9.3e-10;
keras_gru (.keras, .weights.h5) 4.5e-8, 6.0e-8; keras_rnn (.keras, .weights.h5, .h5)
2.4e-7, 6.0e-8; keras_encoder_decoder.keras 1.9e-9, 1.5e-8.

A .weights.h5 file holds no config and so no activations: run as written, keras_gru's y
lacks its sigmoid (0.53 off) and keras_rnn's SimpleRNN runs tanh, not relu (h 2.1 off); the
case gives the activations and the run sets them, as a user would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from test_forward_checkpoints import api_matches, forward, inputs_file, saved

from rnncalc.analysis.checkpoint_weights import open_checkpoint
from rnncalc.model.network import Dense, Network, Recurrent

REFERENCE = Path(__file__).parent / "reference"
CHECKPOINTS = REFERENCE / "checkpoints"
CASES: dict[str, dict[str, Any]] = json.loads((REFERENCE / "keras_forward.json").read_text())


def reference(case: str) -> dict[str, np.ndarray]:
    with np.load(REFERENCE / f"keras_forward_{case}.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def activation_flags(entry: dict[str, Any]) -> list[str]:
    """The activations a .weights.h5 file does not hold, as forward's options."""
    flags: list[str] = []
    for name, value in entry.get("activations", {}).items():
        flags += ["--" + name.replace("_", "-"), value]
    return flags


def with_activations(network: Network, entry: dict[str, Any]) -> Network:
    """The network with the case's activations: its vanilla RNNs' and its output layer's."""
    wanted = entry.get("activations", {})
    hidden, output = wanted.get("hidden_activation"), wanted.get("output_activation")
    stages = []
    for stage in network.stages:
        layers = list(stage.layers)
        dense = [k for k, layer in enumerate(layers) if isinstance(layer, Dense)]
        for k, layer in enumerate(layers):
            if hidden and isinstance(layer, Recurrent) and layer.cell == "rnn":
                layers[k] = layer.replace(activation=hidden)
            if output and dense and k == dense[-1]:
                layers[k] = layer.replace(activation=output)
        stages.append(stage.replace(layers=tuple(layers)))
    return network.replace(stages=tuple(stages))


def test_every_kind_of_keras_file_is_among_the_cases() -> None:
    files = {case["file"] for case in CASES.values()}
    assert {f.split(".", 1)[1] for f in files} == {"keras", "weights.h5", "h5"}
    assert {case["dtype"] for case in CASES.values()} == {"float32"}  # Keras's default
    assert {case["tolerance"] for case in CASES.values()} == {2e-5}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_matches_keras(case: str, tmp_path: Path) -> None:
    entry, ref = CASES[case], reference(case)
    out = tmp_path / "out.npz"
    result = forward("--weights", CHECKPOINTS / entry["file"], "--inputs",
                     inputs_file(tmp_path, ref), "--save", out,
                     *activation_flags(entry))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert all(line.startswith("rnncalc: ") for line in result.stderr.splitlines())
    run_ = saved(out)
    assert run_["h"].dtype == np.dtype(entry["dtype"])  # the file's precision
    np.testing.assert_allclose(run_["h"], ref["h"], rtol=0, atol=entry["tolerance"])
    np.testing.assert_allclose(run_["y"], ref["y"], rtol=0, atol=entry["tolerance"])
    np.testing.assert_array_equal(run_["x"], ref["x"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_python_api_matches_keras_and_proves_the_shapes(case: str) -> None:
    entry, ref = CASES[case], reference(case)
    loaded = open_checkpoint(str(CHECKPOINTS / entry["file"]), timesteps=ref["x"].shape[1])
    api_matches(loaded, with_activations(loaded.network, entry), ref, entry["tolerance"])


@pytest.mark.parametrize("case", ["gru_weights", "rnn_weights"])
def test_a_weights_file_s_activations_must_be_given(case: str, tmp_path: Path) -> None:
    """Without the config, the defaults (tanh, identity) run, and the run says so: Keras's
    values are then not met.
    """
    entry, ref = CASES[case], reference(case)
    out = tmp_path / "out.npz"
    path = CHECKPOINTS / entry["file"]
    result = forward("--weights", path, "--inputs", inputs_file(tmp_path, ref), "--save", out)
    assert result.exit_code == 0, result.output
    assert np.abs(saved(out)["y"] - ref["y"]).max() > 0.1
    if "hidden_activation" in entry["activations"]:
        assert "does not hold the vanilla RNN's nonlinearity: tanh" in result.stderr


@pytest.mark.parametrize("case", ["rnn", "rnn_h5", "gru", "encoder_decoder"])
def test_a_keras_config_s_choices_are_not_called_missing(case: str, tmp_path: Path) -> None:
    """A .keras or Keras 2 .h5 config places the dense layers and names the activations
    (keras_rnn's relu runs): forward does not say the file leaves them out, as it does for a
    .weights.h5.
    """
    entry, ref = CASES[case], reference(case)
    result = forward("--weights", CHECKPOINTS / entry["file"], "--inputs",
                     inputs_file(tmp_path, ref))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "does not say where its dense layers run" not in result.stderr
    assert "does not hold the vanilla RNN's nonlinearity" not in result.stderr
    weights = CHECKPOINTS / "keras_rnn.weights.h5"
    result = forward("--weights", weights, "--inputs", inputs_file(tmp_path, reference("rnn")))
    assert f"{weights} does not say where its dense layers run" in result.stderr


def test_layers_the_run_leaves_out_are_said() -> None:
    """keras_lambda.keras: a Lambda and a custom layer before its LSTM, which rnncalc does
    not run: the run says so, and that its values are not Keras's.
    """

    from rnncalc.cli import cli

    path = str(Path(__file__).parent / "reference" / "checkpoints" / "keras_lambda.keras")
    result = CliRunner().invoke(cli, ["forward", "--weights", path])
    assert result.exit_code == 0
    assert (
        "lambda (Lambda) has no weights and is left out of the network; the run leaves"
        in result.stderr
    )
    assert "scale (Scale) is no layer rnncalc models" in result.stderr
