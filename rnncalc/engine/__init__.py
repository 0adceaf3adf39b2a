"""NumPy kernels: vanilla RNN, LSTM and GRU layers, stacked and bidirectional.

Weights arrive by their convention's names and shapes (seed, PyTorch or Keras, as listed by
:mod:`rnncalc.shapes`) and are assembled into one canonical form per layer and direction:
row-vector matrices (``x_t W_x``), gates in PyTorch's order (LSTM i, f, g, o; GRU r, z, n),
an input-side and a recurrent-side bias.  The same assembly feeds the fast pass and the
step-by-step references, so a convention's layout is read in exactly one place.

Cell equations (PyTorch's and Keras's documentation):

* rnn:  h = f_h(x W_x + b_x + h W_h + b_h)
* lstm: i, f, o = sigma(.), g = tanh(.); c = f*c + i*g; h = o*tanh(c), then h W_hr with a
  projection (PyTorch's proj_size)
* gru, reset after (PyTorch; Keras reset_after=True): r, z = sigma(x W_x + b_x + h W_h + b_h);
  n = tanh(x W_xn + b_xn + r*(h W_hn + b_hn)); h = (1 - z)*n + z*h
* gru, reset before (the textbook GRU: seed; Keras reset_after=False):
  n = tanh(x W_xn + b_xn + (r*h) W_hn), the rest as above
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ..model import shapes
from ..model.spec import GATES, ModelSpec, Outputs

Array = npt.NDArray[Any]
#: Told of steps done, for a progress bar.
Advance = Callable[[int], None]
#: Steps between reports to ``advance``.
ADVANCE_EVERY = 256
Form = Literal["separate", "concat"]


def _tanh(a: Array) -> None:
    np.tanh(a, out=a)


def _relu(a: Array) -> None:
    np.maximum(a, 0, out=a)


def _sigmoid(a: Array) -> None:
    # 1 / (1 + e^-a) for a >= 0 and e^a / (1 + e^a) below: e^-|a| never overflows, and
    # tiny results keep their relative precision.
    e = np.exp(-np.abs(a))
    np.divide(np.where(a >= 0, 1.0, e), 1.0 + e, out=a)


def _gate_sigmoid(a: Array) -> None:
    # sigma(a) = (1 + tanh(a/2)) / 2, in place and without temporaries: gates are mixed
    # into sums, where its absolute error (~1e-16) is what matters.
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


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
class DirectionParams:
    """One direction of one layer in canonical form (gates in PyTorch's order)."""

    w_x: Array  # (in, G*H)
    w_h: Array  # (H or P, G*H)
    b_x: Array  # (G*H,): zeros when absent
    b_h: Array  # (G*H,): the recurrent-side bias; zeros when absent
    w_hr: Array | None  # (H, P): PyTorch's LSTM projection, row form


@dataclass(frozen=True)
class Network:
    """A whole network in canonical form: its layers (each a tuple of directions) and head."""

    cell: str
    reset_after: bool
    layers: tuple[tuple[DirectionParams, ...], ...]
    head: tuple[Array, Array] | None  # (W_y (D*H, O), b_y (O,))

    @property
    def state_size(self) -> int:
        """Features each direction emits: P with a projection, else H."""
        p = self.layers[0][0]
        if p.w_hr is not None:
            return int(p.w_hr.shape[1])
        return int(p.w_h.shape[1]) // len(GATES[self.cell])


def gru_resets_after(spec: ModelSpec) -> bool:
    """PyTorch's and Keras's default GRU apply the reset gate after the recurrent product."""
    return spec.convention == "pytorch" or spec.keras_reset_after


def assemble(spec: ModelSpec, arrays: Mapping[str, Array], dtype: Any) -> Network:
    """Read the convention's arrays into canonical form, using the shape list's metadata."""
    listed = shapes.rnn_weights(spec)
    h, order = spec.hidden_size, GATES[spec.cell]
    width = len(order) * h
    layers = []
    for layer in range(spec.layers):
        directions = []
        for direction in shapes.directions(spec):
            features, _ = shapes.layer_inputs(spec, layer)
            parts: dict[str, Array] = {
                "w_x": np.zeros((features, width), dtype),
                "w_h": np.zeros((spec.state_size, width), dtype),
                "b_x": np.zeros(width, dtype),
                "b_h": np.zeros(width, dtype),
            }
            w_hr = None
            for w in listed:
                if w.layer != layer or w.direction != direction or w.part != "recurrent":
                    continue
                a = np.asarray(arrays[w.name], dtype)
                a = a.T if w.transposed else a
                if w.role == "projection":
                    expected = (h, spec.proj_size)
                    if a.shape != expected:
                        raise ValueError(f"{w.name} gives {a.shape}, expected {expected}")
                    w_hr = a
                elif w.role == "input_recurrent":  # [h_{t-1}, x_t] W_h: W_hh stacked over W_xh
                    _place(parts["w_h"], a[: spec.state_size], w, order, h)
                    _place(parts["w_x"], a[spec.state_size :], w, order, h)
                elif w.role == "biases":  # Keras reset_after: row 0 input, row 1 recurrent
                    _place(parts["b_x"], a[0], w, order, h)
                    _place(parts["b_h"], a[1], w, order, h)
                else:
                    target = {"input": "w_x", "recurrent": "w_h", "input_bias": "b_x"}
                    _place(parts[target.get(w.role, "b_h")], a, w, order, h)
            directions.append(DirectionParams(w_hr=w_hr, **parts))
        layers.append(tuple(directions))
    head = None
    if spec.has_output_layer:
        w_y, b_y = (w for w in listed if w.part == "output")
        matrix = np.asarray(arrays[w_y.name], dtype)
        head = (matrix.T if w_y.transposed else matrix, np.asarray(arrays[b_y.name], dtype))
    return Network(spec.cell, gru_resets_after(spec), tuple(layers), head)


def _place(target: Array, source: Array, w: shapes.Weight, order: str, h: int) -> None:
    """Copy ``source``'s gate blocks (in the order ``w.gates``) to their canonical columns.

    The canonical shape comes from the sizes alone, so a tensor whose listed shape is wrong
    raises here instead of being cut to fit.
    """
    expected = (*target.shape[:-1], len(w.gates) * h)
    if source.shape != expected:
        raise ValueError(f"{w.name} gives {source.shape} in row form, expected {expected}")
    for k, gate in enumerate(w.gates):
        j = order.index(gate)
        target[..., j * h : (j + 1) * h] = source[..., k * h : (k + 1) * h]


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


def network_forward(
    net: Network,
    x: Array,
    hidden_activation: str = "tanh",
    output_activation: str = "identity",
    outputs: Outputs = "last",
    workspace: Workspace | None = None,
    threads: int | None = None,
    advance: Advance | None = None,
) -> tuple[Array, Array | None]:
    """The fast pass: the top layer's outputs (B, T, D*H) and y ((B, O), (B, T, O) or None).

    Per layer and direction, one GEMM projects the inputs of all timesteps; each step is
    then one GEMM of [h_{t-1}, 1] with [W_h; b_h] (the recurrent bias folded in), the
    cell's element-wise work, in preallocated buffers.  A large batch is split across
    ``threads`` threads (default: one per CPU), each running single-threaded BLAS on its
    share.  The returned arrays may be views into ``workspace``.  ``advance``, if given,
    hears of the steps done, every few hundred (L*D*T in all).
    """
    ws = workspace or Workspace()
    batch, steps, _ = x.shape
    dtype = np.result_type(x, net.layers[0][0].w_x)
    size = net.state_size
    layer_input = x
    for index, layer in enumerate(net.layers):
        states = []
        for d, params in enumerate(layer):
            key = f"{index}.{d}"
            hs = ws.get("hs" + key, (steps + 1, batch, size + 1), dtype)
            _run_direction(
                net, params, layer_input, hs, d == 1, hidden_activation, ws, key, threads, advance
            )
            rows = slice(0, steps) if d == 1 else slice(1, steps + 1)
            states.append(hs[rows, :, :size])  # (T, B, size), time-major
        if len(states) == 1:
            top = states[0].transpose(1, 0, 2)
        else:
            top = ws.get(f"out{index}", (batch, steps, len(states) * size), dtype)
            for d, state in enumerate(states):
                top[:, :, d * size : (d + 1) * size] = state.transpose(1, 0, 2)
        layer_input = top
    return layer_input, _head(net, layer_input, output_activation, outputs)


def _head(net: Network, top: Array, activation: str, outputs: Outputs) -> Array | None:
    """y from the top layer: at every step, or from each direction's final state."""
    if net.head is None:
        return None
    w_y, b_y = net.head
    features = top if outputs == "all" else _final_states(top, len(net.layers[-1]))
    y = features @ w_y
    y += b_y
    OUTPUT_ACTIVATIONS[activation](y)
    return y


def _final_states(top: Array, directions: int) -> Array:
    """Each direction's state after reading the whole sequence: forward's at the last step,
    backward's at the first (as PyTorch's h_n and Keras's Bidirectional return them).
    """
    last = top[:, -1].copy()
    if directions == 2:
        size = top.shape[2] // 2
        last[:, size:] = top[:, 0, size:]
    return last


def _run_direction(
    net: Network,
    p: DirectionParams,
    x: Array,
    hs: Array,
    reverse: bool,
    hidden_activation: str,
    ws: Workspace,
    key: str,
    threads: int | None,
    advance: Advance | None,
) -> None:
    batch, steps, inputs = x.shape
    width = p.w_x.shape[1]
    size = hs.shape[2] - 1
    dtype = hs.dtype
    z = ws.get("z" + key, (batch, steps, width), dtype)
    w_aug = ws.get("w" + key, (p.w_h.shape[0] + 1, width), dtype)
    w_aug[:-1] = p.w_h
    w_aug[-1] = p.b_h
    w_x, b_x = p.w_x, p.b_x
    if net.cell == "lstm":
        w_x, b_x, w_aug[:] = (_lstm_layout(a) for a in (w_x, b_x, w_aug))
    hs[:, :, size] = 1
    hs[steps if reverse else 0, :, :size] = 0
    step = _STEPS[net.cell if net.cell != "gru" else ("gru" if net.reset_after else "gru_before")]
    f_h = HIDDEN_ACTIVATIONS[hidden_activation]

    def recur(rows: slice) -> None:
        n = rows.stop - rows.start
        chunk_z = z[rows].reshape(n * steps, width)
        np.matmul(x[rows].reshape(n * steps, inputs), w_x, out=chunk_z)
        chunk_z += b_x
        cell = 4 if net.cell == "lstm" else width
        chunk = _Chunk(
            p, w_aug, np.zeros((n, width // cell), dtype), np.empty((2, n, width), dtype), f_h
        )
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        report = advance if rows.start == 0 else None  # one share of the batch tells
        for done, t in enumerate(order, 1):
            prev, cur = (t + 1, t) if reverse else (t, t + 1)
            step(chunk, z[rows, t], hs[prev, rows], hs[cur, rows, :size])
            if report is not None and done % ADVANCE_EVERY == 0:
                report(ADVANCE_EVERY)
        if report is not None:
            report(steps % ADVANCE_EVERY)

    chunks = batch_chunks(batch, width * p.w_h.shape[0], threads)
    if len(chunks) == 1:
        recur(chunks[0])
    else:
        with _single_threaded_blas(), ThreadPoolExecutor(len(chunks)) as pool:
            for done in [pool.submit(recur, rows) for rows in chunks]:
                done.result()


@dataclass(frozen=True)
class _Chunk:
    """What every step of one direction needs for its rows of the batch: the parameters,
    [W_h; b_h], the LSTM's cell state, two scratch rows and f_h.
    """

    p: DirectionParams
    w_aug: Array
    c: Array
    scratch: Array
    f_h: Callable[[Array], None]


StepFunction = Callable[[_Chunk, Array, Array, Array], None]


def _rnn_step(k: _Chunk, z: Array, prev: Array, out: Array) -> None:
    np.matmul(prev, k.w_aug, out=out)
    out += z
    k.f_h(out)


def _lstm_layout(a: Array) -> Array:
    """Gate columns i, f, g, o reordered to i, f, o, g, the sigmoid gates halved: then one
    tanh serves all four, as sigma(v) = (1 + tanh(v/2)) / 2.
    """
    h = a.shape[-1] // 4
    out = np.empty_like(a)
    for k, (source, scale) in enumerate(((0, 0.5), (1, 0.5), (3, 0.5), (2, 1.0))):
        np.multiply(a[..., source * h : (source + 1) * h], scale, out=out[..., k * h : (k + 1) * h])
    return out


def _lstm_step(k: _Chunk, z: Array, prev: Array, out: Array) -> None:
    a, c = k.scratch[0], k.c
    h = c.shape[1]
    np.matmul(prev, k.w_aug, out=a)
    a += z
    np.tanh(a, out=a)  # tanh(v/2) for i, f, o; tanh(v) for g (see _lstm_layout)
    gates = a[:, : 3 * h]
    gates *= 0.5
    gates += 0.5
    c *= a[:, h : 2 * h]
    g = a[:, 3 * h :]
    g *= a[:, :h]
    c += g
    cell_out = k.scratch[1][:, :h]
    np.tanh(c, out=cell_out)
    o = a[:, 2 * h : 3 * h]
    if k.p.w_hr is None:
        np.multiply(o, cell_out, out=out)
    else:
        cell_out *= o
        np.matmul(cell_out, k.p.w_hr, out=out)


def _gru_step(k: _Chunk, z: Array, prev: Array, out: Array) -> None:
    a = k.scratch[0]
    h = a.shape[1] // 3
    np.matmul(prev, k.w_aug, out=a)  # h W_h + b_h
    gates = a[:, : 2 * h]
    gates += z[:, : 2 * h]
    _gate_sigmoid(gates)
    n = a[:, 2 * h :]
    n *= a[:, :h]  # r * (h W_hn + b_hn)
    n += z[:, 2 * h :]
    np.tanh(n, out=n)
    _blend(n, a[:, h : 2 * h], prev[:, :h], out, k.scratch[1][:, :h])


def _gru_before_step(k: _Chunk, z: Array, prev: Array, out: Array) -> None:
    a = k.scratch[0]
    h = a.shape[1] // 3
    gates = a[:, : 2 * h]
    np.matmul(prev, k.w_aug[:, : 2 * h], out=gates)
    gates += z[:, : 2 * h]
    _gate_sigmoid(gates)
    reset = k.scratch[1][:, :h]
    np.multiply(a[:, :h], prev[:, :h], out=reset)  # r * h
    n = a[:, 2 * h :]
    np.matmul(reset, k.p.w_h[:, 2 * h :], out=n)
    n += z[:, 2 * h :]
    np.tanh(n, out=n)
    _blend(n, a[:, h : 2 * h], prev[:, :h], out, reset)


def _blend(n: Array, update: Array, h: Array, out: Array, scratch: Array) -> None:
    """out = (1 - z)*n + z*h, written as n + z*(h - n)."""
    np.subtract(h, n, out=scratch)
    scratch *= update
    np.add(n, scratch, out=out)


_STEPS: dict[str, StepFunction] = {
    "rnn": _rnn_step,
    "lstm": _lstm_step,
    "gru": _gru_step,
    "gru_before": _gru_before_step,
}


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
    f_h = HIDDEN_ACTIVATIONS[hidden_activation]
    seen: list[tuple[int, ...]] = []
    layer_input = x
    for layer in net.layers:
        outputs = []
        for d, p in enumerate(layer):
            h = np.zeros((x.shape[0], p.w_h.shape[0]), layer_input.dtype)
            c = np.zeros((x.shape[0], p.w_h.shape[1] // 4), layer_input.dtype)
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
        layer_input = np.concatenate(outputs, axis=2)
    return layer_input, seen


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


#: Split the batch only when each thread's recurrent GEMM per step has at least this many
#: multiply-adds (2^20: (32 x 256) @ (256 x 256) splits, a float64 pass of B=64, H=256 went
#: from 33 to 20 ms).  Below it, thread start-up and the BLAS workers that keep spinning
#: for a while after their thread count is lowered cost more than the split saves
#: (measured with tests/benchmarks/forward.py on 2 cores).
_SPLIT_MIN_MACS = 1 << 20


def batch_chunks(batch: int, macs_per_row: int, threads: int | None) -> list[slice]:
    """Split the batch into contiguous row ranges, one per thread."""
    if threads is None:
        threads = _usable_cpus()
        if (batch // threads) * macs_per_row < _SPLIT_MIN_MACS or _blas_controller() is None:
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
