"""Ranges, the compiled sweep against the shape list, and `rnncalc sweep`."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncalc import ModelSpec, count_params
from rnncalc.analysis.cost import estimate_cost, with_outputs
from rnncalc.analysis.ranges import parse_sizes
from rnncalc.analysis.sweep import COLUMNS, count_rows, rows
from rnncalc.cli import cli
from rnncalc.render.sweep import sweep_plot


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("64", [64]),
        ("1,10,100", [1, 10, 100]),
        ("1..5", [1, 2, 3, 4, 5]),
        ("32..256:+32", [32, 64, 96, 128, 160, 192, 224, 256]),
        ("16..1024:x2", [16, 32, 64, 128, 256, 512, 1024]),
        ("3..20:x3", [3, 9]),
        ("1..10:+4", [1, 5, 9]),
        ("1..3,8,16..64:x2", [1, 2, 3, 8, 16, 32, 64]),
        ("7..7", [7]),
    ],
)
def test_parse_sizes(text: str, values: list[int]) -> None:
    parsed = parse_sizes(text)
    assert list(parsed) == values
    assert len(parsed) == len(values)
    assert [parsed[k] for k in range(len(values))] == values


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty item"),
        ("1,,3", "empty item"),
        ("10..1", "runs backwards; write 1..10"),
        ("0..5", "at least 1"),
        ("1..10:x1", "factor x1 must be at least x2"),
        ("1..10:+0", "step +0 must be at least +1"),
        ("a..b", "is not a size"),
        ("1.5", "is not a whole number"),
        ("-3", "must be at least 1"),
        ("1..10:x0", "factor x0 must be at least x2"),
    ],
)
def test_bad_sizes(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_sizes(text)


def test_a_range_that_multiplies_from_zero_is_refused() -> None:
    # 0, 0, 0, ... never passes its end: the range would never finish.
    with pytest.raises(ValueError, match="must start at 1 or more"):
        parse_sizes("0..10:x2", minimum=0)
    assert list(parse_sizes("0..10:+5", minimum=0)) == [0, 5, 10]


def test_bounds_do_not_walk() -> None:
    huge = parse_sizes("5..1000000000000000")
    assert (huge.low, huge.high) == (5, 10**15)
    mixed = parse_sizes("8..9,2,100..400:x2")
    assert (mixed.low, mixed.high) == (2, 400)


def test_huge_ranges_are_lazy() -> None:
    tracemalloc.start()
    huge = parse_sizes("1..1000000000000")
    geometric = parse_sizes("1..1000000000000000000:x2")
    assert len(huge) == 10**12
    assert huge[-1] == 10**12
    assert len(geometric) == 60
    assert geometric[-1] == 2**59
    assert tracemalloc.get_traced_memory()[1] < 100_000
    tracemalloc.stop()


models = st.fixed_dictionaries(
    {
        "cell": st.sampled_from(["rnn", "lstm", "gru"]),
        "convention": st.sampled_from(["seed", "pytorch", "keras"]),
        "bidirectional": st.booleans(),
        "bias": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None)
@given(
    model=models,
    sizes=st.tuples(*(st.integers(1, 40) for _ in range(3)), st.integers(0, 5), st.integers(1, 3)),
    outputs=st.sampled_from(["last", "all"]),
)
def test_compiled_rows_equal_the_shape_list(
    model: dict[str, Any], sizes: tuple[int, ...], outputs: Any
) -> None:
    t, i, h, o, layers = sizes
    spec = ModelSpec(t, i, h, o, layers=layers, **model)
    (row,) = rows(spec, {"timesteps": [t]}, outputs)
    values = dict(zip(COLUMNS, row, strict=True))
    report = count_params(with_outputs(spec, outputs))  # a head at every step: its own rule
    assert values["rnn_total"] == report.rnn.total
    assert values["dense_total"] == report.dense.total
    assert values["ratio"] == report.ratio
    cost = estimate_cost(spec, 1, outputs)
    assert values["rnn_macs"] == cost.rnn.compute.macs
    assert values["dense_macs"] == cost.dense.compute.macs


def test_projection_rows() -> None:
    spec = ModelSpec(cell="lstm", convention="pytorch", proj_size=2, hidden_size=5)
    got = [row[COLUMNS.index("rnn_total")] for row in rows(spec, {"hidden_size": range(3, 9)})]
    expected = [count_params(ModelSpec(cell="lstm", convention="pytorch", proj_size=2,
                                       hidden_size=h)).rnn.total for h in range(3, 9)]  # fmt: skip
    assert got == expected


def test_row_order_and_count() -> None:
    swept = {"input_size": parse_sizes("1,2"), "hidden_size": parse_sizes("3..5")}
    produced = [(r[1], r[2]) for r in rows(ModelSpec(), swept)]
    assert produced == [(1, 3), (1, 4), (1, 5), (2, 3), (2, 4), (2, 5)]
    assert count_rows(swept) == 6


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["sweep", *args], prog_name="rnncalc")


def test_csv_header_and_rows() -> None:
    lines = run("-T", "1,10,100", "-f", "csv").stdout.splitlines()
    assert lines == [
        "timesteps,input_size,hidden_size,output_size,layers,rnn_total,dense_total,ratio",
        "1,4,3,1,1,28,19,0.6785714285714286",
        "10,4,3,1,1,28,1261,45.035714285714285",
        "100,4,3,1,1,28,120601,4307.178571428572",
    ]


def test_cost_columns_and_json_lines() -> None:
    lines = run("-H", "16..64:x2", "-c", "lstm", "--cost", "-f", "jsonl").stdout.splitlines()
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert first["hidden_size"] == 16
    assert first["rnn_float32_bytes"] == 4 * first["rnn_total"]
    spec = ModelSpec(hidden_size=16, cell="lstm")
    assert first["rnn_macs"] == estimate_cost(spec).rnn.compute.macs


def test_json_is_one_document_with_the_model_and_the_swept_sizes() -> None:
    args = ("-H", "16..64:x2", "-T", "5", "-c", "lstm", "--cost", "--outputs", "all")
    document = json.loads(run(*args, "-f", "json").stdout)
    lines = [json.loads(line) for line in run(*args, "-f", "jsonl").stdout.splitlines()]
    assert document["rows"] == lines
    assert document["options"] == {
        "swept": {"hidden_size": "16..64:x2"},
        "cost": True,
        "outputs": "all",
    }
    assert document["model"] == {  # the model file's form; what varies is null: see the rows
        "convention": "seed",
        "timesteps": 5,
        "input_size": 4,
        "layers": [{"kind": "lstm", "hidden_size": None}, {"kind": "dense", "units": 1}],
    }


def test_table() -> None:
    out = run("-T", "1,10").stdout
    assert "rnn_total" in out
    assert "1,261" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-T", "10..1"], "runs backwards"),
        (["-H", "1..5", "--proj-size", "2", "-c", "lstm", "--convention", "pytorch"],
         "every hidden size must be above --proj-size 2"),
        (["-T", "1..20000"], "too many for a table"),
        (["-T", "1..3", "-H", "1..3", "--plot"], "--plot charts one swept size"),
        (["-T", "1..500", "--plot"], "at most 200 values"),
        (["-I", "x"], "is not a whole number"),
    ],
)  # fmt: skip
def test_bad_input(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_streams_into_a_closed_pipe_at_once() -> None:
    command = [sys.executable, "-m", "rnncalc", "sweep", "-T", "1..100000000", "-f", "csv"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None
        head = [process.stdout.readline() for _ in range(3)]
        process.stdout.close()
        # Ended by SIGPIPE, as `yes | head` is: the shell reports 141, and nothing is said.
        assert process.wait(timeout=20) == -signal.SIGPIPE
        assert process.stderr is not None
        assert process.stderr.read() == b""
    assert head[1] == b"1,4,3,1,1,28,19,0.6785714285714286\n"


def test_plot_golden(golden: Callable[[str, str], None]) -> None:
    spec = ModelSpec()
    text = sweep_plot(list(rows(spec, {"timesteps": [1, 2, 4, 8, 16, 32]})), "timesteps")
    golden("sweep_plot_timesteps.txt", text)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "\x1b[" not in text


def test_streaming_memory_stays_flat() -> None:
    from rnncalc.render.sweep import csv_lines

    lines = csv_lines(rows(ModelSpec(cell="lstm"), {"timesteps": parse_sizes("1..20000")}), True)
    tracemalloc.start()
    count = sum(1 for _ in lines)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 20_001
    assert peak < 1_000_000  # the lines kept in a list would take over 2 MB
