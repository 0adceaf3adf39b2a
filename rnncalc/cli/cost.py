"""``rnncalc cost``: multiply-accumulates, FLOPs and memory, RNN against dense."""

from __future__ import annotations

from typing import Any

import click

from .options import (
    batch_option,
    color_option,
    command,
    dtype_option,
    echo_table,
    format_option,
    model_options,
    model_spec,
    outputs_option,
    quiet_alone,
    quiet_option,
    refuse_if_given,
    size_options,
)
from .streams import emit


@command
@size_options
@model_options
@batch_option
@outputs_option("last: the output layer runs once (many-to-one); all: at every step.")
@dtype_option("float32", "Precision of the activations and of the training estimate.")
@click.option("--explain", "explain_", is_flag=True, help="Show each formula with its numbers.")
@color_option
@format_option("table", "json", "csv")
@quiet_option("Print only the RNN's FLOPs per sequence (the whole batch), a bare integer.")
@click.pass_context
def cost(
    ctx: click.Context,
    /,
    batch_size: int,
    outputs: Any,
    dtype: str,
    explain_: bool,
    fmt: str,
    quiet: bool,
    **model: Any,
) -> None:
    """Multiply-accumulates, FLOPs and memory: the RNN against its dense equivalent.

    Counts each matrix product's multiply-accumulates (MACs) from the weight shapes: per
    timestep and per sequence, split into input, recurrent and projection products and the
    output layer; then bias additions and the cells' element-wise operations. FLOPs =
    2 x matmul MACs + bias additions + element-wise operations. Shows how torchinfo,
    ptflops and thop count the same layers. Memory: parameters in float32, float16,
    bfloat16 and int8; the activations a forward pass keeps for backpropagation through
    time; and a training step with Adam (weights, gradients, two moments, activations).

    \b
    Examples:
      rnncalc cost                                  # the seed's example, batch 1
      rnncalc cost -c lstm --convention pytorch -O 0 --explain
      rnncalc cost -c gru -I 128 -H 256 -L 2 -T 100 -B 64 --dtype float16
      rnncalc cost -f json | jq .rnn.compute.flops
      flops=$(rnncalc cost -q -c lstm -H 256 -T 100)
    """
    quiet_alone(ctx, "explain_", "fmt")
    if explain_ and fmt == "csv":
        raise click.UsageError("--explain adds text; use it with --format table or json, not csv.")
    if fmt == "json":
        refuse_if_given(ctx, "explain_", "the JSON holds every formula with its numbers anyway")
    from ..analysis.cost import estimate_cost
    from ..render.cost import cost_csv, cost_json, cost_table

    spec = model_spec(ctx, **model)
    if not spec.has_output_layer:
        refuse_if_given(ctx, "outputs", "-O 0 leaves no output layer to run")
    report = estimate_cost(spec, batch_size, outputs, dtype)
    if quiet:
        emit(f"{report.rnn.compute.flops}\n")
        return
    if fmt == "json":
        emit(cost_json(report))
    elif fmt == "csv":
        emit(cost_csv(report))
    else:
        echo_table(lambda color, width: cost_table(report, explain_, color=color, width=width))
