"""The forward check: what the pass produced against what the sizes alone predict.

Every check compares a prediction (a shape, a parameter count, an equation computed
another way) with the run; a wrong shape in the shape source shows up here as a failed
check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analysis.counts import count_params
from ..model import shapes
from ..model.spec import ModelSpec
from ..units import format_bytes
from .activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .assemble import Network
from .memory import estimate_bytes
from .reference import stepwise_forward
from .results import TOLERANCE, Check, Progress, RunOptions, RunResult
from .types import Array, Form
from .weights import UsageRecorder, init_weights


@dataclass(frozen=True)
class Pass:
    """A pass that ran, for the checks: the model, the options, the network and arrays."""

    spec: ModelSpec
    options: RunOptions
    net: Network
    result: RunResult
    progress: Progress
    dense: bool

    @property
    def tolerance(self) -> float:
        return TOLERANCE[self.options.dtype]

    def stepwise(self, form: Form) -> tuple[Array, list[tuple[int, ...]]]:
        """The step-by-step equations on the pass's inputs, telling the progress."""
        spec = self.spec
        self.progress.phase(f"step by step, {form}", spec.layers * spec.directions * spec.timesteps)
        activation = self.options.f_h
        return stepwise_forward(self.net, self.result.x, activation, form, self.progress.advance)


def checks(run: Pass, used: int, rng: np.random.Generator) -> tuple[Check, ...]:
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


def _stepwise_checks(run: Pass, expected: tuple[int, ...]) -> list[Check]:
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


def _concat_check(run: Pass) -> Check:
    name = "[h_{t-1}, x_t] W_h = separate form"
    try:
        if run.spec.convention == "seed":
            _check_concat_shapes(run.spec, run.net)
        states, _ = run.stepwise("concat")
    except ValueError as error:
        return Check(name, "runs", f"ValueError: {error}", False)
    return _difference_check(name, states, run.result.h, run.tolerance)


def _check_concat_shapes(spec: ModelSpec, net: Network) -> None:
    """Raise unless every [W_h; W_x] has the shape the shape source gives W_h in concat."""
    listed = [
        w for w in shapes.rnn_weights(spec.replace(notation="concat")) if w.name.startswith("W_h")
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
