"""Tables drawn as rnncalc needs them: boxed like rich's default, fitted to a width without
ever cutting a number, and fast enough for ten thousand rows.

A table is drawn at its natural width unless a width is given (a terminal's).  To fit, the
columns whose text may wrap (names, roles, labels, headers) wrap at their break
characters, widest first, down to their longest word; if the table is still too wide, the
optional columns are left out, in the order the table lists them, and :meth:`Table.draw`
says which; if even that is not enough, the table keeps its narrowest layout and is wider
than asked, because a wrapped line is better than a cut number.  Numbers never wrap.

No arithmetic on the values: cells arrive as text.  Standard library only (and
:mod:`rich.cells` for the width of a character on a terminal, when rich is installed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Justify = Literal["left", "right", "center"]

#: ANSI select-graphic-rendition codes of the styles rnncalc uses.
SGR = {
    "bold": "1",
    "dim": "2",
    "italic": "3",
    "red": "31",
    "green": "32",
    "magenta": "35",
    "cyan": "36",
}

#: Headers wrap after these, whatever their column's cells do.
HEADER_BREAKS = " _"

# rich's HEAVY_HEAD box, so that tables look as they always have.
TOP, HEAD, HEAD_RULE, ROW, RULE, BOTTOM = "┏━┳┓", "┃┃┃", "┡━╇┩", "│││", "├─┼┤", "└─┴┘"


def styled(text: str, style: str | None, color: bool) -> str:
    """``text`` in ``style`` ("bold cyan") as ANSI codes when ``color``, else as it is."""
    if not color or not style or not text:
        return text
    codes = ";".join(SGR[word] for word in style.split())
    return f"\x1b[{codes}m{text}\x1b[0m"


def cell_width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide characters take two)."""
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


@dataclass(frozen=True)
class Column:
    """A column: its header, how its cells are justified, the characters its cells may
    break after (none: they never wrap, as numbers), and whether it may be left out to fit.
    """

    header: str
    justify: Justify = "left"
    breaks: str = ""
    optional: bool = False
    note: str = ""  # what to say of the column if it is left out, e.g. "4 in every row"


@dataclass
class _Row:
    cells: tuple[str, ...]
    style: str | None
    end_section: bool


@dataclass
class Table:
    """Columns, then rows of text added with :meth:`add_row`; :meth:`draw` lays them out."""

    columns: list[Column]
    rows: list[_Row] = field(default_factory=list)

    def add_row(self, *cells: str, style: str | None = None, end_section: bool = False) -> None:
        """Add a row; ``style`` colours it on a terminal, ``end_section`` rules a line under."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(_Row(cells, style, end_section))

    def draw(self, width: int | None = None, color: bool = False) -> tuple[list[str], list[str]]:
        """The table's lines, fitted to ``width`` if given, and the columns left out to fit
        (their headers, with their notes; none at the natural width).
        """
        kept = list(range(len(self.columns)))
        natural = [self._natural(k) for k in kept]
        widths = list(natural)
        dropped: list[str] = []
        if width is not None:
            floors = [self._floor(k) for k in kept]
            widths = _narrowed(widths, floors, width)
            for index in [k for k, column in enumerate(self.columns) if column.optional]:
                if _total(widths) <= width or len(kept) == 1:
                    break
                kept.remove(index)
                column = self.columns[index]
                dropped.append(f"{column.header} ({column.note})" if column.note else column.header)
                widths = _narrowed([natural[k] for k in kept], [floors[k] for k in kept], width)
        return self._lines(kept, widths, color), dropped

    def _natural(self, k: int) -> int:
        cells = (cell_width(row.cells[k]) for row in self.rows)
        return max(cell_width(self.columns[k].header), max(cells, default=0))

    def _floor(self, k: int) -> int:
        """The narrowest the column gets: its longest word (its widest cell, for a column
        whose cells never wrap; headers wrap at spaces and underscores).
        """
        column = self.columns[k]
        header = max(map(cell_width, _pieces(column.header, HEADER_BREAKS)), default=0)
        cells = (
            _pieces(row.cells[k], column.breaks) if column.breaks else [row.cells[k]]
            for row in self.rows
        )
        return max([header, *(max(map(cell_width, pieces), default=0) for pieces in cells)])

    def _lines(self, kept: list[int], widths: list[int], color: bool) -> list[str]:
        columns = [self.columns[k] for k in kept]

        def rule(box: str) -> str:
            return box[0] + box[2].join(box[1] * (w + 2) for w in widths) + box[3]

        def row(cells: Sequence[str], box: str, style: str | None, header: bool) -> list[str]:
            wrapped = [
                _wrap(text, w, HEADER_BREAKS if header else column.breaks)
                for text, w, column in zip(cells, widths, columns, strict=True)
            ]
            height = max(len(lines) for lines in wrapped)
            out = []
            for line in range(height):
                parts = []
                for lines, w, column in zip(wrapped, widths, columns, strict=True):
                    text = _justify(lines[line] if line < len(lines) else "", w, column.justify)
                    parts.append(" " + styled(text, style, color) + " ")
                out.append(box[0] + box[1].join(parts) + box[2])
            return out

        lines = [rule(TOP), *row([c.header for c in columns], HEAD, "bold", True), rule(HEAD_RULE)]
        for number, r in enumerate(self.rows):
            lines += row([r.cells[k] for k in kept], ROW, r.style, False)
            if r.end_section and number + 1 < len(self.rows):
                lines.append(rule(RULE))
        lines.append(rule(BOTTOM))
        return lines


def _narrowed(widths: list[int], floors: list[int], width: int) -> list[int]:
    """Narrow the widest column that can give, a column at a time, until the table fits
    ``width`` or every column is down to its floor.
    """
    widths = list(widths)
    excess = _total(widths) - width
    while excess > 0:
        candidates = [p for p in range(len(widths)) if widths[p] > floors[p]]
        if not candidates:
            break
        widest = max(candidates, key=lambda p: widths[p])
        widths[widest] -= 1
        excess -= 1
    return widths


def _total(widths: list[int]) -> int:
    """Width of a table with these column widths: a space either side of each, and borders."""
    return sum(widths) + 3 * len(widths) + 1


def _pieces(text: str, breaks: str) -> list[str]:
    """``text`` cut after each break character, spaces dropped at the cuts."""
    if not breaks:
        return [text]
    pieces = re.split(f"(?<=[{re.escape(breaks)}])", text)
    if " " not in breaks:
        return [piece for piece in pieces if piece]
    return [piece.strip(" ") for piece in pieces if piece.strip(" ")]


def _wrap(text: str, width: int, breaks: str) -> list[str]:
    """Greedy lines of at most ``width`` columns, broken after break characters only (a
    piece wider than the width stands alone on its line, uncut).
    """
    if cell_width(text) <= width or not breaks:
        return [text]
    spaces = " " if " " in breaks else ""  # dropped at a cut only where they are the break
    lines: list[str] = []
    line = ""
    for piece in re.split(f"(?<=[{re.escape(breaks)}])", text):
        if line and cell_width((line + piece).rstrip(spaces)) > width:
            lines.append(line.rstrip(spaces))
            line = piece.lstrip(spaces)
        else:
            line += piece
    if line.strip(spaces):
        lines.append(line.rstrip(spaces))
    return lines or [""]


def _justify(text: str, width: int, justify: Justify) -> str:
    excess = width - cell_width(text)
    if justify == "right":
        return " " * excess + text
    if justify == "center":
        return " " * (excess // 2) + text + " " * (excess - excess // 2)
    return text + " " * excess
