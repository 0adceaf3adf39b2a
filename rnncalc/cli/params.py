"""``rnncalc params``: weight shapes and parameter counts, RNN against dense."""

from __future__ import annotations

from typing import Any

import click

from ..analysis.counts import count_params
from .model import build_network, network_options
from .options import (
    command,
    format_option,
    quiet_alone,
    quiet_option,
)
from .streams import emit
from .terminal import color_option, echo_table


@command
@network_options
@click.option(
    "--explain", "explain_", is_flag=True, help="Show each formula in letters and in numbers."
)
@color_option
@format_option("table", "json", "csv", "toml")
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
    the seed, PyTorch or Keras name them; or a whole network: an embedding (--vocab-size),
    layers of their own sizes (-H 64/32), dense layers (-O 64/10), a tied output layer
    (--tie), or anything a model file describes (--model). The dense equivalent is an MLP
    over the flattened input: each recurrent layer becomes a layer of T*D*H units.
    --format toml writes the model file for what the options describe.

    \b
    Examples:
      rnncalc params                      # the seed's example: 28 against 127
      rnncalc params -T 100 -I 32 -H 64   # longer sequences, wider state
      rnncalc params --notation concat    # one W_h of shape (H+I) x H
      rnncalc params --explain            # the formulas, numbers put in
      rnncalc params -c lstm --convention pytorch -I 300 -H 512 -L 2 -O 0 -q
      rnncalc params -c gru --convention keras --bidirectional --explain
      rnncalc params --convention keras -c lstm -I 10 -H 64/32 -O 10
      rnncalc params --vocab-size 10000 -I 650 -H 650 -L 2 -c lstm --tie --outputs all
      rnncalc params --model lm.toml -T 35
      rnncalc params -f json | jq .rnn.total
      n=$(rnncalc params -q -H 128)       # a bare integer for scripts
    """
    quiet_alone(ctx, "explain_", "fmt")
    if explain_ and fmt in ("csv", "toml"):
        raise click.UsageError(
            f"--explain adds text; use it with --format table or json, not {fmt}."
        )
    network = build_network(ctx, model)
    if fmt == "toml":
        from ..model.modelfile import to_toml

        emit(to_toml(network))
        return
    report = count_params(network)
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
