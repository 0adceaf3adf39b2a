"""``rnncalc sweep``: totals across ranges of sizes, streamed, or charted."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .options import (
    SIZE_OPTIONS,
    color_option,
    command,
    echo_table,
    format_option,
    model_options_but_layers,
    model_spec,
    outputs_option,
    refuse_if_given,
)

if TYPE_CHECKING:
    from ..analysis.ranges import Sizes

F = TypeVar("F", bound=Callable[..., Any])

#: Beyond this many rows a table is refused (use csv or json, which stream).
TABLE_LIMIT = 10_000
RANGE_HELP = "a size, a list (1,10,100) or a range (1..100, 32..256:+32, 16..1024:x2)"


def range_options(func: F) -> F:
    """-T/-I/-H/-O and -L, each a size, a list or a range."""
    options = [*SIZE_OPTIONS, ("-L", "--layers", 1, 1, "Stacked recurrent layers.")]
    for short, long, default, minimum, text in reversed(options):
        func = click.option(
            short,
            long,
            default=str(default),
            show_default=True,
            metavar="SIZES",
            callback=_parse(minimum),
            help=f"{text} Takes {RANGE_HELP}.",
        )(func)
    return func


def _parse(minimum: int) -> Callable[[click.Context, click.Parameter, str], Sizes]:
    def callback(ctx: click.Context, param: click.Parameter, value: str) -> Sizes:
        from ..analysis.ranges import parse_sizes

        try:
            return parse_sizes(value, minimum)
        except ValueError as error:
            raise click.BadParameter(str(error)) from None

    return callback


@command
@range_options
@model_options_but_layers
@click.option("--cost", "with_cost", is_flag=True, help="Add MACs per sequence and float32 bytes.")
@outputs_option("With --cost: the output layer runs once, or at every step.")
@click.option("--plot", is_flag=True, help="Chart RNN against dense totals (log scale).")
@color_option
@format_option("table", "csv", "json", "jsonl")
@click.pass_context
def sweep(
    ctx: click.Context, /, with_cost: bool, outputs: Any, plot: bool, fmt: str, **options: Any
) -> None:
    """Parameter counts across sizes: one row per combination, streamed as computed.

    Any size option takes a list or a range: 1,10,100 is a list; 1..100 counts by one;
    32..256:+32 counts by 32; 16..1024:x2 doubles (16, 32, ..., 1024). Lists may mix them:
    1..4,8,16..64:x2. Ranges include both ends when the step lands on them and must count
    upwards. Rows vary the last swept size fastest, in the order T, I, H, O, L.

    \b
    Examples:
      rnncalc sweep -T 1,10,100                    # the dense count grows with T²
      rnncalc sweep -H 16..1024:x2 -c lstm --cost
      rnncalc sweep -T 1..1000000 -f csv | head     # streams: returns at once
      rnncalc sweep -T 1..20 --plot                 # RNN against dense, log scale
      rnncalc sweep -H 32..256:+32 -I 64,128 -f json
    """
    from ..analysis import sweep as engine

    if plot:
        refuse_if_given(ctx, "fmt", "--plot draws a chart, which has no other format")
        refuse_if_given(ctx, "with_cost", "--plot charts parameter totals only")
    if not with_cost:
        refuse_if_given(ctx, "outputs", "it counts the output layer's MACs, shown with --cost")
    from ..render.sweep import csv_lines, json_document, json_lines, sweep_plot, sweep_table

    swept = {f: options.pop(f) for f in engine.SIZES}
    # The template holds the model options; the largest hidden size passes any check
    # against --proj-size, and every smaller one is checked below.
    first = {f: values[0] for f, values in swept.items()}
    hidden = swept["hidden_size"]
    template = model_spec(ctx, **{**first, "hidden_size": hidden.high}, **options)
    if template.proj_size and hidden.low <= template.proj_size:
        raise click.BadParameter(
            f"every hidden size must be above --proj-size {template.proj_size}",
            param_hint="'-H' / '--hidden-size'",
        )
    varying = {f: values for f, values in swept.items() if values.length > 1}
    count = engine.count_rows(swept)
    rows = engine.rows(template, varying, outputs)
    if plot:
        if len(varying) != 1:
            raise click.UsageError("--plot charts one swept size: give exactly one a range.")
        (name,) = varying
        if count > 200:
            raise click.UsageError(f"--plot draws at most 200 values; this sweep has {count:,}.")
        echo_table(lambda c, w: sweep_plot(list(rows), name, color=c, width=w))
    elif fmt == "table":
        if count > TABLE_LIMIT:
            raise click.UsageError(
                f"{count:,} rows are too many for a table (at most {TABLE_LIMIT:,}): add "
                "--format csv or --format jsonl (or json), which stream the rows as they come."
            )
        echo_table(lambda c, w: sweep_table(rows, with_cost, varying, color=c, width=w))
    elif fmt == "json":
        spec = {**template.as_dict(), **dict.fromkeys(varying)}
        sizes = {field: values.text for field, values in varying.items()}
        settings = {"swept": sizes, "cost": with_cost, "outputs": outputs}
        _stream(json_document(rows, with_cost, spec, settings))
    else:
        _stream(csv_lines(rows, with_cost) if fmt == "csv" else json_lines(rows, with_cost))


def _stream(lines: Any) -> None:
    """Write lines as they come, in blocks, so that a pipe's reader sees them at once."""
    out = sys.stdout
    block: list[str] = []
    for line in lines:
        block.append(line)
        if len(block) >= 1024:
            out.write("".join(block))
            block.clear()
    out.write("".join(block))
    out.flush()
