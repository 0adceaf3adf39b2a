"""``rnncalc cost``: multiply-accumulates, FLOPs and memory, RNN against dense."""

from __future__ import annotations

from typing import Any

import click

from .model import build_network, network_options
from .options import (
    batch_option,
    command,
    dtype_option,
    format_option,
    quiet_alone,
    quiet_option,
    refuse_if_given,
)
from .streams import emit
from .terminal import color_option, echo_table


@command
@network_options
@batch_option
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
      rnncalc cost --vocab-size 10000 -I 650 -H 650 -L 2 -c lstm --tie --outputs all
      rnncalc cost --model seq2seq.toml -B 128 --dtype bfloat16
      flops=$(rnncalc cost -q -c lstm -H 256 -T 100)
    """
    quiet_alone(ctx, "explain_", "fmt")
    if explain_ and fmt == "csv":
        raise click.UsageError("--explain adds text; use it with --format table or json, not csv.")
    if fmt == "json":
        refuse_if_given(ctx, "explain_", "the JSON holds every formula with its numbers anyway")
    from ..analysis.cost import estimate_cost
    from ..render.cost import cost_csv, cost_json, cost_table

    report = estimate_cost(build_network(ctx, model), batch_size, dtype=dtype)
    if quiet:
        emit(f"{report.rnn.compute.flops}\n")
        return
    if fmt == "json":
        emit(cost_json(report))
    elif fmt == "csv":
        emit(cost_csv(report))
    else:
        echo_table(lambda color, width: cost_table(report, explain_, color=color, width=width))
