"""The forward check: what the pass produced against what the sizes alone predict.

Every check compares a prediction (a shape, a parameter count, an equation computed
another way) with the run; a wrong shape in the shape source shows up here as a failed
check.  A network of the seed's form (one recurrent layer, at most one dense layer) gets
the seed's checks, its dense equivalent run; any other gets one output shape per layer,
named by its place in the model file, and its dense equivalent counted by its shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analysis.counts import count_params
from ..model import shapes
from ..model.network import Embedding, Network, Recurrent
from ..model.spec import ModelSpec
from ..units import format_bytes
from .activations import DENSE_ACTIVATIONS, HIDDEN_ACTIVATIONS
from .assemble import Canonical, Stack
from .memory import estimate_bytes
from .reference import stepwise_stack
from .results import TOLERANCE, Check, Progress, RunOptions, RunResult, seed_spec
from .types import Array, Form, States
from .walk import Walked, walk
from .weights import UsageRecorder, init_weights

__all__ = ["Pass", "checks", "dense_forward"]


@dataclass(frozen=True)
class Pass:
    """A pass that ran, for the checks: the model, the options, its canonical form, the
    arrays and what the walk produced.
    """

    network: Network
    options: RunOptions
    params: Canonical
    result: RunResult
    walked: Walked
    progress: Progress
    dense: bool

    @property
    def tolerance(self) -> float:
        return TOLERANCE[self.options.dtype]

    @property
    def inputs(self) -> tuple[Array, ...]:
        decoder = self.result.x_decoder
        return (self.result.x,) if decoder is None else (self.result.x, decoder)

    def stepwise(self, form: Form) -> tuple[Array, list[tuple[int, ...]]]:
        """The step-by-step equations on the pass's inputs, telling the progress."""
        from .run import recurrent_steps

        self.progress.phase(f"step by step, {form}", recurrent_steps(self.network))
        seen: list[tuple[int, ...]] = []

        def reference(_: str, stack: Stack, x: Array, start: States | None, __: bool) -> Any:
            top, shapes_seen, finals = stepwise_stack(
                stack.net, x, stack.activation, form, self.progress.advance, start
            )
            seen.extend(shapes_seen)
            return top, finals

        return walk(self.params, self.inputs, reference).h, seen


def checks(run: Pass, used: int, rng: np.random.Generator) -> tuple[Check, ...]:
    network, result = run.network, run.result
    spec = seed_spec(network)
    report = count_params(network)  # a head at every step stays one in the dense equivalent
    b = result.x.shape[0]
    made = [_shape_check(*row) for row in _input_rows(network, run)]
    made += _stepwise_checks(run, _state_shapes(network, b))
    if spec is not None:
        d = spec.directions * spec.state_size
        made.append(_shape_check("h: outputs of the top layer", (b, spec.timesteps, d), result.h))
        if spec.output_size:
            (head,) = network.stages[0].dense
            t = (spec.timesteps,) if head.steps == "all" else ()
            name = f"y: outputs ({head.steps})"
            made.append(_shape_check(name, (b, *t, spec.output_size), result.y))
    else:
        made += _layer_checks(network, b, run.walked.shapes)
    made.append(_used_check("parameters used = params total", report.rnn.total, used))
    made.append(_finite_check(result))
    made.append(_concat_check(run))
    if spec is not None and run.dense:
        run.progress.phase("dense equivalent", 1)
        made.extend(_dense_checks(spec, network, result.x, report.dense.total, rng))
    else:
        why = "not run"  # a whole network's: the seed's rule, counted by its shapes
        if spec is not None:
            options = run.options
            more = estimate_bytes(network, options, True) - estimate_bytes(
                network, options, True, False
            )
            why = f"not run: needs {format_bytes(more)} more"
        by_shapes = sum(w.count for w in report.dense.weights)
        made.append(
            _used_check(f"dense: parameters by shapes ({why})", report.dense.total, by_shapes)
        )
    return tuple(made)


def _input_rows(network: Network, run: Pass) -> list[tuple[str, tuple[int, ...], Array]]:
    """x (and x_decoder) against the shapes the network reads: (B, T, I), or (B, T) ids."""
    rows: list[tuple[str, tuple[int, ...], Array]] = []
    b = run.result.x.shape[0]
    for s, (stage, x) in enumerate(zip(network.stages, run.inputs, strict=True)):
        name = ("x", "x_decoder")[s]
        if stage.embedding is None:
            rows.append((f"{name}: inputs", (b, stage.timesteps, stage.features), x))
        else:
            rows.append((f"{name}: token ids", (b, stage.timesteps), x))
    return rows


def _state_shapes(network: Network, b: int) -> list[tuple[int, ...]]:
    """The shape of every state the step-by-step pass produces, in its order."""
    expected: list[tuple[int, ...]] = []
    for stage in network.stages:
        for layer in stage.recurrent:
            count = layer.stack * layer.directions * stage.timesteps
            expected += [(b, layer.state_size)] * count
    return expected


