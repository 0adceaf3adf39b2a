"""Run a network in NumPy on the calculator's shapes, and prove the shapes by running them.

Every array is created with a shape taken from :mod:`rnncalc.shapes`, in the spec's
convention; the checks compare what the pass produced with what the sizes alone predict,
so a wrong shape in the shape source shows up as a failed check.  The kernels live in
:mod:`rnncalc.engine`.

Conventions are the seed's: row vectors, inputs batch first, x of shape (B, T, I).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, Protocol

import numpy as np

from .. import engine
from ..analysis.counts import count_params
from ..model import shapes
from ..model.shapes import Weight
from ..model.spec import OUTPUTS, ModelSpec, Outputs, SpecError, check_int
from ..units import format_bytes
from . import (
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    Array,
    Workspace,
    assemble,
    network_forward,
    stepwise_forward,
)

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

DType = Literal["float32", "float64"]

#: Largest acceptable difference between two computations of the same hidden states,
#: relative to the largest magnitude among them (and at least 1).
TOLERANCE: dict[str, float] = {"float32": 1e-5, "float64": 1e-12}


#: The most runs ``repeat`` times: a median of more adds nothing but waiting.
MAX_REPEAT = 1000


@dataclass(frozen=True)
class RunOptions:
    """How to run the pass: batch, precision, activations, outputs, timing and seed.

    Invalid values raise :class:`~rnncalc.spec.SpecError` naming the field.
    """

    batch_size: int = 1
    dtype: DType = "float64"
    hidden_activation: str | None = None
    output_activation: str = "identity"
    outputs: Outputs = "last"
    repeat: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("batch_size", self.batch_size, 1)
        check_int("repeat", self.repeat, 1, MAX_REPEAT)
        check_int("seed", self.seed, 0)
        if self.dtype not in TOLERANCE:
            raise SpecError(
                "dtype",
                f"the pass computes in float64 or float32, got {self.dtype!r:.40} (NumPy has no "
                "bfloat16, and float16 or int8 would not hold the checks' precision)",
            )
        for field, choices in (
            ("hidden_activation", (None, *HIDDEN_ACTIVATIONS)),
            ("output_activation", OUTPUT_ACTIVATIONS),
            ("outputs", OUTPUTS),
        ):
            if getattr(self, field) not in choices:
                names = ", ".join(c for c in choices if c is not None)
                raise SpecError(field, f"must be one of {names}, got {getattr(self, field)!r:.40}")

    @property
    def f_h(self) -> str:
        """The hidden activation the pass uses: ``hidden_activation``, or tanh (the vanilla
        RNN's default, and what the gated cells' candidates use).
        """
        return self.hidden_activation or "tanh"


@dataclass(frozen=True)
class Check:
    """One comparison of a predicted value with what the pass produced."""

    name: str
    expected: Any
    actual: Any
    ok: bool
    comparison: Literal["==", "<="] = "=="


@dataclass(frozen=True)
class Timing:
    """The fast pass alone: median seconds over ``repeat`` runs and the throughput."""

    seconds: float
    repeat: int
    flops: int

    @property
    def gflops(self) -> float | None:
        """Matmul FLOPs per second, in billions (None if the clock saw no time pass)."""
        return self.flops / self.seconds / 1e9 if self.seconds > 0 else None


@dataclass(frozen=True)
class ForwardReport:
    """What ``rnncalc forward`` reports."""

    spec: ModelSpec
    options: RunOptions
    checks: tuple[Check, ...]
    shapes: dict[str, list[int]]
    timing: Timing | None

    @property
    def failed(self) -> int:
        """How many checks failed."""
        return sum(not c.ok for c in self.checks)

    @property
    def ok(self) -> bool:
        """Whether the pass ran and every check passed."""
        return self.timing is not None and all(c.ok for c in self.checks)

    def __repr__(self) -> str:
        timing = "failed" if self.timing is None else f"{self.timing.seconds:.3g} s"
        return (
            f"ForwardReport(ok={self.ok}, checks={len(self.checks)}, pass={timing}, "
            f"shapes={self.shapes!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """What ``rnncalc forward --format json`` prints: ``spec``, ``options``, ``ok``,
        ``checks`` ({name, expected, actual, ok, comparison}), ``shapes`` and ``timing``
        ({seconds, repeat, gflops, flops}; null when the pass failed).
        """
        timing = self.timing
        return {
            "spec": asdict(self.spec),
            "options": {**asdict(self.options), "hidden_activation": self.options.f_h},
            "ok": self.ok,
            "checks": [asdict(c) for c in self.checks],
            "shapes": self.shapes,
            "timing": None
            if timing is None
            else {
                "seconds": timing.seconds,
                "repeat": timing.repeat,
                "gflops": timing.gflops,
                "flops": timing.flops,
            },
        }


@dataclass
class RunResult:
    """The arrays of one run: inputs, weights by name, the top layer's outputs and y."""

    x: Array
    weights: dict[str, Array]
    h: Array
    y: Array | None

    def arrays(self) -> dict[str, Array]:
        """Everything by name, as ``forward --save`` writes it: weights, x, h and y."""
        named = {**self.weights, "x": self.x, "h": self.h}
        if self.y is not None:
            named["y"] = self.y
        return named


