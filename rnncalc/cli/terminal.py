"""What the terminal gets: ``--color`` and whether output is styled, the width tables are
drawn to, and echoing a table drawn for both.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .streams import emit

F = TypeVar("F", bound=Callable[..., Any])


#: The widest terminal drawn for: COLUMNS can say anything, a drawing must stay finite.
MAX_WIDTH = 1000
COLOR_MODES = ("auto", "always", "never")


def color_option(func: F) -> F:
    """--color auto|always|never: ANSI styles in tables and charts (auto: on a terminal,
    unless NO_COLOR is set; FORCE_COLOR forces them).  Kept in the context, not passed on.
    """

    def remember(ctx: click.Context, param: click.Parameter, value: str) -> None:
        ctx.color = {"always": True, "never": False}.get(value)

    return click.option(
        "--color",
        type=click.Choice(COLOR_MODES, case_sensitive=False),
        default="auto",
        show_default=True,
        expose_value=False,
        callback=remember,
        help="Colour in tables: auto (a terminal, unless NO_COLOR is set), always or never.",
    )(func)


def wants_color() -> bool:
    """Whether output gets ANSI styles: --color, else NO_COLOR, FORCE_COLOR, TERM=dumb, and
    whether stdout is a terminal (as clig.dev and no-color.org put it).
    """
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.color is not None:
        return ctx.color
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return os.environ.get("TERM") != "dumb" and sys.stdout.isatty()


def output_width() -> int | None:
    """The width to draw for: COLUMNS if set, else the terminal's; None when piped (natural
    width, so that nothing wraps).  At least 20 and at most MAX_WIDTH columns.
    """
    columns = os.environ.get("COLUMNS", "")
    if columns.strip().isdigit():
        return min(max(20, int(columns)), MAX_WIDTH)
    if not sys.stdout.isatty():
        return None
    import shutil  # only for a terminal: it costs start-up time

    return min(max(20, shutil.get_terminal_size().columns), MAX_WIDTH)


def echo_table(draw: Callable[[bool, int | None], str]) -> None:
    """Echo what ``draw(color, width)`` draws for this stdout."""
    emit(draw(wants_color(), output_width()))
