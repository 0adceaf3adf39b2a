"""Shared fixtures: golden files, regenerated with ``pytest --update-goldens``.

Every golden file is also held to invariants of its kind, so that a golden rewritten from a
wrong output fails anyway: a params table's rows add up to its subtotals and totals, a
CSV row's count is the product of its shape, a JSON document's weights add up to its
totals, a cost table's sums are the sums of their lines.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="Rewrite the golden files in tests/golden from the current output.",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare text with tests/golden/<name>, or rewrite it under --update-goldens; either
    way, hold the text to the invariants of its kind.
    """

    def check(name: str, text: str) -> None:
        path = GOLDEN_DIR / name
        if request.config.getoption("--update-goldens"):
            path.write_text(text, encoding="utf-8")
        assert path.exists(), f"missing golden file {path}; run pytest --update-goldens"
        assert text == path.read_text(encoding="utf-8")
        for invariant in INVARIANTS.get(name.split("_", 1)[0] + Path(name).suffix, ()):
            invariant(text)

    return check


def number(cell: str) -> int:
    return int(cell.replace(",", "")) if cell.strip() else 0


def rows(text: str) -> list[list[str]]:
    """The body rows of the first boxed table in ``text``, as stripped cells."""
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in text.splitlines()
        if line.startswith("│")
    ]


def params_table_adds_up(text: str) -> None:
    tensors = subtotal_sum = 0
    for model, _, role, _, count in rows(text):
        if role.startswith("subtotal"):
            assert number(count) == tensors - subtotal_sum
            subtotal_sum = tensors
        elif role == "total":
            assert number(count) == tensors, model
            tensors = subtotal_sum = 0
        else:
            tensors += number(count)


def params_csv_counts_are_shapes(text: str) -> None:
    for row in csv.DictReader(io.StringIO(text)):
        assert int(row["count"]) == math.prod(int(n) for n in row["shape"].split("x"))


def params_json_adds_up(text: str) -> None:
    data = json.loads(text)
    for model in ("rnn", "dense"):
        part = data[model]
        assert part["total"] == sum(w["count"] for w in part["weights"])
        assert part["total"] == sum(part["subtotals"].values())
        for w in part["weights"]:
            assert w["count"] == math.prod(w["shape"])
    assert data["ratio"] == data["dense"]["total"] / data["rnn"]["total"]


def cost_table_adds_up(text: str) -> None:
    table = {row[0]: row[1:] for row in rows(text)}
    for column in (1, 2):  # RNN per sequence, dense per sequence
        matmul = sum(number(v[column]) for k, v in table.items() if k.startswith("matmul MACs:"))
        biases = sum(number(v[column]) for k, v in table.items() if k.startswith("bias additions"))
        assert number(table["matmul MACs"][column]) == matmul
        assert number(table["MACs (matmul + bias)"][column]) == matmul + biases
        elementwise = number(table["element-wise operations"][column])
        assert number(table["FLOPs"][column]) == 2 * matmul + biases + elementwise


def every_line_of_a_diagram_is_labelled(text: str) -> None:
    assert re.search(r"unrolled over T = \d+ steps?", text.splitlines()[0])
    assert re.search(r"x_1 \(\d+\)", text)


INVARIANTS: dict[str, tuple[Callable[[str], None], ...]] = {
    "params.txt": (params_table_adds_up,),
    "params.csv": (params_csv_counts_are_shapes,),
    "params.json": (params_json_adds_up,),
    "cost.txt": (cost_table_adds_up,),
    "diagram.txt": (every_line_of_a_diagram_is_labelled,),
}