class UsageRecorder(Mapping[str, Array]):
    """A read-only view of named arrays that remembers which ones were read."""

    def __init__(self, arrays: Mapping[str, Array]) -> None:
        self._arrays = arrays
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> Array:
        array = self._arrays[name]
        self.read.add(name)
        return array

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    @property
    def elements_read(self) -> int:
        """Total element count of the arrays that were read."""
        return sum(self._arrays[name].size for name in self.read)


def init_weights(
    weights: tuple[Weight, ...], rng: np.random.Generator, dtype: str, hidden_size: int = 1
) -> dict[str, Array]:
    """Random arrays with the listed shapes.

    Recurrent tensors draw from U(-1/sqrt(H), 1/sqrt(H)) as ``torch.nn.RNN`` initialises
    them; dense and output layers from U(-1/sqrt(n), 1/sqrt(n)) for n inputs, as
    ``torch.nn.Linear`` does (a bias takes its matrix's bound).
    """
    arrays: dict[str, Array] = {}
    bound = 1.0
    for w in weights:
        if w.part == "recurrent":
            bound = 1.0 / math.sqrt(hidden_size)
        elif w.role in ("input", "hidden", "output"):
            bound = 1.0 / math.sqrt(w.shape[1] if w.transposed else w.shape[0])

        def draw(n: int, bound: float = bound) -> Array:
            return rng.uniform(-bound, bound, (n,))

        arrays[w.name] = _drawn(draw, w.shape, dtype)
    return arrays


#: Random numbers are drawn in float64 blocks of this many and stored in the array's dtype,
#: so that a float32 array never needs a float64 copy of itself (the numbers are the same
#: as one draw of the whole array: the generator's stream does not depend on the blocks).
_DRAW_BLOCK = 1 << 16


def _drawn(draw: Callable[[int], Array], shape: tuple[int, ...], dtype: str) -> Array:
    out = np.empty(shape, dtype)
    flat = out.reshape(-1)
    for start in range(0, flat.size, _DRAW_BLOCK):
        stop = min(start + _DRAW_BLOCK, flat.size)
        flat[start:stop] = draw(stop - start)
    return out


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
    """Matmul FLOPs of one pass: 2 per multiply-accumulate as :mod:`rnncalc.cost` counts them
    (for the vanilla RNN 2*B*T*(I*H + H*H), plus the output layer once or at each step).
    """
    from ..analysis.cost import estimate_cost

    return 2 * estimate_cost(spec, batch, outputs).rnn.compute.matmul_macs


