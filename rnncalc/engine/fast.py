"""The fast pass, and why it is fast:

1. One GEMM per layer and direction projects the inputs of every timestep at once
   (x W_x + b_x over B*T rows), so a step is left with the recurrent product alone.
2. The recurrent bias rides in that product: states carry a column of ones, and each step
   is one GEMM of [h_{t-1}, 1] with [W_h; b_h].
3. Every buffer is allocated before the time loop (a :class:`Workspace` keeps them across
   repeated passes) and every operation writes in place (``out=``): no allocation per step.
4. States are time-major, (T+1, B, S+1), so each step reads and writes contiguous rows.
5. An LSTM's gates are reordered i, f, o, g with the sigmoid gates pre-halved, so that one
   tanh serves all four: sigma(v) = (1 + tanh(v/2)) / 2.
6. A GRU's sigmoids take the same tanh, in place, and its blend h = n + z*(h - n) needs
   one scratch row.
7. A large batch is split across threads, each running single-threaded BLAS on its share,
   when each share's step has at least 2^20 multiply-adds; a smaller step's products run
   on one BLAS thread too, whose others would cost more in waking than they share
   (:mod:`.threads`).
8. A bidirectional layer whose steps are too small to split the batch for runs its two
   directions at once, one thread each.
9. With ``engine="compiled"`` each direction's steps run as one compiled kernel instead
   (:mod:`.compiled`), on the same buffers; a batch too small to split has each step's
   units split across threads instead (:mod:`.compiled_run`).

The buffers are named by :func:`direction_buffers`, :func:`layer_outputs` and
:func:`passing_buffers`, which :func:`rnncalc.engine.run.estimate_bytes` reads too: the
memory estimate is this plan, not a copy of it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..model.spec import Outputs
from .activations import DENSE_ACTIVATIONS, HIDDEN_ACTIVATIONS
from .assemble import DirectionParams, Network
from .compiled_run import compiled_direction
from .engines import Engine
from .numpy_steps import _STEPS, _Chunk, _lstm_layout
from .threads import (
    batch_chunks,
    pair_directions,
    single_threaded_blas,
    step_blas,
)
from .types import ADVANCE_EVERY, Advance, Array, States


def direction_buffers(batch: int, steps: int, state: int, width: int) -> dict[str, tuple[int, ...]]:
    """What one direction of one layer keeps in the workspace: its states with a column of
    ones for the folded bias, time-major (``hs``); its input projections (``z``); and
    [W_h; b_h] (``w``).  ``state`` is S (H, or P with a projection), ``width`` G*H.
    """
    return {
        "hs": (steps + 1, batch, state + 1),
        "z": (batch, steps, width),
        "w": (state + 1, width),
    }


def layer_outputs(batch: int, steps: int, state: int, directions: int) -> tuple[int, ...] | None:
    """A layer's outputs side by side, (B, T, D*S), when it has two directions; None when it
    has one, whose outputs are a view of its states.
    """
    return (batch, steps, directions * state) if directions > 1 else None


def passing_buffers(
    batch: int, steps: int, state: int, width: int, inputs: int, lstm: bool, view_input: bool
) -> dict[str, tuple[int, ...]]:
    """What one direction allocates while it runs, and frees after: two scratch rows and
    the cell state; for an LSTM, W_x, b_x and [W_h; b_h] in the fused gate order; and a
    contiguous copy of its input when that is a view (``view_input``: the states of a
    one-direction layer below).  ``inputs`` is the direction's input width.
    """
    buffers = {"scratch": (2, batch, width), "cell state": (batch, width // 4 if lstm else 1)}
    if lstm:
        buffers["gate order"] = (inputs + state + 2, width)
    if view_input:
        buffers["input copy"] = (batch, steps, inputs)
    return buffers


class Workspace:
    """Buffers reused by repeated passes, so that timing measures arithmetic, not allocation."""

    def __init__(self) -> None:
        self._arrays: dict[str, Array] = {}

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every buffer held, by name."""
        return {name: array.shape for name, array in self._arrays.items()}

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
    engine: Engine = "numpy",
) -> tuple[Array, Array | None]:
    """The fast pass: the top layer's outputs (B, T, D*H) and y ((B, O), (B, T, O) or None).

    Per layer and direction, one GEMM projects the inputs of all timesteps; each step is
    then one GEMM of [h_{t-1}, 1] with [W_h; b_h] (the recurrent bias folded in), the
    cell's element-wise work, in preallocated buffers.  A large batch is split across
    ``threads`` threads (default: one per CPU), each running single-threaded BLAS on its
    share.  The returned arrays may be views into ``workspace``.  ``advance``, if given,
    hears of the steps done, every few hundred (L*D*T in all).  ``engine`` runs each
    direction's steps in NumPy or in the compiled kernels (:mod:`.engines`).
    """
    top, _ = stack_forward(
        net, x, hidden_activation, workspace, threads, advance, hand_on=False, engine=engine
    )
    if net.head is None:
        return top, None
    features = top if outputs == "all" else final_states(top, len(net.layers[-1]))
    return top, dense(features, *net.head, output_activation)


