"""Turn a cost report into a rich table, JSON or CSV.  No arithmetic beyond formatting."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from ..analysis.cost import FLOPS_CONVENTION
from ..units import format_bytes
from .jsontext import to_json
from .tables import Column, Table
from .text import describe, draw

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ..analysis.cost import CostReport
    from ..analysis.cost_compute import Line
    from .text import Note


def cost_json(report: CostReport) -> str:
    """:meth:`CostReport.to_dict` as indented JSON."""
    return to_json(report.to_dict())


def cost_csv(report: CostReport) -> str:
    """One row per quantity: model, category, item, per_step (compute only), value."""
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", "category", "item", "per_step", "value"])
    for name, model in (("rnn", report.rnn), ("dense", report.dense)):
        compute, memory = model.compute, model.memory
        for line in (*compute.matmul, *compute.biases, compute.elementwise):
            item = "element-wise" if line is compute.elementwise else line.name
            writer.writerow([name, "compute", item, _blank(line.per_step), line.per_sequence])
        writer.writerow([name, "compute", "matmul MACs", "", compute.matmul_macs])
        writer.writerow([name, "compute", "bias additions", "", compute.bias_additions])
        writer.writerow([name, "compute", "MACs", "", compute.macs])
        writer.writerow([name, "compute", "FLOPs", "", compute.flops])
        for dtype, size in memory.parameters.items():
            writer.writerow([name, "memory", f"parameters {dtype}", "", size])
        writer.writerow([name, "memory", f"activations {memory.dtype}", "", memory.activations])
        for part, size in memory.training.items():
            writer.writerow([name, "memory", f"training {part} {memory.dtype}", "", size])
    for tool in report.tools:
        writer.writerow(["rnn", "tool", tool.tool, "", tool.count])
    return buffer.getvalue()


def _blank(value: int | None) -> str | int:
    return "" if value is None else value


def cost_table(
    report: CostReport,
    explain: bool = False,
    *,
    color: bool = False,
    width: int | None = None,
) -> str:
    """Compute and memory of both models side by side, with the other tools' counts."""
    from rich.text import Text

    outputs = f", outputs {report.outputs}" if report.outputs else ""
    header = Text(
        describe(report.network, "Cost") + f"; batch {report.batch_size}{outputs}", style="italic"
    )
    table = Table(
        [
            Column("compute", breaks=" "),
            Column("RNN per step", "right", optional=True),
            Column("RNN per sequence", "right"),
            Column("Dense per sequence", "right"),
        ]
    )
    rnn, dense = report.rnn.compute, report.dense.compute
    for name in dict.fromkeys(line.name for line in (*rnn.matmul, *dense.matmul)):
        row = [_find(rnn.matmul, name), _find(dense.matmul, name)]
        table.add_row(
            f"matmul MACs: {name}",
            _number(row[0].per_step if row[0] else None),
            _number(row[0].per_sequence if row[0] else None),
            _number(row[1].per_sequence if row[1] else None),
        )
    table.add_row("matmul MACs", "", f"{rnn.matmul_macs:,}", f"{dense.matmul_macs:,}",
                  style="bold")  # fmt: skip
    for name in dict.fromkeys(line.name for line in (*rnn.biases, *dense.biases)):
        ours, theirs = _find(rnn.biases, name), _find(dense.biases, name)
        table.add_row(
            f"bias additions: {name}",
            _number(ours.per_step if ours else None),
            _number(ours.per_sequence if ours else None),
            _number(theirs.per_sequence if theirs else None),
        )
    table.add_row("MACs (matmul + bias)", "", f"{rnn.macs:,}", f"{dense.macs:,}", style="bold")
    table.add_row(
        "element-wise operations",
        _number(rnn.elementwise.per_step),
        f"{rnn.elementwise.per_sequence:,}",
        f"{dense.elementwise.per_sequence:,}",
    )
    table.add_row(
        "FLOPs", "", f"{rnn.flops:,}", f"{dense.flops:,}", style="bold cyan", end_section=True
    )

    memory = Table(
        [
            Column(f"memory ({report.rnn.memory.dtype} for activations and training)", breaks=" "),
            Column("RNN", "right"),
            Column("Dense", "right"),
        ]
    )
    rm, dm = report.rnn.memory, report.dense.memory
    for dtype in rm.parameters:
        memory.add_row(f"parameters, {dtype}", _bytes(rm.parameters[dtype]),
                       _bytes(dm.parameters[dtype]))  # fmt: skip
    for part in dict.fromkeys((*rm.activation_elements, *dm.activation_elements)):
        memory.add_row(
            f"activations: {part}",
            _bytes(rm.activation_bytes.get(part)),
            _bytes(dm.activation_bytes.get(part)),
        )
    memory.add_row("activations (forward, kept for BPTT)", _bytes(rm.activations),
                   _bytes(dm.activations), style="bold")  # fmt: skip
    for part in rm.training:
        label = "Adam moments (2)" if part == "adam_moments" else part
        memory.add_row(f"training: {label}", _bytes(rm.training[part]),
                       _bytes(dm.training[part]))  # fmt: skip
    memory.add_row("training total", _bytes(rm.training_total), _bytes(dm.training_total),
                   style="bold cyan")  # fmt: skip

    notes: list[Note] = [
        Text(FLOPS_CONVENTION),
        Text(f"Element-wise work of the {_cells(report)}: {rnn.elementwise.name}."),
        memory,
        _tools_text(report),
    ]
    if explain:
        notes.append(_explain_text(report))
    return draw(table, notes, color=color, width=width, header=header)


