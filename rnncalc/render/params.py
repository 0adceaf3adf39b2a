"""``params``'s report as a table for people, and as JSON and CSV for scripts.

No arithmetic happens here beyond formatting.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from ..analysis.counts import place
from ..model.shapes import ROLE_DESCRIPTIONS, by_group
from .jsontext import to_json

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ..analysis.counts import ParamsReport
    from ..analysis.formulas import Explanation
    from ..model.shapes import Weight
    from .text import Note

MODEL_TITLES = {"rnn": "RNN", "dense": "Dense"}
GROUP_TITLES = {"recurrent": "recurrent layer", "hidden": "hidden layer", "output": "output layer"}


def params_json(report: ParamsReport, explanation: Explanation | None = None) -> str:
    """:meth:`ParamsReport.to_dict` as indented JSON."""
    return to_json(report.to_dict(explanation))


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
    from .tables import Column, Table
    from .text import describe, draw

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
    return draw(table, notes, color=color, width=width, title=describe(report.network))


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


def _role(w: Weight) -> str:
    role = ROLE_DESCRIPTIONS[w.role]
    if w.tied:
        return f"{role}, tied: = {w.tied}"
    return f"{role} [{','.join(w.gates)}]" if len(w.gates) > 1 else role


def _shape(w: Weight) -> str:
    return " x ".join(str(n) for n in w.shape)
