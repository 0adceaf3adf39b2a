"""``inspect``'s report as tables for people, and as JSON.  No arithmetic beyond formatting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .jsontext import to_json
from .tables import Column, Table
from .text import describe, draw

if TYPE_CHECKING:
    from ..analysis.inspect import InspectReport
    from .text import Note


def inspect_json(report: InspectReport, command: str | None) -> str:
    """:meth:`InspectReport.to_dict` as indented JSON."""
    return to_json(report.to_dict(command))


def inspect_table(
    report: InspectReport, command: str | None, *, color: bool = False, width: int | None = None
) -> str:
    """The file's tensors with their roles, the totals, the network, the proof, the notes
    and the command line that describes the network.
    """
    from rich.text import Text

    from ..units import format_bytes

    listing = report.listing
    tensors = Table(
        [
            Column("tensor", breaks="./_"),
            Column("dtype"),
            Column("shape", "right"),
            Column("count", "right"),
            Column("role", breaks=" ", optional=True),
        ]
    )
    for e in report.entries:
        role = f"{e.role} [{','.join(e.gates)}]" if len(e.gates) > 1 else e.role
        if e.weight and not e.parameters:
            role += ", a second copy: tied"
        elif e.also and listing.format == "onnx":
            role += f"; packed with {e.also}"
        elif e.also:
            role += f"; also {e.also}, tied"
        tensors.add_row(e.stored.name, e.stored.dtype, _shape(e.stored.shape),
                        f"{e.stored.count:,}", role)  # fmt: skip
    tensors.add_row("total", "", "", f"{report.total:,}", "parameters, a tied weight once",
                    style="bold cyan", end_section=True)  # fmt: skip

    disk = ", ".join(f"{dtype} {format_bytes(n)}" for dtype, n in listing.bytes_by_dtype().items())
    memory = ", ".join(f"{dtype} {format_bytes(n)}" for dtype, n in report.memory().items())
    summary = Text(
        f"{report.total:,} parameters: {report.network_total:,} in the network, "
        f"{report.other_total:,} in other tensors\n"
        f"On disk: {disk}\nIn memory, all parameters as: {memory}\n"
    )
    summary.append(describe(report.recovered.network, "Recognised"), style="bold")
    proof = Table(
        [
            Column("predicted tensor", breaks="./_"),
            Column("file tensor", breaks="./_", optional=True),
            Column("predicted", "right"),
            Column("in the file", "right"),
            Column("check"),
        ]
    )
    for row in report.rows:
        found = "missing" if row.found is None else _shape(row.found)
        check, style = ("ok", "") if row.ok else ("DIFFERS", "bold red")
        proof.add_row(row.name, row.file_name, _shape(row.predicted), found, check, style=style)
    verdict = (
        f"All {len(report.rows)} predicted tensors are in the file with their shapes."
        if report.ok
        else f"{sum(not r.ok for r in report.rows)} of {len(report.rows)} tensors differ."
    )
    closing = Text(verdict)
    for note in (*listing.notes, *report.recovered.notes):
        closing.append(f"\nNote: {note}")
    closing.append(
        f"\nThe same network: {command}" if command else
        "\nThe same network: rnncalc inspect FILE --format toml > model.toml, then --model "
        "model.toml in any command"
    )  # fmt: skip
    notes: list[Note] = [summary, proof, closing]
    title = f"{listing.path}: {listing.format}, {len(listing.tensors)} tensors"
    return draw(tensors, notes, color=color, width=width, title=title)


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape)) if shape else "scalar"
