"""`rnncalc diagram`: golden drawings of the seed's model and of whole networks."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st
from networks import networks

from rnncalc import ModelSpec
from rnncalc.cli import cli
from rnncalc.model.network import Dense, Network, Recurrent, Stage
from rnncalc.render.diagram import diagram, steps

CASES = {
    "diagram_seed.txt": (ModelSpec(), "last"),
    "diagram_outputs_all.txt": (ModelSpec(timesteps=5), "all"),
    "diagram_lstm_2_layers_bi_long.txt": (
        ModelSpec(timesteps=20, cell="lstm", layers=2, bidirectional=True, output_size=2),
        "last",
    ),
    "diagram_pytorch_projection.txt": (
        ModelSpec(timesteps=9, cell="lstm", convention="pytorch", proj_size=2, layers=2),
        "all",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str, golden: Callable[[str, str], None]) -> None:
    spec, outputs = CASES[name]
    golden(name, diagram(spec, outputs))


def test_folding() -> None:
    assert steps(8) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert steps(9) == [1, 2, None, 8, 9]


def test_labels() -> None:
    text = diagram(ModelSpec(layers=2, bidirectional=True))
    assert text.count("x_1 (4)") == 1
    assert "(6)" in text  # layer 1 reads D·H = 6 features
    assert text.count("◀─(3)─") == 4  # two backward rows, two links each
    assert "y reads h_T of the forward direction and h_1 of the backward one" in text


def test_cli() -> None:
    result = CliRunner().invoke(cli, ["diagram", "-T", "2", "-O", "0"])
    assert result.exit_code == 0
    assert "y (" not in result.stdout
    assert "[t=2]" in result.stdout


# Whole networks ------------------------------------------------------------------------

#: The encoder-decoder of Sutskever, Vinyals and Le (2014): 4-layer LSTMs of 1,000 cells,
#: 1,000-dimensional embeddings, 160,000 source and 80,000 target words (T and Td made short).
SEQ2SEQ = """\
timesteps = 5
[[encoder.layers]]
kind = "embedding"
vocab_size = 160000
dim = 1000
[[encoder.layers]]
kind = "lstm"
hidden_size = 1000
stack = 4
[decoder]
timesteps = 4
[[decoder.layers]]
kind = "embedding"
vocab_size = 80000
dim = 1000
[[decoder.layers]]
kind = "lstm"
hidden_size = 1000
stack = 4
[[decoder.layers]]
kind = "dense"
units = 80000
activation = "softmax"
steps = "all"
"""

CLI_CASES = {
    # Zaremba et al.'s medium language model, its output layer tied to the embedding.
    "diagram_language_model_tied.txt": [
        "--vocab-size", "10000", "-I", "650", "-H", "650", "-L", "2", "-c", "lstm", "--tie",
        "--outputs", "all", "-T", "35",
    ],
    # Keras: LSTM(64, return_sequences=True), LSTM(32), Dense(64, relu), Dense(10, softmax).
    "diagram_keras_stack.txt": [
        "-c", "lstm", "-T", "100", "-I", "10", "-H", "64/32", "-O", "64/10",
        "--output-activation", "softmax",
    ],
    "diagram_encoder_decoder.txt": ["--model", "{seq2seq}"],
}  # fmt: skip


def draw(*args: str, columns: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["diagram", *args], env={"COLUMNS": columns})


@pytest.fixture(scope="module")
def seq2seq(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("diagram") / "seq2seq.toml"
    path.write_text(SEQ2SEQ)
    return str(path)


@pytest.mark.parametrize("name", sorted(CLI_CASES))
def test_golden_networks(name: str, seq2seq: str, golden: Callable[[str, str], None]) -> None:
    result = draw(*(arg.format(seq2seq=seq2seq) for arg in CLI_CASES[name]))
    assert result.exit_code == 0, result.output
    golden(name, result.stdout)


def test_a_tied_language_model() -> None:
    text = draw(*CLI_CASES["diagram_language_model_tied.txt"]).stdout
    assert text.count("[lookup]") == 4  # one lookup per drawn step: 1, 2, ···, 34, 35
    assert "y_35 (10000)" in text
    assert "e_35 (650)" in text
    assert "x_35 (10000)" in text
    assert "its weight is the embedding's 10,000 x 650 table, tied (stored once)" in text


def test_dense_layers_on_the_last_step() -> None:
    lines = draw(*CLI_CASES["diagram_keras_stack.txt"]).stdout.splitlines()
    dense = next(line for line in lines if line.startswith("dense 1"))
    assert dense.split() == ["dense", "1", "[relu]"]  # one box: the last step only
    assert "(64)   U from dense 1" in lines[lines.index(dense) - 1]
    assert "(32)   H2 from layer 1" in lines[lines.index(dense) + 2]
    assert "─(64)─▶" in lines[-3]
    assert "─(32)─▶" in lines[-6]
    assert "y: softmax over its 10 units" in lines


def test_an_encoder_hands_its_final_states_to_the_decoder(seq2seq: str) -> None:
    lines = draw("--model", seq2seq).stdout.splitlines()
    decoder = lines.index("decoder, over Td = 4 steps:")
    encoder = next(k for k, line in enumerate(lines) if line.startswith("encoder, over T = 5"))
    assert decoder < encoder  # drawn bottom up: the encoder first
    handing = [line for line in lines[encoder:] if line.endswith("[t=5] ═▶ h, c (1000)")]
    taking = [line for line in lines[decoder:encoder] if "h, c ═▶ [t=1]" in line]
    assert len(handing) == len(taking) == 4  # one per stacked layer
    assert "xd_4 (80000)" in lines[encoder - 2]
    assert "x_5 (160000)" in lines[-2]


def test_a_gru_encoder_hands_on_h_alone_both_ways() -> None:
    gru = Recurrent("gru", 5, bidirectional=True)
    network = Network(
        (Stage(3, 2, (gru,)), Stage(2, 4, (gru, Dense(6, steps="all")))), convention="keras"
    )
    text = diagram(network)
    assert "[t=3] ═▶ h (5)" in text
    assert "h ◀═ [t=1]" in text
    assert "h ═▶ [t=1]" in text
    assert "[t=2] ◀═ h" in text


def test_stacks_fold_within_a_network() -> None:
    layers = (Recurrent("gru", 4), Recurrent("lstm", 8, stack=6), Dense(2))
    text = diagram(Network((Stage(3, 2, layers),)))
    assert "  ⋮   layers 3 to 5: the same as layer 2" in text
    assert [line.split("→")[0] for line in text.splitlines() if "→" in line] == [
        f"lstm layer {k} " for k in (6, 2, 1)
    ] + ["gru layer 0 "]
    assert "(8)   H2 from layer 5" in text
    assert "(4)   H1 from layer 0" in text


@settings(max_examples=100, deadline=None)
@given(networks(), st.sampled_from([None, 80]))
def test_every_network_is_drawn_whole_within_the_width(network: Network, width: int | None) -> None:
    text = diagram(network, width=width)
    lines = text.splitlines()
    assert re.search(r"unrolled over T = \d+ steps?", text)
    if width is not None:
        assert max(map(len, lines)) <= width
    stages = network.stages
    embeddings = sum(stage.embedding is not None for stage in stages)
    assert sum(line.startswith("embedding ") for line in lines) == embeddings
    hidden_dense = sum(len(stage.dense[:-1]) for stage in stages)
    assert sum(bool(re.match(r"dense \d+ +\[", line)) for line in lines) == hidden_dense
    output = network.output.dense
    assert bool(re.search(r"^ +y(_\d+)? \(\d+\)", text, re.M)) == bool(output)
    rows = [line for line in lines if re.match(r"(\w+ )?layer \d+ [→←]", line)]
    assert len(rows) == sum(layer.stack * layer.directions for s in stages for layer in s.recurrent)
    for stage in stages:
        for layer in stage.recurrent:  # each layer's own state on its links
            if width is None and stage.timesteps > 1:
                assert any(re.search(rf"\({layer.state_size}\)─*▶", row) for row in rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "missing.toml"], "--model"),
        (["--model", "{seq2seq}", "-H", "5"], "describes layers, which come from the model file"),
        (["--model", "{seq2seq}", "--convention", "keras"], "--convention has no effect here"),
        (["--tie"], "--tie shares the embedding's weight: it needs --vocab-size"),
        (["--vocab-size", "100", "--tie", "-O", "5"], "units = vocab_size 100"),
        (["-H", "4/2", "-L", "2"], "-L stacks layers of one size"),
        (["-c", "lstm", "--hidden-activation", "relu"], "--hidden-activation"),
        (["-O", "0", "--outputs", "all"], "--outputs has no effect here"),
        (["-H", "4//2"], "--hidden-size"),
    ],
)
def test_misuse_exits_2(args: list[str], message: str, seq2seq: str) -> None:
    result = draw(*(arg.format(seq2seq=seq2seq) for arg in args))
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_the_help_examples_draw(seq2seq: str) -> None:
    help_text = CliRunner().invoke(cli, ["diagram", "--help"]).stdout
    examples = re.findall(r"^ +rnncalc diagram(.*?)(?: +#.*)?$", help_text, re.M)
    assert len(examples) == 6
    for example in examples:
        args = example.replace("seq2seq.toml", seq2seq).split()
        assert draw(*args).exit_code == 0, example
