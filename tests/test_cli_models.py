"""Model options on the command line: cells, stacking, directions, conventions, variants."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from rnncalc import ModelSpec, count_params, explain
from rnncalc.cli import cli
from rnncalc.render.params import params_table


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="rnncalc")


@pytest.mark.parametrize(
    ("args", "total"),
    [
        (["-c", "lstm", "--convention", "pytorch"], 108),
        (["--cell", "gru", "--convention", "pytorch"], 81),
        (["--bidirectional", "--convention", "pytorch"], 54),
        (["-c", "lstm", "--convention", "pytorch", "-L", "2", "--bidirectional"], 480),
        (["-c", "lstm", "--convention", "pytorch", "--proj-size", "2"], 102),
        (["-c", "lstm", "--convention", "keras"], 96),
        (["-c", "gru", "--convention", "keras"], 81),
        (["-c", "gru", "--convention", "keras", "--no-reset-after"], 72),
        (["--bidirectional", "--convention", "keras"], 48),
        (["-c", "lstm", "--no-bias", "--convention", "pytorch"], 84),  # 108 - 2·12
        (["-c", "lstm", "--notation", "concat"], 96),
        (["-c", "lstm", "--convention", "pytorch", "-I", "300", "-H", "512", "-L", "2"], 3_768_320),
    ],
)
def test_quiet_totals_of_the_bare_stack(args: list[str], total: int) -> None:
    result = run("params", "-q", "-O", "0", *args)
    assert result.exit_code == 0, result.output
    assert result.output == f"{total}\n"


def test_json_weights_carry_layer_and_direction() -> None:
    result = run("params", "-f", "json", "-c", "gru", "--convention", "pytorch", "-L", "2",
                 "--bidirectional")  # fmt: skip
    data = json.loads(result.stdout)
    places = [(w["name"], w["layer"], w["direction"]) for w in data["rnn"]["weights"]]
    assert places[0] == ("weight_ih_l0", 0, "forward")
    assert ("weight_hh_l1_reverse", 1, "backward") in places
    assert places[-2:] == [("weight", None, None), ("bias", None, None)]
    assert list(data["rnn"]["subtotals"]) == [
        "layer 0 forward",
        "layer 0 backward",
        "layer 1 forward",
        "layer 1 backward",
        "output",
    ]
    # weight_ih_l1 (9, 6) reads both directions of layer 0; weight_hh_l1 (9, 3); 2 biases of 9.
    assert data["rnn"]["subtotals"]["layer 1 forward"] == 9 * 6 + 9 * 3 + 2 * 9
    assert list(data["dense"]["subtotals"]) == ["hidden layer 1", "hidden layer 2", "output"]


def test_explain_json_names_the_conventions_differences() -> None:
    result = run("params", "-f", "json", "--explain", "-c", "gru", "--convention", "keras")
    explanation = json.loads(result.stdout)["explanation"]
    assert explanation["groups"][0] == {
        "group": "recurrent",
        "symbolic": "3·H·(I + H) + 2·3·H",
        "numeric": "3·3·(4 + 3) + 2·3·3",
        "total": 81,
    }
    assert any("reset_after=True" in note for note in explanation["notes"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "gru", "--proj-size", "2"], "--proj-size applies to --cell lstm --convention pyt"),
        (["-c", "lstm", "--convention", "keras", "--proj-size", "0"], "--proj-size applies to"),
        (["-c", "lstm", "--convention", "pytorch", "--proj-size", "3"], "smaller than the hidden"),
        (["-c", "lstm", "--no-reset-after"], "--reset-after applies to --cell gru --convention"),
        (["-c", "gru", "--convention", "pytorch", "--reset-after"], "--reset-after applies to"),
        (["--notation", "concat", "--convention", "keras"], "concat is the seed page's notation"),
        (["-L", "0"], "'-L' / '--layers': must be at least 1, got '0'"),
        (["-c", "transformer"], "'transformer' is not one of 'rnn', 'lstm', 'gru'"),
        (["--convention", "jax"], "'jax' is not one of 'seed', 'pytorch', 'keras'"),
    ],
)  # fmt: skip
def test_options_that_do_not_apply_are_usage_errors(args: list[str], message: str) -> None:
    for command in ("params", "forward"):
        result = run(command, *args)
        assert result.exit_code == 2, (command, result.output)
        assert message in result.stderr
        assert "Traceback" not in result.output


def test_hidden_activation_is_for_the_vanilla_rnn_only() -> None:
    result = run("forward", "-c", "lstm", "--hidden-activation", "relu")
    assert result.exit_code == 2
    assert "'--hidden-activation': applies to the vanilla RNN only" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["-c", "lstm", "-L", "2", "--bidirectional", "--convention", "pytorch", "--proj-size", "2"],
        ["-c", "gru", "--convention", "keras", "--no-reset-after", "--bidirectional"],
        ["-c", "gru", "-L", "3", "--no-bias"],
        ["-c", "lstm", "--notation", "concat", "-L", "2", "--outputs", "all", "-O", "2"],
    ],
)
def test_forward_check_passes_for_models(args: list[str]) -> None:
    result = run("forward", "--check", "-B", "3", "-T", "5", *args)
    assert result.exit_code == 0, result.output
    assert "checks passed." in result.stdout


GOLDEN_MODELS = {
    "params_pytorch_lstm_2_layers_bi.txt": ModelSpec(
        output_size=2, cell="lstm", layers=2, bidirectional=True, convention="pytorch"
    ),
    "params_keras_gru_explain.txt": ModelSpec(cell="gru", convention="keras"),
    "params_seed_lstm_proj_free_explain.txt": ModelSpec(cell="lstm", bias=False),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_MODELS))
def test_model_tables_golden(name: str, golden: Callable[[str, str], None]) -> None:
    report = count_params(GOLDEN_MODELS[name])
    explanation = explain(report) if "explain" in name else None
    text = params_table(report, explanation)
    golden(name, text)
    assert_table_adds_up(text, [report.rnn.total, report.dense.total])


def assert_table_adds_up(text: str, totals: list[int]) -> None:
    """Each subtotal row is the sum of the tensor rows since the last one; each total the
    sum of its model's tensor rows; and the totals are the report's.
    """
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines()]
    rows = [row for row in rows if len(row) == 5]
    group = model = 0
    seen = []
    for _, tensor, role, _, count in rows:
        value = int(count.replace(",", ""))
        if tensor:
            group += value
            model += value
        elif role.startswith("subtotal"):
            assert value == group, role
            group = 0
        elif role == "total":
            assert value == model
            seen.append(value)
            group = model = 0
    assert seen == totals