def estimate_bytes(spec: ModelSpec, options: RunOptions, check: bool, dense: bool = True) -> int:
    """Bytes of the arrays a run allocates at its peak, estimated from the shape list before
    allocating (within 25% of tracemalloc's peak wherever arrays dominate; tested).

    Kept throughout: x, the weights twice (as given and in canonical form), and per layer
    and direction the input projections (B*T*G*H), the states with a column of ones for
    the folded bias ((T+1)*B*(S+1), S = H or P) and [W_h; b_h]; a bidirectional layer's
    concatenated outputs (B*T*D*S); y.  On top of that, the largest of what comes and
    goes: a direction's scratch (2*B*G*H; an LSTM's cell state and its weights in the
    fast pass's gate order; in a unidirectional stack a copy of the states below), and
    with the check a step-by-step pass (the layer below's outputs, each direction's list
    of states and their stack, the layer's concatenation, [W_h; W_x] stacked for the
    concatenated form: about 3*B*T*D*S + B*T*S plus weights) or, with ``dense``, the dense
    equivalent (its
    weights, B*T*D*H per hidden layer and one more for a temporary).
    """
    b, t = options.batch_size, spec.timesteps
    g, h, s, d, layers = spec.gates, spec.hidden_size, spec.state_size, spec.directions, spec.layers
    report = count_params(spec)
    per_direction = b * t * g * h + (t + 1) * b * (s + 1) + (s + 1) * g * h
    y = b * spec.output_size * (t if options.outputs == "all" else 1)
    kept = 2 * report.rnn.total + b * t * spec.input_size + y
    kept += layers * (d * per_direction + (b * t * d * s if d == 2 else 0))
    widest = max(spec.input_size, d * s if layers > 1 else 0)
    direction_weights = (widest + s + 2) * g * h
    passing = 2 * b * g * h  # one direction's scratch at a time
    if layers > 1 and d == 1:  # a layer reads the one below through a copy of its states
        passing += b * t * s
    if spec.cell == "lstm":
        passing += b * h + direction_weights
    if check:
        stacked = report.rnn.total if spec.convention == "seed" else direction_weights
        steps = 3 * b * t * d * s + b * t * s + stacked
        equivalent = report.dense.total + (layers + 1) * b * t * d * h + 2 * b * spec.output_size
        passing = max(passing, steps, equivalent if dense else 0)
    elements = kept + passing
    return elements * np.dtype(options.dtype).itemsize


def dense_forward(
    weights: Mapping[str, Array],
    x: Array,
    layers: int,
    hidden_activation: str = "tanh",
    output_activation: str = "identity",
) -> tuple[list[Array], Array | None]:
    """The dense equivalent on the flattened input (B, T*I): its hidden layers and output."""
    a = x.reshape(x.shape[0], -1)
    hidden = []
    for k in range(1, layers + 1):
        a = a @ weights[f"W_{k}"] + weights[f"b_{k}"]
        HIDDEN_ACTIVATIONS[hidden_activation](a)
        hidden.append(a)
    if f"W_{layers + 1}" not in weights:
        return hidden, None
    y = a @ weights[f"W_{layers + 1}"] + weights[f"b_{layers + 1}"]
    OUTPUT_ACTIVATIONS[output_activation](y)
    return hidden, y


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
    dense = _dense_fits(spec, options, check, max_bytes)
    with np.errstate(all="ignore"):
        return _run(spec, options, check, weights, x, progress or _Silent(), dense)


def _dense_fits(spec: ModelSpec, options: RunOptions, check: bool, max_bytes: int | None) -> bool:
    """Whether the check can run the dense equivalent; raise if the run cannot fit at all."""
    if max_bytes is None or estimate_bytes(spec, options, check) <= max_bytes:
        return True
    needed = estimate_bytes(spec, options, check, dense=False)
    if needed > max_bytes:
        raise SpecError(
            "max_memory",
            f"this run needs about {format_bytes(needed)} ({needed:,} bytes), more than "
            f"{format_bytes(max_bytes)}; use smaller sizes or raise the limit",
        )
    return False


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
        x = _drawn(input_rng.standard_normal, shape, dtype)
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
    checks: tuple[Check, ...] = ()
    if check:
        run = _Pass(spec, options, net, result, progress, dense)
        checks = _checks(run, recorder.elements_read, dense_rng)
    return ForwardReport(spec, options, checks, produced, timing), result