def stack_forward(
    net: Network,
    x: Array,
    hidden_activation: str = "tanh",
    workspace: Workspace | None = None,
    threads: int | None = None,
    advance: Advance | None = None,
    initial: States | None = None,
    key: str = "",
    hand_on: bool = True,
    engine: Engine = "numpy",
) -> tuple[Array, States]:
    """The stack's fast pass on x (B, T, in): the top layer's outputs (B, T, D*S), and each
    layer's final states (with ``hand_on``; else none), from ``initial`` states (zeros when
    None).  ``key`` prefixes the workspace's buffer names, for a network of several stacks.
    """
    ws = workspace or Workspace()
    batch, steps, _ = x.shape
    dtype = np.result_type(x, net.layers[0][0].w_x)
    size = net.state_size
    layer_input = x
    finals: States = []
    for index, layer in enumerate(net.layers):
        states = []
        ends = []
        runs, hss = [], []
        for d, params in enumerate(layer):
            name = f"{key}{index}.{d}"
            shapes = direction_buffers(batch, steps, size, params.w_x.shape[1])
            hs = ws.get("hs" + name, shapes["hs"], dtype)
            hss.append(hs)
            start = None if initial is None else initial[index][d]
            runs.append(
                functools.partial(
                    _run_direction, net, params, layer_input, hs, d == 1, hidden_activation, ws,
                    name, start=start, engine=engine,
                )
            )  # fmt: skip
        together = len(layer) == 2 and pair_directions(
            batch, layer[0].w_x.shape[1] * layer[0].w_h.shape[0], threads
        )
        cells = _run_together(runs, advance) if together else [r(threads, advance) for r in runs]
        for d, (hs, c) in enumerate(zip(hss, cells, strict=True)):
            rows = slice(0, steps) if d == 1 else slice(1, steps + 1)
            states.append(hs[rows, :, :size])  # (T, B, size), time-major
            if hand_on:
                ends.append((hs[0 if d == 1 else steps, :, :size], c))
        if hand_on:
            finals.append(ends)
        outputs_shape = layer_outputs(batch, steps, size, len(states))
        if outputs_shape is None:
            top = states[0].transpose(1, 0, 2)
        else:
            top = ws.get(f"out{key}{index}", outputs_shape, dtype)
            _side_by_side(states, top, threads)
        layer_input = top
    return layer_input, finals


#: Copy a bidirectional layer's two directions' outputs on two threads from this many
#: elements each: (64, 100, 256) float32 went from 3.5 to 2.0 ms.
_PARALLEL_COPY = 1 << 20


def _side_by_side(states: Sequence[Array], top: Array, threads: int | None) -> None:
    """Each direction's time-major states (T, B, S) into its columns of ``top`` (B, T, D*S),
    the two directions' copies at once when they are large and two threads may run.
    """
    size = states[0].shape[2]

    def place(d: int) -> None:
        top[:, :, d * size : (d + 1) * size] = states[d].transpose(1, 0, 2)

    if states[0].size < _PARALLEL_COPY or (threads is not None and threads < 2):
        for d in range(len(states)):
            place(d)
        return
    with ThreadPoolExecutor(1) as pool:  # NumPy copies without the GIL
        other = pool.submit(place, 1)
        place(0)
        other.result()


