"""`rnncalc diagram`: golden drawings."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner

from rnncalc import ModelSpec
from rnncalc.cli import cli
from rnncalc.render.diagram import diagram, steps

CASES = {
    "diagram_seed.txt": (ModelSpec(), "last"),
    "diagram_outputs_all.txt": (ModelSpec(timesteps=5), "all"),
    "diagram_lstm_2_layers_bi_long.txt": (
        ModelSpec(timesteps=20, cell="lstm", layers=2, bidirectional=True, output_size=2),
        "last",
    ),
    "diagram_pytorch_projection.txt": (
        ModelSpec(timesteps=9, cell="lstm", convention="pytorch", proj_size=2, layers=2),
        "all",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str, golden: Callable[[str, str], None]) -> None:
    spec, outputs = CASES[name]
    golden(name, diagram(spec, outputs))


def test_folding() -> None:
    assert steps(8) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert steps(9) == [1, 2, None, 8, 9]


def test_labels() -> None:
    text = diagram(ModelSpec(layers=2, bidirectional=True))
    assert text.count("x_1 (4)") == 1
    assert "(6)" in text  # layer 1 reads D·H = 6 features
    assert text.count("◀─(3)─") == 4  # two backward rows, two links each
    assert "y reads h_T of the forward direction and h_1 of the backward one" in text


def test_cli() -> None:
    result = CliRunner().invoke(cli, ["diagram", "-T", "2", "-O", "0"])
    assert result.exit_code == 0
    assert "y (" not in result.stdout
    assert "[t=2]" in result.stdout
