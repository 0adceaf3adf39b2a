from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable

import pytest

from rnncalc import ModelSpec, count_params, explain
from rnncalc.render.params import params_csv, params_json, params_table

SEED = count_params(ModelSpec())
HUGE = count_params(ModelSpec(10**6, 10**6, 10**6, 1))


def test_seed_table_golden(golden: Callable[[str, str], None]) -> None:
    golden("params_seed_table.txt", params_table(SEED))


def test_seed_table_explained_golden(golden: Callable[[str, str], None]) -> None:
    golden("params_seed_explain.txt", params_table(SEED, explain(SEED)))


def test_seed_json_golden(golden: Callable[[str, str], None]) -> None:
    golden("params_seed.json", params_json(SEED))


def test_seed_csv_golden(golden: Callable[[str, str], None]) -> None:
    golden("params_seed.csv", params_csv(SEED))


def test_json_shape() -> None:
    data = json.loads(params_json(SEED))
    assert set(data) == {"model", "rnn", "dense", "ratio"}
    assert data["model"] == {
        "convention": "seed",
        "timesteps": 3,
        "input_size": 4,
        "layers": [{"kind": "rnn", "hidden_size": 3}, {"kind": "dense", "units": 1}],
    }
    assert data["rnn"]["layers"] == [
        {"stage": None, "index": 0, "kind": "rnn", "params": 24},
        {"stage": None, "index": 1, "kind": "dense", "params": 4},
    ]
    assert data["dense"]["layers"] == [
        {"stage": None, "index": 0, "kind": "rnn", "params": 117},
        {"stage": None, "index": 1, "kind": "dense", "params": 10},
    ]
    assert data["rnn"]["total"] == 28
    assert data["dense"]["total"] == 127
    assert data["rnn"]["weights"][0] == {
        "name": "W_xh",
        "shape": [4, 3],
        "count": 12,
        "layer": 0,
        "direction": "forward",
    }
    assert data["rnn"]["weights"][-1] == {
        "name": "b_y",
        "shape": [1],
        "count": 1,
        "layer": None,
        "direction": None,
    }
    assert data["ratio"] == pytest.approx(127 / 28)


def test_json_explanation() -> None:
    data = json.loads(params_json(SEED, explain(SEED)))
    assert data["explanation"]["rnn"]["numeric"] == "((4×3) + (3×3 + 3)) + (3×1 + 1)"
    assert data["explanation"]["dense"]["total"] == 127


def test_json_keeps_huge_integers_exact() -> None:
    data = json.loads(params_json(HUGE))
    assert data["dense"]["total"] == 10**24 + 2 * 10**12 + 1


def test_csv_rows_sum_to_the_totals() -> None:
    rows = list(csv.DictReader(io.StringIO(params_csv(SEED))))
    assert list(rows[0]) == ["model", "name", "shape", "count", "layer", "direction"]
    for model, total in (("rnn", 28), ("dense", 127)):
        assert sum(int(r["count"]) for r in rows if r["model"] == model) == total
    assert rows[0] == {
        "model": "rnn",
        "name": "W_xh",
        "shape": "4x3",
        "count": "12",
        "layer": "0",
        "direction": "forward",
    }


def test_piped_table_never_cuts_a_column() -> None:
    text = params_table(HUGE)
    assert "1,000,000,000,002,000,000,000,001" in text
    assert "1000000000000 x 1000000000000" in text
    widths = {len(line) for line in text.splitlines() if line.startswith(("│", "┃"))}
    assert len(widths) == 1  # every row is one line: nothing wrapped


def test_piped_table_has_no_colour_codes() -> None:
    assert "\x1b[" not in params_table(SEED, explain(SEED))


COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-7]m")  # an ANSI foreground colour


def test_colour_is_ansi_styles_and_only_when_asked() -> None:
    assert COLOUR.search(params_table(SEED, color=True, width=100))
    assert "\x1b[" not in params_table(SEED, color=False, width=100)


def test_table_shows_totals_subtotals_and_ratio() -> None:
    text = params_table(SEED)
    for needle in ("subtotal: recurrent layer", "subtotal: hidden layer", "127 / 28 = 4.54x"):
        assert needle in text


def test_golden_invariants_catch_numbers_that_do_not_add_up() -> None:
    from conftest import (
        GOLDEN_DIR,
        cost_table_adds_up,
        params_csv_counts_are_shapes,
        params_json_adds_up,
        params_table_adds_up,
    )

    cases = [
        (params_table_adds_up, "params_seed_table.txt", "│   127 │", "│   128 │"),
        (params_csv_counts_are_shapes, "params_seed.csv", "W_hh,3x3,9", "W_hh,3x3,8"),
        (params_json_adds_up, "params_seed.json", '"total": 28', '"total": 29'),
        (cost_table_adds_up, "cost_keras_gru_2_layers_bi.txt", "9,412", "9,413"),
    ]
    for invariant, name, right, wrong in cases:
        text = (GOLDEN_DIR / name).read_text(encoding="utf-8")
        invariant(text)
        assert right in text
        with pytest.raises(AssertionError):
            invariant(text.replace(right, wrong, 1))
