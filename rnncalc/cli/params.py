"""``rnncalc params``: weight shapes and parameter counts, RNN against dense."""

from __future__ import annotations

from typing import Any

import click

from ..analysis.counts import count_params
from .options import (
    color_option,
    command,
    echo_table,
    format_option,
    model_options,
    model_spec,
    quiet_alone,
    quiet_option,
    size_options,
)
from .streams import emit


@command
@size_options
@model_options
@click.option(
    "--explain", "explain_", is_flag=True, help="Show each formula in letters and in numbers."
)
@color_option
@format_option("table", "json", "csv")
@quiet_option("Print only the RNN total, a bare integer.")
@click.pass_context
def params(
    ctx: click.Context,
    /,
    explain_: bool,
    fmt: str,
    quiet: bool,
    **model: Any,
) -> None:
    """Weight shapes and parameter counts: the RNN against its dense equivalent.

    The RNN is the seed's many-to-one network, h_t = f(x_t W_xh + h_{t-1} W_hh + b_h),
    y = f(h_T W_yh + b_y), or an LSTM or GRU, stacked (-L) and bidirectional, named as
    the seed, PyTorch or Keras name them. The dense equivalent is an MLP over the
    flattened input: T*I inputs -> L hidden layers of T*D*H units -> O outputs.

    \b
    Examples:
      rnncalc params                      # the seed's example: 28 against 127
      rnncalc params -T 100 -I 32 -H 64   # longer sequences, wider state
      rnncalc params --notation concat    # one W_h of shape (H+I) x H
      rnncalc params --explain            # the formulas, numbers put in
      rnncalc params -c lstm --convention pytorch -I 300 -H 512 -L 2 -O 0 -q
      rnncalc params -c gru --convention keras --bidirectional --explain
      rnncalc params -f json | jq .rnn.total
      n=$(rnncalc params -q -H 128)       # a bare integer for scripts
    """
    quiet_alone(ctx, "explain_", "fmt")
    if explain_ and fmt == "csv":
        raise click.UsageError("--explain adds text; use it with --format table or json, not csv.")
    spec = model_spec(ctx, **model)
    report = count_params(spec)
    if quiet:
        emit(f"{report.rnn.total}\n")
        return
    from ..render import params as render

    explanation = None
    if explain_:
        from ..analysis.formulas import explain

        explanation = explain(report)
    if fmt == "json":
        emit(render.params_json(report, explanation))
    elif fmt == "csv":
        emit(render.params_csv(report))
    else:
        echo_table(
            lambda color, width: render.params_table(report, explanation, color=color, width=width)
        )
