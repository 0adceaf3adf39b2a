"""``params`` on whole networks: the flags and --model against the framework counts, the
model file written by --format toml read back to the same report, and every misuse refused
with one line naming its option or its file and key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from networks import networks

from rnncalc.cli import cli
from rnncalc.model.modelfile import to_toml
from rnncalc.model.network import Dense, Embedding, Network, Recurrent, Stage

REFERENCE = Path(__file__).parent / "reference"
COUNTS = json.loads((REFERENCE / "network_counts.json").read_text())["networks"]


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), prog_name="rnncalc")


def flags(model: dict[str, Any]) -> list[str] | None:
    """The command line for a reference model, or None where flags cannot describe it
    (mixed cells, named layers, dense layers without bias, encoder-decoders, ...).
    """
    if "layers" not in model or any("name" in layer for layer in model["layers"]):
        return None
    args = ["--convention", model["convention"], "-T", str(model["timesteps"])]
    layers = list(model["layers"])
    if layers[0]["kind"] == "embedding":
        embedding = layers.pop(0)
        args += ["--vocab-size", str(embedding["vocab_size"]), "-I", str(embedding["dim"])]
    else:
        args += ["-I", str(model["input_size"])]
    recurrent = [layer for layer in layers if layer["kind"] != "dense"]
    dense = layers[len(recurrent) :]
    options = {k: v for k, v in recurrent[0].items() if k not in ("hidden_size", "stack")}
    if any(layer["kind"] == "dense" for layer in recurrent) or any(
        {k: v for k, v in layer.items() if k not in ("hidden_size", "stack")} != options
        for layer in recurrent
    ):
        return None
    if len(recurrent) > 1 and any(layer.get("stack", 1) > 1 for layer in recurrent):
        return None
    args += ["-c", options.pop("kind"), "-H", "/".join(str(r["hidden_size"]) for r in recurrent)]
    args += ["-L", str(recurrent[0].get("stack", 1))] if len(recurrent) == 1 else []
    args += ["--bidirectional"] if options.pop("bidirectional", False) else []
    args += [] if options.pop("bias", True) else ["--no-bias"]
    args += ["--proj-size", str(options.pop("proj_size"))] if "proj_size" in options else []
    args += ["--no-reset-after"] if options.pop("reset_after", True) is False else []
    if options or any(not d.get("bias", True) for d in dense):
        return None
    steps = {d.get("steps", "last") for d in dense}
    if len(steps) > 1 or any(d.get("tie") for d in dense[:-1]):
        return None
    args += ["--outputs", steps.pop()] if dense else []
    args += ["--tie"] if dense and dense[-1].get("tie") else []
    args += ["-O", "/".join(str(d["units"]) for d in dense) if dense else "0"]
    return args


EXPRESSIBLE = [(row, args) for row in COUNTS if (args := flags(row["model"])) is not None]


def test_flags_describe_most_reference_networks() -> None:
    assert len(EXPRESSIBLE) >= 120
    described = {row["id"].split("-")[1] for row, _ in EXPRESSIBLE}
    assert {"emb", "multi", "head", "tied"} <= described


@pytest.mark.parametrize(("row", "args"), EXPRESSIBLE, ids=[row["id"] for row, _ in EXPRESSIBLE])
def test_flags_give_the_frameworks_total(row: dict[str, Any], args: list[str]) -> None:
    result = run("params", "-q", *args)
    assert result.exit_code == 0, result.output
    assert int(result.output) == row["total"]


@pytest.mark.parametrize("row", COUNTS[::3], ids=[row["id"] for row in COUNTS[::3]])
def test_model_files_give_the_frameworks_total(tmp_path: Path, row: dict[str, Any]) -> None:
    path = tmp_path / "model.toml"
    path.write_text(to_toml_dict(row["model"]))
    result = run("params", "--model", str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["rnn"]["total"] == row["total"]
    assert data["model"] == row["model"]
    assert sum(layer["params"] for layer in data["rnn"]["layers"]) == row["total"]


def to_toml_dict(model: dict[str, Any]) -> str:
    from rnncalc.model.modelfile import from_dict

    return to_toml(from_dict(model))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(networks())
def test_written_model_files_read_back_to_the_same_report(tmp_path: Path, network: Network) -> None:
    path = tmp_path / "model.toml"
    path.write_text(to_toml(network))
    first = run("params", "--model", str(path), "--format", "json", "--explain")
    assert first.exit_code == 0, first.output
    written = run("params", "--model", str(path), "--format", "toml")
    assert written.output == path.read_text()
    copy = tmp_path / "copy.toml"
    copy.write_text(written.output)
    again = run("params", "--model", str(copy), "--format", "json", "--explain")
    assert again.output == first.output


@pytest.mark.parametrize(
    "args",
    [
        ["-H", "64/32", "-O", "64/10", "-c", "lstm", "--bidirectional", "--convention", "keras"],
        ["--vocab-size", "100", "-I", "8", "-H", "8", "-L", "2", "--tie", "--outputs", "all"],
        ["-T", "5", "-I", "3", "-H", "4", "-O", "2", "--no-bias", "-c", "gru"],
    ],
)
def test_flags_written_as_a_model_file_give_the_same_report(
    tmp_path: Path, args: list[str]
) -> None:
    written = run("params", *args, "--format", "toml")
    assert written.exit_code == 0, written.output
    path = tmp_path / "model.toml"
    path.write_text(written.output)
    direct = run("params", *args, "--format", "json")
    assert run("params", "--model", str(path), "--format", "json").output == direct.output


def test_layers_of_different_sizes_worked_by_hand() -> None:
    """A keras-io guide's stack: embedding 20000x128 -> BiLSTM(64) -> BiLSTM(32) -> Dense(10)."""
    args = ["-T", "100", "--vocab-size", "20000", "-I", "128", "-H", "64/32", "-O", "10"]
    result = run(
        "params", *args, "-c", "lstm", "--bidirectional", "--convention", "keras", "-f", "json"
    )
    data = json.loads(result.output)
    # 20000·128; 2·4·64·(128 + 64 + 1); 2·4·32·(128 + 32 + 1); 64·10 + 10
    expected = [2_560_000, 2 * 49_408, 2 * 20_608, 650]
    assert [layer["params"] for layer in data["rnn"]["layers"]] == expected
    assert data["rnn"]["total"] == sum(expected) == 2_700_682
    kinds = [(layer["index"], layer["kind"]) for layer in data["rnn"]["layers"]]
    assert kinds == [(0, "embedding"), (1, "lstm"), (2, "lstm"), (3, "dense")]


