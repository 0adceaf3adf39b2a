"""``rnncalc sweep``: totals across ranges of sizes, streamed, or charted."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .model import build_network, network_options
from .options import (
    command,
    format_option,
    given,
    option_label,
    refuse_if_given,
)
from .terminal import color_option, echo_table

if TYPE_CHECKING:
    from ..analysis.ranges import Sizes
    from ..analysis.sweep import Sweep
    from ..model.network import Network

F = TypeVar("F", bound=Callable[..., Any])

#: Beyond this many rows a table is refused (use csv or json, which stream).
TABLE_LIMIT = 10_000
RANGE_HELP = "a size, a list (1,10,100) or a range (1..100, 32..256:+32, 16..1024:x2)"
#: The sizes that take lists and ranges -> (smallest value, whether a slash separates layers).
RANGED = {
    "timesteps": (1, False),
    "input_size": (1, False),
    "hidden_size": (1, True),
    "output_size": (0, True),
    "layers": (1, False),
    "vocab_size": (1, False),
}
#: The sizes a model file's top-level values may sweep (-T and -I override them).
TOP_LEVEL = ("timesteps", "input_size")
#: Swept sizes: per option, one Sizes per layer (None: --vocab-size not given).
Swept = dict[str, "tuple[Sizes, ...] | None"]


def range_options(func: F) -> F:
    """The model options of every command, with -T/-I/-H/-O/-L/--vocab-size taking lists
    and ranges (-H and -O per layer: ``64/16..128:x2``), and --outputs for --cost.
    """
    func = network_options(func)
    params: list[click.Parameter] = getattr(func, "__click_params__")  # noqa: B009
    for k, param in enumerate(params):
        if not isinstance(param, click.Option):
            continue
        if param.name == "outputs":
            param.help = "With --cost: the dense layers run on the last step, or at every step."
        if param.name not in RANGED:
            continue
        minimum, layered = RANGED[param.name]
        default = str(param.default) if isinstance(param.default, (int, str)) else None
        takes = "Each layer's part (64/16..128:x2) takes" if layered else "Takes"
        params[k] = click.Option(
            param.opts,
            default=default,
            show_default=default is not None,
            metavar="SIZES" + ("[/SIZES...]" if layered else ""),
            callback=_parse(minimum, layered),
            help=f"{param.help} {takes} {RANGE_HELP}.",
        )
    return func


def _parse(
    minimum: int, layered: bool
) -> Callable[[click.Context, click.Parameter, str | None], tuple[Sizes, ...] | None]:
    def callback(
        ctx: click.Context, param: click.Parameter, value: str | None
    ) -> tuple[Sizes, ...] | None:
        from ..analysis.ranges import parse_layer_sizes, parse_sizes

        if value is None:
            return None
        try:
            return parse_layer_sizes(value, minimum) if layered else (parse_sizes(value, minimum),)
        except ValueError as error:
            raise click.BadParameter(str(error)) from None

    return callback


@command
@range_options
@click.option("--cost", "with_cost", is_flag=True, help="Add MACs per sequence and float32 bytes.")
@click.option("--plot", is_flag=True, help="Chart RNN against dense totals (log scale).")
@color_option
@format_option("table", "csv", "json", "jsonl")
@click.pass_context
def sweep(ctx: click.Context, /, with_cost: bool, plot: bool, fmt: str, **options: Any) -> None:
    """Parameter counts across sizes: one row per combination, streamed as computed.

    Any size option takes a list or a range: 1,10,100 is a list; 1..100 counts by one;
    32..256:+32 counts by 32; 16..1024:x2 doubles (16, 32, ..., 1024). Lists may mix them:
    1..4,8,16..64:x2. Ranges include both ends when the step lands on them and must count
    upwards. -H and -O take one per layer, slash-separated: -H 64/16..128:x2 sweeps the
    second layer's size. Rows vary the last swept size fastest, in the order of the
    columns: T, I, H, O, L, or for a whole network the letters of its sizes (T, V, E, H1,
    H2, U, O, L, as params --explain writes them).

    \b
    Examples:
      rnncalc sweep -T 1,10,100                    # the dense count grows with T²
      rnncalc sweep -H 16..1024:x2 -c lstm --cost
      rnncalc sweep -T 1..1000000 -f csv | head     # streams: returns at once
      rnncalc sweep -T 1..20 --plot                 # RNN against dense, log scale
      rnncalc sweep -H 32..256:+32 -I 64,128 -f json
      rnncalc sweep -H 64/16..128:x2 -O 64/1,10 -c lstm --convention keras
      rnncalc sweep --vocab-size 1k..100k:x10 -I 128 -H 128 --tie -f csv
      rnncalc sweep --model lm.toml -T 35,70 -I 256..1024:x2
    """
    from ..analysis.sweep import Sweep, count_rows

    if plot:
        refuse_if_given(ctx, "fmt", "--plot draws a chart, which has no other format")
        refuse_if_given(ctx, "with_cost", "--plot charts parameter totals only")
    if not with_cost:
        refuse_if_given(ctx, "outputs", "it counts the dense layers' MACs, shown with --cost")
    from ..render.sweep import csv_lines, json_document, json_lines, sweep_plot, sweep_table

    swept: Swept = {name: options.pop(name) for name in RANGED}
    outputs = options["outputs"]
    network = _template(ctx, swept, options)
    plan = Sweep(network, outputs)
    start = plan.sizes()
    positions = {  # the sizes not the template's: those that vary, and O = 0
        k: (name, values)
        for k, (name, values) in sorted(_positions(ctx, plan, swept).items())
        if values.length > 1 or values[0] != start[k]
    }
    _check(ctx, plan, positions)
    varying = {k: values for k, (_, values) in positions.items() if values.length > 1}
    fixed = {k: values for k, (_, values) in positions.items() if values.length == 1}
    count = count_rows(varying)
    rows = plan.rows({**fixed, **varying})
    sizes = plan.columns
    names = [sizes[k] for k in varying]
    if plot:
        if len(varying) != 1:
            raise click.UsageError("--plot charts one swept size: give exactly one a range.")
        if count > 200:
            raise click.UsageError(f"--plot draws at most 200 values; this sweep has {count:,}.")
        echo_table(lambda c, w: sweep_plot(list(rows), names[0], sizes=sizes, color=c, width=w))
    elif fmt == "table":
        if count > TABLE_LIMIT:
            raise click.UsageError(
                f"{count:,} rows are too many for a table (at most {TABLE_LIMIT:,}): add "
                "--format csv or --format jsonl (or json), which stream the rows as they come."
            )
        echo_table(lambda c, w: sweep_table(rows, with_cost, names, sizes=sizes, color=c, width=w))
    elif fmt == "json":
        texts = {
            name: "/".join(part.text for part in parts)
            for name, parts in swept.items()
            if parts is not None and any(part.length > 1 for part in parts)
        }
        settings = {"swept": texts, "cost": with_cost, "outputs": outputs}
        _stream(json_document(rows, with_cost, plan.model(varying), settings, sizes))
    else:
        lines = csv_lines if fmt == "csv" else json_lines
        _stream(lines(rows, with_cost, sizes))


def _template(ctx: click.Context, swept: Swept, options: dict[str, Any]) -> Network:
    """The network at the first of each swept size (with the one dense layer that -O 0
    leaves out, for its column), checked as params checks it; every hidden size must be
    above P.
    """
    proj = options["proj_size"]
    hidden = swept["hidden_size"]
    assert hidden is not None
    if proj and any(part.low <= proj for part in hidden):
        raise click.BadParameter(
            f"every hidden size must be above --proj-size {proj}",
            param_hint="'-H' / '--hidden-size'",
        )
    first: dict[str, Any] = {
        name: None if parts is None else tuple(part[0] for part in parts)
        for name, parts in swept.items()
    }
    if first["output_size"] == (0,) and not options["tie"]:
        first["output_size"] = (1,)  # the layer O = 0 leaves out, for its column
    for name in ("timesteps", "input_size", "layers"):
        first[name] = first[name][0]
    return build_network(ctx, {**options, **first, "outputs": "last"})


def _positions(ctx: click.Context, plan: Sweep, swept: Swept) -> dict[int, tuple[str, Sizes]]:
    """Each swept size's slot in the plan, with the option that sweeps it."""
    from_file = ctx.params.get("model_path") is not None
    found: dict[int, tuple[str, Sizes]] = {}
    for name, parts in swept.items():
        if parts is None or (from_file and not (name in TOP_LEVEL and given(ctx, name))):
            continue  # a model file keeps its sizes unless -T or -I is given
        for (module, field), values in zip(_places(plan, name), parts, strict=False):
            try:
                found[plan.index(0, module, field)] = (name, values)
            except ValueError:  # a tied layer's units: they follow the vocabulary
                if values.length > 1:
                    raise click.BadParameter(
                        "the output layer tied to the embedding has as many units as the "
                        "vocabulary: sweep --vocab-size instead",
                        ctx,
                        param_hint=f"'{option_label(ctx, name)}'",
                    ) from None
    return found


