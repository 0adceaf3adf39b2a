"""`rnncalc forward` on whole networks: PyTorch- and Keras-made references, token inputs,
encoder-decoders, per-layer checks, and what a bad file or array gets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from networks import networks

from rnncalc.cli import cli
from rnncalc.engine.run import RunOptions, run
from rnncalc.model import shapes
from rnncalc.model.modelfile import from_dict, to_toml
from rnncalc.model.network import Network
from rnncalc.model.spec import SpecError

REFERENCE = Path(__file__).parent / "reference"
CASES: dict[str, dict[str, Any]] = json.loads(
    (REFERENCE / "network_forward_cases.json").read_text()
)["cases"]
RESULTS = ("x", "x_decoder", "h", "y")

#: Arrays for np.savez(file, **arrays), cast to this because mypy checks a ** argument
#: against savez's own allow_pickle: bool as well.
Npz = dict[str, Any]


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def reference(name: str) -> dict[str, np.ndarray]:
    return load(REFERENCE / f"network_forward_{name}.npz")


def forward(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["forward", *map(str, args)], prog_name="rnncalc")


def test_the_issue_s_three_networks_are_among_the_references() -> None:
    lm = from_dict(CASES["lm_tied"]["model"]).stages[0]
    assert lm.embedding is not None
    assert [layer.stack for layer in lm.recurrent] == [2]
    assert lm.dense[-1].tie
    stack = from_dict(CASES["keras_stack"]["model"]).stages[0]
    assert len({layer.hidden_size for layer in stack.recurrent}) == 2
    assert len(stack.dense) == 2
    assert from_dict(CASES["encoder_decoder"]["model"]).encoder_decoder
    assert CASES["lm_tied"]["tolerance"] == CASES["encoder_decoder"]["tolerance"] == 1e-12


@pytest.mark.parametrize("name", sorted(CASES))
def test_pass_matches_the_framework(name: str) -> None:
    case, ref = CASES[name], reference(name)
    weights = {k: v for k, v in ref.items() if k not in RESULTS}
    report, result = run(
        from_dict(case["model"]),
        RunOptions(case["batch"]),
        check=True,
        weights=weights,
        x=ref["x"],
        x_decoder=ref.get("x_decoder"),
    )
    assert report.ok, [c for c in report.checks if not c.ok]
    np.testing.assert_allclose(result.h, ref["h"], rtol=0, atol=case["tolerance"])
    assert result.y is not None
    np.testing.assert_allclose(result.y, ref["y"], rtol=0, atol=case["tolerance"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_runs_the_framework_files_as_they_are(name: str, tmp_path: Path) -> None:
    case, ref = CASES[name], reference(name)
    model, weights, out = tmp_path / "m.toml", tmp_path / "w.npz", tmp_path / "out.npz"
    model.write_text(to_toml(from_dict(case["model"])))
    np.savez(weights, **cast(Npz, {k: v for k, v in ref.items() if k not in RESULTS}))
    inputs = tmp_path / "x.npz"
    np.savez(inputs, **cast(Npz, {k: ref[k] for k in ("x", "x_decoder") if k in ref}))
    if "x_decoder" not in ref:
        inputs = inputs.with_suffix(".npy")
        np.save(inputs, ref["x"])
    result = forward("--check", "--model", model, "--weights", weights, "--inputs", inputs,
                     "--save", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    saved = load(out)
    np.testing.assert_allclose(saved["h"], ref["h"], rtol=0, atol=case["tolerance"])
    np.testing.assert_allclose(saved["y"], ref["y"], rtol=0, atol=case["tolerance"])
    assert set(saved) == set(ref)  # a tied weight is saved once, as it was read


def test_every_layer_gets_its_shape_row() -> None:
    ref = reference("stack_heads")
    weights = {k: v for k, v in ref.items() if k not in RESULTS}
    report, _ = run(from_dict(CASES["stack_heads"]["model"]), RunOptions(3), check=True,
                    weights=weights, x=ref["x"])  # fmt: skip
    rows = {c.name: (c.expected, c.actual) for c in report.checks}
    # B = 3, T = 6; a bidirectional LSTM of 8, a GRU of 4, dense 6 and 3 on the last step.
    assert rows["layers[0] lstm: outputs shape"] == ([3, 6, 16], [3, 6, 16])
    assert rows["layers[1] gru: outputs shape"] == ([3, 6, 4], [3, 6, 4])
    assert rows["layers[2] dense: outputs shape"] == ([3, 6], [3, 6])
    assert rows["layers[3] dense: outputs shape"] == ([3, 3], [3, 3])
    assert rows["h_t shape at each of 18 steps"] == ("(3, 8) then (3, 4)",) * 2
    assert report.shapes == {"x": [3, 6, 5], "h": [3, 6, 4], "y": [3, 3]}


def test_tied_weight_is_read_once_and_counted_once() -> None:
    network = from_dict(CASES["lm_tied"]["model"])
    report, result = run(network, RunOptions(2), check=True)
    used = next(c for c in report.checks if c.name == "parameters used = params total")
    # embedding 11·6, two LSTM layers 2·(4·6·(6+6) + 2·4·6), the tied layer's bias 11.
    assert used.expected == used.actual == 66 + 2 * (288 + 48) + 11
    assert "linear.weight" not in result.weights
    assert report.ok


def test_encoder_decoder_layers_are_named_by_stage() -> None:
    report, result = run(from_dict(CASES["encoder_decoder"]["model"]), RunOptions(2), check=True)
    names = [c.name for c in report.checks]
    assert "x: token ids shape" in names
    assert "x_decoder: token ids shape" in names
    assert "encoder.layers[1] lstm: outputs shape" in names
    assert "decoder.layers[2] dense: outputs shape" in names
    assert result.x_decoder is not None
    assert result.x_decoder.shape == (2, 4)
    assert report.shapes["y"] == [2, 4, 9]


def test_the_decoder_starts_from_the_encoder_s_final_states() -> None:
    network = from_dict(CASES["encoder_decoder"]["model"])
    targets = np.zeros((1, 4), np.int64)
    one = run(network, RunOptions(), x=np.array([[1, 2, 3, 4, 5, 6]]), x_decoder=targets)[1]
    two = run(network, RunOptions(), x=np.array([[6, 5, 4, 3, 2, 1]]), x_decoder=targets)[1]
    assert not np.allclose(one.h, two.h)  # same targets, same weights: only the source differs


def test_a_network_carries_its_own_activations() -> None:
    with pytest.raises(SpecError, match="outputs: a network carries its own"):
        run(from_dict(CASES["lm_tied"]["model"]), RunOptions(outputs="all"))


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (np.array([[1, 2, 11, 3, 4]]), "x[0, 2] is 11, outside the vocabulary: token ids run "
         "from 0 to 10"),
        (np.array([[1, 2], [3, -1]]), "x[1, 1] is -1, outside the vocabulary"),
        (np.ones((1, 5)), "x holds float64 values; an embedding reads integer token ids in "
         "[0, 11)"),
        (np.ones((1, 5, 6), np.int64), "x has shape (1, 5, 6); expected (B, T) token ids"),
        (np.array([[True, False]]), "holds bool values"),
    ],
)  # fmt: skip
def test_bad_token_ids_get_one_line_and_exit_2(
    tokens: np.ndarray, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "x.npy"
    np.save(path, tokens)
    result = forward("--vocab-size", "11", "-I", "6", "-c", "lstm", "--inputs", path)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Invalid value for '--inputs'" in result.stderr
    assert "Traceback" not in result.output
    if tokens.dtype != bool:  # the .npy reader refuses booleans before anything else
        with pytest.raises(SpecError, match=re.escape(message)):
            run(from_dict(CASES["lm_tied"]["model"]), RunOptions(), x=tokens)


SEQ2SEQ = """\
convention = "pytorch"
timesteps = 6
[[encoder.layers]]
kind = "embedding"
vocab_size = 13
dim = 5
[[encoder.layers]]
kind = "lstm"
hidden_size = 7
[[decoder.layers]]
kind = "embedding"
vocab_size = 9
dim = 4
[[decoder.layers]]
kind = "lstm"
hidden_size = 7
[[decoder.layers]]
kind = "dense"
units = 9
steps = "all"
"""


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.ones((2, 6), np.int64), "x_decoder": np.ones((3, 4), np.int64)},
         "x_decoder holds 3 sequences, x 2"),
        ({"x": np.ones((2, 6), np.int64), "x_decoder": np.full((2, 4), 9)},
         "x_decoder[0, 0] is 9, outside the vocabulary: token ids run from 0 to 8"),
        ({"x": np.ones((2, 6), np.int64), "x_decoder": np.ones((2, 4))},
         "x_decoder holds float64 values"),
        ({"x_decoder": np.ones((2, 4), np.int64)}, "an encoder-decoder's inputs are x and"),
        ({"x": np.ones((2, 6), np.int64), "y": np.ones(2)}, "it holds 'x', 'y'"),
    ],
)  # fmt: skip
def test_bad_encoder_decoder_inputs(
    arrays: dict[str, np.ndarray], message: str, tmp_path: Path
) -> None:
    model, inputs = tmp_path / "m.toml", tmp_path / "x.npz"
    model.write_text(SEQ2SEQ)
    np.savez(inputs, **cast(Npz, arrays))
    result = forward("--model", model, "--inputs", inputs)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_decoder_tokens_are_drawn_when_not_given(tmp_path: Path) -> None:
    model, inputs, out = tmp_path / "m.toml", tmp_path / "x.npy", tmp_path / "out.npz"
    model.write_text(SEQ2SEQ)
    np.save(inputs, np.arange(12).reshape(2, 6))
    result = forward("--check", "--model", model, "--inputs", inputs, "--save", out, "-T", "6")
    assert result.exit_code == 0, result.output
    saved = load(out)
    assert saved["x_decoder"].shape == (2, 6)  # the decoder's T is the source's by default
    assert saved["y"].shape == (2, 6, 9)


def test_inputs_fix_b_and_t_unless_an_option_disagrees(tmp_path: Path) -> None:
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.zeros((3, 7), np.int64))
    data = json.loads(forward("--vocab-size", "5", "--inputs", inputs, "-f", "json").stdout)
    assert data["shapes"]["x"] == [3, 7]
    assert data["model"]["timesteps"] == 7
    result = forward("--vocab-size", "5", "--inputs", inputs, "-T", "4")
    assert result.exit_code == 2
    assert "--timesteps 4 disagrees with x in" in result.stderr
    result = forward("--vocab-size", "5", "--inputs", inputs, "-B", "2")
    assert "--batch-size 2 disagrees with x in" in result.stderr


def test_a_network_s_float_inputs_must_be_as_wide_as_it_reads(tmp_path: Path) -> None:
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.zeros((2, 3, 5)))
    result = forward("-I", "4", "-H", "3/2", "--inputs", inputs)
    assert result.exit_code == 2
    assert "x has shape (2, 3, 5); expected (B, T, 4)" in result.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("drop", "embedding.weight is missing; expected shape (11, 6) = (V, E)"),
        ("widen", "lstm.weight_hh_l1 has shape (24, 7); expected (24, 6) = (4·H, H)"),
    ],
)
def test_bad_network_weights_name_the_tensor(change: str, message: str, tmp_path: Path) -> None:
    ref = reference("lm_tied")
    weights = {k: v for k, v in ref.items() if k not in RESULTS}
    if change == "drop":
        del weights["embedding.weight"]
    else:
        weights["lstm.weight_hh_l1"] = np.zeros((24, 7))
    model, path = tmp_path / "m.toml", tmp_path / "w.npz"
    model.write_text(to_toml(from_dict(CASES["lm_tied"]["model"])))
    np.savez(path, **cast(Npz, weights))
    result = forward("--model", model, "--weights", path)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_a_corrupted_dense_shape_fails_its_layer_s_row(monkeypatch: pytest.MonkeyPatch) -> None:
    original = shapes._Walk.rnn

    def wider(walk: Any) -> Any:  # the one shape source gives the output layer one more unit
        for w in original(walk):
            yield w.replace(shape=(3, 3)) if w.name == "linear_1.weight" else w

    monkeypatch.setattr(shapes._Walk, "rnn", wider)
    network = from_dict(CASES["rnn_repeated_bases"]["model"])
    report, _ = run(network, RunOptions(2), check=True)
    failed = {c.name: (c.expected, c.actual) for c in report.checks if not c.ok}
    assert failed == {"layers[3] dense: outputs shape": ([2, 2], [2, 3])}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(network=networks())
def test_checks_pass_for_any_network(network: Network) -> None:
    report, result = run(network, RunOptions(2), check=True)
    assert report.ok, [c for c in report.checks if not c.ok]
    top = next(layer for layer in reversed(network.output.layers) if hasattr(layer, "cell"))
    assert result.h.shape == (2, network.output.timesteps, top.width)  # type: ignore[union-attr]


def test_max_memory_covers_a_network_s_embedding_and_head() -> None:
    # The tied table 100,000 x 512 alone is 409.6 MB in float64.
    result = forward("--vocab-size", "100k", "-I", "512", "-H", "512", "--tie", "--max-memory",
                     "256MiB")  # fmt: skip
    assert result.exit_code == 2
    assert "Invalid value for '--max-memory': this run needs about" in result.stderr


LM_FLAGS = ("--vocab-size", "30", "-I", "6", "-H", "8/5", "-c", "gru", "-O", "6/30", "--tie",
            "--outputs", "all", "--convention", "keras", "-B", "3", "-T", "4")  # fmt: skip


def test_a_saved_network_runs_again_from_its_weights(tmp_path: Path) -> None:
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    assert forward(*LM_FLAGS, "--seed", "5", "--save", first).exit_code == 0
    saved = load(first)
    assert "dense_1/kernel" not in saved  # tied: only the embedding's table is stored
    assert saved["x"].dtype.kind == "i"
    result = forward(*LM_FLAGS, "--seed", "5", "--weights", first, "--save", second)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    np.testing.assert_array_equal(saved["y"], load(second)["y"])


def test_json_has_the_model_params_describes() -> None:
    params = CliRunner().invoke(cli, ["params", *LM_FLAGS[:-4], "-f", "json"])
    data = json.loads(forward(*LM_FLAGS, "-f", "json").stdout)
    assert data["model"] == {**json.loads(params.stdout)["model"], "timesteps": 4}
    assert data["shapes"] == {"x": [3, 4], "h": [3, 4, 5], "y": [3, 4, 30]}


def test_a_head_at_every_step_runs_as_one_in_the_dense_equivalent() -> None:
    """The seed with --outputs all: the dense equivalent's output layer reads one step's
    H = 3 units at each of T = 4 steps (3·1 + 1 = 4 parameters, not 4·3·1 + 1), as params
    counts it: 16·12 + 12 + 4 = 208.
    """
    forward = CliRunner().invoke(
        cli, ["forward", "--check", "--outputs", "all", "-T", "4", "-f", "json"]
    )
    rows = {c["name"]: c for c in json.loads(forward.output)["checks"]}
    assert rows["dense: outputs shape"]["actual"] == [1, 4, 1]
    params = CliRunner().invoke(cli, ["params", "--outputs", "all", "-T", "4", "-f", "json"])
    assert rows["dense: parameters used = params total"]["actual"] == 208
    assert json.loads(params.output)["dense"]["total"] == 208