def test_a_tied_language_model_counts_the_shared_weight_once() -> None:
    """Zaremba et al.'s medium LSTM (2 x 650, 10,000 words) with the decoder tied to the
    embedding, as PyTorch's word_language_model builds it with --tied.
    """
    args = ["--vocab-size", "10000", "-I", "650", "-H", "650", "-L", "2", "-c", "lstm"]
    args += ["--tie", "--outputs", "all", "--convention", "pytorch", "-T", "35"]
    data = json.loads(run("params", *args, "-f", "json").output)
    tied = [w for w in data["rnn"]["weights"] if w.get("tied")]
    assert [(w["name"], w["tied"], w["count"]) for w in tied] == [
        ("linear.weight", "embedding.weight", 0)
    ]
    # 10000·650 + 2·(4·650·(650 + 650) + 2·4·650) + 10000: 19,780,400 untied less 6,500,000
    assert data["rnn"]["total"] == 13_280_400
    table = run("params", *args).output
    assert "tied: = embedding.weight" in table
    untied = [a for a in args if a != "--tie"] + ["-O", "10000"]
    assert int(run("params", "-q", *untied).output) == 19_780_400


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tie"], "--tie shares the embedding's weight: it needs --vocab-size."),
        (
            ["--vocab-size", "9", "--tie", "-O", "0"],
            "--tie ties the output layer: it needs -O other than 0.",
        ),
        (
            ["-H", "4/3", "-L", "2"],
            "-L stacks layers of one size; with sizes per layer (-H 64/32) leave it out",
        ),
        (["-H", "4//3"], "Invalid value for '-H' / '--hidden-size'"),
        (["-O", "0/3"], "Invalid value for '-O' / '--output-size'"),
        (["--proj-size", "0"], "--proj-size applies to --cell lstm --convention pytorch only."),
        (
            ["--reset-after", "-c", "gru"],
            "--reset-after applies to --cell gru --convention keras only.",
        ),
        (["--vocab-size", "10", "--tie", "-I", "4", "-H", "3", "-O", "10"], "tie"),
        (["--hidden-activation", "relu", "-c", "lstm"], "--hidden-activation"),
    ],
)
def test_misused_flags_get_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run("params", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_model_with_layer_flags_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('timesteps = 4\ninput_size = 2\n[[layers]]\nkind = "gru"\nhidden_size = 3\n')
    result = run("params", "--model", str(path), "-H", "5")
    assert result.exit_code == 2
    assert "describes layers, which come from the model file" in result.output
    assert int(run("params", "--model", str(path), "-q").output) == 3 * 3 * (2 + 3 + 1)
    # -T, -I and --convention override the file's top-level values
    assert int(run("params", "--model", str(path), "-q", "-I", "5").output) == 3 * 3 * (5 + 3 + 1)
    pytorch = run("params", "--model", str(path), "-q", "--convention", "pytorch")
    assert int(pytorch.output) == 3 * 3 * (2 + 3 + 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('timesteps = 4\n[[layers]]\nkind = "lstm"\nhidden_size = 3\n', "input_size"),
        ('timesteps = 4\ninput_size = 2\n[[layers]]\nkind = "conv"\n', "layers[0].kind"),
        (
            'timesteps = "4"\ninput_size = 2\n[[layers]]\nkind = "rnn"\nhidden_size = 3\n',
            "timesteps",
        ),
        ("timesteps = [\n", "TOML"),
    ],
)
def test_malformed_model_files_name_the_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = run("params", "--model", str(path))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1
    assert str(path) in lines[0]
    assert message in lines[0]


