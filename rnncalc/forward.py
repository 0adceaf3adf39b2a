"""The seed's RNN run in NumPy, and the check that proves the calculator's shapes by running them.

The only module of rnncalc that imports numpy.  Every array is created with a shape taken
from :mod:`rnncalc.shapes`; the checks compare what the pass produced with what the sizes
alone predict, so a wrong shape in the shape source shows up as a failed check.

Conventions are the seed's: row vectors, ``x_t W_xh`` with W_xh of shape (I, H), inputs
batch first, x of shape (B, T, I).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from . import shapes
from .counts import count_params
from .shapes import Weight
from .spec import ModelSpec

Array = npt.NDArray[Any]
DType = Literal["float32", "float64"]
Outputs = Literal["last", "all"]

#: Largest acceptable difference between two computations of the same hidden states,
#: relative to the largest magnitude among them (and at least 1).
TOLERANCE: dict[str, float] = {"float32": 1e-5, "float64": 1e-12}


def _tanh(a: Array) -> None:
    np.tanh(a, out=a)


def _relu(a: Array) -> None:
    np.maximum(a, 0, out=a)


def _sigmoid(a: Array) -> None:
    # 1 / (1 + e^-a) for a >= 0 and e^a / (1 + e^a) below: e^-|a| never overflows, and
    # tiny results keep their relative precision.
    e = np.exp(-np.abs(a))
    np.divide(np.where(a >= 0, 1.0, e), 1.0 + e, out=a)


def _identity(a: Array) -> None:
    return None


def _softmax(a: Array) -> None:
    a -= a.max(axis=-1, keepdims=True)
    np.exp(a, out=a)
    a /= a.sum(axis=-1, keepdims=True)


#: Activations applied in place; softmax acts along the last axis (the O outputs).
HIDDEN_ACTIVATIONS: dict[str, Callable[[Array], None]] = {
    "tanh": _tanh,
    "relu": _relu,
    "sigmoid": _sigmoid,
    "identity": _identity,
}
OUTPUT_ACTIVATIONS: dict[str, Callable[[Array], None]] = {
    "identity": _identity,
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "softmax": _softmax,
}


@dataclass(frozen=True)
class RunOptions:
    """How to run the pass: batch, precision, activations, outputs, timing and seed."""

    batch_size: int = 2
    dtype: DType = "float64"
    hidden_activation: str = "tanh"
    output_activation: str = "identity"
    outputs: Outputs = "last"
    repeat: int = 1
    seed: int = 0


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
    def gflops(self) -> float:
        """Matmul FLOPs per second, in billions."""
        return self.flops / self.seconds / 1e9 if self.seconds > 0 else math.inf


@dataclass(frozen=True)
class ForwardReport:
    """What ``rnncalc forward`` reports."""

    spec: ModelSpec
    options: RunOptions
    checks: tuple[Check, ...]
    shapes: dict[str, list[int]]
    timing: Timing | None

    @property
    def ok(self) -> bool:
        """Whether the pass ran and every check passed."""
        return self.timing is not None and all(c.ok for c in self.checks)


@dataclass
class RunResult:
    """The arrays of one run: inputs, weights, all hidden states and the output."""

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


class Workspace:
    """Buffers reused by repeated passes, so that timing measures arithmetic, not allocation."""

    def __init__(self) -> None:
        self._arrays: dict[str, Array] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array:
        """An uninitialised array of this shape and dtype, the same one on every call."""
        array = self._arrays.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = self._arrays[name] = np.empty(shape, dtype)
        return array


def separate(spec: ModelSpec) -> ModelSpec:
    """The spec in separate notation, the one the pass and weight files use."""
    return replace(spec, notation="separate")


def init_weights(
    weights: tuple[Weight, ...], rng: np.random.Generator, dtype: str
) -> dict[str, Array]:
    """Random arrays with the listed shapes, U(-1/sqrt(n), 1/sqrt(n)) for n inputs to a layer.

    A bias takes the bound of the matrix before it, as ``torch.nn.Linear`` initialises.
    """
    arrays: dict[str, Array] = {}
    bound = 1.0
    for w in weights:
        if len(w.shape) == 2:
            bound = 1.0 / math.sqrt(w.shape[0])
        arrays[w.name] = rng.uniform(-bound, bound, w.shape).astype(dtype)
    return arrays


def pass_flops(spec: ModelSpec, batch: int, outputs: Outputs) -> int:
    """Matmul FLOPs of one pass, 2 per multiply-add: 2*B*T*(I*H + H*H) plus the output layer.

    Counted from the shape list: the input and recurrent matrices act at each of the T
    steps, the output matrix once (``last``) or at each step (``all``).
    """
    flops = 0
    for w in shapes.rnn_weights(separate(spec)):
        if w.role in ("input", "recurrent"):
            flops += 2 * batch * spec.timesteps * w.count
        elif w.role == "output":
            flops += 2 * batch * (spec.timesteps if outputs == "all" else 1) * w.count
    return flops


def estimate_bytes(spec: ModelSpec, options: RunOptions, check: bool) -> int:
    """Bytes of the arrays a run allocates, from the shape list, before allocating them.

    The fast pass holds x, the weights, the input projections (B*T*H), the hidden states
    with a column of ones for the folded bias (T*B*(H+1)), [W_hh; b_h] and y.  The check
    adds the step-by-step and concatenated passes (B*T*H each, plus W_h) and the dense
    equivalent (its weights and its B*T*H hidden layer).
    """
    b, t, i, h, o = (
        options.batch_size,
        spec.timesteps,
        spec.input_size,
        spec.hidden_size,
        spec.output_size,
    )
    report = count_params(separate(spec))
    y = b * o * (t if options.outputs == "all" else 1)
    elements = report.rnn.total + b * t * i + b * t * h + t * b * (h + 1) + (h + 1) * h + y
    if check:
        concat = count_params(replace(spec, notation="concat")).rnn.weights[0].count
        elements += 2 * b * t * h + concat + b * (h + i) + report.dense.total + b * t * h + b * o
    return elements * np.dtype(options.dtype).itemsize


def rnn_forward(
    weights: Mapping[str, Array],
    x: Array,
    hidden_activation: str = "tanh",
    output_activation: str = "identity",
    outputs: Outputs = "last",
    workspace: Workspace | None = None,
    threads: int | None = None,
) -> tuple[Array, Array | None]:
    """Run h_t = f_h(x_t W_xh + h_{t-1} W_hh + b_h), y = f_y(h W_yh + b_y) on x (B, T, I).

    Returns the hidden states (B, T, H) and y: (B, O) for ``last``, (B, T, O) for ``all``,
    None without an output layer.  The returned arrays are views into ``workspace``.

    Fast: one GEMM projects the inputs of all timesteps; each step is then one GEMM of
    [h_{t-1}, 1] with [W_hh; b_h] (the bias folded in), one addition and the activation,
    in preallocated buffers.  The sequences of a batch are independent, so a large batch is
    split across ``threads`` threads (default: one per CPU), each running single-threaded
    BLAS on its share: no synchronisation at every step, and the element-wise work runs on
    every core too.
    """
    ws = workspace or Workspace()
    f_h = HIDDEN_ACTIVATIONS[hidden_activation]
    w_xh, w_hh, b_h = weights["W_xh"], weights["W_hh"], weights["b_h"]
    batch, steps, _ = x.shape
    hidden = w_xh.shape[1]
    dtype = np.result_type(x, w_xh)
    z = ws.get("z", (batch, steps, hidden), dtype)
    w_aug = ws.get("w_aug", (hidden + 1, hidden), dtype)
    w_aug[:hidden] = w_hh
    w_aug[hidden] = b_h
    hs = ws.get("hs", (steps, batch, hidden + 1), dtype)
    hs[:, :, hidden] = 1
    h = hs[:, :, :hidden]  # time-major hidden states (T, B, H)

    def recur(rows: slice) -> None:
        _recur(x[rows], w_xh, w_aug, b_h, z[rows], hs[:, rows], f_h)

    chunks = _batch_chunks(batch, hidden, threads)
    if len(chunks) == 1:
        recur(chunks[0])
    else:
        with _single_threaded_blas(), ThreadPoolExecutor(len(chunks)) as pool:
            for done in [pool.submit(recur, rows) for rows in chunks]:
                done.result()
    if "W_yh" not in weights:
        return h.transpose(1, 0, 2), None
    w_yh, b_y = weights["W_yh"], weights["b_y"]
    if outputs == "last":
        y = h[steps - 1] @ w_yh
    else:
        y = (h.reshape(steps * batch, hidden) @ w_yh).reshape(steps, batch, -1).transpose(1, 0, 2)
    y += b_y
    OUTPUT_ACTIVATIONS[output_activation](y)
    return h.transpose(1, 0, 2), y


def _recur(
    x: Array,
    w_xh: Array,
    w_aug: Array,
    b_h: Array,
    z: Array,
    hs: Array,
    f_h: Callable[[Array], None],
) -> None:
    """The recurrence for some rows of the batch, into z (B, T, H) and hs (T, B, H+1)."""
    batch, steps, inputs = x.shape
    hidden = w_xh.shape[1]
    np.matmul(x.reshape(batch * steps, inputs), w_xh, out=z.reshape(batch * steps, hidden))
    h = hs[:, :, :hidden]
    np.add(z[:, 0], b_h, out=h[0])
    f_h(h[0])
    for t in range(1, steps):
        h_t = h[t]
        np.matmul(hs[t - 1], w_aug, out=h_t)
        h_t += z[:, t]
        f_h(h_t)


#: Split the batch only when each thread's recurrent GEMM per step has at least this many
#: multiply-adds.  Below it, BLAS's own threads do better: idle BLAS workers keep spinning
#: for a while after their thread count is lowered, and the split pays that back only on
#: large steps (measured with tests/benchmarks/forward.py on 2 cores).
_SPLIT_MIN_MACS = 1 << 23


def _batch_chunks(batch: int, hidden: int, threads: int | None) -> list[slice]:
    """Split the batch into contiguous row ranges, one per thread."""
    if threads is None:
        threads = _usable_cpus()
        if (batch // threads) * hidden * hidden < _SPLIT_MIN_MACS or _blas_controller() is None:
            threads = 1
    count = max(1, min(threads, batch))
    bounds = [batch * k // count for k in range(count + 1)]
    return [slice(lo, hi) for lo, hi in itertools.pairwise(bounds)]


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@functools.cache
def _blas_controller() -> Any:
    """threadpoolctl's handle on NumPy's BLAS, or None when it cannot set the thread count."""
    from threadpoolctl import ThreadpoolController

    blas = ThreadpoolController().select(user_api="blas")
    return blas if blas.lib_controllers else None


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """BLAS on one thread inside the block, so that our threads do not oversubscribe."""
    controller = _blas_controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=1):
        yield


def rnn_forward_stepwise(
    weights: Mapping[str, Array], x: Array, hidden_activation: str = "tanh"
) -> list[Array]:
    """The seed's equations taken literally, one step at a time: the list of every h_t."""
    f_h = HIDDEN_ACTIVATIONS[hidden_activation]
    w_xh, w_hh, b_h = weights["W_xh"], weights["W_hh"], weights["b_h"]
    h = np.zeros((x.shape[0], w_hh.shape[0]), np.result_type(x, w_hh))
    states = []
    for t in range(x.shape[1]):
        h = x[:, t] @ w_xh + h @ w_hh + b_h
        f_h(h)
        states.append(h)
    return states


