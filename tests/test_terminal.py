"""Output on a terminal: tables fitted to the width without cutting a number, colour as
clig.dev and no-color.org ask, diagrams folded to the width, progress of long work.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncalc import ModelSpec
from rnncalc.cli import cli
from rnncalc.engine.run import RunOptions, run
from rnncalc.render.tables import Column, Table, _wrap
from rnncalc.units import format_duration

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e[+-]\d+)?")


def invoke(*args: str, **env: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, prog_name="rnncalc")
    assert result.exit_code == 0, result.output
    return result.stdout


# Tables


WORDS = st.text(alphabet="abcdefghij _/->[],", min_size=0, max_size=30)
NUMBERS = st.integers(min_value=0, max_value=10**30).map(lambda n: f"{n:,}")


@st.composite
def tables(draw: st.DrawFn) -> Table:
    kinds = draw(st.lists(st.sampled_from(["text", "number", "name"]), min_size=1, max_size=8))
    # Headers are unique, as in every table rnncalc draws: draw() names dropped columns by them.
    headers = draw(
        st.lists(
            st.text(alphabet="abc_ ", min_size=1, max_size=20),
            min_size=len(kinds),
            max_size=len(kinds),
            unique=True,
        )
    )
    columns = [
        Column(
            header,
            "right" if kind == "number" else "left",
            breaks={"text": " ", "name": "/_", "number": ""}[kind],
            optional=draw(st.booleans()),
        )
        for kind, header in zip(kinds, headers, strict=True)
    ]
    table = Table(columns)
    for _ in range(draw(st.integers(0, 6))):
        cells = [draw(NUMBERS if c.justify == "right" else WORDS) for c in columns]
        table.add_row(*cells, end_section=draw(st.booleans()))
    return table


@given(tables(), st.integers(min_value=20, max_value=200))
@settings(max_examples=300)
def test_a_fitted_table_never_cuts_a_number(table: Table, width: int) -> None:
    lines, dropped = table.draw(width)
    assert len(dropped) <= sum(c.optional for c in table.columns)
    kept = [c for c in table.columns if not (c.optional and c.header in dropped)]
    numbers = [k for k, c in enumerate(table.columns) if not c.breaks and c in kept]
    for row in table.rows:
        for k in numbers:  # whole, on one line
            assert any(row.cells[k] in line for line in lines)
    natural, none_dropped = table.draw(None)
    assert none_dropped == []
    assert len({len(line) for line in natural}) == 1  # a rectangle
    assert len({len(line) for line in lines}) == 1
    if len(lines[0]) > width:  # too wide only when nothing more could be left out
        assert len(dropped) == sum(c.optional for c in table.columns) or len(kept) == 1


@given(st.text(alphabet="ab /_", max_size=40), st.integers(1, 30), st.sampled_from([" ", "/_"]))
def test_wrapping_loses_nothing(text: str, width: int, breaks: str) -> None:
    lines = _wrap(text, width, breaks)
    if " " in breaks:
        assert " ".join(lines).split() == text.split()
    else:
        assert "".join(lines) == text


@pytest.mark.parametrize(
    "args",
    [
        ["sweep", "-T", "1,10,100,1000"],
        ["sweep", "-H", "16..128:x2", "-c", "lstm", "--cost"],
        ["params", "-c", "lstm", "--convention", "keras", "--bidirectional", "-L", "2"],
        ["cost", "-c", "gru", "-L", "3", "-T", "1000", "-B", "64"],
        ["forward", "--check", "-c", "lstm", "--convention", "pytorch"],
        ["fit", "--budget", "1T"],
    ],
)
@pytest.mark.parametrize("columns", [80, 60])
def test_columns_is_honoured_and_no_number_is_cut(args: list[str], columns: int) -> None:
    def steady(text: str) -> str:  # timings differ from run to run
        return re.sub(r"Timing: .*?\n(.*GFLOP/s\n)?", "", text)

    wide = steady(invoke(*args))
    narrow = steady(invoke(*args, COLUMNS=str(columns)))
    assert max(len(line) for line in narrow.splitlines()) <= max(columns, 62)
    left_out = re.search(r"Left out to fit \d+ columns: ([^;]*);", narrow.replace("\n", " "))
    for number in NUMBER.findall(wide):
        if len(number) > 3 and not left_out:
            assert number in narrow
    if "sweep" in args and left_out:
        assert "in every row" in left_out[1]


def test_the_readme_diagram_folds_to_80_columns() -> None:
    args = ["diagram", "-c", "lstm", "--layers", "2", "--bidirectional", "-T", "20", "-O", "2"]
    assert max(len(line) for line in invoke(*args).splitlines()) > 80
    folded = invoke(*args, COLUMNS="80")
    assert max(len(line) for line in folded.splitlines()) <= 80
    assert "[t=20]" in folded
    assert "x_20 (4)" in folded


# Colour

ANSI = "\x1b["


@pytest.mark.parametrize(
    ("args", "env", "coloured"),
    [
        (["--color", "always"], {}, True),
        (["--color", "ALWAYS"], {}, True),
        (["--color", "never"], {"FORCE_COLOR": "1"}, False),
        (["--color", "always"], {"NO_COLOR": "1"}, True),
        ([], {"FORCE_COLOR": "1"}, True),
        ([], {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
        ([], {"NO_COLOR": ""}, False),  # not a terminal: no colour
        ([], {}, False),
    ],
)
def test_colour_follows_the_option_then_the_environment(
    args: list[str], env: dict[str, str], coloured: bool
) -> None:
    output = invoke("params", *args, **{"NO_COLOR": "", "FORCE_COLOR": "", **env})
    assert (ANSI in output) is coloured


def test_json_is_never_coloured() -> None:
    assert ANSI not in invoke("params", "--color", "always", "-f", "json")


# Progress and durations


class Recorder:
    def __init__(self) -> None:
        self.phases: list[tuple[str, int]] = []
        self.done: dict[str, int] = {}

    def phase(self, name: str, total: int) -> None:
        self.phases.append((name, total))
        self.done[name] = 0

    def advance(self, done: int) -> None:
        self.done[self.phases[-1][0]] += done


def test_every_step_of_every_phase_is_told() -> None:
    spec = ModelSpec(timesteps=200, cell="lstm", layers=2, bidirectional=True)
    recorder = Recorder()
    report, _ = run(spec, RunOptions(2, repeat=2), check=True, progress=recorder)
    assert report.ok
    steps = 2 * 2 * 200  # L·D·T
    assert recorder.phases == [
        ("fast pass", 2 * steps),
        ("step by step, separate", steps),
        ("step by step, concat", steps),
        ("dense equivalent", 1),
    ]
    assert all(recorder.done[name] == total for name, total in recorder.phases[:3])


def test_a_batch_split_across_threads_tells_each_step_once() -> None:
    spec = ModelSpec(timesteps=300, input_size=8, hidden_size=256, cell="lstm", output_size=0)
    recorder = Recorder()
    run(spec, RunOptions(64), progress=recorder)
    assert recorder.phases == [("fast pass", 300)]
    assert recorder.done["fast pass"] == 300


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.000178, "0.178 ms"),
        (0.716, "716.000 ms"),
        (20.070018, "20.07 s"),
        (59.999, "1 min 0 s"),
        (125, "2 min 5 s"),
        (3725, "1 h 2 min"),
    ],
)
def test_durations_read_in_their_units(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
