"""``rnncalc forward``: run the network in NumPy on the predicted shapes, and prove them."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..model import shapes
from ..model.network import Dense, Recurrent
from .model import LAYER_OPTIONS, build_network, network_options
from .options import (
    batch_option,
    bytes_callback,
    choice_option,
    command,
    dtype_option,
    file_errors,
    file_option,
    format_option,
    given,
    int_option,
    model_spec,
    option_label,
    quiet_alone,
    quiet_option,
    refuse_if_given,
)
from .streams import emit, message
from .terminal import color_option, echo_table

if TYPE_CHECKING:
    from ..analysis.checkpoint_weights import CheckpointWeights
    from ..engine.run import Array, ForwardReport, RunResult
    from ..formats.npy import NpzArchive
    from ..formats.save import Reservation
    from ..model.network import Network

#: The seed's sizes, which a weights file and an inputs file may fix (flags of one
#: recurrent layer and one head, without an embedding).
SIZE_FIELDS = (
    "batch_size",
    "timesteps",
    "input_size",
    "hidden_size",
    "output_size",
    "proj_size",
)
MODEL_FIELDS = ("cell", "layers", "bidirectional", "convention", "bias", "reset_after", "notation")
#: Options of the run itself, the rest describing the network.
RUN_FIELDS = ("batch_size", "dtype", "repeat", "seed", "engine")
#: rnncalc.engine.engines.ENGINES, named here so that listing commands loads no NumPy.
ENGINES = ("auto", "compiled", "numpy")
#: What a checkpoint does not hold (or, for activations, a state_dict): options that set it.
CHECKPOINT_FREE = ("timesteps", "outputs", "hidden_activation", "head_activation",
                   "output_activation")  # fmt: skip
#: Suffixes of the checkpoint formats; another file is taken for an .npz when its format
#: cannot be told.
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".onnx")


@command
@click.option(
    "--check", is_flag=True, help="Prove the shapes: compare every prediction with the run."
)
@network_options
@batch_option
@int_option(
    "--seed",
    default=0,
    minimum=0,
    text="Seed for the random weights and inputs: the same seed, the same numbers.",
)
@dtype_option("float64", "Precision of the pass: float64 or float32.")
@int_option("--repeat", default=1, minimum=1, text="Time the pass N times and report the median.")
@choice_option(
    "--engine",
    choices=ENGINES,
    text="The recurrent layers' pass: compiled kernels (numba: pip install 'rnncalc[fast]'), "
    "NumPy, or auto: compiled when installed and the run is long enough to repay loading it.",
)
@file_option(
    "--weights",
    "weights_path",
    "An .npz of weights by the convention's names (seed: W_xh, W_hh, b_h, W_yh, b_y); the "
    "seed's sizes come from it, a whole network's must match it (a tied weight: once).  Or a "
    "checkpoint (.pt, .safetensors, .onnx): the network is recovered from it as inspect does.",
)
@file_option(
    "--inputs",
    "inputs_path",
    "An .npy of the input x, shape (B, T, I), batch first, or (B, T) token ids with "
    "--vocab-size; an encoder-decoder's .npz holds x and x_decoder. B and T come from it.",
)
@file_option(
    "--save",
    "save_path",
    "Write the weights, x (and x_decoder), h (B, T, D*H) and y to this .npz, whole or not at all.",
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
    layer by layer and in both directions), y = f_y(h W_yh + b_y), and times it; or a
    whole network (an embedding of token ids, layers of their own sizes, dense layers, a
    tied output layer, an encoder-decoder teacher-forced on target tokens).

    --weights takes an .npz by the convention's names, or a checkpoint (PyTorch .pt,
    .safetensors, ONNX): its network is then recovered from the file as `rnncalc inspect`
    recovers it (size and layer options given must agree with it; -T, --outputs and the
    activations may be set) and runs in the file's precision (float64, else float32:
    16-bit floats are widened) unless --dtype says.

    With --check it compares the shapes of x, every h_t, each layer's outputs (the seed's:
    the top layer's and y) and the number of parameters the pass read with the
    predictions; reruns the equations step by step and in the concatenated form
    [h_{t-1}, x_t] W_h; and runs the dense equivalent (the seed's form only).
    Exit code 0 when every check passes, 1 when one fails, 2 for bad input.

    \b
    Examples:
      rnncalc forward --check                    # the seed's example, proved
      rnncalc forward --check -T 50 -H 64 -B 8 --dtype float32
      rnncalc forward --check -c lstm -L 2 --bidirectional --convention pytorch
      rnncalc forward --check --vocab-size 100 -I 16 -H 32 -L 2 -c lstm --tie --outputs all
      rnncalc forward --check --model seq2seq.toml --inputs tokens.npz
      rnncalc forward -B 64 -T 100 -I 128 -H 256 --repeat 20 -f json | jq .timing
      rnncalc forward -c lstm -B 8 -T 200 -I 64 -H 128 --dtype float32 --engine compiled
      rnncalc forward --check --weights w.npz --inputs x.npy --save out.npz
      rnncalc forward --weights model.pt --inputs tokens.npy --save out.npz
      rnncalc forward --weights model.onnx --inputs x.npy -f json
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
        self.weights: dict[str, Array] | None = None
        self.x: Array | None = None
        self.x_decoder: Array | None = None

    def checkpoint(self) -> bool:
        """Whether the weights file is a checkpoint (.pt, .safetensors, .onnx, as
        :func:`rnncalc.formats.checkpoint.detect` tells), not an .npz.
        """
        from ..formats.checkpoint import detect
        from ..formats.tensors import FormatError

        if self.weights_path is None:
            return False
        try:
            return detect(str(self.weights_path)) != "npz"
        except FormatError:
            if self.weights_path.suffix.lower() not in CHECKPOINT_SUFFIXES:
                return False  # read as an .npz, and refused as one
            raise

    def read_checkpoint(self, checkpoint: CheckpointWeights) -> None:
        """Read the checkpoint's weights, and spend them from the budget."""
        from ..analysis.checkpoint_weights import read_weights

        with file_errors("--weights"):
            self.weights = read_weights(checkpoint, self.max_memory)
        self.max_memory -= sum(a.nbytes for a in self.weights.values())

    def open_weights(self) -> None:
        """Open the weights archive, and spend its declared size from the budget."""
        from ..formats.npy import open_npz

        if self.weights_path is None or self.weights is not None:
            return
        with file_errors("--weights"):
            self.archive = self.stack.enter_context(open_npz(self.weights_path, self.max_memory))
        self.max_memory -= sum(declared.nbytes for declared in self.archive.declared.values())


