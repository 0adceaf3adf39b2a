"""A whole network's pass: embeddings, recurrent layers and dense layers, stage by stage.

The recurrent layers run by the pass given (:func:`rnncalc.engine.fast.stack_forward`, or
the step-by-step equations of :mod:`.reference`); embeddings and dense layers are one
NumPy operation each, the same in both.  In an encoder-decoder, the encoder's stacked
layers hand their final states (h, and c for an LSTM; each direction's) to the decoder's,
one to one, and the decoder reads its own target tokens (teacher forcing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .assemble import Canonical, Lookup, Stack
from .fast import dense
from .types import Array, States

#: Runs one recurrent layer: (workspace key, layer, inputs (B, T, in), start states or
#: None) -> (outputs (B, T, D*S), final states).
StackRunner = Callable[[str, Stack, Array, States | None], tuple[Array, States]]


@dataclass(frozen=True)
class Walked:
    """What a pass produced: every layer's output shape, stage by stage and in order; h,
    the top recurrent layer's outputs (the decoder's, in an encoder-decoder); and y, the
    last dense layer's outputs (None without one).
    """

    shapes: tuple[tuple[int, ...], ...]
    h: Array
    y: Array | None


def walk(params: Canonical, inputs: Sequence[Array], run_stack: StackRunner) -> Walked:
    """Run every stage on its inputs (x, and the decoder's x_decoder)."""
    produced: list[tuple[int, ...]] = []
    handed: States = []
    h: Array | None = None
    y: Array | None = None
    for s, parts in enumerate(params.stages):
        current = inputs[s]
        ending: Array | None = None  # what a layer on the last step reads, if not current[:, -1]
        stage_states: States = []
        for k, part in enumerate(parts):
            if isinstance(part, Lookup):
                current, ending = part.table[current], None
            elif isinstance(part, Stack):
                depth = len(stage_states)
                start = handed[depth : depth + len(part.net.layers)] if s else None
                current, states = run_stack(f"{s}.{k}:", part, current, start)
                stage_states += states
                h, ending = current, np.concatenate([end[0] for end in states[-1]], axis=1)
            else:
                source = current
                if part.steps == "last" and current.ndim == 3:
                    source = current[:, -1] if ending is None else ending
                current = y = dense(source, part.w, part.b, part.activation)
                ending = None
            produced.append(current.shape)
        handed = stage_states
    assert h is not None  # every stage holds a recurrent layer
    return Walked(tuple(produced), h, y)
