"""``rnncalc fit``: the largest model within a parameter (or byte) budget."""

from __future__ import annotations

from typing import Any

import click

from .options import (
    choice_option,
    color_option,
    command,
    echo_table,
    format_option,
    model_options,
    model_spec,
    refuse_if_given,
    size_options,
)
from .streams import emit


@command
@click.option("--budget", metavar="COUNT", help="Parameters at most: 50000, 500k, 1.5M, 2G.")
@click.option("--budget-bytes", metavar="SIZE", help="Bytes at most (4MiB, 1GB ...), with --dtype.")
@choice_option(
    "--dtype",
    choices=("float32", "float16", "bfloat16", "int8", "float64"),
    text="Bytes per parameter for --budget-bytes.",
)
@click.option(
    "--solve",
    type=click.Choice(["hidden-size", "input-size", "layers", "timesteps"]),
    default="hidden-size",
    show_default=True,
    help="The size to find; the others stay as given.",
)
@size_options
@model_options
@color_option
@format_option("table", "json")
@click.pass_context
def fit(
    ctx: click.Context,
    /,
    budget: str | None,
    budget_bytes: str | None,
    dtype: str,
    solve: str,
    fmt: str,
    **model: Any,
) -> None:
    """The largest hidden size (or input size, or layer count) within a budget.

    Counts the RNN as `params` does, the other sizes and the model options fixed, and
    reports the largest value whose total stays within the budget, that total, and the
    total one size up, which breaks it. Exit code 1 when even the smallest model is over.

    \b
    Examples:
      rnncalc fit --budget 1M                        # the largest H for 1M parameters
      rnncalc fit --budget 25M -c lstm --convention pytorch -I 300 -L 2
      rnncalc fit --budget-bytes 4MiB --dtype float16 -c gru
      rnncalc fit --budget 100k --solve layers -H 64 -f json
    """
    from .fit import fit as solve_fit
    from .spec import DTYPE_BYTES
    from .units import parse_bytes, parse_count

    if solve == "timesteps":
        raise click.UsageError(
            "the number of timesteps never enters the RNN's count: the same weights serve "
            "every step, so any T fits (the dense equivalent's count grows with T²)."
        )
    if (budget is None) == (budget_bytes is None):
        raise click.UsageError("give exactly one of --budget and --budget-bytes.")
    if budget_bytes is None:
        refuse_if_given(ctx, "dtype", "it sizes the parameters of --budget-bytes")
    refuse_if_given(ctx, "timesteps", "the RNN's count does not depend on T")
    refuse_if_given(ctx, solve.replace("-", "_"), f"--solve {solve} finds it")
    try:
        if budget is not None:
            limit = parse_count(budget)
        else:
            assert budget_bytes is not None
            limit = parse_bytes(budget_bytes) // DTYPE_BYTES[dtype]
    except ValueError as error:
        hint = "'--budget'" if budget is not None else "'--budget-bytes'"
        raise click.BadParameter(str(error), param_hint=hint) from None
    if solve == "hidden-size":  # the hidden size is the answer: any valid one will do here
        model["hidden_size"] = max(model["hidden_size"], model["proj_size"] + 1)
    template = model_spec(ctx, **model)
    result = solve_fit(template, solve, limit)
    if result is None:
        emit(
            f"rnncalc: no {solve} fits: even the smallest model needs more than "
            f"{limit:,} parameters.\n",
            err=True,
        )
        ctx.exit(1)
    assert result is not None
    if fmt == "json":
        from .render import to_json

        data = {"solve": result.solve, "value": result.value, "total": result.total,
                "next_total": result.next_total, "budget": result.budget}  # fmt: skip
        emit(to_json(data))
        return
    from .render_fit import fit_table

    echo_table(lambda color, width: fit_table(result, template, color=color, width=width))
