"""The ``rnncalc`` command line: the group, its commands, and the console-script entry point.

Each command lives in its own module and only parses options, calls the core, picks a
renderer and echoes.  The group imports a command's module only when that command runs
(or when help lists it), so ``rnncalc params`` never pays for ``forward``'s options.
Data goes to stdout, messages to stderr; usage errors exit 2.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import sys
from typing import Any

import click

from .. import __version__
from . import streams
from .options import CONTEXT, plain_help

#: Exit status after Ctrl-C, as shells report a process ended by SIGINT.
INTERRUPTED = 130

#: Command name -> "module:attribute" of its click command.
COMMANDS = {
    "params": "rnncalc.cli.params:params",
    "forward": "rnncalc.cli.forward:forward",
    "cost": "rnncalc.cli.cost:cost",
    "sweep": "rnncalc.cli.sweep:sweep",
    "fit": "rnncalc.cli.fit:fit",
    "diagram": "rnncalc.cli.diagram:diagram",
    "inspect": "rnncalc.cli.inspect:inspect",
}


class LazyGroup(click.Group):
    """A click group that imports each command's module on first use."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return plain_help(self, ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy]

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """As click's, with a mistyped command answered by the closest names."""
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as error:
            raise click.exceptions.NoSuchCommand(
                error.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = self.lazy[cmd_name].partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"rnncalc, version {__version__}")
        ctx.exit()


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings=CONTEXT)
@click.option(  # not click.version_option: its translated help loads locale at every start
    "-V",
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
def cli() -> None:
    """Calculator for recurrent neural networks: exact weight shapes and parameter counts.

    rnncalc grew from a page on recurrent layers, "the seed": its vanilla RNN,
    h_t = f(x_t W_xh + h_{t-1} W_hh + b_h), y = f(h_T W_yh + b_y), its notation (row
    vectors, one bias per gate: --convention seed) and its example, T=3 timesteps, input
    size I=4, hidden size H=3, output size O=1, which holds 28 parameters against 127 for
    a dense network, are the defaults.

    \b
    Start with the seed's example:
      rnncalc params
      rnncalc params --explain
      rnncalc forward --check
      rnncalc cost
    and see `rnncalc COMMAND --help` for each command.
    """


def main() -> None:
    """Console-script entry point: set up the process (:mod:`rnncalc.cli.streams`) and run."""
    # What the imports so far built (click's and rnncalc's modules, classes and functions)
    # lives as long as the process: frozen, it is left out of every later collection, which
    # otherwise re-scans it while the command's own modules load (5 ms of every start).
    gc.freeze()
    streams.prepare()
    if sys.stdout is None:
        if sys.stderr is not None:
            sys.stderr.write("rnncalc: standard output is closed: there is nowhere to write\n")
        sys.exit(streams.OUTPUT_ERROR)
    sys.exit(run())


def run(args: list[str] | None = None) -> int:
    """Run the command line ``args`` (default: the process's) and return its exit status.

    Errors end here: a usage error is one message and 2, Ctrl-C 130, output that cannot
    be written one line and 1; no message echoes more than a few hundred characters of its
    input.
    """
    try:
        status = cli.main(args, prog_name="rnncalc", standalone_mode=False)
        sys.stdout.flush()
    except click.ClickException as error:
        shown = io.StringIO()
        error.show(shown)
        usage, marker, text = shown.getvalue().partition("Error: ")
        line = streams.message(text.rstrip("\n"))
        with contextlib.suppress(OSError, ValueError):  # a closed stderr: the status still tells
            streams.emit(f"{usage}{marker}{line}\n", err=True)
        return error.exit_code
    except (click.Abort, KeyboardInterrupt):
        return INTERRUPTED
    except OSError as error:
        return streams.write_failed(error)
    return status if isinstance(status, int) else 0
