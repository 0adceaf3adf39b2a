"""How much memory a run takes, from the shape list, before anything is allocated."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..analysis.counts import count_params
from ..model.shapes import layer_inputs
from ..model.spec import ModelSpec, SpecError
from ..units import format_bytes
from .fast import direction_buffers, layer_outputs, passing_buffers
from .results import RunOptions


def estimate_bytes(spec: ModelSpec, options: RunOptions, check: bool, dense: bool = True) -> int:
    """Bytes of the arrays a run allocates at its peak, estimated from the shape list before
    allocating (within 25% of tracemalloc's peak wherever arrays dominate; tested).

    The fast pass's arrays are its own plan (:mod:`rnncalc.engine.fast`): per layer and
    direction :func:`direction_buffers`, per layer :func:`layer_outputs`, and the largest
    :func:`passing_buffers` of one direction while it runs.  With them: x, the weights
    twice (as given and in canonical form), y.  The check keeps all that and adds the
    larger of two things that never coexist: a step-by-step pass (the layer below's
    outputs, each direction's list of states and their stack, the layer's concatenation,
    and the weights stacked [W_h; W_x] for the concatenated form: about 3*B*T*D*S + B*T*S
    plus weights) or, with ``dense``, the dense equivalent (its weights, B*T*D*H per
    hidden layer and one more for a temporary).
    """
    b, t = options.batch_size, spec.timesteps
    g, h, s, d, layers = spec.gates, spec.hidden_size, spec.state_size, spec.directions, spec.layers
    report = count_params(spec)
    lstm = spec.cell == "lstm"
    per_direction = _elements(direction_buffers(b, t, s, g * h).values())
    outputs = layer_outputs(b, t, s, d)
    y = b * spec.output_size * (t if options.outputs == "all" else 1)
    kept = 2 * report.rnn.total + b * t * spec.input_size + y
    kept += layers * (d * per_direction + (math.prod(outputs) if outputs else 0))
    inputs = [layer_inputs(spec, layer)[0] for layer in range(min(layers, 2))]
    passing = max(
        _elements(passing_buffers(b, t, s, g * h, i, lstm, k > 0 and d == 1).values())
        for k, i in enumerate(inputs)
    )
    if check:
        widest = (max(inputs) + s + 2) * g * h
        stacked = report.rnn.total if spec.convention == "seed" else widest
        steps = 3 * b * t * d * s + b * t * s + stacked
        equivalent = report.dense.total + (layers + 1) * b * t * d * h + 2 * b * spec.output_size
        passing = max(passing, steps, equivalent if dense else 0)
    return (kept + passing) * np.dtype(options.dtype).itemsize


def _elements(shapes: Iterable[tuple[int, ...]]) -> int:
    return sum(math.prod(shape) for shape in shapes)


def dense_fits(spec: ModelSpec, options: RunOptions, check: bool, max_bytes: int | None) -> bool:
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
