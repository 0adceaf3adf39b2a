"""A fit result as a small table.  No arithmetic beyond formatting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .render import add_row, describe, draw

if TYPE_CHECKING:
    from .fit import Fit
    from .spec import ModelSpec


def fit_table(
    result: Fit, template: ModelSpec, *, terminal: bool = False, width: int | None = None
) -> str:
    """The value found, its total against the budget, and the next value's total."""
    from rich.table import Table
    from rich.text import Text

    name = result.solve.replace("-", " ")
    table = Table()
    table.add_column(name, justify="right")
    table.add_column("RNN total", justify="right")
    table.add_column("within the budget", justify="left")
    add_row(table, f"{result.value:,}", f"{result.total:,}", "yes", style="bold cyan")
    add_row(table, f"{result.value + 1:,}", f"{result.next_total:,}", "no")
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
    return draw(table, [note], terminal=terminal, width=width, header=header)
