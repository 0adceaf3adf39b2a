from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from rnncalc import __version__
from rnncalc.cli import cli


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), prog_name="rnncalc")


def test_default_is_the_seed_example() -> None:
    result = run("params")
    assert result.exit_code == 0
    assert "│ RNN   │        │ total" in result.output
    assert "127 / 28 = 4.54x" in result.output


@pytest.mark.parametrize(
    ("args", "total"),
    [
        ([], 28),
        (["--timesteps", "100"], 28),
        (["-T", "5", "-I", "10", "-H", "20", "-O", "2"], 10 * 20 + 20 * 20 + 20 + 20 * 2 + 2),
        (["--input-size", "8"], 8 * 3 + 3 * 3 + 3 + 3 + 1),
        (["--hidden-size", "5"], 4 * 5 + 5 * 5 + 5 + 5 + 1),
        (["--output-size", "0"], 24),
        (["--notation", "concat"], 28),
    ],
)
def test_quiet_prints_the_bare_rnn_total(args: list[str], total: int) -> None:
    result = run("params", "-q", *args)
    assert result.exit_code == 0
    assert result.output == f"{total}\n"


def test_json_format() -> None:
    result = run("params", "--format", "json", "-T", "10")
    data = json.loads(result.output)
    assert data["model"]["timesteps"] == 10
    assert data["dense"]["total"] == (40 * 30 + 30) + (30 + 1)


def test_json_explain() -> None:
    data = json.loads(run("params", "-f", "json", "--explain").output)
    assert data["explanation"]["dense"]["numeric"] == "(12×9 + 9) + (9×1 + 1)"


def test_csv_format() -> None:
    result = run("params", "-f", "csv", "-O", "0")
    assert result.output.splitlines() == [
        "model,name,shape,count,layer,direction",
        "rnn,W_xh,4x3,12,0,forward",
        "rnn,W_hh,3x3,9,0,forward",
        "rnn,b_h,3,3,0,forward",
        "dense,W_1,12x9,108,0,",
        "dense,b_1,9,9,0,",
    ]


def test_concat_notation_table() -> None:
    output = run("params", "--notation", "concat").output
    assert "W_h " in output
    assert "7 x 3" in output
    assert "[hidden, input] -> hidden" in output


def test_explain_shows_the_seed_breakdowns() -> None:
    output = run("params", "--explain").output
    assert "= ((4×3) + (3×3 + 3)) + (3×1 + 1)" in output
    assert "= (12×9 + 9) + (9×1 + 1)" in output
    assert "grows\nwith T²" in output or "grows with T²" in output


def test_huge_sizes_give_the_exact_25_digit_dense_total() -> None:
    result = run("params", "-f", "json", "-T", "1000000", "-I", "1000000", "-H", "1000000")
    assert json.loads(result.output)["dense"]["total"] == 1000000000002000000000001


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-T", "0"], "'-T' / '--timesteps': must be at least 1, got '0'"),
        (["--input-size", "-3"], "'-I' / '--input-size': must be at least 1, got '-3'"),
        (["-H", "2.5"], "'-H' / '--hidden-size': '2.5' is not a whole number"),
        (["-O", "-1"], "'-O' / '--output-size': must be at least 0, got '-1'"),
        (["-T", "three"], "'three' is not a whole number such as 64"),
        (["--hidden"], "No such option '--hidden'. Did you mean '--hidden-size' or '--hidden-ac"),
        (["--bogus"], "No such option '--bogus'"),
        (["--notation", "stacked"], "'stacked' is not one of 'separate', 'concat'"),
        (["--format", "xml"], "'xml' is not one of 'table', 'json', 'csv'"),
        (["-q", "--explain"], "--quiet prints a bare number; it cannot be combined with --explain"),
        (["-q", "-f", "json"], "cannot be combined with --format"),
        (["--explain", "-f", "csv"], "use it with --format table or json, not csv"),
        (["extra"], "Got unexpected extra argument (extra)"),
    ],
)
def test_bad_input_is_a_usage_error(args: list[str], message: str) -> None:
    result = run("params", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.output == f"rnncalc, version {__version__}\n"


def test_every_command_has_help_with_examples() -> None:
    assert cli.help
    context = click.Context(cli)
    names = cli.list_commands(context)
    assert names == ["params", "forward", "cost", "sweep", "fit", "diagram", "inspect"]
    for name in names:
        command = cli.get_command(context, name)
        assert command is not None
        assert command.help, name
        result = run(name, "-h")
        assert result.exit_code == 0
        assert "Examples:" in result.output
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert param.help, f"{name} {param.opts}"


def installed_command() -> str:
    path = shutil.which("rnncalc", path=os.path.dirname(sys.executable)) or shutil.which("rnncalc")
    assert path, "the rnncalc console script is not installed"
    return path


def test_installed_command_runs_in_a_subprocess() -> None:
    result = subprocess.run(
        [installed_command(), "params", "-q"], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "28\n", "")


def test_installed_command_reports_bad_input_without_a_traceback() -> None:
    result = subprocess.run(
        [installed_command(), "params", "-H", "0"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "Invalid value for '-H' / '--hidden-size'" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_dash_m() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rnncalc", "params", "-f", "csv"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("model,name,shape,count,layer,direction\nrnn,W_xh,4x3,12,0,")


def imported_modules(*args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rnncalc", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line.split("|")[-1] for line in result.stderr.splitlines() if "|" in line]
    return {line.strip() for line in lines}


def test_json_path_imports_neither_numpy_nor_rich() -> None:
    modules = imported_modules("params", "--format", "json")
    assert "rnncalc.render.params" in modules  # the probe sees our own imports
    assert not {m for m in modules if m.split(".")[0] in {"numpy", "rich"}}
    assert "rnncalc.cli.forward" not in modules  # commands load only when they run


def test_table_path_imports_rich_but_not_numpy() -> None:
    modules = imported_modules("params")
    assert "rich.console" in modules  # for the notes; the table is rnncalc.render.tables
    assert not {m for m in modules if m.split(".")[0] == "numpy"}


def test_closed_pipe_ends_quietly() -> None:
    command = f"{installed_command()} params -f csv -T 5 | head -c 1"
    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    assert result.stdout == "m"
    assert "Traceback" not in result.stderr


def test_shell_completion_script() -> None:
    result = subprocess.run(
        [installed_command()],
        env={**os.environ, "_RNNCALC_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "_rnncalc_completion" in result.stdout