def test_missing_model_file(tmp_path: Path) -> None:
    result = run("params", "--model", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert "nope.toml" in result.output
    assert "Traceback" not in result.output


@settings(max_examples=150, deadline=None)
@given(networks())
def test_flags_for_a_network_build_that_network(network: Network) -> None:
    """network_flags is build_network run backwards: its command line writes the same model
    file (or it says None, and only a model file describes the network).
    """
    from rnncalc.cli.flags import network_flags

    flags = network_flags(network)
    if flags is None:
        return
    written = run("params", *flags, "--format", "toml")
    assert written.exit_code == 0, (flags, written.output)
    assert written.output == to_toml(network)


def test_flags_describe_the_common_networks() -> None:
    from rnncalc.cli.flags import command_line

    lm = Network(
        (Stage(35, None, (Embedding(10_000, 650), Recurrent("lstm", 650, stack=2),
                          Dense(10_000, steps="all", tie=True))),),
        "pytorch",
    )  # fmt: skip
    assert command_line("params", lm) == (
        "rnncalc params -T 35 --vocab-size 10000 -I 650 -H 650 -c lstm -L 2 -O 10000 "
        "--outputs all --tie --convention pytorch"
    )
    named = lm.replace(stages=(lm.stages[0].replace(layers=(Embedding(10, 6, "tokens"),
                                                            Recurrent("gru", 6))),))  # fmt: skip
    assert command_line("params", named) is None
