"""``cost`` on whole networks: worked by hand, folded from the listed tensors, and misuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from networks import networks

from rnncalc.analysis.cost import estimate_cost
from rnncalc.analysis.cost_compute import applications
from rnncalc.cli import cli
from rnncalc.model import shapes
from rnncalc.model.modelfile import to_toml
from rnncalc.model.network import Dense, Embedding, Network, Recurrent, Stage
from rnncalc.model.shapes import BIAS_ROLES
from rnncalc.model.spec import SpecError


def tied_language_model() -> Network:
    """V = 10 tokens of E = 4, an LSTM of H = 4, the output layer tied, T = 5."""
    layers = (Embedding(10, 4), Recurrent("lstm", 4), Dense(10, steps="all", tie=True))
    return Network((Stage(5, None, layers),), "pytorch")


def test_a_tied_language_model_worked_by_hand() -> None:
    report = estimate_cost(tied_language_model(), batch_size=2)
    compute = report.rnn.compute
    # B·T = 10 steps of: W_ih 4H·E = 64, W_hh 4H·H = 64, the tied 10 x 4 decoder = 40 (a
    # shared weight still multiplies); the embedding is a lookup, no MACs.
    assert [(line.name, line.per_step, line.per_sequence) for line in compute.matmul] == [
        ("input projection", 128, 640),
        ("recurrent projection", 128, 640),
        ("output layer", 80, 400),
    ]
    # both PyTorch biases 2·16 per step, the decoder's bias 10 per step
    assert [line.per_sequence for line in compute.biases] == [320, 100]
    assert compute.elementwise.per_sequence == 2 * 5 * 4 * 13
    assert compute.flops == 2 * 1680 + 420 + 520
    memory = report.rnn.memory
    # parameters stored once: 10·4 + 4·4·(4 + 4) + 2·16 + 10 = 210
    assert memory.parameter_count == 210
    assert memory.activation_elements == {
        "inputs": 2 * 5 * 4,  # the embedding's rows, B·T·E
        "hidden states": 40,
        "gate buffers": 160,
        "cell states": 40,
        "outputs": 2 * 5 * 10,
    }
    # the recurrent layer alone, as torchinfo counts it: its 160 parameters times B·T
    assert {t.tool: t.count for t in report.tools}["torchinfo"] == 160 * 10


def test_an_encoder_decoder_names_its_stages_and_runs_each_over_its_own_steps() -> None:
    encoder = Stage(3, None, (Embedding(7, 2), Recurrent("gru", 3)))
    decoder = Stage(4, None, (Embedding(5, 2), Recurrent("gru", 3), Dense(5, steps="all")))
    compute = estimate_cost(Network((encoder, decoder), "keras")).rnn.compute
    lines = {line.name: line.per_sequence for line in compute.matmul}
    assert lines == {
        "encoder input projection": 3 * 2 * 9,
        "encoder recurrent projection": 3 * 3 * 9,
        "decoder input projection": 4 * 2 * 9,
        "decoder recurrent projection": 4 * 3 * 9,
        "decoder output layer": 4 * 3 * 5,
    }
    # Keras's reset_after GRU: a (2, 3H) bias, added at every step of each stage
    assert {line.name: line.per_sequence for line in compute.biases} == {
        "encoder layer biases": 3 * 18,
        "decoder layer biases": 4 * 18,
        "decoder output bias": 4 * 5,
    }
    assert compute.elementwise.per_sequence == (3 + 4) * 3 * 11


@settings(max_examples=80, deadline=None)
@given(networks(), st.integers(1, 4))
def test_cost_folds_the_listed_tensors(network: Network, batch: int) -> None:
    """Every line adds up to the tensors params lists, each applied as often as it runs;
    the stored parameters are the params total.
    """
    report = estimate_cost(network, batch)
    for model, weights in (
        (report.rnn, shapes.rnn_weights(network)),
        (report.dense, shapes.dense_weights(network)),
    ):
        compute = model.compute
        macs = sum(
            batch * w.elements * applications(network, w)
            for w in weights
            if w.role not in BIAS_ROLES
        )
        adds = sum(
            batch * w.elements * applications(network, w) for w in weights if w.role in BIAS_ROLES
        )
        assert compute.matmul_macs == macs
        assert compute.bias_additions == adds
        assert compute.flops == 2 * macs + adds + compute.elementwise.per_sequence
        assert model.memory.parameter_count == sum(w.count for w in weights)
        for line in compute.matmul:
            if line.per_step is not None:
                assert line.per_sequence % line.per_step == 0


def test_seed_specs_keep_their_outputs_option_and_networks_refuse_it() -> None:
    with pytest.raises(SpecError, match="outputs"):
        estimate_cost(tied_language_model(), outputs="all")


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, ["cost", *args], prog_name="rnncalc")
    assert result.exit_code == 0, result.output
    return result.output


def test_flags_and_model_files_give_the_same_cost(tmp_path: Path) -> None:
    path = tmp_path / "lm.toml"
    path.write_text(to_toml(tied_language_model()))
    flags = ["--vocab-size", "10", "-I", "4", "-H", "4", "-c", "lstm", "-T", "5", "--tie"]
    flags += ["--outputs", "all", "--convention", "pytorch", "-B", "2", "-f", "json"]
    data = json.loads(run(*flags))
    assert data == json.loads(run("--model", str(path), "-B", "2", "-f", "json"))
    assert data["rnn"]["compute"]["flops"] == 4300
    assert int(run(*flags[:-2], "-q")) == 4300