def rnn_forward_concat(w_h: Array, b_h: Array, x: Array, hidden_activation: str = "tanh") -> Array:
    """The seed's concatenated notation, h_t = f_h([h_{t-1}, x_t] W_h + b_h): states (B, T, H)."""
    f_h = HIDDEN_ACTIVATIONS[hidden_activation]
    h = np.zeros((x.shape[0], w_h.shape[1]), np.result_type(x, w_h))
    states = []
    for t in range(x.shape[1]):
        h = np.concatenate([h, x[:, t]], axis=1) @ w_h + b_h
        f_h(h)
        states.append(h)
    return np.stack(states, axis=1)


def dense_forward(
    weights: Mapping[str, Array],
    x: Array,
    hidden_activation: str = "tanh",
    output_activation: str = "identity",
) -> tuple[Array, Array | None]:
    """The dense equivalent on the flattened input (B, T*I): its hidden layer and output."""
    flat = x.reshape(x.shape[0], -1)
    hidden = flat @ weights["W_1"] + weights["b_1"]
    HIDDEN_ACTIVATIONS[hidden_activation](hidden)
    if "W_2" not in weights:
        return hidden, None
    y = hidden @ weights["W_2"] + weights["b_2"]
    OUTPUT_ACTIVATIONS[output_activation](y)
    return hidden, y


