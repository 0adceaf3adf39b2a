"""The model options every command shares, and the network they describe.

The seed's flags (-T -I -H -O, -c, -L, ...) keep their meaning; whole networks add:

* ``-H 64/32``: one recurrent layer per size, in order (a slash, so that sweep's lists
  ``1,2,3`` and ranges ``16..128:x2`` never look alike), and ``-O 64/10``: dense layers,
  the last one the output layer, those before it ``--head-activation``;
* ``--vocab-size V``: an embedding first, I its width, and token ids as inputs;
* ``--tie``: the output layer shares the embedding's weight (O is then V);
* ``--outputs last|all``: the dense layers on the last step or at every step;
* ``--model FILE``: a TOML model file (:mod:`rnncalc.model.modelfile`); -T, -I,
  --convention and --notation given with it override the file's, and the flags that
  describe layers are refused (the file describes them).

The library checks every rule; errors come back as the option they concern.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..model.network import (
    DENSE_ACTIVATIONS,
    RNN_ACTIVATIONS,
    STEPS,
    Dense,
    Embedding,
    Layer,
    Network,
    Recurrent,
    Stage,
)
from ..model.spec import SpecError
from ..units import parse_count
from .options import (
    NARROW_OPTIONS,
    FilePath,
    choice_option,
    given,
    int_option,
    model_options_but_layers,
    option_label,
    option_name,
)

F = TypeVar("F", bound=Callable[..., Any])

#: The options that describe layers, refused with --model (the file describes them).
LAYER_OPTIONS = (
    "hidden_size",
    "output_size",
    "layers",
    "cell",
    "bidirectional",
    "bias",
    "proj_size",
    "reset_after",
    "vocab_size",
    "tie",
    "outputs",
    "hidden_activation",
    "head_activation",
    "output_activation",
)
#: Fields of a layer (in a library error's path) -> the option that sets them.
FIELD_OPTIONS = {
    "hidden_size": "hidden_size",
    "units": "output_size",
    "stack": "layers",
    "kind": "cell",
    "vocab_size": "vocab_size",
    "dim": "input_size",
    "steps": "outputs",
    "tie": "tie",
    "proj_size": "proj_size",
    "reset_after": "reset_after",
    "bidirectional": "bidirectional",
    "bias": "bias",
    "activation": "hidden_activation",  # dense activations are click choices
}


class LayerSizes(click.ParamType[tuple[int, ...]]):
    """Sizes of one layer or several, slash-separated: ``64`` or ``64/32`` (each as
    :func:`rnncalc.units.parse_count` reads it: ``1k``, ``1_000``); 0 alone where
    ``minimum`` allows it.
    """

    name = "sizes"

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        if isinstance(value, int):
            return (value,)
        parts = str(value).split("/")
        if len(parts) > 1000:
            self.fail("at most 1000 layers, one size each", param, ctx)
        minimum = self.minimum if len(parts) == 1 else max(self.minimum, 1)
        try:
            return tuple(parse_count(part, minimum) for part in parts)
        except ValueError as error:
            self.fail(str(error), param, ctx)


def network_options(func: F) -> F:
    """Add the model options: sizes, layers, cells, directions, conventions, embedding,
    head and tying, and --model FILE.
    """
    sizes: list[Callable[[F], F]] = [
        click.option(
            "--model",
            "model_path",
            type=FilePath(),
            metavar="FILE",
            help="A TOML model file: the whole network (-T, -I, --convention override it).",
        ),
        int_option("-T", "--timesteps", default=3, minimum=1, text="Number of timesteps T."),
        int_option(
            "-I",
            "--input-size",
            default=4,
            minimum=1,
            text="Size I of each input vector x_t (the embedding's width with --vocab-size).",
        ),
        click.option(
            "-H",
            "--hidden-size",
            type=LayerSizes(1),
            default="3",
            show_default=True,
            metavar="H[/H...]",
            help="Size H of the hidden state h_t; 64/32 gives one recurrent layer per size.",
        ),
        click.option(
            "-O",
            "--output-size",
            type=LayerSizes(0),
            default="1",
            show_default=True,
            metavar="O[/O...]",
            help="Size O of the output y (0: no output layer); 64/10 puts dense layers first.",
        ),
        int_option(
            "-L",
            "--layers",
            default=1,
            minimum=1,
            text="Stacked recurrent layers (of one size: PyTorch's num_layers).",
        ),
    ]
    whole: list[Callable[[F], F]] = [
        click.option(
            "--vocab-size",
            type=LayerSizes(1),
            metavar="V",
            help="An embedding of V tokens first: inputs are token ids, I its width.",
        ),
        click.option(
            "--tie",
            is_flag=True,
            help="The output layer shares the embedding's weight (needs --vocab-size; O = V).",
        ),
        choice_option(
            "--outputs",
            choices=STEPS,
            text="Dense layers on the last step (many-to-one) or at every step.",
        ),
        click.option(
            "--hidden-activation",
            type=click.Choice(RNN_ACTIVATIONS, case_sensitive=False),
            help="f_h of the vanilla RNN (--cell rnn).  [default: tanh]",
        ),
        choice_option(
            "--head-activation",
            choices=("relu", *(a for a in DENSE_ACTIVATIONS if a != "relu")),
            text="Activation of the dense layers before the output layer (-O 64/10).",
        ),
        choice_option(
            "--output-activation",
            choices=DENSE_ACTIVATIONS,
            text="f_y of the output layer (softmax across the O outputs).",
        ),
    ]
    shared: list[Callable[[F], F]] = [model_options_but_layers]
    for decorate in reversed([*sizes, *shared, *whole]):
        func = decorate(func)
    return func


def build_network(ctx: click.Context, options: dict[str, Any]) -> Network:
    """The network the options describe: the model file's, or the flags'.  Pops the model
    options from ``options``; library errors become usage errors of their option.
    """
    values = {name: options.pop(name) for name in (*LAYER_OPTIONS, *_TOP_OPTIONS)}
    path = options.pop("model_path")
    if path is not None:
        return _from_file(ctx, path, values)
    try:
        return _from_flags(ctx, values)
    except SpecError as error:
        raise _option_error(error) from None


_TOP_OPTIONS = ("timesteps", "input_size", "convention", "notation")


def _from_flags(ctx: click.Context, v: dict[str, Any]) -> Network:
    for name, (cell, convention) in NARROW_OPTIONS.items():
        if given(ctx, name) and (v["cell"], v["convention"]) != (cell, convention):
            raise click.UsageError(
                f"{option_name(name)} applies to --cell {cell} --convention {convention} only.",
                ctx,
            )
    sizes: tuple[int, ...] = v["hidden_size"]
    heads: tuple[int, ...] = v["output_size"]
    if len(sizes) > 1 and given(ctx, "layers"):
        raise click.UsageError(
            "-L stacks layers of one size; with sizes per layer (-H 64/32) leave it out "
            "(or repeat a size: -H 64/64/32).",
            ctx,
        )
    layers: list[Layer] = []
    input_size: int | None = v["input_size"]
    if v["vocab_size"] is not None:
        (vocab,) = v["vocab_size"]
        layers.append(Embedding(vocab, v["input_size"]))
        input_size = None
    elif v["tie"]:
        raise click.UsageError("--tie shares the embedding's weight: it needs --vocab-size.", ctx)
    for size in sizes:
        layers.append(
            Recurrent(
                v["cell"],
                size,
                v["bidirectional"],
                v["bias"],
                v["proj_size"],
                v["reset_after"] or v["cell"] != "gru",
                v["layers"] if len(sizes) == 1 else 1,
                v["hidden_activation"] or "tanh",
            )
        )
    if v["tie"] and not given(ctx, "output_size"):
        heads = v["vocab_size"]
    if heads != (0,):
        for j, units in enumerate(heads):
            last = j == len(heads) - 1
            activation = v["output_activation"] if last else v["head_activation"]
            layers.append(Dense(units, activation, v["outputs"], v["tie"] and last))
    elif v["tie"]:
        raise click.UsageError("--tie ties the output layer: it needs -O other than 0.", ctx)
    stage = Stage(v["timesteps"], input_size, tuple(layers))
    return Network((stage,), v["convention"], v["notation"])


def _from_file(ctx: click.Context, path: Path, v: dict[str, Any]) -> Network:
    from ..model.modelfile import ModelFileError, read_model

    for name in LAYER_OPTIONS:
        if given(ctx, name):
            raise click.UsageError(
                f"{option_label(ctx, name)} describes layers, which come from the model file "
                f"with --model; edit {path} instead (-T, -I, --convention and --notation may "
                "override it).",
                ctx,
            )
    try:
        network = read_model(str(path))
    except ModelFileError as error:
        raise click.BadParameter(str(error), ctx, param_hint="'--model'") from None
    try:
        return _override(ctx, network, v)
    except SpecError as error:
        raise click.BadParameter(
            f"{path}: {error}", ctx, param_hint=_hint(ctx, error.field)
        ) from None


def _override(ctx: click.Context, network: Network, v: dict[str, Any]) -> Network:
    """The file's network with the top-level values the user gave on the command line."""
    top = {k: v[k] for k in ("convention", "notation") if given(ctx, k)}
    first = network.stages[0]
    if given(ctx, "timesteps"):
        first = first.replace(timesteps=v["timesteps"])
    if given(ctx, "input_size"):
        embedding = first.embedding
        if embedding is None:
            first = first.replace(input_size=v["input_size"])
        else:
            layers = (embedding.replace(dim=v["input_size"]), *first.layers[1:])
            first = first.replace(layers=layers)
    return network.replace(stages=(first, *network.stages[1:]), **top)


def _hint(ctx: click.Context, field: str) -> str:
    name = _option_field(field)
    return f"'{option_label(ctx, name)}'" if given(ctx, name) else "'--model'"


def _option_field(field: str) -> str:
    """A library field path (``layers[1].units``) as the option that sets it."""
    last = field.rpartition(".")[2]
    return FIELD_OPTIONS.get(last, last)


def _option_error(error: SpecError) -> SpecError:
    return SpecError(_option_field(error.field), error.message)
