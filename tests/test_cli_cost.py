"""`rnncalc cost` from the command line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from rnncalc import ModelSpec
from rnncalc.analysis.cost import estimate_cost
from rnncalc.cli import cli
from rnncalc.render.cost import cost_table


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["cost", *args], prog_name="rnncalc")


def test_table_shows_compute_memory_and_tools() -> None:
    result = run()
    assert result.exit_code == 0
    out = result.stdout
    for needle in (
        "│ matmul MACs: input projection     │           12 │               36 │",
        "FLOPs = 2 x matmul MACs + bias additions + element-wise operations",
        "parameters, float32",
        "training total",
        "torchinfo:",
        "ptflops:",
        "thop:",
    ):
        assert needle in out


def test_json() -> None:
    data = json.loads(run("-f", "json", "-c", "lstm", "--convention", "pytorch", "-O", "0").stdout)
    assert set(data) == {"model", "options", "flops_convention", "rnn", "dense", "tools"}
    assert data["options"] == {"batch_size": 1, "dtype": "float32"}
    compute = data["rnn"]["compute"]
    assert compute["matmul_macs"] == 252
    assert compute["bias_additions"] == 72
    assert compute["macs"] == 324
    assert compute["matmul"][0] == {
        "name": "input projection",
        "per_step": 48,
        "per_sequence": 144,
        "formula": "1·3·48",
    }
    assert data["rnn"]["memory"]["parameters"]["int8"] == 108
    assert data["rnn"]["memory"]["training"]["total"] == 4 * 432 + 264
    assert [t["macs"] for t in data["tools"]] == [324, 414, 396]


def test_csv_rows() -> None:
    rows = list(csv.DictReader(io.StringIO(run("-f", "csv").stdout)))
    assert list(rows[0]) == ["model", "category", "item", "per_step", "value"]
    values = {(r["model"], r["item"]): r["value"] for r in rows}
    assert values[("rnn", "FLOPs")] == "160"
    assert values[("rnn", "parameters float32")] == "112"
    assert values[("dense", "MACs")] == "127"
    assert values[("rnn", "torchinfo")] == "81"  # as PyTorch's nn.RNN + its 3 extra biases


def test_batch_outputs_and_dtype() -> None:
    one = json.loads(run("-f", "json").stdout)["rnn"]
    args = ("-f", "json", "-B", "8", "--outputs", "all", "--dtype", "float16")
    many = json.loads(run(*args).stdout)["rnn"]
    assert (
        many["compute"]["matmul"][0]["per_sequence"]
        == 8 * one["compute"]["matmul"][0]["per_sequence"]
    )
    head = {line["name"]: line for line in many["compute"]["matmul"]}["output layer"]
    assert head["per_sequence"] == 8 * 3 * 3
    assert many["memory"]["training"]["weights"] == 28 * 2


def test_explain() -> None:
    out = run("--explain").stdout
    assert "input projection = 1·3·12 = 36" in out
    assert "FLOPs = 2·66 + 10 + 18 = 160" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-B", "0"], "must be at least 1, got '0'"),
        (["--dtype", "int4"], "'int4' is not one of"),
        (["--outputs", "some"], "'some' is not one of 'last', 'all'"),
        (["--explain", "-f", "csv"], "use it with --format table or json"),
        (["-c", "gru", "--proj-size", "1"], "--proj-size applies to"),
    ],
)
def test_bad_input(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_cost_golden(golden: Callable[[str, str], None]) -> None:
    spec = ModelSpec(cell="gru", convention="keras", layers=2, bidirectional=True)
    golden("cost_keras_gru_2_layers_bi.txt", cost_table(estimate_cost(spec, 4), explain=True))