def run(
    spec: ModelSpec,
    options: RunOptions,
    *,
    check: bool = False,
    weights: Mapping[str, Array] | None = None,
    x: Array | None = None,
) -> tuple[ForwardReport, RunResult | None]:
    """Build (or take) weights and inputs, time the fast pass, and with ``check`` prove it.

    A pass that fails (say, because the shape source gave a matrix that does not fit) is
    reported as a failed check, not raised.
    """
    spec = separate(spec)
    # One stream each for the weights, the inputs and the dense check: the same seed gives
    # the same x whether or not the weights come from a file.
    weight_rng, input_rng, dense_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(options.seed).spawn(3)
    )
    dtype = options.dtype
    if weights is None:
        weights = init_weights(shapes.rnn_weights(spec), weight_rng, dtype)
    if x is None:
        shape = (options.batch_size, spec.timesteps, spec.input_size)
        x = input_rng.standard_normal(shape).astype(dtype)
    arrays = {name: np.asarray(a, dtype) for name, a in weights.items()}
    x = np.asarray(x, dtype)
    produced: dict[str, list[int]] = {"x": list(x.shape)}
    workspace = Workspace()
    recorder = UsageRecorder(arrays)
    try:
        times = []
        for _ in range(options.repeat):
            start = time.perf_counter()
            h, y = rnn_forward(
                recorder,
                x,
                options.hidden_activation,
                options.output_activation,
                options.outputs,
                workspace,
            )
            times.append(time.perf_counter() - start)
    except (ValueError, IndexError, KeyError) as error:
        failed = Check("forward pass runs", "no error", f"{type(error).__name__}: {error}", False)
        return ForwardReport(spec, options, (failed,), produced, None), None
    produced["h"] = list(h.shape)
    if y is not None:
        produced["y"] = list(y.shape)
    timing = Timing(
        statistics.median(times), options.repeat, pass_flops(spec, x.shape[0], options.outputs)
    )
    result = RunResult(x, arrays, h, y)
    checks = _checks(spec, options, result, recorder.elements_read, dense_rng) if check else ()
    return ForwardReport(spec, options, checks, produced, timing), result


