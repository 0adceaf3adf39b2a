"""`rnncalc fit`: exact against a brute-force search, and from the command line."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncalc import ModelSpec, count_params
from rnncalc.analysis.fit import SOLVABLE, fit
from rnncalc.cli import cli
from rnncalc.units import parse_count


def with_field(spec: ModelSpec, field: str, value: int) -> ModelSpec:
    """``spec`` with the size ``field`` set to ``value``.

    The changes are typed ``dict[str, Any]`` because mypy checks a ``**`` argument against
    every field of the dataclass, and the string ``field`` could name a non-integer one.
    """
    changes: dict[str, Any] = {field: value}
    return spec.replace(**changes)


def brute_force(template: ModelSpec, field: str, budget: int) -> int | None:
    low = template.proj_size + 1 if field == "hidden_size" else 1
    best = None
    value = low
    while count_params(with_field(template, field, value)).rnn.total <= budget:
        best = value
        value += 1
    return best


@settings(max_examples=80, deadline=None)
@given(
    cell=st.sampled_from(["rnn", "lstm", "gru"]),
    convention=st.sampled_from(["seed", "pytorch", "keras"]),
    layers=st.integers(1, 3),
    bidirectional=st.booleans(),
    solve=st.sampled_from(sorted(SOLVABLE)),
    budget=st.integers(1, 3_000),
    sizes=st.tuples(st.integers(1, 12), st.integers(2, 12), st.integers(0, 3)),
)
def test_fit_equals_brute_force(
    cell: Any, convention: Any, layers: int, bidirectional: bool, solve: str, budget: int,
    sizes: tuple[int, int, int],
) -> None:  # fmt: skip
    i, h, o = sizes
    if solve == "layers":  # keep the brute force (a weight list per layer count) quick
        budget = budget // 6 + 1
    template = ModelSpec(3, i, h, o, cell=cell, convention=convention, layers=layers,
                         bidirectional=bidirectional)  # fmt: skip
    field = solve
    expected = brute_force(template, field, budget)
    result = fit(template, solve, budget)
    if expected is None:
        assert not result.fits
        assert result.value is None
        assert result.total == result.next_total > budget
        assert result.total == count_params(result.spec).rnn.total
        return
    assert result.fits
    assert result.spec == with_field(template, field, expected)
    assert result.value == expected
    assert result.total == count_params(with_field(template, field, expected)).rnn.total
    assert result.next_total == count_params(with_field(template, field, expected + 1)).rnn.total
    assert result.total <= budget < result.next_total


def test_huge_budget_is_exact() -> None:
    template = ModelSpec(cell="lstm", convention="pytorch", input_size=300, layers=2)
    result = fit(template, "hidden_size", 10**15)
    assert result.value is not None
    total = count_params(template.replace(hidden_size=result.value)).rnn.total
    assert total <= 10**15 < count_params(template.replace(hidden_size=result.value + 1)).rnn.total


@pytest.mark.parametrize(
    ("text", "count"),
    [("50000", 50000), ("500k", 500_000), ("1M", 10**6), ("1.5M", 1_500_000), ("2G", 2 * 10**9)],
)
def test_parse_count(text: str, count: int) -> None:
    assert parse_count(text) == count


@pytest.mark.parametrize("text", ["", "M", "1MB", "-5", "0", "1e6", "1..2"])
def test_parse_count_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a whole number|at least 1"):
        parse_count(text)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["fit", *args], prog_name="rnncalc")


def test_cli_json() -> None:
    data = json.loads(run("--budget", "1M", "-f", "json").stdout)
    # Seed RNN, I=4, O=1: H·(4 + H + 1) + H + 1 <= 10**6 first fails at H = 998.
    assert data == {
        "model": {
            "convention": "seed",
            "timesteps": 3,
            "input_size": 4,
            "layers": [{"kind": "rnn", "hidden_size": 997}, {"kind": "dense", "units": 1}],
        },
        "options": {"solve": "hidden_size", "budget": 1_000_000},
        "fits": True,
        "value": 997,
        "total": 999_992,
        "next_total": 1_001_993,
        "smallest": 1,
    }


def test_cli_budget_bytes() -> None:
    data = json.loads(run("--budget-bytes", "4MiB", "--dtype", "float16", "-f", "json").stdout)
    assert data["options"] == {
        "solve": "hidden_size",
        "budget": 4 * 1024**2 // 2,
        "budget_bytes": 4 * 1024**2,
        "dtype": "float16",
    }


def test_cli_table() -> None:
    out = run("--budget", "100k", "--solve", "layers", "-H", "64").stdout
    assert "The largest layers within 100,000 parameters is 12" in out


def test_projection_sets_the_smallest_hidden_size() -> None:
    args = ("--budget", "1M", "--proj-size", "5", "-c", "lstm", "--convention", "pytorch")
    data = json.loads(run(*args, "-f", "json").stdout)
    template = ModelSpec(cell="lstm", convention="pytorch", proj_size=5, hidden_size=6)
    assert data["value"] == brute_force(template, "hidden_size", 10**6)


def test_unreachable_budget_exits_1_and_says_what_the_smallest_model_needs() -> None:
    result = run("--budget", "5")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "needs 8 parameters, more than 5" in result.stderr  # H=1: 4 + 1 + 1 + 1 + 1
    data = json.loads(run("--budget", "5", "-f", "json").stdout)
    assert (data["fits"], data["value"], data["total"], data["smallest"]) == (False, None, 8, 1)


def test_quiet_prints_the_value() -> None:
    assert run("--budget", "1M", "-q").stdout == "997\n"
    assert run("--budget", "100k", "--solve", "layers", "-H", "64", "-q").stdout == "12\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "1M", "--solve", "timesteps"], "'timesteps' is not one of"),
        ([], "give exactly one of --budget and --budget-bytes"),
        (["--budget", "1M", "--budget-bytes", "1MiB"], "give exactly one"),
        (["--budget", "lots"], "is not a whole number"),
        (["--budget-bytes", "lots"], "is not a size"),
        (["--budget", "1M", "--solve", "output-size"], "'output-size' is not one of"),
    ],
)
def test_bad_input(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr
