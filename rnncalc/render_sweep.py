"""Sweep rows as CSV or JSON lines (streamed), a table, or a log-scale chart.

No arithmetic beyond formatting, except placing bars on the chart's log scale.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .render import add_row, draw
from .sweep import COLUMNS, SIZES

if TYPE_CHECKING:
    from rich.console import RenderableType

Row = tuple[int | float, ...]

#: Columns without --cost, and with it (all of a row's: MACs and float32 parameter bytes).
BASIC = (*SIZES, "rnn_total", "dense_total", "ratio")
COSTED = COLUMNS
_AT = {name: COLUMNS.index(name) for name in COLUMNS}


def columns(cost: bool) -> tuple[str, ...]:
    """The columns of a sweep's output."""
    return COSTED if cost else BASIC


def _values(row: Row, cost: bool) -> tuple[int | float, ...]:
    return tuple(row[_AT[name]] for name in columns(cost))


def csv_lines(rows: Iterable[Row], cost: bool) -> Iterator[str]:
    """A header, then one line per row (no quoting needed: every field is a number)."""
    yield ",".join(columns(cost)) + "\n"
    for row in rows:
        yield ",".join(map(repr, _values(row, cost))) + "\n"


def json_lines(rows: Iterable[Row], cost: bool) -> Iterator[str]:
    """One JSON object per row and line (JSON Lines), for streaming."""
    names = columns(cost)
    for row in rows:
        yield json.dumps(dict(zip(names, _values(row, cost), strict=True))) + "\n"


def sweep_table(
    rows: Iterable[Row], cost: bool, *, terminal: bool = False, width: int | None = None
) -> str:
    """All rows as one rich table."""
    from rich.table import Table

    table = Table()
    for name in columns(cost):
        table.add_column(name, justify="right")
    for row in rows:
        add_row(table, *(_format(value) for value in _values(row, cost)))
    return draw(table, [], terminal=terminal, width=width)


def _format(value: int | float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else f"{value:,}"


def sweep_plot(
    rows: list[Row], swept: str, *, terminal: bool = False, width: int | None = None
) -> str:
    """RNN against dense totals along one swept size, as bars on a log scale."""
    from rich.table import Table
    from rich.text import Text

    totals = [v for row in rows for v in (row[_AT["rnn_total"]], row[_AT["dense_total"]])]
    low, high = math.log10(min(totals)), math.log10(max(totals))
    labels = [f"{SIZES[swept]}={row[_AT[swept]]:,}" for row in rows]
    numbers = [f"{v:,}" for v in totals]
    label_width = max(len(label) for label in labels)
    number_width = max(len(n) for n in numbers)
    bar_width = max(10, (width or 80) - label_width - number_width - 12)
    grid = Table.grid(padding=(0, 1))
    for justify in ("left", "left", "left", "right"):
        grid.add_column(justify=justify)
    for label, row in zip(labels, rows, strict=True):
        for k, (model, style) in enumerate((("RNN", "cyan"), ("dense", "magenta"))):
            value = int(row[_AT["rnn_total" if model == "RNN" else "dense_total"]])
            share = 1.0 if high == low else (math.log10(value) - low) / (high - low)
            bar = Text("█" * (1 + round(share * (bar_width - 1))), style=style)
            grid.add_row(label if k == 0 else "", model, bar, f"{value:,}")
    title: RenderableType = Text(
        f"Parameters along {swept} (log scale: each bar spans {10**low:,.0f} to {10**high:,.0f})",
        style="italic",
    )
    return draw(grid, [], terminal=terminal, width=width, header=title)
