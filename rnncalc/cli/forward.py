"""``rnncalc forward``: run the RNN in NumPy on the predicted shapes, and prove them."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..model import shapes
from .options import (
    batch_option,
    bytes_callback,
    choice_option,
    color_option,
    command,
    dtype_option,
    echo_table,
    file_errors,
    file_option,
    format_option,
    given,
    int_option,
    model_options,
    model_spec,
    outputs_option,
    quiet_alone,
    quiet_option,
    refuse_if_given,
    size_options,
)
from .streams import emit, message

if TYPE_CHECKING:
    from ..engine.run import Array, ForwardReport, RunResult
    from ..formats.npy import NpzArchive
    from ..formats.save import Reservation
    from ..model.spec import ModelSpec

#: Names accepted by --hidden-activation and --output-activation (rnncalc.engine.run implements
#: them; the names live here so that parsing options does not import numpy).
HIDDEN_ACTIVATION_NAMES = ("tanh", "relu", "sigmoid", "identity")
OUTPUT_ACTIVATION_NAMES = ("identity", "tanh", "sigmoid", "softmax")
SIZE_FIELDS = (
    "batch_size",
    "timesteps",
    "input_size",
    "hidden_size",
    "output_size",
    "proj_size",
)
MODEL_FIELDS = ("cell", "layers", "bidirectional", "convention", "bias", "reset_after", "notation")


@command
@click.option(
    "--check", is_flag=True, help="Prove the shapes: compare every prediction with the run."
)
@size_options
@model_options
@batch_option
@int_option(
    "--seed",
    default=0,
    minimum=0,
    text="Seed for the random weights and inputs: the same seed, the same numbers.",
)
@dtype_option("float64", "Precision of the pass: float64 or float32.")
@click.option(
    "--hidden-activation",
    type=click.Choice(HIDDEN_ACTIVATION_NAMES, case_sensitive=False),
    help="f_h, applied to the hidden state (--cell rnn only).  [default: tanh]",
)
@choice_option(
    "--output-activation",
    choices=OUTPUT_ACTIVATION_NAMES,
    text="f_y, applied to the output (softmax across the O outputs).",
)
@outputs_option("last: y from h_T, many-to-one (B, O); all: y at every step (B, T, O).")
@int_option("--repeat", default=1, minimum=1, text="Time the pass N times and report the median.")
@file_option(
    "--weights",
    "weights_path",
    "An .npz of weights by the convention's names (seed: W_xh, W_hh, b_h, W_yh, b_y); sizes "
    "come from it.",
)
@file_option(
    "--inputs",
    "inputs_path",
    "An .npy of the input x, shape (B, T, I), batch first; sizes come from it.",
)
@file_option(
    "--save",
    "save_path",
    "Write the weights, x, h (B, T, D*H) and y to this .npz, whole or not at all.",
)
@click.option(
    "--max-memory",
    type=str,
    default="1GiB",
    show_default=True,
    callback=bytes_callback,
    metavar="SIZE",
    help="Refuse runs whose arrays would need more (units: MiB, GiB, MB, GB).",
)
@color_option
@format_option("table", "json")
@quiet_option("Print only the pass's median time in seconds; the exit code tells the checks.")
@click.pass_context
def forward(
    ctx: click.Context,
    /,
    check: bool,
    weights_path: Path | None,
    inputs_path: Path | None,
    save_path: Path | None,
    max_memory: int,
    fmt: str,
    quiet: bool,
    **options: Any,
) -> None:
    """Run the network in NumPy on the shapes rnncalc predicts, and with --check prove them.

    Builds weights with the shapes `rnncalc params` lists (in the chosen convention), runs
    h_0 = 0, h_t = f_h(x_t W_xh + h_{t-1} W_hh + b_h) (or the LSTM's or GRU's equations,
    layer by layer and in both directions), y = f_y(h W_yh + b_y), and times it.
    With --check it compares the shapes of x, every h_t, the top layer's outputs and y, and
    the number of parameters the pass read, with the predictions; reruns the equations step
    by step and in the concatenated form [h_{t-1}, x_t] W_h; and runs the dense equivalent.
    Exit code 0 when every check passes, 1 when one fails, 2 for bad input.

    \b
    Examples:
      rnncalc forward --check                    # the seed's example, proved
      rnncalc forward --check -T 50 -H 64 -B 8 --dtype float32
      rnncalc forward --check -c lstm -L 2 --bidirectional --convention pytorch
      rnncalc forward -B 64 -T 100 -I 128 -H 256 --repeat 20 -f json | jq .timing
      rnncalc forward --check --weights w.npz --inputs x.npy --save out.npz
    """
    from ..formats.save import reserve

    quiet_alone(ctx, "fmt")
    with contextlib.ExitStack() as stack:
        save = None
        if save_path is not None:  # checked, and its temporary file made, before the run
            with file_errors("--save"):
                save = stack.enter_context(reserve(save_path))
        files = _Files(stack, weights_path, inputs_path, max_memory)
        report, result = _run(ctx, check, files, options)
        if save is not None:
            _save(save, result)
    # Output comes after the file is in place: a closed pipe cannot leave half a file.
    from ..render.forward import forward_json, forward_table

    if fmt == "json":
        emit(forward_json(report))
    elif quiet:
        if report.timing is not None:
            emit(f"{report.timing.seconds:.6g}\n")
    else:
        echo_table(lambda color, width: forward_table(report, color=color, width=width))
    if not report.ok:
        ctx.exit(1)


class _Files:
    """The run's files: the weights archive, opened and surveyed (its names, shapes and
    dtypes) before any data is read, and the inputs, within ``max_memory`` between them.
    """

    def __init__(
        self,
        stack: contextlib.ExitStack,
        weights_path: Path | None,
        inputs_path: Path | None,
        max_memory: int,
    ) -> None:
        self.stack, self.weights_path, self.inputs_path = stack, weights_path, inputs_path
        self.max_memory = max_memory
        self.archive: NpzArchive | None = None
        self.x: Array | None = None


def _run(
    ctx: click.Context, check: bool, files: _Files, options: dict[str, Any]
) -> tuple[ForwardReport, RunResult | None]:
    """Read the files, settle the model, check its memory, and run it."""
    from ..engine import run as fw

    model = {f: options.pop(f) for f in MODEL_FIELDS}
    sizes = _read_files(ctx, files, {f: options.pop(f) for f in SIZE_FIELDS}, model)
    spec = model_spec(ctx, **{f: v for f, v in sizes.items() if f != "batch_size"}, **model)
    if not spec.has_output_layer:
        for name in ("outputs", "output_activation"):
            refuse_if_given(ctx, name, "the model has no output layer (O = 0)")
    if files.archive is not None and files.x is not None and not check:
        refuse_if_given(ctx, "seed", "the weights and inputs come from files")
    weights = None if files.archive is None else _matched_weights(files.archive, spec)
    run_options = fw.RunOptions(batch_size=sizes["batch_size"], **options)
    from .progress import progress_on_terminal

    with progress_on_terminal() as progress:
        try:
            return fw.run(
                spec,
                run_options,
                check=check,
                weights=weights,
                x=files.x,
                progress=progress,
                max_bytes=files.max_memory,
            )
        except fw.PassFailed as failed:
            return failed.report, None


def _matched_weights(archive: NpzArchive, spec: ModelSpec) -> dict[str, Array]:
    """Read the archive's arrays that the model's weights are, by the weights' names."""
    from ..formats.weights import match_weights

    with file_errors("--weights"):
        keys, unknown = match_weights(archive.path, archive.declared, shapes.rnn_weights(spec))
        arrays = archive.read(dict.fromkeys(keys.values()))
    if unknown:
        shown = [name if len(name) <= 40 else name[:37] + "..." for name in unknown[:5]]
        names = ", ".join(shown) + (f" and {len(unknown) - 5:,} more" if unknown[5:] else "")
        emit(message(f"rnncalc: ignoring {names} in {archive.path}") + "\n", err=True)
    return {name: arrays[key] for name, key in keys.items()}