def _run(
    ctx: click.Context, check: bool, files: _Files, options: dict[str, Any]
) -> tuple[ForwardReport, RunResult | None]:
    """Read the files, settle the model, check its memory, and run it."""
    from ..engine import run as fw

    with file_errors("--weights"):
        checkpoint = files.checkpoint()
    if given(ctx, "hidden_activation") and options["cell"] != "rnn" and not checkpoint:
        raise click.BadParameter(
            "applies to the vanilla RNN only (--cell rnn): LSTM and GRU gates have their own",
            ctx,
            param_hint="'--hidden-activation'",
        )
    run_options = {f: options.pop(f) for f in RUN_FIELDS}
    if checkpoint:
        loaded = _checkpoint(ctx, files, options)
        network = _read_network_files(ctx, files, loaded.network)
        if files.x is not None:
            run_options["batch_size"] = int(files.x.shape[0])
        if not given(ctx, "dtype"):  # the file's precision
            run_options["dtype"] = loaded.dtype
    elif _seed_flags(options):
        sizes = _read_files(ctx, files, options)
        run_options["batch_size"] = sizes.pop("batch_size")
        options.update(
            sizes, hidden_size=(sizes["hidden_size"],), output_size=(sizes["output_size"],)
        )
        network = build_network(ctx, options)
    else:
        network = _read_network_files(ctx, files, build_network(ctx, options))
        if files.x is not None:
            run_options["batch_size"] = int(files.x.shape[0])
    if not network.output.dense:
        for name in ("outputs", "output_activation"):
            refuse_if_given(ctx, name, "the model has no output layer (O = 0)")
    from_files = files.x is not None and (files.x_decoder is not None or len(network.stages) == 1)
    if files.weights_path is not None and from_files and not check:
        refuse_if_given(ctx, "seed", "the weights and inputs come from files")
    weights = files.weights
    if files.archive is not None:
        weights = _matched_weights(files.archive, network)
    from .progress import progress_on_terminal

    with progress_on_terminal() as progress:
        try:
            return fw.run(
                network,
                fw.RunOptions(**run_options),
                check=check,
                weights=weights,
                x=files.x,
                x_decoder=files.x_decoder,
                progress=progress,
                max_bytes=files.max_memory,
            )
        except fw.PassFailed as failed:
            return failed.report, None


