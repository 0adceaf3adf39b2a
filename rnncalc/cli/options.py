"""Option bundles and helpers shared by every ``rnncalc`` command.

Each command gets the same size options, the same ``--format`` and the same error style
from here, so that scripts can rely on one vocabulary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import click

from ..model.spec import (
    CELLS,
    CONVENTIONS,
    DTYPES,
    NOTATIONS,
    OUTPUTS,
    ModelSpec,
    SpecError,
    skeleton,
)
from ..units import parse_count

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Command(click.Command):
    """A command whose library errors become usage errors of the option they concern.

    The library validates (a :class:`~rnncalc.model.spec.SpecError` names its field); this is
    the one place that turns such an error into a message naming the option, exit 2.  An
    allocation that fails is one clear message too, not a traceback.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """As click's, but a mistyped long option suggests the options it begins first
        (``--bidi``: ``--bidirectional``, not ``--bias``).
        """
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as error:
            names = [n for p in self.params for n in (*p.opts, *p.secondary_opts)]
            started = [n for n in names if n.startswith(error.option_name) and len(n) > 2]
            if not error.option_name.startswith("--") or not started:
                raise
            shown = " or ".join(repr(name) for name in started)
            raise click.NoSuchOption(
                error.option_name,
                f"No such option {error.option_name!r}. Did you mean {shown}?",
                ctx=ctx,
            ) from None

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return plain_help(self, ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SpecError as error:
            raise field_error(ctx, error.field, error.message) from None
        except MemoryError:
            raise click.UsageError(
                "this machine could not allocate the memory this run needs; use smaller "
                "sizes (or a lower --max-memory, which refuses such runs before they start)",
                ctx,
            ) from None


def plain_help(command: click.Command, ctx: click.Context) -> click.Option | None:
    """``-h/--help`` as click's, with its text given rather than translated: click's help
    option asks gettext for its text, whose first call imports locale (1.3 ms of every start).
    """
    names = command.get_help_option_names(ctx)
    if not names or not command.add_help_option:
        return None
    option: click.Option | None = getattr(command, "_plain_help", None)
    if option is None:
        option = click.Option(
            names,
            is_flag=True,
            expose_value=False,
            is_eager=True,
            help="Show this message and exit.",
            callback=_show_help,
        )
        command._plain_help = option  # type: ignore[attr-defined]
    return option


def _show_help(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(ctx.get_help(), color=ctx.color)
        ctx.exit()


def command(func: F) -> click.Command:
    """``@click.command`` with rnncalc's settings and error translation."""
    return click.command(cls=Command, context_settings=CONTEXT)(func)


def field_error(ctx: click.Context, field: str, message: str) -> click.UsageError:
    """A usage error about ``field``, naming its option (``'-H' / '--hidden-size'``)."""
    for param in ctx.command.params:
        if param.name == field:
            return click.BadParameter(message, ctx, param)
    return click.UsageError(f"{field.replace('_', ' ')}: {message}", ctx)


class Count(click.ParamType[int]):
    """A whole number as :func:`rnncalc.units.parse_count` reads it (``64``, ``1_000``,
    ``1.5k``), at least ``minimum`` and at most 10^100.
    """

    name = "integer"

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_count(str(value), self.minimum)
        except ValueError as error:
            self.fail(str(error), param, ctx)


SIZE_OPTIONS = (
    ("-T", "--timesteps", 3, 1, "Number of timesteps T."),
    ("-I", "--input-size", 4, 1, "Size I of each input vector x_t."),
    ("-H", "--hidden-size", 3, 1, "Size H of the hidden state h_t."),
    ("-O", "--output-size", 1, 0, "Size O of the output y; 0 drops the output layer."),
)


def size_options(func: F) -> F:
    """Add -T/-I/-H/-O, the seed's four sizes, each defaulting to the seed's example."""
    for short, long, default, minimum, text in reversed(SIZE_OPTIONS):
        func = int_option(short, long, default=default, minimum=minimum, text=text)(func)
    return func


def model_options(func: F) -> F:
    """Add the model options: cell, layers, directions, convention, biases and variants."""
    layers = int_option("-L", "--layers", default=1, minimum=1, text="Stacked recurrent layers.")
    return layers(model_options_but_layers(func))


def model_options_but_layers(func: F) -> F:
    """The model options other than -L/--layers (which ``sweep`` takes as a range)."""
    decorators = [
        choice_option(
            "-c",
            "--cell",
            choices=CELLS,
            text="rnn (the seed page's vanilla RNN), lstm (4 gate blocks) or gru (3).",
        ),
        click.option(
            "--bidirectional", is_flag=True, help="A backward copy of every layer (D = 2)."
        ),
        choice_option(
            "--convention",
            choices=CONVENTIONS,
            text="Names, shapes and biases as the seed page (row vectors, a bias per gate), "
            "torch.nn or Keras write them.",
        ),
        click.option(
            "--bias/--no-bias",
            default=True,
            show_default=True,
            help="Recurrent biases (dense layers keep their own).",
        ),
        int_option(
            "--proj-size",
            default=0,
            minimum=0,
            text="P: PyTorch's LSTM projection of h (--cell lstm --convention pytorch).",
        ),
        click.option(
            "--reset-after/--no-reset-after",
            default=True,
            show_default=True,
            help="Keras's GRU variant (--cell gru --convention keras): two bias vectors.",
        ),
        choice_option(
            "--notation",
            choices=NOTATIONS,
            text="separate: W_xh and W_hh; concat: one W_h of shape (H+I) x H on "
            "[h_{t-1}, x_t] (--convention seed).",
        ),
    ]
    for decorate in reversed(decorators):
        func = decorate(func)
    return func


#: Model options that apply to one cell and convention only: given explicitly elsewhere, they
#: are usage errors even at their default value.
NARROW_OPTIONS = {
    "proj_size": ("lstm", "pytorch"),
    "reset_after": ("gru", "keras"),
}


def model_spec(ctx: click.Context, **fields: Any) -> ModelSpec:
    """Build the ModelSpec, refusing options that do not apply to the chosen model (or,
    with ``skeleton=True``, its :func:`~rnncalc.model.spec.skeleton`: any valid sizes).
    """
    for field, (cell, convention) in NARROW_OPTIONS.items():
        if given(ctx, field) and (
            fields.get("cell") != cell or fields.get("convention") != convention
        ):
            raise click.UsageError(
                f"{option_name(field)} applies to --cell {cell} --convention {convention} only."
            )
    if fields.pop("skeleton", False):
        return skeleton(**fields)
    return ModelSpec(**fields)


def batch_option(func: F) -> F:
    """-B/--batch-size, the same in every command (default 1)."""
    return int_option("-B", "--batch-size", default=1, minimum=1, text="Sequences per batch B.")(
        func
    )


def dtype_option(default: str, text: str) -> Callable[[F], F]:
    """--dtype, with the same choices in every command (a command that cannot compute in
    one of them says so).
    """
    return click.option(
        "--dtype",
        type=click.Choice(DTYPES, case_sensitive=False),
        default=default,
        show_default=True,
        help=text,
    )


def outputs_option(text: str) -> Callable[[F], F]:
    """--outputs last|all: where the output layer runs."""
    return choice_option("--outputs", choices=OUTPUTS, text=text)


def quiet_option(text: str) -> Callable[[F], F]:
    """-q/--quiet: the command's one headline number, bare, for ``$(...)`` in scripts."""
    return click.option("-q", "--quiet", is_flag=True, help=text)


def quiet_alone(ctx: click.Context, *others: str) -> None:
    """Refuse options that add to the output when --quiet prints a bare number."""
    if not ctx.params.get("quiet"):
        return
    for name in others:
        if given(ctx, name):
            raise click.UsageError(
                f"--quiet prints a bare number; it cannot be combined with "
                f"{option_label(ctx, name)}.",
                ctx,
            )


def int_option(*names: str, default: int, minimum: int, text: str) -> Callable[[F], F]:
    """An integer option of at least ``minimum``."""
    return click.option(
        *names,
        type=Count(minimum),
        default=default,
        show_default=True,
        metavar="N",
        help=text,
    )


def choice_option(*names: str, choices: Sequence[str], text: str) -> Callable[[F], F]:
    """An option taking one of ``choices``, the first being the default."""
    return click.option(
        *names,
        type=click.Choice(choices, case_sensitive=False),
        default=choices[0],
        show_default=True,
        help=text,
    )


class FilePath(click.Path):
    """A file's path, passed on as a :class:`pathlib.Path`; a name the system cannot take
    (a NUL byte) is a usage error, as click's checks raise ValueError for it.
    """

    def __init__(self) -> None:
        from pathlib import Path

        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except ValueError as error:
            self.fail(f"{value!r:.60} is not a path: {error}", param, ctx)


def file_option(name: str, dest: str, text: str) -> Callable[[F], F]:
    """An option naming a file, passed on as a :class:`pathlib.Path`."""
    return click.option(name, dest, type=FilePath(), metavar="FILE", help=text)


def format_option(*choices: str) -> Callable[[F], F]:
    """-f/--format with the given choices, the first being the default."""
    text = "Output format: a table for people; " + " or ".join(choices[1:]) + " for scripts."
    return choice_option("-f", "--format", "fmt", choices=choices, text=text)


def bytes_callback(ctx: click.Context, param: click.Parameter, value: str) -> int:
    """Parse a size such as ``512MiB`` for an option, or fail as a usage error."""
    from ..units import parse_bytes

    try:
        return parse_bytes(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def option_name(field: str) -> str:
    """``input_size`` -> ``--input-size``."""
    return "--" + field.replace("_", "-")


def refuse_if_given(ctx: click.Context, name: str, why: str) -> None:
    """Refuse option ``name`` when the user set it: it would have no effect, for ``why``.

    An option that does nothing is a usage error, never silently dropped.
    """
    if given(ctx, name):
        raise click.UsageError(f"{option_label(ctx, name)} has no effect here: {why}.", ctx)


def option_label(ctx: click.Context, name: str) -> str:
    """Option ``name`` by its long form, e.g. ``--outputs``, ``--bias/--no-bias``."""
    for param in ctx.command.params:
        if param.name == name and param.opts:
            forms = [max(param.opts, key=len), *getattr(param, "secondary_opts", [])]
            return "/".join(forms)
    return option_name(name)


def given(ctx: click.Context, name: str) -> bool:
    """Whether the user set parameter ``name`` (rather than leaving its default)."""
    return ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT


@contextlib.contextmanager
def file_errors(option: str) -> Iterator[None]:
    """Report a file that cannot be used as a usage error of ``option``."""
    try:
        yield
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=f"'{option}'") from None
