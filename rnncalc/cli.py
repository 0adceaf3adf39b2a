"""The ``rnncalc`` command line: parse options, call the core, pick a renderer, echo.

Data goes to stdout, messages to stderr.  Usage errors exit 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from . import __version__
from .counts import count_params
from .spec import NOTATIONS, ModelSpec, SpecError

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

SIZE_OPTIONS = (
    ("-T", "--timesteps", 3, 1, "Number of timesteps T."),
    ("-I", "--input-size", 4, 1, "Size I of each input vector x_t."),
    ("-H", "--hidden-size", 3, 1, "Size H of the hidden state h_t."),
    ("-O", "--output-size", 1, 0, "Size O of the output y; 0 drops the output layer."),
)


def size_options(func: F) -> F:
    """Add -T/-I/-H/-O, the seed's four sizes, each defaulting to the seed's example."""
    for short, long, default, minimum, text in reversed(SIZE_OPTIONS):
        func = click.option(
            short,
            long,
            type=click.IntRange(min=minimum),
            default=default,
            show_default=True,
            metavar="N",
            help=text,
        )(func)
    return func


def format_option(*choices: str) -> Callable[[F], F]:
    """Add -f/--format with the given choices, the first being the default."""
    return click.option(
        "-f",
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format: a table for people, json or csv for scripts.",
    )


def make_spec(**fields: Any) -> ModelSpec:
    """Build a ModelSpec, turning a validation error into a usage error naming the option."""
    try:
        return ModelSpec(**fields)
    except SpecError as error:
        raise click.BadParameter(
            error.message, param_hint=f"--{error.field.replace('_', '-')}"
        ) from None


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="rnncalc")
def cli() -> None:
    """Calculator for recurrent neural networks: exact weight shapes and parameter counts.

    \b
    Start with the seed's example (T=3, I=4, H=3, O=1: RNN 28, dense 127):
      rnncalc params
      rnncalc params --explain
    and see `rnncalc COMMAND --help` for each command.
    """


@cli.command(context_settings=CONTEXT)
@size_options
@click.option(
    "--notation",
    type=click.Choice(NOTATIONS),
    default="separate",
    show_default=True,
    help="separate: W_xh and W_hh; concat: one W_h of shape (H+I) x H on [h_{t-1}, x_t].",
)
@click.option(
    "--explain", "explain_", is_flag=True, help="Show each formula in letters and in numbers."
)
@format_option("table", "json", "csv")
@click.option("-q", "--quiet", is_flag=True, help="Print only the RNN total, a bare integer.")
@click.pass_context
def params(
    ctx: click.Context,
    timesteps: int,
    input_size: int,
    hidden_size: int,
    output_size: int,
    notation: str,
    explain_: bool,
    fmt: str,
    quiet: bool,
) -> None:
    """Weight shapes and parameter counts: the RNN against its dense equivalent.

    The RNN is the seed's many-to-one network, h_t = f(x_t W_xh + h_{t-1} W_hh + b_h),
    y = f(h_T W_yh + b_y). The dense equivalent is an MLP over the flattened input:
    T*I inputs -> T*H hidden units -> O outputs.

    \b
    Examples:
      rnncalc params                      # the seed's example: 28 against 127
      rnncalc params -T 100 -I 32 -H 64   # longer sequences, wider state
      rnncalc params --notation concat    # one W_h of shape (H+I) x H
      rnncalc params --explain            # the formulas, numbers put in
      rnncalc params -f json | jq .rnn.total
      n=$(rnncalc params -q -H 128)       # a bare integer for scripts
    """
    if quiet and explain_:
        raise click.UsageError(
            "--quiet prints a bare number; it cannot be combined with --explain."
        )
    if quiet and _given(ctx, "fmt"):
        raise click.UsageError("--quiet prints a bare number; it cannot be combined with --format.")
    if explain_ and fmt == "csv":
        raise click.UsageError("--explain adds text; use it with --format table or json, not csv.")
    spec = make_spec(
        timesteps=timesteps,
        input_size=input_size,
        hidden_size=hidden_size,
        output_size=output_size,
        notation=notation,
    )
    report = count_params(spec)
    if quiet:
        click.echo(report.rnn.total)
        return
    from . import render

    explanation = None
    if explain_:
        from .formulas import explain

        explanation = explain(report)

    if fmt == "json":
        click.echo(render.params_json(report, explanation), nl=False)
    elif fmt == "csv":
        click.echo(render.params_csv(report), nl=False)
    else:
        terminal = sys.stdout.isatty()
        width = os.get_terminal_size().columns if terminal else None
        click.echo(
            render.params_table(report, explanation, terminal=terminal, width=width), nl=False
        )


def main() -> None:
    """Console-script entry point; a closed pipe (``| head``) ends quietly."""
    try:
        cli(prog_name="rnncalc")
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