def _checkpoint(ctx: click.Context, files: _Files, options: dict[str, Any]) -> CheckpointWeights:
    """The checkpoint's network, recovered as ``rnncalc inspect`` recovers it (-T and
    --outputs placing it, the activations given set), or the model file's held to the
    checkpoint's shapes; its weights read.  A size or layer option given must agree with
    the file.
    """
    from ..analysis.checkpoint_weights import open_checkpoint
    from ..model.recover import RecoveryError

    path = str(files.weights_path)
    model = build_network(ctx, options) if options["model_path"] is not None else None
    try:
        with file_errors("--weights"):
            if model is not None:
                loaded = open_checkpoint(path, model=model, max_bytes=files.max_memory)
            else:
                steps = options["outputs"] if given(ctx, "outputs") else None
                timesteps = ctx.params["timesteps"]
                loaded = open_checkpoint(path, timesteps, steps, max_bytes=files.max_memory)
    except RecoveryError as error:
        raise click.BadParameter(f"{path}: {error.message}", param_hint="'--weights'") from None
    if model is None:
        _agree(ctx, path, loaded.network)
        network = _activations(ctx, path, loaded)
        loaded = replace(loaded, network=network)
    files.read_checkpoint(loaded)
    if model is None:
        _choices(ctx, path, loaded)
    used = set(loaded.names.values())
    _ignoring([t.name for t in loaded.report.listing.tensors if t.name not in used], path)
    for note in loaded.report.recovered.notes:
        if "left out of the network" in note or "no layer rnncalc models" in note:
            why = "the run leaves it out, so its values are not the framework's"
            emit(message(f"rnncalc: {path}: {note}; {why}") + "\n", err=True)
    return loaded


def _choices(ctx: click.Context, path: str, loaded: CheckpointWeights) -> None:
    """Say on stderr what the run assumes that the file does not say and no option set:
    where a state_dict's dense layers run, and its vanilla RNN's nonlinearity (an ONNX
    graph holds both, and so does a Keras file's config; a ``.weights.h5`` holds neither).
    """
    listing = loaded.report.listing
    if listing.format == "onnx":
        return
    if listing.format.startswith("keras"):
        from ..formats.keras import read_keras_config

        if read_keras_config(path) is not None:
            return
    network = loaded.network
    dense = network.output.dense
    if dense and not given(ctx, "outputs"):
        place = "every step" if dense[0].steps == "all" else "the last step"
        note = f"{path} does not say where its dense layers run: {place} (set --outputs)"
        emit(message(f"rnncalc: {note}") + "\n", err=True)
    vanilla = any(x.cell == "rnn" for stage in network.stages for x in stage.recurrent)
    if vanilla and not given(ctx, "hidden_activation"):
        note = (
            f"{path} does not hold the vanilla RNN's nonlinearity: tanh (set --hidden-activation)"
        )
        emit(message(f"rnncalc: {note}") + "\n", err=True)


