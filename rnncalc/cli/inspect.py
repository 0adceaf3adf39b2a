"""``rnncalc inspect``: the architecture, counts and memory of a checkpoint, from the file."""

from __future__ import annotations

import click

from ..model.network import STEPS
from .options import (
    command,
    format_option,
    int_option,
    quiet_alone,
    quiet_option,
)
from .streams import emit
from .terminal import color_option, echo_table


@command
@click.argument("file", metavar="FILE")
@int_option("-T", "--timesteps", default=3, minimum=1, text="T for the recovered model "
            "(a checkpoint does not hold it): written into --format toml.")  # fmt: skip
@click.option(
    "--outputs",
    type=click.Choice(STEPS, case_sensitive=False),
    help="Where the dense layers run: last or all (a .keras config says it itself).  "
    "[default: every step for a decoder or a tied language model, else the last step]",
)
@color_option
@format_option("table", "json", "toml")
@quiet_option("Print only the file's parameter count (a tied weight once), a bare integer.")
@click.pass_context
def inspect(ctx: click.Context, /, file: str, timesteps: int, outputs: str | None, fmt: str,
            quiet: bool) -> None:  # fmt: skip
    """What a checkpoint holds: every tensor with its role, the totals, bytes on disk and in
    memory, the recurrent network the tensors form, and the proof: the shapes rnncalc
    predicts for that network, tensor by tensor, against the file's.

    Reads the file's metadata only (a 2 GB checkpoint answers as fast as a 2 KB one) and
    runs nothing from it.  Reads PyTorch torch.save files (a state_dict, or a training
    checkpoint holding one), safetensors and NumPy .npz files named as PyTorch names
    parameters (embedding.weight, lstm.weight_ih_l0, linear.bias, ...), Keras files (a .keras
    archive by its config, a .weights.h5 by its layers' shapes, Keras 2 .h5 models), and
    ONNX files (their LSTM, GRU and RNN nodes, a Gather embedding, Gemm and MatMul heads).
    Tensors that form no layer (a convolution, a norm) are listed as "other" and counted.
    Exit 1 if a
    predicted tensor is missing or differs in shape.

    \b
    Examples:
      rnncalc inspect model.pt
      rnncalc inspect model.safetensors
      rnncalc inspect model.keras
      rnncalc inspect model.onnx
      rnncalc inspect model.safetensors -q
      rnncalc inspect model.safetensors --format toml > model.toml
      rnncalc params --model model.toml -q    # the same total, less the other tensors
      rnncalc inspect weights.npz -f json | jq .totals
    """
    from ..analysis.inspect import inspect_file
    from ..formats.tensors import FormatError
    from ..model.modelfile import to_toml
    from ..model.recover import RecoveryError
    from .flags import command_line

    quiet_alone(ctx, "fmt")
    try:
        report = inspect_file(file, timesteps, outputs)
    except FormatError as error:
        raise click.UsageError(str(error), ctx) from None
    except RecoveryError as error:
        raise click.UsageError(f"{file}: {error.message}", ctx) from None
    line = command_line("params", report.recovered.network)
    if quiet:
        emit(f"{report.total}\n")
    elif fmt == "toml":
        emit(to_toml(report.recovered.network))
    elif fmt == "json":
        from ..render.inspect import inspect_json

        emit(inspect_json(report, line))
    else:
        from ..render.inspect import inspect_table

        echo_table(lambda color, width: inspect_table(report, line, color=color, width=width))
    if not report.ok:
        ctx.exit(1)
