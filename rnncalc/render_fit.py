"""A fit result as a small table.  No arithmetic beyond formatting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .render import describe, draw
from .tables import Column, Table

if TYPE_CHECKING:
    from .fit import Fit
    from .spec import ModelSpec


def fit_table(
    result: Fit, template: ModelSpec, *, color: bool = False, width: int | None = None
) -> str:
    """The value found, its total against the budget, and the next value's total."""
    from rich.text import Text

    name = result.solve.replace("-", " ")
    table = Table(
        [Column(name, "right"), Column("RNN total", "right"), Column("within the budget")]
    )
    table.add_row(f"{result.value:,}", f"{result.total:,}", "yes", style="bold cyan")
    table.add_row(f"{result.value + 1:,}", f"{result.next_total:,}", "no")
    fixed = ", ".join(
        f"{letter}={getattr(template, field)}"
        for field, letter in (("input_size", "I"), ("hidden_size", "H"), ("output_size", "O"),
                              ("layers", "L"))
        if field != result.solve.replace("-", "_")
    )  # fmt: skip
    model = describe(template).split(": ", 1)[1]
    header = Text(f"Fit for {fixed}: {model}; budget {result.budget:,} parameters", style="italic")
    note = Text(
        f"The largest {name} within {result.budget:,} parameters is {result.value:,} "
        f"({result.total:,}, {result.budget - result.total:,} to spare)."
    )
    return draw(table, [note], color=color, width=width, header=header)
