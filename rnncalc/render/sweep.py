"""Sweep rows as CSV or JSON lines (streamed), a table, or a log-scale chart.

No arithmetic beyond formatting, except placing bars on the chart's log scale.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

from ..analysis.sweep import COLUMNS, SIZES
from .tables import Column, Table, styled
from .text import draw

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


def json_document(
    rows: Iterable[Row], cost: bool, spec: dict[str, Any], options: dict[str, Any]
) -> Iterator[str]:
    """One JSON document, ``{"spec", "options", "rows": [...]}``, written as the rows come
    (one row a line), so that a long sweep streams and still parses as one object.
    """
    head = json.dumps({"spec": spec, "options": options})
    yield head[:-1] + ', "rows": [\n'
    separator = ""
    for line in json_lines(rows, cost):
        yield separator + line[:-1]
        separator = ",\n"
    yield "\n]}\n"


def sweep_table(
    rows: Iterable[Row],
    cost: bool,
    varying: Iterable[str] = (),
    *,
    color: bool = False,
    width: int | None = None,
) -> str:
    """All rows as one table.  To fit a width, the sizes that do not vary (``varying``
    names those that do) are left out first, then the cost columns.
    """
    cells = [tuple(_format(value) for value in _values(row, cost)) for row in rows]
    kept = set(varying) | {"rnn_total", "dense_total", "ratio"}
    table = Table(
        [
            Column(
                name,
                "right",
                optional=name not in kept,
                note=f"{cells[0][k]} in every row" if name in SIZES and cells else "",
            )
            for k, name in enumerate(columns(cost))
        ]
    )
    for row_cells in cells:
        table.add_row(*row_cells)
    return draw(table, [], color=color, width=width)


def _format(value: int | float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else f"{value:,}"


def sweep_plot(
    rows: list[Row], swept: str, *, color: bool = False, width: int | None = None
) -> str:
    """RNN against dense totals along one swept size, as bars on a log scale."""
    totals = [int(v) for row in rows for v in (row[_AT["rnn_total"]], row[_AT["dense_total"]])]
    low, high = math.log10(min(totals)), math.log10(max(totals))
    labels = [f"{SIZES[swept]}={row[_AT[swept]]:,}" for row in rows]
    label_width = max(len(label) for label in labels)
    number_width = max(len(f"{v:,}") for v in totals)
    bar_width = max(10, (width or 80) - label_width - number_width - 12)
    lines = [
        styled(
            f"Parameters along {swept} (log scale: each bar spans {min(totals):,} to "
            f"{max(totals):,})",
            "italic",
            color,
        )
    ]
    for label, row in zip(labels, rows, strict=True):
        for k, (model, style) in enumerate((("RNN", "cyan"), ("dense", "magenta"))):
            value = int(row[_AT["rnn_total" if model == "RNN" else "dense_total"]])
            share = 1.0 if high == low else (math.log10(value) - low) / (high - low)
            length = 1 + round(share * (bar_width - 1))
            bar = styled("█" * length, style, color) + " " * (bar_width - length)
            name = label if k == 0 else ""
            lines.append(f"{name:<{label_width}} {model:<5} {bar} {value:>{number_width},}")
    return "".join(line.rstrip() + "\n" for line in lines)
