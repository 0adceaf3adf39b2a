"""Turn a forward report into a rich table or JSON.  No arithmetic beyond formatting."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..units import format_duration
from .jsontext import to_json
from .tables import Column, Table
from .text import draw

if TYPE_CHECKING:
    from ..engine.run import Check, ForwardReport
    from ..model.network import Network


def forward_json(report: ForwardReport) -> str:
    """:meth:`ForwardReport.to_dict` as indented JSON."""
    return to_json(report.to_dict())


def forward_table(report: ForwardReport, *, color: bool = False, width: int | None = None) -> str:
    """The checks as a table, then the shapes produced, the timing and the verdict."""
    from rich.text import Text

    spec, options, network = report.spec, report.options, report.network
    if spec is not None:
        stage = network.stages[0]
        head = stage.dense[0] if stage.dense else None
        model = (
            f"T={spec.timesteps}, I={spec.input_size}, H={spec.hidden_size}, "
            f"O={spec.output_size}, batch {report.shapes['x'][0]}, {options.dtype}, "
            f"{stage.recurrent[0].activation} -> {head.activation if head else 'identity'}, "
            f"outputs {head.steps if head else 'last'}"
        )
    else:
        model = f"{describe(network)}; batch {report.shapes['x'][0]}, {options.dtype}"
    header = Text(f"Forward pass: {model}, seed {options.seed}", style="italic")
    notes: list[Any] = []
    if report.checks:
        table = Table(
            [
                Column("check", breaks=" "),
                Column("expected", "right"),
                Column("actual", "right", breaks=" "),
                Column("ok", "center"),
            ]
        )
        for check in report.checks:
            table.add_row(
                check.name,
                _expected(check),
                _value(check.actual, check.comparison),
                "ok" if check.ok else "FAIL",
                style=None if check.ok else "bold red",
            )
        shapes = ", ".join(f"{name} {_value(shape)}" for name, shape in report.shapes.items())
        notes.append(Text(f"Shapes: {shapes}"))
    else:
        table = Table([Column("array"), Column("shape", "right")])
        for name, shape in report.shapes.items():
            table.add_row(name, _value(shape))
    if report.timing is not None:
        t = report.timing
        notes.append(
            Text(
                f"Timing: {format_duration(t.seconds)} (median of {t.repeat}), "
                f"{t.flops:,} matmul FLOPs, "
                + ("too fast to rate" if t.gflops is None else f"{t.gflops:.3g} GFLOP/s")
            )
        )
        notes.append(Text(f"Engine: {t.engine} (--engine {report.options.engine})"))
    notes.append(_verdict(report))
    return draw(table, notes, color=color, width=width, header=header)


def describe(network: Network) -> str:
    """A network in one line: each stage's T and I, then its layers, by kind and size."""
    from ..model.network import Dense, Embedding

    stages = []
    for s, stage in enumerate(network.stages):
        parts = [f"T={stage.timesteps}"]
        if stage.input_size is not None:
            parts.append(f"I={stage.input_size}")
        for layer in stage.layers:
            if isinstance(layer, Embedding):
                parts.append(f"embedding {layer.vocab_size}x{layer.dim}")
            elif isinstance(layer, Dense):
                notes = [layer.activation, layer.steps] + (["tied"] if layer.tie else [])
                parts.append(f"dense {layer.units} ({', '.join(notes)})")
            else:
                text = f"{'bi' if layer.bidirectional else ''}{layer.cell} {layer.hidden_size}"
                parts.append(text + (f" x{layer.stack}" if layer.stack > 1 else ""))
        label = ("encoder: ", "decoder: ")[s] if network.encoder_decoder else ""
        stages.append(label + ", ".join(parts))
    return f"{network.convention}, " + "; ".join(stages)


def _verdict(report: ForwardReport) -> Any:
    from rich.text import Text

    failed = report.failed
    if report.timing is None:
        return Text("The forward pass failed.", style="bold red")
    if not report.checks:
        return Text("The forward pass ran (no checks: add --check).")
    if failed:
        return Text(f"{failed} of {len(report.checks)} checks FAILED.", style="bold red")
    return Text(f"All {len(report.checks)} checks passed.", style="bold green")


def _expected(check: Check) -> str:
    if check.comparison == "<=":
        return f"<= {check.expected:.0e}"
    return _value(check.expected)


def _value(value: Any, comparison: str = "==") -> str:
    if isinstance(value, list):
        return "(" + ", ".join(map(str, value)) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.1e}" if comparison == "<=" else f"{value:g}"
    return str(value)