def _layer_checks(network: Network, b: int, produced: tuple[tuple[int, ...], ...]) -> list[Check]:
    """Each layer's output shape, as predicted from the sizes, against the pass's."""
    made = []
    at = 0
    for s, stage in enumerate(network.stages):
        t, sequence = stage.timesteps, True
        for k, layer in enumerate(stage.layers):
            if isinstance(layer, Embedding):
                features = layer.dim
            elif isinstance(layer, Recurrent):
                features = layer.width
            else:
                sequence = sequence and layer.steps == "all"
                features = layer.units
            expected = (b, t, features) if sequence else (b, features)
            name = f"{network.path(s, f'layers[{k}]')} {layer.kind}: outputs"
            actual = produced[at] if at < len(produced) else None
            made.append(
                Check(f"{name} shape", list(expected), actual and list(actual), actual == expected)
            )
            at += 1
    return made


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


def _stepwise_checks(run: Pass, expected: list[tuple[int, ...]]) -> list[Check]:
    try:
        states, seen = run.stepwise("separate")
    except ValueError as error:
        return [Check("h_t: step by step", "runs", f"ValueError: {error}", False)]
    bad = [(k + 1, s) for k, s in enumerate(seen) if k >= len(expected) or s != expected[k]]
    if len(seen) < len(expected):
        bad.append((len(seen) + 1, ()))
    distinct = list(dict.fromkeys(expected))
    shown: Any = list(distinct[0]) if len(distinct) == 1 else " then ".join(map(str, distinct))
    actual: Any = shown if not bad else f"state {bad[0][0]}: {list(bad[0][1])}"
    return [
        Check(f"h_t shape at each of {len(seen)} steps", shown, actual, not bad),
        _difference_check(
            "fast pass = step-by-step equations", states, run.result.h, run.tolerance
        ),
    ]


def _concat_check(run: Pass) -> Check:
    name = "[h_{t-1}, x_t] W_h = separate form"
    try:
        if run.network.convention == "seed":
            _check_concat_shapes(run.network, run.params)
        states, _ = run.stepwise("concat")
    except ValueError as error:
        return Check(name, "runs", f"ValueError: {error}", False)
    return _difference_check(name, states, run.result.h, run.tolerance)


def _check_concat_shapes(network: Network, params: Canonical) -> None:
    """Raise unless every [W_h; W_x] has the shape the shape source gives W_h in concat."""
    listed = [
        w
        for w in shapes.rnn_weights(network.replace(notation="concat"))
        if w.role == "input_recurrent"
    ]
    stacked = [
        np.vstack([p.w_h, p.w_x])
        for stage in params.stages
        for part in stage
        if isinstance(part, Stack)
        for layer in part.net.layers
        for p in layer
    ]
    for w, array in zip(listed, stacked, strict=True):
        if array.shape != w.shape:
            raise ValueError(f"{w.name} would be {array.shape}, the shape source says {w.shape}")


def _dense_checks(
    spec: ModelSpec, network: Network, x: Array, total: int, rng: np.random.Generator
) -> list[Check]:
    b, t = x.shape[0], spec.timesteps
    weights = UsageRecorder(init_weights(shapes.dense_weights(network), rng, x.dtype.name))
    recurrent = network.stages[0].recurrent[0]
    head = network.stages[0].dense[0] if spec.output_size else None
    output = head.activation if head is not None else "identity"
    every = head is not None and head.steps == "all"
    try:
        hidden, y = dense_forward(weights, x, spec.layers, recurrent.activation, output, every)
    except (ValueError, KeyError) as error:
        return [
            Check("dense equivalent runs", "no error", f"{type(error).__name__}: {error}", False)
        ]
    width = t * spec.directions * spec.hidden_size
    made = [
        _shape_check(
            f"dense: hidden layer {k + 1}" if spec.layers > 1 else "dense: hidden layer",
            (b, width),
            a,
        )
        for k, a in enumerate(hidden)
    ]
    if spec.output_size:
        steps = (t,) if every else ()
        made.append(_shape_check("dense: outputs", (b, *steps, spec.output_size), y))
    made.append(_used_check("dense: parameters used = params total", total, weights.elements_read))
    return made


def dense_forward(
    weights: Mapping[str, Array],
    x: Array,
    layers: int,
    hidden_activation: str = "tanh",
    output_activation: str = "identity",
    every_step: bool = False,
) -> tuple[list[Array], Array | None]:
    """The dense equivalent on the flattened input (B, T*I): its hidden layers and output,
    which reads all T*D*H units, or with ``every_step`` each step's D*H of them (B, T, O).
    """
    a = x.reshape(x.shape[0], -1)
    hidden = []
    for k in range(1, layers + 1):
        a = a @ weights[f"W_{k}"] + weights[f"b_{k}"]
        HIDDEN_ACTIVATIONS[hidden_activation](a)
        hidden.append(a)
    if f"W_{layers + 1}" not in weights:
        return hidden, None
    top: Array = a.reshape(a.shape[0], x.shape[1], -1) if every_step else a
    y = top @ weights[f"W_{layers + 1}"] + weights[f"b_{layers + 1}"]
    DENSE_ACTIVATIONS[output_activation](y)
    return hidden, y