def _checks(
    spec: ModelSpec,
    options: RunOptions,
    result: RunResult,
    used: int,
    rng: np.random.Generator,
) -> tuple[Check, ...]:
    b, t, i, hidden, o = (
        result.x.shape[0],
        spec.timesteps,
        spec.input_size,
        spec.hidden_size,
        spec.output_size,
    )
    report = count_params(spec)
    tolerance = TOLERANCE[options.dtype]
    checks = [
        _shape_check("x: inputs", (b, t, i), result.x),
        *_stepwise_checks(result, options, (b, hidden), tolerance),
        _shape_check("h: hidden states", (b, t, hidden), result.h),
    ]
    if o:
        expected_y = (b, t, o) if options.outputs == "all" else (b, o)
        checks.append(_shape_check(f"y: outputs ({options.outputs})", expected_y, result.y))
    checks.append(_used_check("parameters used = params total", report.rnn.total, used))
    checks.append(_concat_check(spec, options, result, tolerance))
    checks.extend(_dense_checks(spec, options, result.x, report.dense.total, rng))
    return tuple(checks)


def _used_check(name: str, total: int, used: int) -> Check:
    return Check(name, total, used, used == total)


def _shape_check(name: str, expected: tuple[int, ...], array: Array | None) -> Check:
    actual = None if array is None else list(array.shape)
    return Check(f"{name} shape", list(expected), actual, actual == list(expected))


def _difference_check(name: str, a: Array, b: Array, tolerance: float) -> Check:
    if a.shape != b.shape:
        return Check(name, tolerance, f"shapes differ: {a.shape} and {b.shape}", False, "<=")
    scale = max(1.0, float(np.max(np.abs(a), initial=0.0)))
    diff = float(np.max(np.abs(a - b), initial=0.0)) / scale
    return Check(name, tolerance, diff, bool(diff <= tolerance), "<=")


def _stepwise_checks(
    result: RunResult, options: RunOptions, expected: tuple[int, ...], tolerance: float
) -> list[Check]:
    try:
        states = rnn_forward_stepwise(result.weights, result.x, options.hidden_activation)
    except ValueError as error:
        return [Check("h_t: step by step", "runs", f"ValueError: {error}", False)]
    bad = [(t + 1, s.shape) for t, s in enumerate(states) if s.shape != expected]
    actual: Any = list(expected) if not bad else f"step {bad[0][0]}: {list(bad[0][1])}"
    return [
        Check(f"h_t shape at each of {len(states)} steps", list(expected), actual, not bad),
        _difference_check(
            "fast pass = step-by-step equations", np.stack(states, axis=1), result.h, tolerance
        ),
    ]


def _concat_check(
    spec: ModelSpec, options: RunOptions, result: RunResult, tolerance: float
) -> Check:
    name = "[h_{t-1}, x_t] W_h = separate form"
    try:
        w_h_shape = shapes.rnn_weights(replace(spec, notation="concat"))[0].shape
        w_h = np.empty(w_h_shape, result.h.dtype)
        w_h[...] = np.vstack([result.weights["W_hh"], result.weights["W_xh"]])
        states = rnn_forward_concat(w_h, result.weights["b_h"], result.x, options.hidden_activation)
    except ValueError as error:
        return Check(name, "runs", f"ValueError: {error}", False)
    return _difference_check(name, states, result.h, tolerance)


def _dense_checks(
    spec: ModelSpec, options: RunOptions, x: Array, total: int, rng: np.random.Generator
) -> list[Check]:
    b, t = x.shape[0], spec.timesteps
    weights = UsageRecorder(init_weights(shapes.dense_weights(spec), rng, options.dtype))
    try:
        hidden, y = dense_forward(weights, x, options.hidden_activation, options.output_activation)
    except ValueError as error:
        return [Check("dense equivalent runs", "no error", f"ValueError: {error}", False)]
    checks = [_shape_check("dense: hidden layer", (b, t * spec.hidden_size), hidden)]
    if spec.output_size:
        checks.append(_shape_check("dense: outputs", (b, spec.output_size), y))
    checks.append(
        _used_check("dense: parameters used = params total", total, weights.elements_read)
    )
    return checks