class PassFailed(Exception):
    """The forward pass could not run; ``report`` says why, as its one failed check."""

    def __init__(self, report: ForwardReport) -> None:
        super().__init__(report.checks[0].actual)
        self.report = report


class Progress(Protocol):
    """What a run tells of its progress: each phase with its steps, then steps done."""

    def phase(self, name: str, total: int) -> None: ...

    def advance(self, done: int) -> None: ...


class _Silent:
    def phase(self, name: str, total: int) -> None:
        return None

    def advance(self, done: int) -> None:
        return None


@dataclass(frozen=True)
class _Pass:
    """A pass that ran, for the checks: the model, the options, the network and arrays."""

    spec: ModelSpec
    options: RunOptions
    net: engine.Network
    result: RunResult
    progress: Progress
    dense: bool

    @property
    def tolerance(self) -> float:
        return TOLERANCE[self.options.dtype]

    def stepwise(self, form: engine.Form) -> tuple[Array, list[tuple[int, ...]]]:
        """The step-by-step equations on the pass's inputs, telling the progress."""
        spec = self.spec
        self.progress.phase(f"step by step, {form}", spec.layers * spec.directions * spec.timesteps)
        activation = self.options.f_h
        return stepwise_forward(self.net, self.result.x, activation, form, self.progress.advance)


def _checks(run: _Pass, used: int, rng: np.random.Generator) -> tuple[Check, ...]:
    spec, options, result = run.spec, run.options, run.result
    b, t, o = result.x.shape[0], spec.timesteps, spec.output_size
    size = spec.directions * spec.state_size
    report = count_params(spec)
    checks = [
        _shape_check("x: inputs", (b, t, spec.input_size), result.x),
        *_stepwise_checks(run, (b, spec.state_size)),
        _shape_check("h: outputs of the top layer", (b, t, size), result.h),
    ]
    if o:
        expected_y = (b, t, o) if options.outputs == "all" else (b, o)
        checks.append(_shape_check(f"y: outputs ({options.outputs})", expected_y, result.y))
    checks.append(_used_check("parameters used = params total", report.rnn.total, used))
    checks.append(_finite_check(result))
    checks.append(_concat_check(run))
    if run.dense:
        run.progress.phase("dense equivalent", 1)
        checks.extend(_dense_checks(spec, options, result.x, report.dense.total, rng))
    else:
        full = estimate_bytes(spec, options, True) - estimate_bytes(spec, options, True, False)
        by_shapes = sum(w.count for w in report.dense.weights)
        checks.append(
            _used_check(
                f"dense: parameters by shapes (not run: needs {format_bytes(full)} more)",
                report.dense.total,
                by_shapes,
            )
        )
    return tuple(checks)


def _used_check(name: str, total: int, used: int) -> Check:
    return Check(name, total, used, used == total)


def _shape_check(name: str, expected: tuple[int, ...], array: Array | None) -> Check:
    actual = None if array is None else list(array.shape)
    return Check(f"{name} shape", list(expected), actual, actual == list(expected))


def _finite_check(result: RunResult) -> Check:
    """Whether x, the weights, h and y hold only finite values (no NaN, no inf)."""
    found = []
    for name, array in (*result.weights.items(), ("x", result.x), ("h", result.h), ("y", result.y)):
        bad = 0 if array is None else array.size - int(np.count_nonzero(np.isfinite(array)))
        if bad:
            found.append(f"{name} {bad:,}")
    actual = "finite" if not found else "NaN or inf: " + ", ".join(found)
    return Check("x, weights, h, y: every value finite", "finite", actual, not found)