def _agree(ctx: click.Context, path: str, network: Network) -> None:
    """Refuse a size or layer option given that the file contradicts: the file's value is
    read from the flags that build its network (:func:`rnncalc.cli.flags.network_flags`).
    """
    from .flags import network_flags

    names = (*LAYER_OPTIONS, "input_size", "convention", "notation")
    described = [n for n in names if n not in CHECKPOINT_FREE and given(ctx, n)]
    if not described:
        return
    flags = network_flags(network)
    if flags is None:
        raise click.UsageError(
            f"{option_label(ctx, described[0])} describes the network, which comes from "
            f"{path}; flags cannot describe its network (write it with rnncalc inspect "
            "--format toml and use --model): leave the option out.",
            ctx,
        )
    held = ctx.command.make_context(ctx.info_name or "forward", flags, parent=ctx.parent).params
    for name in described:
        if ctx.params[name] != held[name]:
            raise click.UsageError(
                f"{_shown(ctx, name, ctx.params[name])} disagrees with {path}, which holds "
                f"{_shown(ctx, name, held[name])}; leave the option out or make them agree.",
                ctx,
            )


def _shown(ctx: click.Context, name: str, value: object) -> str:
    """An option's value as it is written: ``-H 8/4``, ``--no-bias``, ``--bidirectional``."""
    param = next(p for p in ctx.command.params if p.name == name)
    label = max(param.opts, key=len)
    if isinstance(value, bool):
        negative = getattr(param, "secondary_opts", [])
        return label if value else negative[0] if negative else f"no {label}"
    if isinstance(value, tuple):
        value = "/".join(map(str, value))
    return f"{label} {value}"


#: What an activation option needs, when a checkpoint's network lacks it.
_MISSING = {
    "hidden_activation": "no vanilla RNN layer",
    "head_activation": "no dense layer before its output layer",
    "output_activation": "no output layer",
}


def _activations(ctx: click.Context, path: str, loaded: CheckpointWeights) -> Network:
    """The recovered network with the activations given: a state_dict holds none (its
    vanilla RNN's is taken for tanh, its dense layers' for identity), an ONNX graph holds
    them, and one given must agree with it.
    """
    network = loaded.network
    stage = network.output
    dense = [k for k, layer in enumerate(stage.layers) if isinstance(layer, Dense)]
    wanted = {
        "hidden_activation": [
            (s, k)
            for s, each in enumerate(network.stages)
            for k, layer in enumerate(each.layers)
            if isinstance(layer, Recurrent) and layer.cell == "rnn"
        ],
        "head_activation": [(len(network.stages) - 1, k) for k in dense[:-1]],
        "output_activation": [(len(network.stages) - 1, k) for k in dense[-1:]],
    }
    stages = [list(each.layers) for each in network.stages]
    for name, places in wanted.items():
        if not given(ctx, name):
            continue
        value = ctx.params[name]
        if not places:
            raise click.BadParameter(
                f"{path} holds {_MISSING[name]}", ctx, param_hint=f"'{option_label(ctx, name)}'"
            )
        for s, k in places:
            layer = stages[s][k]
            assert isinstance(layer, Recurrent | Dense)
            if loaded.report.listing.format == "onnx" and layer.activation != value:
                raise click.UsageError(
                    f"{option_label(ctx, name)} {value} disagrees with {path}, whose graph "
                    f"applies {layer.activation}; leave the option out or make them agree.",
                    ctx,
                )
            stages[s][k] = layer.replace(activation=value)
    return network.replace(
        stages=tuple(each.replace(layers=tuple(stages[s])) for s, each in enumerate(network.stages))
    )


def _seed_flags(options: dict[str, Any]) -> bool:
    """Whether the flags describe the seed's form (one recurrent size, one head size, no
    embedding, no model file), whose sizes a weights file and an inputs file may fix.
    """
    return (
        options["model_path"] is None
        and options["vocab_size"] is None
        and len(options["hidden_size"]) == 1
        and len(options["output_size"]) == 1
    )


def _matched_weights(archive: NpzArchive, network: Network) -> dict[str, Array]:
    """Read the archive's arrays that the model's weights are, by the weights' names."""
    from ..formats.weights import match_weights

    listed = tuple(w for w in shapes.rnn_weights(network) if not w.tied)
    with file_errors("--weights"):
        keys, unknown = match_weights(archive.path, archive.declared, listed)
        arrays = archive.read(dict.fromkeys(keys.values()))
    _ignoring(unknown, archive.path)
    return {name: arrays[key] for name, key in keys.items()}


