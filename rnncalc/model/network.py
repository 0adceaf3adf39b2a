"""Whole networks: layers in sequence, or an encoder and a decoder.

A :class:`Stage` is one sequence of layers over ``timesteps`` steps: an optional
:class:`Embedding` first (then the inputs are token ids and its ``dim`` is the input size),
:class:`Recurrent` layers (each with its own cell, sizes, directions and ``stack`` of
identical layers, PyTorch's ``num_layers``) and :class:`Dense` layers, applied to the last
step or to every step, one of them optionally tied to the embedding.  A :class:`Network` is
one stage, or two: an encoder, whose recurrent layers' final states start the decoder's.
The seed's four sizes are the smallest network: one recurrent layer and one dense layer
(:meth:`rnncalc.model.spec.ModelSpec.network`).

Every rule about what may follow what lives here, and every error is a
:class:`~rnncalc.model.spec.SpecError` whose ``field`` is the path of the culprit, as a
model file spells it: ``layers[2].hidden_size``, ``decoder.layers[0].units``.  Layers count
from 0, as in the file's list of ``[[layers]]`` tables read by Python.  Standard library
only: this loads at every start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layers import (
    DENSE_ACTIVATIONS,
    RNN_ACTIVATIONS,
    STEPS,
    Dense,
    Embedding,
    Layer,
    Recurrent,
    Steps,
)
from .record import Record
from .spec import CONVENTIONS, NOTATIONS, SpecError, check_choice, check_int, shown

if TYPE_CHECKING:
    from .spec import Convention, Notation

#: What other modules import from here, the layers (:mod:`.layers`) among them.
__all__ = [
    "AUTOMATIC",
    "DENSE_ACTIVATIONS",
    "RNN_ACTIVATIONS",
    "STAGE_NAMES",
    "STEPS",
    "Dense",
    "Embedding",
    "Layer",
    "Network",
    "Recurrent",
    "Stage",
    "Steps",
]

#: The names conventions give layers themselves (then numbered: ``lstm_1``).
AUTOMATIC = frozenset(
    {"embedding", "rnn", "lstm", "gru", "linear", "simple_rnn", "dense", "bidirectional"}
)
#: The two stages of an encoder-decoder, in order.
STAGE_NAMES = ("encoder", "decoder")


class Stage(Record):
    """One sequence of layers over ``timesteps`` steps of ``input_size`` features.

    ``input_size`` is None when the first layer is an embedding (its ``dim`` is then the
    input size).  The layers are checked as a sequence here: an embedding only first, at
    least one recurrent layer, nothing that needs a sequence after a layer that hands on one
    vector, tying only to this stage's embedding with matching widths.
    """

    FIELDS = ("timesteps", "input_size", "layers")
    __slots__ = FIELDS
    timesteps: int
    input_size: int | None
    layers: tuple[Layer, ...]

    def __init__(self, timesteps: int, input_size: int | None, layers: tuple[Layer, ...]) -> None:
        check_int("timesteps", timesteps, 1)
        if not isinstance(layers, tuple) or not layers:
            raise SpecError("layers", "must list at least one layer")
        for k, layer in enumerate(layers):
            if not isinstance(layer, (Embedding, Recurrent, Dense)):
                raise SpecError(f"layers[{k}]", f"is not a layer: {layer!r:.40}")
        embedded = isinstance(layers[0], Embedding)
        if embedded and input_size is not None:
            raise SpecError(
                "input_size", "the first layer is an embedding, whose dim is the input size"
            )
        if not embedded:
            if input_size is None:
                raise SpecError("input_size", "is needed unless the first layer is an embedding")
            check_int("input_size", input_size, 1)
        self._set(timesteps=timesteps, input_size=input_size, layers=layers)
        self._check_sequence()

    def _check_sequence(self) -> None:
        if not any(isinstance(layer, Recurrent) for layer in self.layers):
            raise SpecError("layers", "must hold at least one recurrent layer (rnn, lstm, gru)")
        width, sequence = self.features, True
        vector_from = -1
        for k, layer in enumerate(self.layers):
            if isinstance(layer, Embedding):
                if k:
                    raise SpecError(f"layers[{k}]", "an embedding can only be the first layer")
                continue
            if (isinstance(layer, Recurrent) or layer.steps == "all") and not sequence:
                raise SpecError(
                    f"layers[{k}]",
                    f'needs a sequence, but layers[{vector_from}] (dense, steps = "last") '
                    "hands on one vector",
                )
            if isinstance(layer, Dense):
                if layer.tie:
                    self._check_tie(k, layer, width)
                if layer.steps == "last" and sequence:
                    sequence, vector_from = False, k
                width = layer.units
            else:
                width = layer.width

    def _check_tie(self, k: int, layer: Dense, width: int) -> None:
        embedding = self.embedding
        if embedding is None:
            raise SpecError(f"layers[{k}].tie", "needs an embedding as the first layer")
        if layer.units != embedding.vocab_size:
            raise SpecError(
                f"layers[{k}].units",
                "a layer tied to the embedding needs units = vocab_size "
                f"{shown(embedding.vocab_size)}, got {shown(layer.units)}",
            )
        if width != embedding.dim:
            raise SpecError(
                f"layers[{k}].tie",
                f"the tied weight is the embedding's ({shown(embedding.vocab_size)} x "
                f"{shown(embedding.dim)}), but this layer reads {shown(width)} features",
            )

    @property
    def embedding(self) -> Embedding | None:
        """The embedding, when the stage starts with one."""
        first = self.layers[0]
        return first if isinstance(first, Embedding) else None

    @property
    def features(self) -> int:
        """Features per step into the first layer after the embedding."""
        embedding = self.embedding
        return embedding.dim if embedding is not None else self.input_size or 0

    @property
    def recurrent(self) -> tuple[Recurrent, ...]:
        """The recurrent layers, in order."""
        return tuple(layer for layer in self.layers if isinstance(layer, Recurrent))

    @property
    def dense(self) -> tuple[Dense, ...]:
        """The dense layers, in order."""
        return tuple(layer for layer in self.layers if isinstance(layer, Dense))

    @property
    def depth(self) -> int:
        """Recurrent layers counted one per stacked layer: PyTorch's ``num_layers`` summed."""
        return sum(layer.stack for layer in self.recurrent)


