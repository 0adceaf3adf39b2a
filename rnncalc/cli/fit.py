"""``rnncalc fit``: the largest model within a parameter (or byte) budget."""

from __future__ import annotations

from typing import Any

import click

from ..analysis.fit import SHARED
from .model import build_network, network_options
from .options import (
    choice_option,
    command,
    dtype_option,
    format_option,
    given,
    quiet_alone,
    quiet_option,
    refuse_if_given,
)
from .streams import emit
from .terminal import color_option, echo_table


@command
@click.option("--budget", metavar="COUNT", help="Parameters at most: 50000, 500k, 1.5M, 2G.")
@click.option("--budget-bytes", metavar="SIZE", help="Bytes at most (4MiB, 1GB ...), with --dtype.")
@dtype_option("float32", "Bytes per parameter for --budget-bytes.")
@choice_option(
    "--solve",
    choices=tuple(field.replace("_", "-") for field in SHARED),
    text="The size to find, shared by the whole network; the others stay as given.",
)
@network_options
@color_option
@format_option("table", "json")
@quiet_option("Print only the value found, a bare integer.")
@click.pass_context
def fit(
    ctx: click.Context,
    /,
    budget: str | None,
    budget_bytes: str | None,
    dtype: str,
    solve: str,
    fmt: str,
    quiet: bool,
    **model: Any,
) -> None:
    """The largest hidden size (or input size, layer count, vocabulary) within a budget.

    Counts the RNN as `params` does, the other sizes and the model options fixed, and
    reports the largest value whose total stays within the budget, that total, and the
    total one size up, which breaks it. Exit code 1 when even the smallest model is over.
    On a whole network the size is shared: --solve hidden-size sets every recurrent layer's
    (they must have one size), input-size the embedding's width when there is one, layers
    the stack of the one recurrent layer, vocab-size the embedding's rows (and a tied
    output layer's units).

    \b
    Examples:
      rnncalc fit --budget 1M                        # the largest H for 1M parameters
      rnncalc fit --budget 25M -c lstm --convention pytorch -I 300 -L 2
      rnncalc fit --budget-bytes 4MiB --dtype float16 -c gru
      rnncalc fit --budget 100k --solve layers -H 64 -f json
      rnncalc fit --budget 20M --vocab-size 10k -I 650 -L 2 -c lstm --solve layers
      rnncalc fit --budget 5M --model lm.toml --solve vocab-size
      h=$(rnncalc fit --budget 1M -q)
    """
    from ..analysis.fit import fit as solve_fit
    from ..model.spec import DTYPE_BYTES
    from ..units import parse_bytes, parse_count

    quiet_alone(ctx, "fmt")
    if (budget is None) == (budget_bytes is None):
        raise click.UsageError("give exactly one of --budget and --budget-bytes.")
    if budget_bytes is None:
        refuse_if_given(ctx, "dtype", "it sizes the parameters of --budget-bytes")
    field = solve.replace("-", "_")
    refuse_if_given(ctx, "timesteps", "the RNN's count does not depend on T")
    refuse_if_given(ctx, field, f"--solve {solve} finds it")
    try:
        if budget is not None:
            limit = parse_count(budget)
        else:
            assert budget_bytes is not None
            limit = parse_bytes(budget_bytes) // DTYPE_BYTES[dtype]
    except ValueError as error:
        hint = "'--budget'" if budget is not None else "'--budget-bytes'"
        raise click.BadParameter(str(error), param_hint=hint) from None
    if limit < 1:
        raise click.BadParameter(
            f"holds no {dtype} parameter at all ({DTYPE_BYTES[dtype]} bytes each)",
            param_hint="'--budget-bytes'",
        )
    result = solve_fit(build_network(ctx, _placeholder(ctx, field, model)), field, limit)
    if fmt == "json":
        from ..render.jsontext import to_json

        data = result.to_dict()
        if budget_bytes is not None:
            data["options"] |= {"budget_bytes": parse_bytes(budget_bytes), "dtype": dtype}
        emit(to_json(data))
    elif not result.fits:
        pass
    elif quiet:
        emit(f"{result.value}\n")
    else:
        from ..render.fit import fit_table

        echo_table(lambda color, width: fit_table(result, color=color, width=width))
    if not result.fits:
        emit(
            f"rnncalc: no {solve} fits: even the smallest model ({solve} {result.smallest}) "
            f"needs {result.total:,} parameters, more than {limit:,}.\n",
            err=True,
        )
        ctx.exit(1)


def _placeholder(ctx: click.Context, field: str, model: dict[str, Any]) -> dict[str, Any]:
    """The model options with a valid value for the size to find, which is not used: the
    smallest hidden size, or under a tied output layer the one size that fits it (a model
    file keeps its own).
    """
    tie = model["tie"] and model["model_path"] is None
    heads: tuple[int, ...] = model["output_size"]
    if field == "vocab_size":
        if tie and given(ctx, "output_size"):
            raise click.UsageError(
                "--solve vocab-size with --tie: the tied output layer has as many units as "
                "the vocabulary, so leave -O out (it follows the vocabulary).",
                ctx,
            )
        return {**model, "vocab_size": (1,)}
    directions = 2 if model["bidirectional"] else 1
    reads_recurrent = tie and len(heads) == 1
    if field == "hidden_size":
        hidden = model["proj_size"] + 1
        if reads_recurrent and not model["proj_size"]:
            hidden, rest = divmod(model["input_size"], directions)
            if rest:
                raise click.UsageError(
                    f"--solve hidden-size: no hidden size can satisfy --tie, which needs the "
                    f"last recurrent layer's width 2·H to equal the embedding width -I "
                    f"{model['input_size']:,} (an odd number).",
                    ctx,
                )
        return {**model, "hidden_size": (hidden,)}
    if field == "input_size" and tie:
        width = heads[-2] if len(heads) > 1 else directions * (
            model["proj_size"] or model["hidden_size"][-1])  # fmt: skip
        return {**model, "input_size": width}
    return model
