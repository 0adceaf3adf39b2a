"""How much memory a run takes, from the shape list, before anything is allocated."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..analysis.counts import count_params
from ..model.network import Embedding, Network, Recurrent
from ..model.shapes import Weight, layer_inputs
from ..model.spec import ModelSpec, Outputs, SpecError
from ..units import format_bytes
from .fast import direction_buffers, layer_outputs, passing_buffers
from .results import RunOptions, seed_spec

#: Bytes of a token id as NumPy draws and reads them (int64).
TOKEN_BYTES = 8


def estimate_bytes(
    model: ModelSpec | Network, options: RunOptions, check: bool, dense: bool = True
) -> int:
    """Bytes of the arrays a run allocates at its peak, estimated from the shape list before
    allocating (within 25% of tracemalloc's peak wherever arrays dominate; tested).

    The fast pass's arrays are its own plan (:mod:`rnncalc.engine.fast`): per layer and
    direction :func:`direction_buffers`, per layer :func:`layer_outputs`, and the largest
    :func:`passing_buffers` of one direction while it runs (of both, in a bidirectional
    layer, whose directions may run at once).  With them: x, the weights
    twice (as given and in canonical form), y.  The check keeps all that and adds the
    larger of two things that never coexist: a step-by-step pass (the layer below's
    outputs, each direction's list of states and their stack, the layer's concatenation,
    and the weights stacked [W_h; W_x] for the concatenated form: about 3*B*T*D*S + B*T*S
    plus weights) or, with ``dense``, the dense equivalent (its weights, B*T*D*H per
    hidden layer and one more for a temporary).  A whole network (see :func:`_network`)
    adds its embeddings' outputs and its dense layers' and runs no dense equivalent.
    """
    outputs: Outputs = options.outputs
    if isinstance(model, Network):
        spec = seed_spec(model)
        if spec is None:
            return _network(model, options, check)
        if model.stages[0].dense:
            outputs = model.stages[0].dense[0].steps
    else:
        spec = model
    b, t = options.batch_size, spec.timesteps
    g, h, s, d, layers = spec.gates, spec.hidden_size, spec.state_size, spec.directions, spec.layers
    report = count_params(spec)
    lstm = spec.cell == "lstm"
    per_direction = _elements(direction_buffers(b, t, s, g * h).values())
    outputs_shape = layer_outputs(b, t, s, d)
    y = b * spec.output_size * (t if outputs == "all" else 1)
    kept = 2 * report.rnn.total + b * t * spec.input_size + y
    kept += layers * (d * per_direction + (math.prod(outputs_shape) if outputs_shape else 0))
    inputs = [layer_inputs(spec, layer)[0] for layer in range(min(layers, 2))]
    passing = d * max(  # a bidirectional layer's directions may run at once
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


def _network(network: Network, options: RunOptions, check: bool) -> int:
    """A whole network's peak.  Kept throughout: the weights (and the canonical form's
    copies, :func:`_copied`), the inputs, and what the seed's estimate keeps for every
    recurrent layer, with the encoder's final cell states.  Then the largest of what one
    layer allocates while it runs: a recurrent layer's passing buffers, a dense layer's
    outputs (and its input's rows made contiguous), each with its input when the layer
    below made one (an embedding's lookup, a dense layer's outputs on every step).  The
    check keeps y and adds, instead, the largest step-by-step pass.
    """
    b = options.batch_size
    terms = count_params(network).rnn.terms
    kept = sum(t.count for t in terms) + sum(t.elements for t in terms if _copied(t.weight))
    tokens = y = 0
    running = checking = 0
    for s, stage in enumerate(network.stages):
        t = stage.timesteps
        if stage.embedding is None:
            kept += b * t * stage.features
        else:
            tokens += b * t
        width, made, view = stage.features, 0, False  # made: the layer below's new array
        for layer in stage.layers:
            if isinstance(layer, Embedding):
                made = b * t * layer.dim
            elif isinstance(layer, Recurrent):
                g, h, size, d = layer.gates, layer.hidden_size, layer.state_size, layer.directions
                per_direction = _elements(direction_buffers(b, t, size, g * h).values())
                outputs_shape = layer_outputs(b, t, size, d)
                kept += layer.stack * d * per_direction
                kept += layer.stack * (math.prod(outputs_shape) if outputs_shape else 0)
                if s == 0 and network.encoder_decoder and layer.cell == "lstm":
                    kept += layer.stack * d * b * h
                below = [width, layer.width][: min(layer.stack, 2)]
                lstm = layer.cell == "lstm"
                passing = d * max(
                    _elements(passing_buffers(b, t, size, g * h, i, lstm, view).values())
                    for i in below
                )
                steps = 3 * b * t * d * size + b * t * size + (max(below) + size + 2) * g * h
                running = max(running, made + passing)
                checking = max(checking, made + steps)
                width, made, view = layer.width, 0, d == 1
            else:
                steps_run = t if layer.steps == "all" else 1
                out = b * layer.units * steps_run
                rows = b * steps_run * width if steps_run > 1 and not made else 0  # made contiguous
                running = max(running, made + rows + out)
                checking = max(checking, made + rows + out)
                width, made, view, y = layer.units, out, False, out
    peak = kept + (max(running, y + checking) if check else running)
    return peak * np.dtype(options.dtype).itemsize + tokens * TOKEN_BYTES


def _copied(w: Weight) -> bool:
    """Whether the canonical form holds a copy of the tensor: a recurrent one (its gates
    placed), or a dense layer's matrix in row form (PyTorch's, transposed; a tied one).
    """
    return w.part == "recurrent" or (
        w.role in ("dense", "output") and (w.transposed or bool(w.tied))
    )


def _elements(shapes: Iterable[tuple[int, ...]]) -> int:
    return sum(math.prod(shape) for shape in shapes)


def dense_fits(
    model: ModelSpec | Network, options: RunOptions, check: bool, max_bytes: int | None
) -> bool:
    """Whether the check can run the dense equivalent; raise if the run cannot fit at all."""
    if max_bytes is None or estimate_bytes(model, options, check) <= max_bytes:
        return True
    needed = estimate_bytes(model, options, check, dense=False)
    if needed > max_bytes:
        raise SpecError(
            "max_memory",
            f"this run needs about {format_bytes(needed)} ({needed:,} bytes), more than "
            f"{format_bytes(max_bytes)}; use smaller sizes or raise the limit",
        )
    return False
