"""The equations taken literally, one step and one allocation at a time: the reference
the fast pass is checked against, written to be read.

* rnn:  h = f_h(x W_x + b_x + h W_h + b_h)
* lstm: i, f, o = sigma(.), g = tanh(.); c = f*c + i*g; h = o*tanh(c), then h W_hr with a
  projection (PyTorch's proj_size)
* gru, reset after (PyTorch; Keras reset_after=True): r, z = sigma(x W_x + b_x + h W_h + b_h);
  n = tanh(x W_xn + b_xn + r*(h W_hn + b_hn)); h = (1 - z)*n + z*h
* gru, reset before (the textbook GRU: seed; Keras reset_after=False):
  n = tanh(x W_xn + b_xn + (r*h) W_hn), the rest as above
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..model.spec import GATES
from .activations import HIDDEN_ACTIVATIONS, _sigmoid
from .assemble import DirectionParams, Network
from .types import Advance, Array, Form, States


def stepwise_forward(
    net: Network,
    x: Array,
    hidden_activation: str = "tanh",
    form: Form = "separate",
    advance: Advance | None = None,
) -> tuple[Array, list[tuple[int, ...]]]:
    """The equations taken literally, one step and one allocation at a time.

    ``separate`` computes x_t W_x and h_{t-1} W_h apart, ``concat`` as [h_{t-1}, x_t] W
    with W the vertical stack of W_h over W_x (the seed's notation; a reset-after GRU's
    candidate keeps its recurrent product apart, since the reset gate multiplies it).
    Returns the top layer's outputs (B, T, D*H) and the shape of every state produced.
    """
    top, seen, _ = stepwise_stack(net, x, hidden_activation, form, advance)
    return top, seen


def stepwise_stack(
    net: Network,
    x: Array,
    hidden_activation: str = "tanh",
    form: Form = "separate",
    advance: Advance | None = None,
    initial: States | None = None,
) -> tuple[Array, list[tuple[int, ...]], States]:
    """:func:`stepwise_forward` from ``initial`` states (zeros when None), also returning
    each layer's final states, as :func:`rnncalc.engine.fast.stack_forward` does.
    """
    f_h = HIDDEN_ACTIVATIONS[hidden_activation]
    seen: list[tuple[int, ...]] = []
    finals: States = []
    layer_input = x
    for index, layer in enumerate(net.layers):
        outputs = []
        ends: list[tuple[Array, Array | None]] = []
        for d, p in enumerate(layer):
            h = np.zeros((x.shape[0], p.w_h.shape[0]), layer_input.dtype)
            c = np.zeros((x.shape[0], p.w_h.shape[1] // 4), layer_input.dtype)
            if initial is not None:
                h, start_c = initial[index][d]
                c = c if start_c is None else start_c
            states: list[Array] = [h] * layer_input.shape[1]
            stacked = np.vstack([p.w_h, p.w_x]) if form == "concat" else None
            order = range(layer_input.shape[1])
            for t in reversed(order) if d == 1 else order:
                h, c = _reference_step(net, p, layer_input[:, t], h, c, f_h, stacked)
                states[t] = h
                seen.append(h.shape)
                if advance is not None:
                    advance(1)
            outputs.append(np.stack(states, axis=1))
            ends.append((h, c if net.cell == "lstm" else None))
        finals.append(ends)
        layer_input = np.concatenate(outputs, axis=2)
    return layer_input, seen, finals


def _reference_step(
    net: Network,
    p: DirectionParams,
    x: Array,
    h: Array,
    c: Array,
    f_h: Callable[[Array], None],
    stacked: Array | None,
) -> tuple[Array, Array]:
    """One step, each product computed once (so that counting its multiply-adds counts
    the step's); ``stacked`` is [W_h; W_x] for the concatenated form, None for separate."""
    size = p.w_x.shape[1] // len(GATES[net.cell])
    gated = net.cell == "gru"
    # A GRU's candidate n has its own recurrent product: the reset gate enters it.
    cols = slice(0, 2 * size) if gated else slice(None)
    if stacked is not None:
        both = np.concatenate([h, x], axis=1) @ stacked[:, cols] + p.b_x[cols] + p.b_h[cols]
    else:
        both = x @ p.w_x[:, cols] + p.b_x[cols] + h @ p.w_h[:, cols] + p.b_h[cols]
    if net.cell == "rnn":
        f_h(both)
        return both, c
    if net.cell == "lstm":
        i, f, g, o = (both[:, k * size : (k + 1) * size] for k in range(4))
        c = _sig(f) * c + _sig(i) * np.tanh(g)
        out = _sig(o) * np.tanh(c)
        return (out if p.w_hr is None else out @ p.w_hr), c
    r, u = _sig(both[:, :size]), _sig(both[:, size:])
    n_cols = slice(2 * size, None)
    if not net.reset_after and stacked is not None:
        candidate = np.concatenate([r * h, x], axis=1) @ stacked[:, n_cols]
        n = np.tanh(candidate + p.b_x[n_cols])
    else:
        x_n = x @ p.w_x[:, n_cols] + p.b_x[n_cols]
        if net.reset_after:
            n = np.tanh(x_n + r * (h @ p.w_h[:, n_cols] + p.b_h[n_cols]))
        else:
            n = np.tanh(x_n + (r * h) @ p.w_h[:, n_cols])
    return (1 - u) * n + u * h, c


def _sig(a: Array) -> Array:
    out = a.copy()
    _sigmoid(out)
    return out
