"""``rnncalc cost``: multiply-accumulates, FLOPs and memory, RNN against dense."""

from __future__ import annotations

from typing import Any

import click

from .options import (
    choice_option,
    color_option,
    command,
    echo_table,
    format_option,
    int_option,
    model_options,
    model_spec,
    refuse_if_given,
    size_options,
)
from .streams import emit


@command
@size_options
@model_options
@int_option("-B", "--batch-size", default=1, minimum=1, text="Sequences per batch B.")
@choice_option(
    "--outputs",
    choices=("last", "all"),
    text="last: the output layer runs once (many-to-one); all: at every step.",
)
@choice_option(
    "--dtype",
    choices=("float32", "float16", "bfloat16", "float64"),
    text="Precision of the activations and of the training estimate.",
)
@click.option("--explain", "explain_", is_flag=True, help="Show each formula with its numbers.")
@color_option
@format_option("table", "json", "csv")
@click.pass_context
def cost(
    ctx: click.Context,
    /,
    batch_size: int,
    outputs: Any,
    dtype: str,
    explain_: bool,
    fmt: str,
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
    """
    if explain_ and fmt == "csv":
        raise click.UsageError("--explain adds text; use it with --format table or json, not csv.")
    if fmt == "json":
        refuse_if_given(ctx, "explain_", "the JSON holds every formula with its numbers anyway")
    from .cost import estimate_cost
    from .render_cost import cost_csv, cost_json, cost_table

    spec = model_spec(ctx, **model)
    if not spec.has_output_layer:
        refuse_if_given(ctx, "outputs", "-O 0 leaves no output layer to run")
    report = estimate_cost(spec, batch_size, outputs, dtype)
    if fmt == "json":
        emit(cost_json(report))
    elif fmt == "csv":
        emit(cost_csv(report))
    else:
        echo_table(lambda color, width: cost_table(report, explain_, color=color, width=width))
