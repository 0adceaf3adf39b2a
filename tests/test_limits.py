"""The limits rnncalc documents, one class of hostile input at a time (issue 10's classes:
huge integers, Python's digit limit, depth, memory, and options that would do nothing).
Files, streams and --save have their own modules.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hostile import invoke, strict_json, time_limit
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncalc import ModelSpec, SpecError, count_params
from rnncalc.analysis.cost import estimate_cost
from rnncalc.analysis.fit import fit
from rnncalc.analysis.ranges import parse_sizes
from rnncalc.analysis.sweep import rows
from rnncalc.model import shapes
from rnncalc.units import MAX_NUMBER, format_bytes, parse_bytes, scientific

GOOGOL = str(MAX_NUMBER)

# 1. Exact integers never pass through a float that could overflow.


def test_googol_sizes_count_exactly() -> None:
    outcome = invoke("params", "-f", "json", "-T", GOOGOL, "-I", GOOGOL, "-H", GOOGOL)
    outcome.check()
    data = strict_json(outcome.stdout)
    assert isinstance(data, dict)
    n = MAX_NUMBER
    rnn = n * n + n * n + n + n + 1  # I·H + H·H + H, then H·O + O with O = 1
    dense = (n * n) * (n * n) + n * n + n * n + 1  # T·I x T·H, its bias, T·H x 1, 1
    assert data["rnn"]["total"] == rnn
    assert data["dense"]["total"] == dense
    assert data["ratio"] == dense / rnn  # about 5e+199: far below float's range


@pytest.mark.parametrize(
    "args",
    [
        ["params", "-T", GOOGOL, "-I", GOOGOL, "-H", GOOGOL, "-L", "3", "--bidirectional"],
        ["params", "-H", GOOGOL, "--explain"],
        ["cost", "-T", GOOGOL, "-I", GOOGOL, "-H", GOOGOL, "-L", GOOGOL, "-B", GOOGOL],
        ["cost", "-c", "lstm", "-H", GOOGOL, "--explain"],
        ["cost", "-c", "lstm", "-H", GOOGOL, "-f", "json"],
        ["sweep", "-T", GOOGOL, "-f", "csv"],
        ["sweep", "-T", "1,2", "-H", GOOGOL, "--plot"],
        ["sweep", "-H", f"1..{GOOGOL}:x10", "--cost"],
        ["fit", "--budget", GOOGOL],
        ["diagram", "-T", GOOGOL, "-H", GOOGOL, "-L", GOOGOL],
    ],
)
def test_googol_sizes_print(args: list[str]) -> None:
    outcome = invoke(*args)
    outcome.check()
    assert outcome.status == 0


def test_huge_byte_counts_print_in_powers_of_ten() -> None:
    outcome = invoke("cost", "-T", GOOGOL, "-I", GOOGOL, "-H", GOOGOL)
    assert outcome.status == 0
    assert "e+" in outcome.stdout  # parameters beyond a million YiB


@given(st.integers(min_value=1, max_value=10**1000))
def test_format_bytes_takes_any_count(count: int) -> None:
    text = format_bytes(count)
    if count < 1024**8 * 10**6:
        # Below a million YiB, it reads back within the rounding of two decimals.
        assert abs(parse_bytes(text.replace(" ", "")) - count) <= count // 200 + 1
    else:
        mantissa, exponent = text.removesuffix(" B").split("e+")
        unit = 10 ** (int(exponent) - 2)  # of the last of three significant digits
        assert abs(int(mantissa.replace(".", "")) * unit - count) <= unit // 2


@pytest.mark.parametrize(
    ("value", "text"),
    [(1, "1.00e+00"), (999_499, "9.99e+05"), (999_500, "1.00e+06"), (12345 * 10**400, "1.23e+404")],
)
def test_scientific_is_exact_integer_arithmetic(value: int, text: str) -> None:
    assert scientific(value) == text


# 2. Python's 4,300-digit limit is never reached: numbers beyond 10^100 are refused first.

HUGE = "1" + "0" * 2200


@pytest.mark.parametrize(
    "args",
    [
        ["params", "-q", "-H", HUGE],
        ["params", "-H", HUGE],
        ["params", "--explain", "-T", HUGE],
        ["cost", "-I", HUGE],
        ["fit", "--budget", "1" + "0" * 4290 + "T"],
        ["fit", "--budget-bytes", "9" * 5000],
        ["sweep", "-T", "1.." + "9" * 3000],
        ["forward", "-B", HUGE],
        ["forward", "--max-memory", HUGE + "GiB"],
        ["diagram", "-L", "1" + "0" * 101],
    ],
)
def test_numbers_beyond_a_googol_are_refused_briefly(args: list[str]) -> None:
    outcome = invoke(*args)
    outcome.check()
    assert outcome.status == 2
    message = outcome.stderr.splitlines()[-1]
    assert "10^100" in message
    assert len(message) < 300
    assert "set_int_max_str_digits" not in outcome.stderr


def test_the_library_refuses_beyond_a_googol_without_printing_the_number() -> None:
    with pytest.raises(SpecError, match=r"must be at most 10\^100, got about 1.00e\+5000") as error:
        ModelSpec(hidden_size=10**5000)
    assert error.value.field == "hidden_size"
    assert len(str(error.value)) < 100


# 3. Depth: totals of any depth at once; tensors listed for at most 100 layers.


@pytest.mark.parametrize(
    "args",
    [
        ["params", "-q", "-L", "10000000"],
        ["params", "-q", "-L", GOOGOL, "-c", "lstm", "--bidirectional"],
        ["cost", "-L", "1000000000000", "-c", "gru", "--convention", "keras"],
        ["sweep", "-L", "1000"],
        ["sweep", "-L", "269", "-c", "lstm"],
        ["sweep", "-L", "1000000000000", "-f", "csv"],
        ["sweep", "-L", "1..1000000000000:x10", "-c", "lstm", "--cost"],
        ["fit", "--budget", "30k", "--solve", "layers"],
        ["fit", "--budget", "1T", "--solve", "layers"],
        ["diagram", "-L", "1000000", "--bidirectional"],
        ["params", "-L", "100", "-c", "lstm", "--convention", "pytorch", "--proj-size", "1"],
    ],
)
def test_any_depth_answers_at_once(args: list[str]) -> None:
    with time_limit(5):
        outcome = invoke(*args)
    outcome.check()
    assert outcome.status == 0


@pytest.mark.parametrize(
    "args",
    [
        ["params", "-L", "101"],
        ["params", "-L", "3090", "-f", "json"],
        ["params", "-L", "1000", "--explain"],
        ["forward", "-L", "101", "-H", "1", "-I", "1"],
    ],
)
def test_listing_more_than_100_layers_is_refused(args: list[str]) -> None:
    with time_limit(5):
        outcome = invoke(*args)
    outcome.check()
    assert outcome.status == 2
    assert "--layers" in outcome.stderr


def test_a_forward_pass_of_a_hundred_million_layers_is_refused_by_its_memory() -> None:
    with time_limit(5):
        outcome = invoke("forward", "-L", "100000000")
    assert outcome.status == 2
    assert "this run needs about 58.86 GiB" in outcome.stderr


def test_params_quiet_of_a_deep_stack_is_the_closed_form() -> None:
    # Seed RNN, I=4, H=3, O=1: layer 0 holds 4·3 + 3·3 + 3 = 24, each further layer
    # 3·3 + 3·3 + 3 = 21, the head 4.
    outcome = invoke("params", "-q", "-L", "10000000")
    assert outcome.stdout == f"{24 + (10**7 - 1) * 21 + 4}\n"


SPECS = st.builds(
    ModelSpec,
    timesteps=st.integers(1, 9),
    input_size=st.integers(1, 9),
    hidden_size=st.integers(5, 9),
    output_size=st.integers(0, 3),
    cell=st.sampled_from(["rnn", "lstm", "gru"]),
    layers=st.integers(1, 7),
    bidirectional=st.booleans(),
    convention=st.sampled_from(["seed", "pytorch", "keras"]),
    bias=st.booleans(),
)


@given(SPECS, st.data())
@settings(max_examples=200)
def test_terms_fold_the_listed_weights(spec: ModelSpec, data: st.DataObject) -> None:
    if spec.cell == "lstm" and spec.convention == "pytorch":
        spec = spec.replace(proj_size=data.draw(st.integers(0, spec.hidden_size - 1)))
    if spec.cell == "gru" and spec.convention == "keras":
        spec = spec.replace(reset_after=data.draw(st.booleans()))
    for terms, weights in (
        (shapes.rnn_terms(spec), shapes.rnn_weights(spec)),
        (shapes.dense_terms(spec), shapes.dense_weights(spec)),
    ):
        assert sum(t.count for t in terms) == sum(w.count for w in weights)
        for role in shapes.ROLE_DESCRIPTIONS:
            in_terms = sum(t.count for t in terms if t.weight.role == role)
            assert in_terms == sum(w.count for w in weights if w.role == role)


@given(SPECS)
@settings(max_examples=100)
def test_the_sweep_polynomial_in_l_counts_every_depth(spec: ModelSpec) -> None:
    swept = {"layers": parse_sizes("1..7")}
    for row in rows(spec, swept):
        deep = spec.replace(layers=int(row[4]))
        report = count_params(deep)
        assert row[5:7] == (report.rnn.total, report.dense.total)
        assert row[8] == estimate_cost(deep).rnn.compute.macs


def test_fit_layers_is_exact_for_a_huge_budget() -> None:
    template = ModelSpec(cell="lstm", convention="pytorch", input_size=300, hidden_size=512)
    result = fit(template, "layers", 10**15)
    assert result is not None
    assert result.value is not None

    def total(layers: int) -> int:
        return count_params(template.replace(layers=layers)).rnn.total

    assert total(result.value) <= 10**15 < total(result.value + 1)


# 5. An allocation that fails anyway is a message, not a traceback.


def test_a_failed_allocation_is_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from rnncalc.engine import run as forward

    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(forward, "network_forward", exhausted)
    outcome = invoke("forward", "--max-memory", "1EiB")
    outcome.check()
    assert outcome.status == 2
    assert "could not allocate the memory this run needs" in outcome.stderr


# 8. Quiet wrongs: refused or honoured, never silently dropped.


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["sweep", "-T", "1..3", "--plot", "-f", "json"], "--format"),
        (["sweep", "-T", "1..3", "--plot", "--cost"], "--cost"),
        (["sweep", "-T", "1..3", "--outputs", "all"], "--outputs"),
        (["cost", "-O", "0", "--outputs", "all"], "--outputs"),
        (["diagram", "-O", "0", "--outputs", "last"], "--outputs"),
        (["forward", "-O", "0", "--outputs", "all"], "--outputs"),
        (["forward", "-O", "0", "--output-activation", "softmax"], "--output-activation"),
        (["fit", "--budget", "1M", "--dtype", "int8"], "--dtype"),
        (["fit", "--budget", "1M", "-H", "64"], "--hidden-size"),
        (["fit", "--budget", "1M", "--solve", "layers", "-L", "2"], "--layers"),
        (["fit", "--budget", "1M", "-T", "100"], "--timesteps"),
        (["cost", "--explain", "-f", "json"], "--explain"),
        (["diagram", "--no-bias"], "--bias/--no-bias"),
        (["diagram", "--notation", "separate"], "--notation"),
        (
            ["diagram", "--no-reset-after", "-c", "gru", "--convention", "keras"],
            "--reset-after/--no-reset-after",
        ),
        (["diagram", "--convention", "keras"], "--convention"),
    ],
)
def test_options_that_would_do_nothing_are_refused(args: list[str], option: str) -> None:
    outcome = invoke(*args)
    assert outcome.status == 2
    assert f"{option} has no effect here" in outcome.stderr


def test_a_hidden_activation_is_the_vanilla_rnn_s_only() -> None:
    outcome = invoke("forward", "-c", "lstm", "--hidden-activation", "tanh")
    assert outcome.status == 2
    assert "'--hidden-activation': applies to the vanilla RNN only" in outcome.stderr


def test_repeat_has_an_upper_bound() -> None:
    outcome = invoke("forward", "--repeat", "1001")
    assert outcome.status == 2
    assert "must be at most 1,000" in outcome.stderr
    assert invoke("forward", "--repeat", "1000").status == 0


def test_count_fractions_that_are_not_whole_are_refused() -> None:
    outcome = invoke("fit", "--budget", "1.2345k")
    assert outcome.status == 2
    assert "'1.2345k' is not a whole number" in outcome.stderr
    assert invoke("fit", "--budget", "1.234k", "-f", "json").status == 0


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_fail_a_check_quietly(tmp_path: Path, value: float) -> None:
    x = np.ones((2, 3, 4))
    x[1, 2, 0] = value
    np.save(tmp_path / "x.npy", x)
    outcome = invoke("forward", "--check", "--inputs", str(tmp_path / "x.npy"), "-f", "json")
    outcome.check()  # strict JSON: no NaN, no Infinity
    assert outcome.status == 1
    assert outcome.stderr == ""  # no RuntimeWarning from NumPy
    data = strict_json(outcome.stdout)
    assert isinstance(data, dict)
    finite = next(c for c in data["checks"] if c["name"].endswith("every value finite"))
    assert finite["ok"] is False
    assert finite["actual"].startswith("NaN or inf: x 1")
    # The two computations agree on where the non-finite values are.
    steps = next(c for c in data["checks"] if c["name"] == "fast pass = step-by-step equations")
    assert steps["ok"] is True
