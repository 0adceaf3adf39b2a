"""What a network's tensors are called in each convention, and the letters of its sizes.

* PyTorch: a network of one recurrent layer (any stack) and at most one dense layer, with
  no embedding and no names given, is an ``nn.RNN/LSTM/GRU`` and an ``nn.Linear``: bare
  state_dict keys (``weight_ih_l0``, ``weight``, ``bias``), as rnncalc has always named
  them.  Any other network is a module whose layers are attributes: a layer's ``name``, or
  ``embedding``, ``rnn``/``lstm``/``gru`` (one module per ``stack``, PyTorch's
  ``num_layers``) and ``linear``, then ``lstm_1``, ``linear_1``, ... for the next of the same
  kind in the stage; keys are ``<module>.<parameter>``, and an encoder-decoder's are
  prefixed ``encoder.`` and ``decoder.``.
* Keras: the names Keras 3 gives layers itself, counted over the whole model in the order
  the layers are built (the encoder's first): ``embedding``, ``lstm``, ``lstm_1``, ...,
  one per stacked layer, ``bidirectional`` wrappers holding ``forward_lstm`` and
  ``backward_lstm``, ``dense``, ``dense_1``.  A layer's ``name`` replaces the automatic one
  (``name``, ``name_1``, ... through a stack) and does not advance the count.
* seed: the seed page's letters: ``W_xh``, ``W_hh``, ``b_h`` with ``_l{k}`` when the stage
  stacks layers, ``W_e`` for an embedding, ``W_yh`` and ``b_y`` for a single dense layer,
  else ``W_d1``, ``b_d1``, ... and ``W_y``, ``b_y`` for the last; an encoder-decoder's
  prefixed as PyTorch's.

Letters (the ``symbols`` of each shape): T and I, or V and E for an embedding; H and P for
the recurrent layer, or H1, H2, ... when a stage has several; O for the last dense layer
and U (U1, U2, ...) for those before it; a decoder's own sizes end in ``d`` (Td, Vd, Hd).
Standard library only.
"""

from __future__ import annotations

from .network import Dense, Embedding, Layer, Network, Recurrent, Stage

#: The recurrent layer's base name in Keras (and its cell's, with ``_cell``).
KERAS_LAYER = {"rnn": "simple_rnn", "lstm": "lstm", "gru": "gru"}


def times(count: int, letter: str) -> str:
    """``D·H`` written out: ``H`` for one, ``2·H`` for two."""
    return letter if count == 1 else f"{count}·{letter}"


def _base(layer: Layer) -> str:
    if isinstance(layer, Embedding):
        return "embedding"
    if isinstance(layer, Recurrent):
        return layer.cell
    return "linear"


def is_bare(network: Network) -> bool:
    """Whether PyTorch names are a lone recurrent module's and head's, without prefixes."""
    stage = network.stages[0]
    return (
        not network.encoder_decoder
        and stage.embedding is None
        and len(stage.recurrent) == 1
        and len(stage.dense) <= 1
        and not any(layer.name for layer in stage.layers)
    )


def pytorch_modules(network: Network, s: int) -> list[str]:
    """Each layer's module prefix in stage ``s``: ``""`` when bare, else ``lstm_1.`` ..."""
    if is_bare(network):
        return [""] * len(network.stages[s].layers)
    stage_prefix = f"{('encoder', 'decoder')[s]}." if network.encoder_decoder else ""
    seen: dict[str, int] = {}
    names = []
    for layer in network.stages[s].layers:
        if layer.name:
            names.append(f"{stage_prefix}{layer.name}.")
            continue
        base = _base(layer)
        count = seen.get(base, 0)
        seen[base] = count + 1
        names.append(f"{stage_prefix}{base}{f'_{count}' if count else ''}.")
    return names


class KerasNames:
    """Keras's automatic layer names, handed out in the order the model builds its layers."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def next(self, base: str) -> str:
        """``lstm``, then ``lstm_1``, ``lstm_2``, ... for each call with the same base."""
        count = self.counts.get(base, 0)
        self.counts[base] = count + 1
        return base if count == 0 else f"{base}_{count}"

    def skip(self, base: str, count: int) -> None:
        """Count ``count`` layers of ``base`` that are not listed (a deep stack's middle)."""
        self.counts[base] = self.counts.get(base, 0) + count


def seed_dense_names(stage: Stage, j: int) -> tuple[str, str]:
    """The seed's names of dense layer ``j`` (0-based among the stage's dense layers)."""
    count = len(stage.dense)
    if count == 1:
        return "W_yh", "b_y"
    if j == count - 1:
        return "W_y", "b_y"
    return f"W_d{j + 1}", f"b_d{j + 1}"


class Letters:
    """The letters of one stage's sizes (see the module's docstring)."""

    def __init__(self, network: Network, s: int) -> None:
        self.suffix = "d" if s == 1 else ""
        stage = network.stages[s]
        self.several = len(stage.recurrent) > 1
        self.dense_count = len(stage.dense)

    def size(self, letter: str) -> str:
        """A stage-wide size: T, I, V, E (Td, Id, Vd, Ed in a decoder)."""
        return letter + self.suffix

    def recurrent(self, m: int, letter: str) -> str:
        """H or P of recurrent layer ``m`` (0-based among the stage's recurrent layers)."""
        return f"{letter}{m + 1 if self.several else ''}{self.suffix}"

    def dense(self, j: int) -> str:
        """The units of dense layer ``j``: O for the last, U or U1, U2, ... before it."""
        if j == self.dense_count - 1:
            return "O"
        return "U" if self.dense_count == 2 else f"U{j + 1}"


def dense_steps(stage: Stage) -> list[bool]:
    """For each layer, whether it reads the whole sequence flattened (the first dense layer
    on the last step after a sequence, in the dense equivalent); others read one step.
    """
    flattened, sequence = [], True
    for layer in stage.layers:
        first_last = isinstance(layer, Dense) and layer.steps == "last" and sequence
        flattened.append(first_last)
        if first_last:
            sequence = False
    return flattened