class Network(Record):
    """A whole network: one :class:`Stage`, or an encoder and a decoder.

    ``convention`` names and lays out the weights (``seed``, ``pytorch``, ``keras``);
    ``notation`` is the seed's ``separate`` or ``concat`` form of the recurrent update.  In
    an encoder-decoder, the encoder holds an optional embedding and recurrent layers only,
    and its recurrent layers' final states start the decoder's, one to one, so the two must
    have the same stacked layers: cell state (an LSTM's h and c, or h alone), hidden size,
    projection and directions.
    """

    FIELDS = ("stages", "convention", "notation")
    __slots__ = FIELDS
    stages: tuple[Stage, ...]
    convention: Convention
    notation: Notation

    def __init__(
        self,
        stages: tuple[Stage, ...],
        convention: Convention = "seed",
        notation: Notation = "separate",
    ) -> None:
        check_choice("convention", convention, CONVENTIONS)
        check_choice("notation", notation, NOTATIONS)
        if notation == "concat" and convention != "seed":
            raise SpecError(
                "notation", "concat is the seed page's notation: it needs convention 'seed'"
            )
        if not isinstance(stages, tuple) or len(stages) not in (1, 2):
            raise SpecError("stages", "must be one stage, or two: an encoder and a decoder")
        if not all(isinstance(stage, Stage) for stage in stages):
            raise SpecError("stages", "must be Stage values")
        self._set(stages=stages, convention=convention, notation=notation)
        for s, stage in enumerate(stages):
            for k, layer in enumerate(stage.layers):
                if isinstance(layer, Recurrent):
                    self._check_convention(self.path(s, f"layers[{k}]"), layer)
        if len(stages) == 2:
            self._check_encoder_decoder()
        self._check_names()

    def _check_names(self) -> None:
        """Given names name tensors, so they must not repeat each other, the automatic
        names (``lstm_1``, ``dense``) or a named stack's numbered layers (``core_1``).
        """
        named = [
            (self.path(s, f"layers[{k}].name"), layer)
            for s, stage in enumerate(self.stages)
            for k, layer in enumerate(stage.layers)
            if layer.name
        ]
        stacks = {
            layer.name for _, layer in named if isinstance(layer, Recurrent) and layer.stack > 1
        }
        seen: set[str] = set()
        for where, layer in named:
            base, _, number = layer.name.rpartition("_")
            if layer.name in seen:
                raise SpecError(where, f"two layers are called {layer.name!r}")
            if layer.name in AUTOMATIC or (number.isdigit() and base in AUTOMATIC | stacks):
                raise SpecError(
                    where, f"{layer.name!r} is a name rnncalc gives layers itself; choose another"
                )
            seen.add(layer.name)

    def path(self, stage: int, field: str) -> str:
        """A field of one stage as a model file spells it: ``decoder.layers[1].units``."""
        return f"{STAGE_NAMES[stage]}.{field}" if len(self.stages) == 2 else field

    def _check_convention(self, where: str, layer: Recurrent) -> None:
        if layer.proj_size and self.convention != "pytorch":
            raise SpecError(
                f"{where}.proj_size", "is PyTorch's LSTM projection: it needs convention 'pytorch'"
            )
        if not layer.reset_after and self.convention != "keras":
            raise SpecError(
                f"{where}.reset_after", "is Keras's GRU variant: it needs convention 'keras'"
            )
        if layer.activation not in ("tanh", "relu") and self.convention != "seed":
            raise SpecError(
                f"{where}.activation",
                f"{layer.activation} is the seed's: PyTorch's and Keras's RNN use tanh or relu",
            )

    def _check_encoder_decoder(self) -> None:
        encoder, decoder = self.stages
        if encoder.dense:
            k = encoder.layers.index(encoder.dense[0])
            raise SpecError(
                f"encoder.layers[{k}]",
                "the encoder hands on its final states: dense layers belong to the decoder",
            )
        sent, taken = _states(encoder), _states(decoder)
        if len(sent) != len(taken):
            raise SpecError(
                "decoder.layers",
                f"the decoder's recurrent layers start from the encoder's final states, one to "
                f"one: the encoder has {len(sent)} stacked layers, the decoder {len(taken)}",
            )
        for depth, (a, b) in enumerate(zip(sent, taken, strict=True)):
            if a[1:] != b[1:]:
                raise SpecError(
                    f"decoder.layers[{b[0]}]",
                    f"stacked layer {depth} starts from the encoder's layer {depth} final state "
                    f"({_state_text(a)}), but holds {_state_text(b)}",
                )

    @property
    def encoder_decoder(self) -> bool:
        """Whether the network is an encoder and a decoder."""
        return len(self.stages) == 2

    @property
    def output(self) -> Stage:
        """The stage whose layers produce the network's outputs (the decoder, or the one)."""
        return self.stages[-1]


#: A stacked layer's state, as the decoder takes it: (index in the stage's layers, state
#: kind, directions, state size, hidden size).
_State = tuple[int, str, int, int, int]


def _states(stage: Stage) -> list[_State]:
    states = []
    for k, layer in enumerate(stage.layers):
        if isinstance(layer, Recurrent):
            kind = "h and c" if layer.cell == "lstm" else "h"
            row = (k, kind, layer.directions, layer.state_size, layer.hidden_size)
            states += [row] * layer.stack
    return states


def _state_text(state: _State) -> str:
    _, kind, directions, size, hidden = state
    text = f"{kind} of {size}" + (f" (hidden {hidden})" if hidden != size else "")
    return text + (" in 2 directions" if directions == 2 else "")