def _read_files(
    ctx: click.Context, files: _Files, sizes: dict[str, int], model: dict[str, Any]
) -> dict[str, int]:
    """Survey the weights and read the inputs, within ``files.max_memory`` between them
    (checked on what the headers declare, before reading), and settle the sizes with the
    options.
    """
    from ..formats import weights as weightfiles
    from ..formats.npy import open_npz

    found: weightfiles.Found = {}
    budget = files.max_memory
    if files.weights_path is not None:
        # The names of a model's tensors do not depend on its sizes: any valid ones will do.
        probe = model_spec(ctx, **model, proj_size=sizes["proj_size"], skeleton=True)
        with file_errors("--weights"):
            files.archive = files.stack.enter_context(open_npz(files.weights_path, budget))
            budget -= sum(declared.nbytes for declared in files.archive.declared.values())
            found = weightfiles.sizes_from_weights(
                files.weights_path, files.archive.declared, probe
            )
    if files.inputs_path is not None:
        with file_errors("--inputs"):
            files.x = weightfiles.load_inputs(files.inputs_path, max(budget, 0))
            found = weightfiles.sizes_from_inputs(files.inputs_path, files.x, found)
    explicit = {f for f in SIZE_FIELDS if given(ctx, f)}
    try:
        return weightfiles.resolve_sizes(sizes, explicit, found)
    except weightfiles.SizeConflict as error:
        raise click.UsageError(str(error)) from None


def _save(save: Reservation, result: RunResult | None) -> None:
    """Write the run's arrays over the reserved target, or say why nothing was written."""
    from ..formats.weights import write_npz

    if result is None:
        emit(message(f"rnncalc: nothing saved to {save.path}: the pass failed") + "\n", err=True)
        return
    try:
        save.commit(lambda handle: write_npz(handle, result.arrays()))
    except (OSError, ValueError) as error:
        reason = (error.strerror if isinstance(error, OSError) else None) or str(error)
        raise click.ClickException(f"could not write {save.path}: {reason}") from None