def _difference_check(name: str, a: Array, b: Array, tolerance: float) -> Check:
    """max |a - b| relative to max |a| (at least 1), over the finite values; non-finite
    values must stand at the same places in both and be the same (NaN matching NaN).
    """
    if a.shape != b.shape:
        return Check(name, tolerance, f"shapes differ: {a.shape} and {b.shape}", False, "<=")
    work = np.abs(a)  # one buffer of a's size serves the scale and the differences
    work[~np.isfinite(work)] = 0
    scale = max(1.0, float(np.max(work, initial=0.0)))
    np.subtract(a, b, out=work)
    np.abs(work, out=work)
    nonfinite = ~np.isfinite(work)
    if nonfinite.any():
        if not np.array_equal(a[nonfinite], b[nonfinite], equal_nan=True):
            return Check(name, tolerance, "non-finite values differ", False, "<=")
        work[nonfinite] = 0
    diff = float(np.max(work, initial=0.0)) / scale
    return Check(name, tolerance, diff, bool(diff <= tolerance), "<=")


def _stepwise_checks(run: _Pass, expected: tuple[int, ...]) -> list[Check]:
    try:
        states, seen = run.stepwise("separate")
    except ValueError as error:
        return [Check("h_t: step by step", "runs", f"ValueError: {error}", False)]
    bad = [(k + 1, s) for k, s in enumerate(seen) if s != expected]
    actual: Any = list(expected) if not bad else f"state {bad[0][0]}: {list(bad[0][1])}"
    return [
        Check(f"h_t shape at each of {len(seen)} steps", list(expected), actual, not bad),
        _difference_check(
            "fast pass = step-by-step equations", states, run.result.h, run.tolerance
        ),
    ]


def _concat_check(run: _Pass) -> Check:
    name = "[h_{t-1}, x_t] W_h = separate form"
    try:
        if run.spec.convention == "seed":
            _check_concat_shapes(run.spec, run.net)
        states, _ = run.stepwise("concat")
    except ValueError as error:
        return Check(name, "runs", f"ValueError: {error}", False)
    return _difference_check(name, states, run.result.h, run.tolerance)


def _check_concat_shapes(spec: ModelSpec, net: engine.Network) -> None:
    """Raise unless every [W_h; W_x] has the shape the shape source gives W_h in concat."""
    listed = [
        w for w in shapes.rnn_weights(replace(spec, notation="concat")) if w.name.startswith("W_h")
    ]
    stacked = [np.vstack([p.w_h, p.w_x]) for layer in net.layers for p in layer]
    for w, array in zip(listed, stacked, strict=True):
        if array.shape != w.shape:
            raise ValueError(f"{w.name} would be {array.shape}, the shape source says {w.shape}")


def _dense_checks(
    spec: ModelSpec, options: RunOptions, x: Array, total: int, rng: np.random.Generator
) -> list[Check]:
    b, t = x.shape[0], spec.timesteps
    weights = UsageRecorder(init_weights(shapes.dense_weights(spec), rng, options.dtype))
    try:
        hidden, y = dense_forward(weights, x, spec.layers, options.f_h, options.output_activation)
    except (ValueError, KeyError) as error:
        return [
            Check("dense equivalent runs", "no error", f"{type(error).__name__}: {error}", False)
        ]
    width = t * spec.directions * spec.hidden_size
    checks = [
        _shape_check(
            f"dense: hidden layer {k + 1}" if spec.layers > 1 else "dense: hidden layer",
            (b, width),
            a,
        )
        for k, a in enumerate(hidden)
    ]
    if spec.output_size:
        checks.append(_shape_check("dense: outputs", (b, spec.output_size), y))
    checks.append(
        _used_check("dense: parameters used = params total", total, weights.elements_read)
    )
    return checks