def _tools_text(report: CostReport) -> RenderableType:
    from rich.text import Text

    text = Text("The same recurrent layers built in PyTorch, as other tools count them:")
    for tool in report.tools:
        text.append(f"\n  {tool.tool}: {tool.count:,} ({tool.per_step}; {tool.source})")
    text.append(
        f"\n  rnncalc: {report.rnn.compute.layer_macs:,} MACs for these layers (matmul + bias "
        f"additions) in the {report.network.convention} convention; torchinfo's way, for "
        "PyTorch's layers."
    )
    return text


def _explain_text(report: CostReport) -> RenderableType:
    from rich.text import Text

    text = Text()
    for label, model in (("RNN", report.rnn), ("Dense", report.dense)):
        text.append(f"\n{label}:", style="bold")
        compute = model.compute
        for line in (*compute.matmul, *compute.biases):
            text.append(f"\n  {line.name} = {line.formula} = {line.per_sequence:,}")
        text.append(
            f"\n  element-wise = {compute.elementwise.formula} = "
            f"{compute.elementwise.per_sequence:,}"
        )
        text.append(
            f"\n  FLOPs = 2·{compute.matmul_macs:,} + {compute.bias_additions:,} + "
            f"{compute.elementwise.per_sequence:,} = {compute.flops:,}"
        )
        memory = model.memory
        size = memory.itemsize
        for part, formula in memory.activation_formulas.items():
            elements = memory.activation_elements[part]
            text.append(f"\n  {part} = {formula} = {elements:,} x {size} B")
        text.append(
            f"\n  training = weights + gradients + 2 Adam moments + activations = "
            f"4·{memory.parameter_count:,}·{size} B + {memory.activations:,} B = "
            f"{memory.training_total:,} B\n"
        )
    return text


def _cells(report: CostReport) -> str:
    """``LSTM cell``, or ``LSTM and GRU cells`` for a network of both."""
    cells = dict.fromkeys(
        layer.cell.upper() for stage in report.network.stages for layer in stage.recurrent
    )
    return " and ".join(cells) + (" cells" if len(cells) > 1 else " cell")


def _find(lines: tuple[Line, ...], name: str) -> Line | None:
    return next((line for line in lines if line.name == name), None)


def _number(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _bytes(value: int | None) -> str:
    return "" if value is None else format_bytes(value)