def _run_together(
    runs: Sequence[Callable[[int | None, Advance | None], Array | None]], advance: Advance | None
) -> list[Array | None]:
    """A bidirectional layer's two directions at once, each on its own thread with one BLAS
    thread (:func:`rnncalc.engine.threads.pair_directions` says when); both tell ``advance``,
    one at a time.
    """
    lock = threading.Lock()

    def told(done: int) -> None:
        assert advance is not None
        with lock:
            advance(done)

    report = None if advance is None else told
    with single_threaded_blas(), ThreadPoolExecutor(len(runs)) as pool:
        ends = [pool.submit(run, 1, report) for run in runs]
        return [end.result() for end in ends]


def dense(features: Array, w: Array, b: Array | None, activation: str) -> Array:
    """A dense layer: f(features W + b), on the last axis.  Every step's features go
    through one GEMM as rows of a contiguous matrix (a stack of (B, F) products, or a view
    of the time-major states, is several times slower).
    """
    if features.ndim == 2:
        y = features @ w
    else:
        rows = np.ascontiguousarray(features).reshape(-1, features.shape[-1])
        y = (rows @ w).reshape(*features.shape[:-1], w.shape[1])
    if b is not None:
        y += b
    DENSE_ACTIVATIONS[activation](y)
    return y


def final_states(top: Array, directions: int) -> Array:
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
    *,
    start: tuple[Array, Array | None] | None,
    engine: Engine,
) -> Array | None:
    """Run one direction into ``hs`` from the ``start`` state (zeros when None); return
    the LSTM's final cell state (None for other cells).
    """
    batch, steps, inputs = x.shape
    width = p.w_x.shape[1]
    size = hs.shape[2] - 1
    dtype = hs.dtype
    shapes = direction_buffers(batch, steps, size, width)
    z = ws.get("z" + key, shapes["z"], dtype)
    w_aug = ws.get("w" + key, shapes["w"], dtype)
    lstm = net.cell == "lstm"
    hs[:, :, size] = 1
    hs[steps if reverse else 0, :, :size] = 0 if start is None else start[0]
    whole = passing_buffers(batch, steps, size, width, inputs, lstm, False)
    c = np.zeros(whole["cell state"], dtype)  # each share of the batch steps its rows
    if start is not None and start[1] is not None:
        c[:] = start[1]
    macs_per_row = width * p.w_h.shape[0]
    chunks = batch_chunks(batch, macs_per_row, threads)
    if engine == "compiled":
        compiled_direction(net, p, x, z, w_aug, hs, c, reverse, hidden_activation,
                           chunks, threads, advance)  # fmt: skip
        return c if lstm else None
    w_aug[:-1] = p.w_h
    w_aug[-1] = p.b_h
    w_x, b_x = p.w_x, p.b_x
    if lstm:
        w_x, b_x, w_aug[:] = (_lstm_layout(a) for a in (w_x, b_x, w_aug))
    step = _STEPS[net.cell if net.cell != "gru" else ("gru" if net.reset_after else "gru_before")]
    f_h = HIDDEN_ACTIVATIONS[hidden_activation]

    def recur(rows: slice) -> None:
        n = rows.stop - rows.start
        _project(x[rows], w_x, b_x, z[rows])
        report = advance if rows.start == 0 else None  # one share of the batch tells
        with step_blas(n * macs_per_row, n < batch):
            own = passing_buffers(n, steps, size, width, inputs, lstm, False)
            chunk = _Chunk(p, w_aug, c[rows], np.empty(own["scratch"], dtype), f_h)
            order = range(steps - 1, -1, -1) if reverse else range(steps)
            for done, t in enumerate(order, 1):
                prev, cur = (t + 1, t) if reverse else (t, t + 1)
                step(chunk, z[rows, t], hs[prev, rows], hs[cur, rows, :size])
                if report is not None and done % ADVANCE_EVERY == 0:
                    report(ADVANCE_EVERY)
            if report is not None:
                report(steps % ADVANCE_EVERY)

    if len(chunks) == 1:
        recur(chunks[0])
    else:
        with single_threaded_blas(), ThreadPoolExecutor(len(chunks)) as pool:
            for done in [pool.submit(recur, rows) for rows in chunks]:
                done.result()
    return c if lstm else None


def _project(x: Array, w_x: Array, b_x: Array, z: Array) -> None:
    """z = x W_x + b_x for every row and timestep at once: one GEMM over B*T rows."""
    rows = x.shape[0] * x.shape[1]
    np.matmul(x.reshape(rows, x.shape[2]), w_x, out=z.reshape(rows, z.shape[2]))
    z += b_x
