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

from .assemble import Canonical, Lookup, Stack
from .fast import dense, final_states
from .types import Array, States

#: Runs one recurrent layer: (workspace key, layer, inputs (B, T, in), start states or
#: None, whether its final states are handed on) -> (outputs (B, T, D*S), final states).
StackRunner = Callable[[str, Stack, Array, States | None, bool], tuple[Array, States]]


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
        hand_on = s + 1 < len(params.stages)
        current = inputs[s]
        directions = 0  # of the recurrent layer current comes from (0: another kind)
        stage_states: States = []
        depth = 0  # stacked layers run so far in this stage
        for k, part in enumerate(parts):
            if isinstance(part, Lookup):
                current, directions = part.table[current], 0
            elif isinstance(part, Stack):
                start = handed[depth : depth + len(part.net.layers)] if s else None
                current, states = run_stack(f"{s}.{k}:", part, current, start, hand_on)
                stage_states += states
                depth += len(part.net.layers)
                h, directions = current, len(part.net.layers[-1])
            else:
                source = current
                if part.steps == "last" and current.ndim == 3:  # each direction's final state
                    source = final_states(current, directions) if directions else current[:, -1]
                current = y = dense(source, part.w, part.b, part.activation)
                directions = 0
            produced.append(current.shape)
        handed = stage_states
    assert h is not None  # every stage holds a recurrent layer
    return Walked(tuple(produced), h, y)
