"""A fit result as a small table.  No arithmetic beyond formatting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .tables import Column, Table
from .text import draw, model_words, network_words

if TYPE_CHECKING:
    from ..analysis.fit import Fit


def fit_table(result: Fit, *, color: bool = False, width: int | None = None) -> str:
    """The value found, its total against the budget, and the next value's total."""
    from rich.text import Text

    from ..model.spec import ModelSpec

    assert result.value is not None, "nothing fits: there is no table to draw"
    name = result.solve.replace("_", " ")
    table = Table(
        [Column(name, "right"), Column("RNN total", "right"), Column("within the budget")]
    )
    table.add_row(f"{result.value:,}", f"{result.total:,}", "yes", style="bold cyan")
    table.add_row(f"{result.value + 1:,}", f"{result.next_total:,}", "no")
    spec = ModelSpec.from_network(result.network)
    if spec is None:
        model = network_words(result.network)
    else:
        fixed = ", ".join(
            f"{letter}={getattr(spec, field)}"
            for field, letter in (("input_size", "I"), ("hidden_size", "H"), ("output_size", "O"),
                                  ("layers", "L"))
            if field != result.solve
        )  # fmt: skip
        model = f"{fixed}: {model_words(spec)}"
    header = Text(f"Fit for {model}; budget {result.budget:,} parameters", style="italic")
    note = Text(
        f"The largest {name} within {result.budget:,} parameters is {result.value:,} "
        f"({result.total:,}, {result.spare:,} to spare)."
    )
    return draw(table, [note], color=color, width=width, header=header)
