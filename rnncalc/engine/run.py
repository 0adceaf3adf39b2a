"""Run a network in NumPy on the calculator's shapes, and prove the shapes by running them.

Every array is created with a shape taken from :mod:`rnncalc.model.shapes`, in the
network's convention; with ``check``, :mod:`.checks` compares what the pass produced with
what the sizes alone predict, so a wrong shape in the shape source shows up as a failed
check.

Conventions are the seed's: row vectors, inputs batch first, x of shape (B, T, I), or
(B, T) token ids when the network starts with an embedding.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..model import shapes
from ..model.network import Dense, Network, Recurrent, Stage
from ..model.spec import ModelSpec, Outputs, SpecError
from .activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .assemble import Affine, Canonical, Stack, assemble, assemble_network
from .checks import Pass, checks, dense_forward
from .engines import Engine, choose
from .fast import Workspace, network_forward, stack_forward
from .memory import dense_fits, estimate_bytes
from .results import (
    Check,
    ForwardReport,
    PassFailed,
    Progress,
    RunOptions,
    RunResult,
    Timing,
    seed_spec,
)
from .types import Array, States
from .walk import Walked, walk
from .weights import UsageRecorder, drawn, init_weights

__all__ = [
    "HIDDEN_ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "Array",
    "Check",
    "ForwardReport",
    "PassFailed",
    "Progress",
    "RunOptions",
    "RunResult",
    "Timing",
    "Workspace",
    "dense_forward",
    "estimate_bytes",
    "init_weights",
    "pass_flops",
    "rnn_forward",
    "run",
    "token_error",
]


def rnn_forward(
    weights: Mapping[str, Array],
    x: Array,
    hidden_activation: str = "tanh",
    output_activation: str = "identity",
    outputs: Outputs = "last",
    workspace: Workspace | None = None,
    threads: int | None = None,
) -> tuple[Array, Array | None]:
    """The seed's vanilla RNN on x (B, T, I) with weights by the seed's names.

    W_xh (I, H), W_hh (H, H), b_h (H,) and, for an output layer, W_yh (H, O), b_y (O,).
    Returns the hidden states (B, T, H) and y ((B, O), (B, T, O) or None).  For other
    cells, conventions and whole networks, use :func:`run` or
    :func:`rnncalc.engine.network_forward`.
    """
    i, h = weights["W_xh"].shape
    o = weights["W_yh"].shape[1] if "W_yh" in weights else 0
    spec = ModelSpec(x.shape[1], i, h, o)
    net = assemble(spec, weights, np.result_type(x, weights["W_xh"]))
    return network_forward(
        net, x, hidden_activation, output_activation, outputs, workspace, threads
    )


def pass_flops(model: ModelSpec | Network, batch: int, outputs: Outputs = "last") -> int:
    """Matmul FLOPs of one pass: 2 per multiply-accumulate as :mod:`rnncalc.analysis.cost`
    counts them (for the vanilla RNN 2*B*T*(I*H + H*H), plus the output layer once or at
    each step).  A network that is not the seed's form folds its shape list: every matrix
    is used once per step of its stage (a dense layer on the last step, once), embeddings
    are lookups, and ``outputs`` is the network's own.
    """
    from ..analysis.cost import estimate_cost

    if isinstance(model, ModelSpec):
        return 2 * estimate_cost(model, batch, outputs).rnn.compute.matmul_macs
    spec = seed_spec(model)
    if spec is not None:
        head = model.stages[0].dense
        steps: Outputs = head[0].steps if head else "last"
        return 2 * estimate_cost(spec, batch, steps).rnn.compute.matmul_macs
    macs = 0
    for term in shapes.rnn_terms(model):
        w = term.weight
        if w.role in shapes.BIAS_ROLES or w.role == "embedding":
            continue
        stage = model.stages[w.stage]
        layer = stage.layers[w.module]
        every_step = isinstance(layer, Recurrent) or (
            isinstance(layer, Dense) and layer.steps == "all"
        )
        macs += batch * (stage.timesteps if every_step else 1) * term.elements
    return 2 * macs


def run(
    model: ModelSpec | Network,
    options: RunOptions,
    *,
    check: bool = False,
    weights: Mapping[str, Array] | None = None,
    x: Array | None = None,
    x_decoder: Array | None = None,
    progress: Progress | None = None,
    max_bytes: int | None = None,
) -> tuple[ForwardReport, RunResult]:
    """Build (or take) weights and inputs, time the fast pass, and with ``check`` prove it.

    ``model`` is a network, or the seed-style spec, whose f_h, f_y and outputs come from
    ``options`` (a network carries its own: its options leave them unset).  ``weights``
    are named and shaped as ``shapes.rnn_weights(model)`` lists them (a tied weight once,
    under the embedding's name).  ``x`` is (B, T, I), or (B, T) token ids for an embedding;
    ``x_decoder`` the decoder's target tokens (or inputs) in an encoder-decoder; either is
    drawn from ``options.seed`` when not given.  A pass that cannot run (say, because the
    shape source gave a matrix that does not fit) raises :class:`PassFailed`, whose report
    holds the failed check.  Non-finite values (NaN, inf, in a file or produced by
    overflow) raise no warnings: the check reports them.  ``progress`` hears of each phase
    (the fast pass, the two step-by-step passes, the dense equivalent) and its steps.

    With ``max_bytes``, a run whose arrays would need more (:func:`estimate_bytes`) raises
    SpecError on ``max_memory`` before anything is allocated; but a check whose dense
    equivalent alone is too large runs without it, and checks the dense equivalent's
    parameters by its shapes instead, saying so in the check's name.
    """
    network = run_network(model, options)
    dense = dense_fits(network, options, check, max_bytes)
    # One stream each for the weights, the inputs and the dense check: the same seed gives
    # the same x whether or not the weights come from a file.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(options.seed).spawn(3)]
    with np.errstate(all="ignore"):
        inputs = _inputs(network, options, x, x_decoder, streams[1])
        return _run(network, options, check, weights, inputs, progress or _Silent(), dense, streams)


def run_network(model: ModelSpec | Network, options: RunOptions) -> Network:
    """The network to run: ``model``, or the spec's with the options' f_h, f_y and outputs."""
    if isinstance(model, Network):
        for field, default in (
            ("hidden_activation", None),
            ("output_activation", "identity"),
            ("outputs", "last"),
        ):
            if getattr(options, field) != default:
                raise SpecError(
                    field, "a network carries its own: set its layers' activation and steps"
                )
        return model
    if model.cell != "rnn" and options.hidden_activation is not None:
        raise SpecError(
            "hidden_activation",
            "applies to the vanilla RNN only: LSTM and GRU gates use sigmoid and tanh as the "
            "frameworks define them",
        )
    network = model.network()
    if (options.f_h, options.output_activation, options.outputs) == ("tanh", "identity", "last"):
        return network  # the spec's own
    stage = network.stages[0]
    recurrent, *head = stage.layers
    assert isinstance(recurrent, Recurrent)
    layers: tuple[Recurrent | Dense, ...] = (recurrent.replace(activation=options.f_h),)
    if head:
        layers += (Dense(model.output_size, options.output_activation, options.outputs),)
    try:
        return network.replace(stages=(stage.replace(layers=layers),))
    except SpecError as error:  # an activation the convention's framework does not offer
        raise SpecError("hidden_activation", error.message) from None


def token_error(name: str, tokens: Array, vocab_size: int) -> str | None:
    """Why ``tokens`` cannot be an embedding's input (B, T) over ``vocab_size`` tokens, or
    None: integers only, two dimensions, each id in [0, vocab_size).
    """
    if tokens.dtype.kind not in "iu":
        return (
            f"{name} holds {tokens.dtype} values; an embedding reads integer token ids "
            f"in [0, {vocab_size})"
        )
    if tokens.ndim != 2 or 0 in tokens.shape:
        return (
            f"{name} has shape {tuple(tokens.shape)}; expected (B, T) token ids: batch, "
            "timesteps, neither of them 0"
        )
    bad = (tokens < 0) | (tokens >= vocab_size)
    if bad.any():
        b, t = (int(i) for i in np.argwhere(bad)[0])
        return (
            f"{name}[{b}, {t}] is {int(tokens[b, t])}, outside the vocabulary: token ids run "
            f"from 0 to {vocab_size - 1}"
        )
    return None


def _inputs(
    network: Network,
    options: RunOptions,
    x: Array | None,
    x_decoder: Array | None,
    rng: np.random.Generator,
) -> tuple[Array, ...]:
    """Each stage's inputs, given or drawn from ``rng``."""
    if x_decoder is not None and not network.encoder_decoder:
        raise SpecError("x_decoder", "is the decoder's input: the network has no decoder")
    given = (x, x_decoder)
    made: list[Array] = []
    for s, stage in enumerate(network.stages):
        name = ("x", "x_decoder")[s]
        batch = made[0].shape[0] if made else options.batch_size
        made.append(_stage_inputs(name, stage, given[s], batch, rng, options.dtype))
    return tuple(made)


def _stage_inputs(
    name: str, stage: Stage, given: Array | None, batch: int, rng: np.random.Generator, dtype: str
) -> Array:
    embedding = stage.embedding
    if embedding is None:
        if given is not None:
            return np.asarray(given, dtype)
        return drawn(rng.standard_normal, (batch, stage.timesteps, stage.features), dtype)
    if given is None:
        return rng.integers(0, embedding.vocab_size, (batch, stage.timesteps))
    tokens = np.asarray(given)
    problem = token_error(name, tokens, embedding.vocab_size)
    if problem is None and tokens.shape[0] != batch:
        problem = f"{name} holds {tokens.shape[0]} sequences, x {batch}"
    if problem is not None:
        raise SpecError(name, problem)
    return tokens


def _fast_pass(
    network: Network,
    arrays: Mapping[str, Array],
    inputs: tuple[Array, ...],
    dtype: np.dtype[Any],
    workspace: Workspace,
    progress: Progress,
    engine: Engine,
) -> tuple[Canonical, Callable[[], Walked]]:
    """The network in canonical form and its fast pass (by ``engine``).  One of the seed's
    form is read by :func:`assemble` and runs as :func:`network_forward`, its stack and
    head; any other by :func:`assemble_network` and :func:`rnncalc.engine.walk.walk`.
    """
    spec = seed_spec(network)
    if spec is None:
        params = assemble_network(network, arrays, dtype)

        def fast(
            key: str, stack: Stack, x: Array, start: States | None, hand_on: bool
        ) -> tuple[Array, States]:
            return stack_forward(
                stack.net, x, stack.activation, workspace, None, progress.advance, start, key,
                hand_on, engine,
            )  # fmt: skip

        return params, lambda: walk(params, inputs, fast)
    recurrent, *head = network.stages[0].layers
    assert isinstance(recurrent, Recurrent)
    net = assemble(spec, arrays, dtype)
    parts: list[Stack | Affine] = [Stack(net, recurrent.activation)]
    f_y: str = "identity"
    steps: Outputs = "last"
    if net.head is not None and head:
        assert isinstance(head[0], Dense)
        f_y, steps = head[0].activation, head[0].steps
        parts.append(Affine(*net.head, f_y, steps))

    def seed_pass() -> Walked:
        h, y = network_forward(
            net, inputs[0], recurrent.activation, f_y, steps, workspace,
            advance=progress.advance, engine=engine,
        )  # fmt: skip
        return Walked((), h, y)

    return Canonical((tuple(parts),)), seed_pass


def _run(
    network: Network,
    options: RunOptions,
    check: bool,
    weights: Mapping[str, Array] | None,
    inputs: tuple[Array, ...],
    progress: Progress,
    dense: bool,
    streams: list[np.random.Generator],
) -> tuple[ForwardReport, RunResult]:
    weight_rng, _, dense_rng = streams
    dtype = np.dtype(options.dtype)
    if weights is None:
        weights = init_weights(shapes.rnn_weights(network), weight_rng, options.dtype)
    arrays = {name: np.asarray(a, dtype) for name, a in weights.items()}
    produced: dict[str, list[int]] = {"x": list(inputs[0].shape)}
    if len(inputs) > 1:
        produced["x_decoder"] = list(inputs[1].shape)
    recorder = UsageRecorder(arrays)
    workspace = Workspace()

    flops = pass_flops(network, inputs[0].shape[0])
    engine = choose(
        options.engine, options.repeat * recurrent_steps(network), options.repeat * flops
    )
    try:
        params, fast = _fast_pass(network, recorder, inputs, dtype, workspace, progress, engine)
        if engine == "compiled":
            _load_kernels(params, dtype)
        times = []
        progress.phase("fast pass", options.repeat * recurrent_steps(network))
        for _ in range(options.repeat):
            start = time.perf_counter()
            walked = fast()
            times.append(time.perf_counter() - start)
    except (ValueError, IndexError, KeyError) as error:
        failed = Check("forward pass runs", "no error", f"{type(error).__name__}: {error}", False)
        raise PassFailed(ForwardReport(network, options, (failed,), produced, None)) from error
    produced["h"] = list(walked.h.shape)
    if walked.y is not None:
        produced["y"] = list(walked.y.shape)
    timing = Timing(statistics.median(times), options.repeat, flops, engine)
    result = RunResult(
        inputs[0], arrays, walked.h, walked.y, inputs[1] if len(inputs) > 1 else None
    )
    made: tuple[Check, ...] = ()
    if check:
        ran = Pass(network, options, params, result, walked, progress, dense)
        made = checks(ran, recorder.elements_read, dense_rng)
    return ForwardReport(network, options, made, produced, timing), result


def _load_kernels(params: Canonical, dtype: np.dtype[Any]) -> None:
    """Compile or load each recurrent layer's kernel before the timed runs."""
    from .engines import kernels, signals_deferred

    compiled = kernels()
    with signals_deferred():  # an interrupted compile is an error, not an interruption
        for part in (part for stage in params.stages for part in stage):
            if isinstance(part, Stack):
                compiled.load(part.net.cell, part.net.reset_after, dtype)


def recurrent_steps(network: Network) -> int:
    """Steps of every direction of every stacked recurrent layer, stage by stage."""
    return sum(
        stage.timesteps * layer.stack * layer.directions
        for stage in network.stages
        for layer in stage.recurrent
    )


class _Silent:
    def phase(self, name: str, total: int) -> None:
        return None

    def advance(self, done: int) -> None:
        return None