def _ignoring(unknown: list[str], path: Path | str) -> None:
    """Say on stderr which of the file's tensors the run leaves unread."""
    if unknown:
        shown = [name if len(name) <= 40 else name[:37] + "..." for name in unknown[:5]]
        names = ", ".join(shown) + (f" and {len(unknown) - 5:,} more" if unknown[5:] else "")
        emit(message(f"rnncalc: ignoring {names} in {path}") + "\n", err=True)


def _read_files(ctx: click.Context, files: _Files, options: dict[str, Any]) -> dict[str, int]:
    """Survey the weights and read the inputs, within ``files.max_memory`` between them
    (checked on what the headers declare, before reading), and settle the seed's sizes
    with the options.
    """
    from ..formats import weights as weightfiles

    sizes = {f: options[f] for f in SIZE_FIELDS if f != "batch_size"}
    sizes = {f: v[0] if isinstance(v, tuple) else v for f, v in sizes.items()}
    sizes["batch_size"] = ctx.params["batch_size"]
    found: weightfiles.Found = {}
    files.open_weights()
    if files.archive is not None:
        # The names of a model's tensors do not depend on its sizes: any valid ones will do.
        model = {f: options[f] for f in MODEL_FIELDS}
        probe = model_spec(ctx, **model, proj_size=sizes["proj_size"], skeleton=True)
        with file_errors("--weights"):
            found = weightfiles.sizes_from_weights(
                files.archive.path, files.archive.declared, probe
            )
    if files.inputs_path is not None:
        with file_errors("--inputs"):
            files.x = weightfiles.load_inputs(files.inputs_path, max(files.max_memory, 0))
            found = weightfiles.sizes_from_inputs(files.inputs_path, files.x, found)
    explicit = {f for f in SIZE_FIELDS if given(ctx, f)}
    try:
        return weightfiles.resolve_sizes(sizes, explicit, found)
    except weightfiles.SizeConflict as error:
        raise click.UsageError(str(error)) from None


def _read_network_files(ctx: click.Context, files: _Files, network: Network) -> Network:
    """Open the weights and read the inputs of a whole network: x (and an encoder-decoder's
    x_decoder) fix B and each stage's T (-T, given, must agree); token ids must be integers
    within the vocabulary, features as wide as the network reads.
    """
    from ..engine.run import token_error
    from ..formats import weights as weightfiles
    from ..formats.npy import ArrayFileError

    files.open_weights()
    path = files.inputs_path
    if path is None:
        return network
    budget = max(files.max_memory, 0)
    with file_errors("--inputs"):
        arrays = weightfiles.load_stage_inputs(path, budget, network.encoder_decoder)
        stages = list(network.stages)
        for s, (name, array) in enumerate(arrays.items()):
            stage = stages[s]
            embedding = stage.embedding
            if embedding is not None:
                problem = token_error(name, array, embedding.vocab_size)
            elif array.ndim != 3 or 0 in array.shape or array.shape[2] != stage.features:
                problem = (
                    f"{name} has shape {tuple(array.shape)}; expected (B, T, {stage.features}): "
                    "batch, timesteps, input size"
                )
            else:
                problem = None
            if problem is not None:
                raise ArrayFileError(f"{path}: {problem}")
            if s and array.shape[0] != arrays["x"].shape[0]:
                raise ArrayFileError(
                    f"{path}: x_decoder holds {array.shape[0]} sequences, x {arrays['x'].shape[0]}"
                )
            steps = int(array.shape[1])
            if s == 0 and given(ctx, "timesteps") and steps != stage.timesteps:
                raise click.UsageError(
                    f"--timesteps {stage.timesteps} disagrees with x in {path}, which gives "
                    f"timesteps {steps}; leave the option out or make them agree."
                )
            stages[s] = stage.replace(timesteps=steps)
    if given(ctx, "batch_size") and ctx.params["batch_size"] != arrays["x"].shape[0]:
        raise click.UsageError(
            f"--batch-size {ctx.params['batch_size']} disagrees with x in {path}, which gives "
            f"batch size {arrays['x'].shape[0]}; leave the option out or make them agree."
        )
    files.x, files.x_decoder = arrays["x"], arrays.get("x_decoder")
    return network.replace(stages=tuple(stages))


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
