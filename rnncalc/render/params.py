"""Turn reports into text: a rich table for people, JSON and CSV for scripts.

No arithmetic happens here beyond formatting.  rich is imported only inside the function
that draws a table, so the JSON and CSV paths start as fast as click itself.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..analysis.counts import place
from ..model.shapes import ROLE_DESCRIPTIONS, by_group
from .tables import Column, Table, cell_width

if TYPE_CHECKING:
    from rich.console import RenderableType

    #: What comes around a table: rich text, or another table.
    Note = RenderableType | Table

    from ..analysis.counts import ParamsReport
    from ..analysis.formulas import Explanation
    from ..model.shapes import Weight
    from ..model.spec import ModelSpec

# json.dumps(indent=2) puts each number of a shape on its own line; keep shapes on one.
_NUMBER_LIST = re.compile(r"\[\n\s+(\d+(?:,\n\s+\d+)*)\n\s+\]")
_LIST_BREAK = re.compile(r",\n\s+")

MODEL_TITLES = {"rnn": "RNN", "dense": "Dense"}
GROUP_TITLES = {"recurrent": "recurrent layer", "hidden": "hidden layer", "output": "output layer"}
CELL_TITLES = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}


def describe(spec: ModelSpec, what: str = "Parameters") -> str:
    """One line naming the sizes and the model, e.g. for a table's title:
    ``Parameters for T=3, I=4, H=3, O=1: vanilla RNN, seed convention``.
    """
    sizes = f"T={spec.timesteps}, I={spec.input_size}, H={spec.hidden_size}, O={spec.output_size}"
    return f"{what} for {sizes}: {model_words(spec)}"


def model_words(spec: ModelSpec) -> str:
    """The model in words: ``LSTM, 2 layers, bidirectional, pytorch convention``."""
    parts = [CELL_TITLES[spec.cell]]
    if spec.layers > 1:
        parts.append(f"{spec.layers} layers")
    if spec.bidirectional:
        parts.append("bidirectional")
    parts.append(f"{spec.convention} convention")
    if spec.notation == "concat":
        parts.append("concat notation")
    if spec.proj_size:
        parts.append(f"P={spec.proj_size}")
    if spec.cell == "gru" and spec.convention == "keras":
        parts.append("reset_after" if spec.reset_after else "no reset_after")
    if not spec.bias:
        parts.append("no bias")
    return ", ".join(parts)


def params_json(report: ParamsReport, explanation: Explanation | None = None) -> str:
    """:meth:`ParamsReport.to_dict` as indented JSON."""
    return to_json(report.to_dict(explanation))


def to_json(data: dict[str, Any]) -> str:
    """Indented JSON with each list of numbers (a shape) kept on one line."""
    import json

    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
    return _NUMBER_LIST.sub(lambda m: "[" + _LIST_BREAK.sub(", ", m[1]) + "]", text) + "\n"


def params_csv(report: ParamsReport) -> str:
    """A header and one row per weight tensor: model, name, shape, count, layer, direction.

    ``layer`` and ``direction`` are empty for the output layer (and direction for the dense
    model's layers).
    """
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", "name", "shape", "count", "layer", "direction"])
    for model in (report.rnn, report.dense):
        for w in model.weights:
            where = place(w)
            writer.writerow(
                [
                    model.model,
                    w.name,
                    "x".join(map(str, w.shape)),
                    w.count,
                    "" if where["layer"] is None else where["layer"],
                    where["direction"] or "",
                ]
            )
    return buffer.getvalue()


def params_table(
    report: ParamsReport,
    explanation: Explanation | None = None,
    *,
    color: bool = False,
    width: int | None = None,
) -> str:
    """A table of both models' weights with subtotals, totals and the ratio.

    ``color`` adds ANSI styles; ``width`` is the terminal's width.  Without a width the
    table is drawn at its natural width, so piped output never wraps a column.
    """
    from rich.text import Text

    from ..units import format_bytes

    table = Table(
        [
            Column("model"),
            Column("tensor", breaks="/_"),
            Column("role", breaks=" ", optional=True),
            Column("shape", "right"),
            Column("count", "right"),
        ]
    )
    for model in (report.rnn, report.dense):
        title = MODEL_TITLES[model.model]
        subtotals = model.subtotals
        members = by_group(model.weights)
        for group, subtotal in subtotals.items():
            for w in members[group]:
                table.add_row(title, w.name, _role(w), _shape(w), f"{w.count:,}")
            if len(subtotals) > 1:
                label = f"subtotal: {GROUP_TITLES.get(group, group)}"
                table.add_row("", "", label, "", f"{subtotal:,}", style="dim")
        table.add_row(
            title, "", "total", "", f"{model.total:,}", style="bold cyan", end_section=True
        )
    summary = Text(
        f"Dense / RNN = {report.dense.total:,} / {report.rnn.total:,} = {report.ratio:.3g}x\n"
        f"float32 parameters: RNN {format_bytes(report.rnn.bytes())}, "
        f"dense {format_bytes(report.dense.bytes())}"
    )
    notes: list[Note] = [summary]
    if explanation is not None:
        notes.append(_explanation_text(explanation))
    return draw(table, notes, color=color, width=width, title=describe(report.spec))


def _explanation_text(explanation: Explanation) -> RenderableType:
    from rich.text import Text

    text = Text()
    text.append("\nPer layer and direction:", style="bold")
    for g in explanation.groups:
        label = GROUP_TITLES.get(g.group, g.group)
        text.append(f"\n  {label}: {g.symbolic} = {g.numeric} = {g.total:,}")
    for name, f in (("RNN", explanation.rnn), ("Dense", explanation.dense)):
        text.append(f"\n\n{name}:", style="bold")
        if f.numeric.count("+") > _LONGEST_FORMULA:
            text.append(f"\n  the sum of its {f.numeric.count('+') + 1} tensors = {f.total:,}")
        else:
            text.append(f"\n  {f.symbolic}\n  = {f.numeric}\n  = {f.total:,}")
    text.append("\n")
    for note in (*explanation.notes, explanation.dense_definition, explanation.scaling):
        text.append("\n" + note)
    return text


#: Beyond this many terms the seed-style formula of a whole model is summarised.
_LONGEST_FORMULA = 24


def draw(
    table: Table,
    notes: Sequence[Note],
    *,
    color: bool,
    width: int | None,
    header: RenderableType | None = None,
    title: str | None = None,
) -> str:
    """Draw an optional header, the table (its title wrapped to its width), then the notes.

    Without a width (output is not a terminal) the tables keep their natural width, so no
    column ever wraps, and the header and notes wrap at that width (at least 80).  With a
    width, the tables fit it (see :mod:`rnncalc.tables`) and a note names the columns left
    out, if any.
    """
    from rich.text import Text

    lines, dropped = table.draw(width, color)
    table_width = cell_width(lines[0])
    wrap = width if width is not None else max(80, table_width)
    parts = []
    if header is not None:
        parts.append(_printed(header, wrap, color))
    if title is not None:
        parts.append(_printed(Text(title, style="italic"), table_width, color))
    parts.append("\n".join(lines) + "\n")
    for note in notes:
        if isinstance(note, Table):
            note_lines, note_dropped = note.draw(width, color)
            parts.append("\n".join(note_lines) + "\n")
            dropped += note_dropped
        else:
            parts.append(_printed(note, wrap, color))
    if dropped:
        left_out = Text(
            f"Left out to fit {width} columns: {', '.join(dropped)}; widen the terminal, or "
            "see every column with --format json.",
            style="dim",
        )
        parts.append(_printed(left_out, wrap, color))
    return "".join(line.rstrip() + "\n" for line in "".join(parts).splitlines())


def _printed(renderable: RenderableType, width: int, color: bool) -> str:
    """Rich text wrapped at ``width``, with ANSI styles when ``color``."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        markup=False,
        emoji=False,
    )
    console.print(renderable)
    return buffer.getvalue()


def _role(w: Weight) -> str:
    role = ROLE_DESCRIPTIONS[w.role]
    return f"{role} [{','.join(w.gates)}]" if len(w.gates) > 1 else role


def _shape(w: Weight) -> str:
    return " x ".join(str(n) for n in w.shape)
