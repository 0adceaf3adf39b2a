"""Run a network in NumPy on the calculator's shapes, and prove the shapes by running them.

Every array is created with a shape taken from :mod:`rnncalc.model.shapes`, in the spec's
convention; with ``check``, :mod:`.checks` compares what the pass produced with what the
sizes alone predict, so a wrong shape in the shape source shows up as a failed check.

Conventions are the seed's: row vectors, inputs batch first, x of shape (B, T, I).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping

import numpy as np

from ..model import shapes
from ..model.spec import ModelSpec, Outputs, SpecError
from .activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .assemble import assemble
from .checks import Pass, checks, dense_forward
from .fast import Workspace, network_forward
from .memory import dense_fits, estimate_bytes
from .results import (
    Check,
    ForwardReport,
    PassFailed,
    Progress,
    RunOptions,
    RunResult,
    Timing,
)
from .types import Array
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
    cells and conventions, use :func:`run` or :func:`rnncalc.engine.network_forward`.
    """
    i, h = weights["W_xh"].shape
    o = weights["W_yh"].shape[1] if "W_yh" in weights else 0
    spec = ModelSpec(x.shape[1], i, h, o)
    net = assemble(spec, weights, np.result_type(x, weights["W_xh"]))
    return network_forward(
        net, x, hidden_activation, output_activation, outputs, workspace, threads
    )


def pass_flops(spec: ModelSpec, batch: int, outputs: Outputs) -> int:
    """Matmul FLOPs of one pass: 2 per multiply-accumulate as :mod:`rnncalc.analysis.cost`
    counts them (for the vanilla RNN 2*B*T*(I*H + H*H), plus the output layer once or at
    each step).
    """
    from ..analysis.cost import estimate_cost

    return 2 * estimate_cost(spec, batch, outputs).rnn.compute.matmul_macs


def run(
    spec: ModelSpec,
    options: RunOptions,
    *,
    check: bool = False,
    weights: Mapping[str, Array] | None = None,
    x: Array | None = None,
    progress: Progress | None = None,
    max_bytes: int | None = None,
) -> tuple[ForwardReport, RunResult]:
    """Build (or take) weights and inputs, time the fast pass, and with ``check`` prove it.

    ``weights`` are named and shaped as ``shapes.rnn_weights(spec)`` lists them.  A pass
    that cannot run (say, because the shape source gave a matrix that does not fit) raises
    :class:`PassFailed`, whose report holds the failed check.  Non-finite values (NaN, inf,
    in a file or produced by overflow) raise no warnings: the check reports them.
    ``progress`` hears of each phase (the fast pass, the two step-by-step passes, the dense
    equivalent) and its steps.

    With ``max_bytes``, a run whose arrays would need more (:func:`estimate_bytes`) raises
    SpecError on ``max_memory`` before anything is allocated; but a check whose dense
    equivalent alone is too large runs without it, and checks the dense equivalent's
    parameters by its shapes instead, saying so in the check's name.
    """
    if spec.cell != "rnn" and options.hidden_activation is not None:
        raise SpecError(
            "hidden_activation",
            "applies to the vanilla RNN only: LSTM and GRU gates use sigmoid and tanh as the "
            "frameworks define them",
        )
    dense = dense_fits(spec, options, check, max_bytes)
    with np.errstate(all="ignore"):
        return _run(spec, options, check, weights, x, progress or _Silent(), dense)


def _run(
    spec: ModelSpec,
    options: RunOptions,
    check: bool,
    weights: Mapping[str, Array] | None,
    x: Array | None,
    progress: Progress,
    dense: bool = True,
) -> tuple[ForwardReport, RunResult]:
    # One stream each for the weights, the inputs and the dense check: the same seed gives
    # the same x whether or not the weights come from a file.
    weight_rng, input_rng, dense_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(options.seed).spawn(3)
    )
    dtype = options.dtype
    if weights is None:
        weights = init_weights(shapes.rnn_weights(spec), weight_rng, dtype, spec.hidden_size)
    if x is None:
        shape = (options.batch_size, spec.timesteps, spec.input_size)
        x = drawn(input_rng.standard_normal, shape, dtype)
    arrays = {name: np.asarray(a, dtype) for name, a in weights.items()}
    x = np.asarray(x, dtype)
    produced: dict[str, list[int]] = {"x": list(x.shape)}
    recorder = UsageRecorder(arrays)
    workspace = Workspace()
    try:
        net = assemble(spec, recorder, x.dtype)
        times = []
        steps = spec.layers * spec.directions * spec.timesteps
        progress.phase("fast pass", options.repeat * steps)
        for _ in range(options.repeat):
            start = time.perf_counter()
            h, y = network_forward(
                net,
                x,
                options.f_h,
                options.output_activation,
                options.outputs,
                workspace,
                advance=progress.advance,
            )
            times.append(time.perf_counter() - start)
    except (ValueError, IndexError, KeyError) as error:
        failed = Check("forward pass runs", "no error", f"{type(error).__name__}: {error}", False)
        raise PassFailed(ForwardReport(spec, options, (failed,), produced, None)) from error
    produced["h"] = list(h.shape)
    if y is not None:
        produced["y"] = list(y.shape)
    timing = Timing(
        statistics.median(times), options.repeat, pass_flops(spec, x.shape[0], options.outputs)
    )
    result = RunResult(x, arrays, h, y)
    made: tuple[Check, ...] = ()
    if check:
        ran = Pass(spec, options, net, result, progress, dense)
        made = checks(ran, recorder.elements_read, dense_rng)
    return ForwardReport(spec, options, made, produced, timing), result


class _Silent:
    def phase(self, name: str, total: int) -> None:
        return None

    def advance(self, done: int) -> None:
        return None
