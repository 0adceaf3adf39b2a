"""Sweep rows as CSV or JSON lines (streamed), a table, or a log-scale chart.

No arithmetic beyond formatting, except placing bars on the chart's log scale.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..analysis.sweep import COUNTS, SIZES
from .tables import Column, Table, styled
from .text import draw

Row = tuple[int | float, ...]
#: The seed's size columns; a whole network's are the letters of its sizes.
SEED = tuple(SIZES)
#: The counts without --cost (with it, all of a row's: MACs and float32 parameter bytes).
BASIC = ("rnn_total", "dense_total", "ratio")


def columns(cost: bool, sizes: Sequence[str] = SEED) -> tuple[str, ...]:
    """The columns of a sweep's output: the sizes, then the counts."""
    return (*sizes, *(COUNTS if cost else BASIC))


def _values(row: Row, cost: bool) -> Row:
    """A row without the cost columns unless ``cost`` (they come last)."""
    return row if cost else row[: len(row) - len(COUNTS) + len(BASIC)]


def csv_lines(rows: Iterable[Row], cost: bool, sizes: Sequence[str] = SEED) -> Iterator[str]:
    """A header, then one line per row (no quoting needed: every field is a number)."""
    yield ",".join(columns(cost, sizes)) + "\n"
    for row in rows:
        yield ",".join(map(repr, _values(row, cost))) + "\n"


def json_lines(rows: Iterable[Row], cost: bool, sizes: Sequence[str] = SEED) -> Iterator[str]:
    """One JSON object per row and line (JSON Lines), for streaming."""
    names = columns(cost, sizes)
    for row in rows:
        yield json.dumps(dict(zip(names, _values(row, cost), strict=True))) + "\n"


def json_document(
    rows: Iterable[Row],
    cost: bool,
    model: dict[str, Any],
    options: dict[str, Any],
    sizes: Sequence[str] = SEED,
) -> Iterator[str]:
    """One JSON document, ``{"model", "options", "rows": [...]}``, written as the rows come
    (one row a line), so that a long sweep streams and still parses as one object.
    """
    head = json.dumps({"model": model, "options": options})
    yield head[:-1] + ', "rows": [\n'
    separator = ""
    for line in json_lines(rows, cost, sizes):
        yield separator + line[:-1]
        separator = ",\n"
    yield "\n]}\n"


def sweep_table(
    rows: Iterable[Row],
    cost: bool,
    varying: Iterable[str] = (),
    *,
    sizes: Sequence[str] = SEED,
    color: bool = False,
    width: int | None = None,
) -> str:
    """All rows as one table.  To fit a width, the sizes that do not vary (``varying``
    names those that do) are left out first, then the cost columns.
    """
    cells = [tuple(_format(value) for value in _values(row, cost)) for row in rows]
    kept = {*varying, *BASIC}
    table = Table(
        [
            Column(
                name,
                "right",
                optional=name not in kept,
                note=f"{cells[0][k]} in every row" if k < len(sizes) and cells else "",
            )
            for k, name in enumerate(columns(cost, sizes))
        ]
    )
    for row_cells in cells:
        table.add_row(*row_cells)
    return draw(table, [], color=color, width=width)


def _format(value: int | float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else f"{value:,}"


def sweep_plot(
    rows: list[Row],
    swept: str,
    *,
    sizes: Sequence[str] = SEED,
    color: bool = False,
    width: int | None = None,
) -> str:
    """RNN against dense totals along one swept size (a column of ``sizes``), as bars on a
    log scale.
    """
    at, rnn_at = sizes.index(swept), len(sizes)
    totals = [int(v) for row in rows for v in row[rnn_at : rnn_at + 2]]
    low, high = math.log10(min(totals)), math.log10(max(totals))
    labels = [f"{SIZES.get(swept, swept)}={row[at]:,}" for row in rows]
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
            value = int(row[rnn_at + k])
            share = 1.0 if high == low else (math.log10(value) - low) / (high - low)
            length = 1 + round(share * (bar_width - 1))
            bar = styled("█" * length, style, color) + " " * (bar_width - length)
            name = label if k == 0 else ""
            lines.append(f"{name:<{label_width}} {model:<5} {bar} {value:>{number_width},}")
    return "".join(line.rstrip() + "\n" for line in lines)