def _places(plan: Sweep, name: str) -> list[tuple[int, str]]:
    """Where option ``name`` puts its sizes in the first stage: (layer index, or -1 for
    the stage's own, and field), one per layer it sizes; none for -O 0 under --tie (which
    the network refuses) and for -L beside sizes per layer (refused when given).
    """
    from ..model.network import Dense, Recurrent

    stage = plan.network.stages[0]
    if name == "timesteps":
        return [(-1, "timesteps")]
    if name == "input_size":
        return [(0, "dim") if stage.embedding else (-1, "input_size")]
    if name == "vocab_size":
        return [(0, "vocab_size")]
    kind, field = (Recurrent, "hidden_size") if name == "hidden_size" else (Dense, "units")
    if name in ("hidden_size", "output_size"):
        return [(k, field) for k, layer in enumerate(stage.layers) if isinstance(layer, kind)]
    return [(plan.slots[-1].module, "stack")] if "L" in plan.letters else []


def _check(ctx: click.Context, plan: Sweep, positions: dict[int, tuple[str, Sizes]]) -> None:
    """Refuse a swept size whose smallest or largest value breaks a rule of the network
    (a tied layer whose width would change, ...), naming the value and the option.
    """
    from ..analysis.sweep import with_sizes
    from ..model.spec import SpecError

    for k, (name, values) in positions.items():
        for value in {values.low, values.high}:
            try:
                with_sizes(plan.network, {plan.slots[k]: value})
            except SpecError as error:
                raise click.BadParameter(
                    f"{value:,} (of {values.text}) breaks the model: {error}",
                    ctx,
                    param_hint=f"'{option_label(ctx, name)}'",
                ) from None


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
