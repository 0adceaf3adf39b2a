"""The one source of truth for weight shapes.

Every count, breakdown, explanation, memory estimate and forward-pass array in rnncalc is
derived from the tuples returned here; nothing else multiplies sizes together to count
parameters.

Sources of the layouts (and so of the counts):

* seed: the vanilla RNN of the seed page, row vectors (x_t W_xh, W_xh of shape I x H), one
  bias per gate block; gated cells get one W_x*, W_h*, b_* per gate, which is the textbook
  LSTM and GRU (GRU with the reset gate applied before the recurrent product).
* pytorch: ``torch.nn.RNN/LSTM/GRU`` state_dict, see the "Variables" section of each class's
  documentation: ``weight_ih_l{k}`` (G*H, in), ``weight_hh_l{k}`` (G*H, H or P),
  ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (G*H), ``weight_hr_l{k}`` (P, H) with ``proj_size``,
  ``_reverse`` for the backward direction; layer k > 0 takes D*H (D*P) inputs.  Gate order
  i, f, g, o (LSTM) and r, z, n (GRU).  Head ``nn.Linear``: ``weight`` (O, in), ``bias``.
* keras: ``keras.layers.SimpleRNN/LSTM/GRU`` cells: ``kernel`` (in, G*H),
  ``recurrent_kernel`` (H, G*H), ``bias`` (G*H), or (2, 3*H) for a GRU with
  ``reset_after=True`` (the default); ``Bidirectional`` holds forward_/backward_ copies.
  Gate order i, f, c, o (LSTM) and z, r, h (GRU).  Head ``Dense``: ``kernel`` (in, O), ``bias``.
* embeddings: ``nn.Embedding`` ``weight`` and Keras ``Embedding`` ``embeddings``, both
  (vocab_size, dim); a tied output layer shares it (``nn.Linear(dim, vocab).weight`` has the
  same shape), so it is listed with ``tied`` set and counted once, at the embedding.

How a whole network's tensors are named in each convention is :mod:`rnncalc.model.naming`;
each layer kind contributes its tensors in one function of :mod:`rnncalc.model.layer_tensors`
(:func:`_embedding`; a recurrent cell's by :meth:`_Cell._seed`, :meth:`_Cell._pytorch` and
:meth:`_Cell._keras`; :func:`_dense`), and the dense equivalent in :func:`dense_weights`.

Standard library only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layer_tensors import _Cell, _dense, _dense_bias, _embedding, directions
from .naming import KERAS_LAYER, KerasNames, Letters, dense_steps, pytorch_modules, times
from .network import Embedding, Network, Recurrent, Stage
from .spec import ModelSpec, SpecError, shown
from .weight import BIAS_ROLES, ROLE_DESCRIPTIONS, Term, Weight

#: The entry for shapes: what the rest of rnncalc imports from here, this module's own and
#: the records and helpers it takes from :mod:`.weight` and :mod:`.layer_tensors`.
__all__ = [
    "BIAS_ROLES",
    "MAX_LISTED_LAYERS",
    "ROLE_DESCRIPTIONS",
    "Term",
    "Weight",
    "as_network",
    "by_group",
    "dense_terms",
    "dense_weights",
    "directions",
    "layer_inputs",
    "rnn_terms",
    "rnn_weights",
]

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The most stacked layers whose tensors are listed one by one.  Deeper stacks are
#: counted (terms, below) but not listed: a table of their tensors would have thousands
#: of rows, and a model that deep is almost always a typo.
MAX_LISTED_LAYERS = 100


def as_network(model: ModelSpec | Network) -> Network:
    """The network a model describes: itself, or the seed-style spec's network."""
    return model if isinstance(model, Network) else model.network()


def rnn_weights(model: ModelSpec | Network) -> tuple[Weight, ...]:
    """Every weight of the recurrent network, in the order its convention lists them.

    Raises SpecError beyond :data:`MAX_LISTED_LAYERS` stacked layers (use
    :func:`rnn_terms`).
    """
    network = as_network(model)
    _listable(network)
    return tuple(_Walk(network, None).rnn())


def dense_weights(model: ModelSpec | Network) -> tuple[Weight, ...]:
    """Weights of the dense equivalent, the seed's rule for whole networks.

    Each stacked recurrent layer becomes a fully connected layer over the whole flattened
    sequence: T*in inputs (every step's features side by side) to T*D*H units (one per RNN
    hidden unit per step and direction), so the seed's 12 -> 9 -> 1 comes out.  A
    decoder's layer also reads its encoder layer's T*D*H outputs, in place of the final
    state it starts from.  Everything else keeps its kind: an embedding is the same table,
    a dense layer on every step reads each step's D*H units, and the first dense layer on
    the last step reads them all (T*D*H), as the seed's output layer does.  A tied layer
    stays tied when it reads one step of the embedding's width.  Raises SpecError beyond
    :data:`MAX_LISTED_LAYERS` stacked layers (use :func:`dense_terms`).
    """
    network = as_network(model)
    _listable(network)
    return tuple(_Walk(network, None).dense())


def rnn_terms(model: ModelSpec | Network) -> tuple[Term, ...]:
    """The recurrent network's weights as terms: constant work for any stack depth."""
    network = as_network(model)
    return _terms(network, _Walk(network, 2).rnn())


def dense_terms(model: ModelSpec | Network) -> tuple[Term, ...]:
    """The dense equivalent's weights as terms: a stack's hidden layers 2 to s repeat 2."""
    network = as_network(model)
    return _terms(network, _Walk(network, 2).dense())


def _terms(network: Network, weights: Iterator[Weight]) -> tuple[Term, ...]:
    terms = []
    for w in weights:
        times = 1
        if w.sublayer == 1:
            layer = network.stages[w.stage].layers[w.module]
            assert isinstance(layer, Recurrent)
            times = layer.stack - 1
        terms.append(Term(w, times))
    return tuple(terms)


def _listable(network: Network) -> None:
    depth = sum(stage.depth for stage in network.stages)
    if depth > MAX_LISTED_LAYERS:
        raise SpecError(
            "layers",
            f"tensors are listed one by one for at most {MAX_LISTED_LAYERS} stacked layers, "
            f"got {shown(depth)}; totals work at any depth (params -q, cost, sweep, fit)",
        )


def by_group(weights: tuple[Weight, ...]) -> dict[str, list[Weight]]:
    """The weights of each subtotal group, groups and weights in list order."""
    groups: dict[str, list[Weight]] = {}
    for w in weights:
        groups.setdefault(w.group, []).append(w)
    return groups


def layer_inputs(spec: ModelSpec, layer: int) -> tuple[int, str]:
    """Features entering ``layer`` of a seed-style stack, in numbers and letters: I, then
    D*H (D*P).
    """
    if layer == 0:
        return spec.input_size, "I"
    letter = "P" if spec.proj_size else "H"
    return spec.directions * spec.state_size, times(spec.directions, letter)


class _Walk:
    """One pass over a network's layers in order, naming and shaping their tensors.

    ``cap`` lists at most that many layers of each stack (2 for terms: the second stands
    for the rest); names and counters still advance as if all were listed.
    """

    def __init__(self, network: Network, cap: int | None) -> None:
        self.network, self.cap = network, cap
        self.keras = KerasNames()
        self.convention = network.convention
        #: The encoder's dense-equivalent outputs: (first depth, units, letters) per layer.
        self.encoder_outputs: list[tuple[int, int, str]] = []

    def _prefix(self, s: int) -> str:
        return ("encoder.", "decoder.")[s] if self.network.encoder_decoder else ""

    def _group(self, s: int, label: str) -> str:
        return (("encoder ", "decoder ")[s] if self.network.encoder_decoder else "") + label

    def _listed(self, layer: Recurrent) -> int:
        return layer.stack if self.cap is None else min(layer.stack, self.cap)

    # The recurrent network ------------------------------------------------------------

    def rnn(self) -> Iterator[Weight]:
        for s, stage in enumerate(self.network.stages):
            yield from self._rnn_stage(s, stage)

    def _rnn_stage(self, s: int, stage: Stage) -> Iterator[Weight]:
        modules = pytorch_modules(self.network, s) if self.convention == "pytorch" else []
        letters = Letters(self.network, s)
        width, letter = stage.features, letters.size("E" if stage.embedding else "I")
        depth, m, j = 0, 0, 0
        single = stage.depth == 1 and not stage.recurrent[0].bidirectional
        embedding = ""
        for k, layer in enumerate(stage.layers):
            if isinstance(layer, Embedding):
                w = _embedding(self, s, k, layer, modules, letters)
                embedding = w.name
                yield w
            elif isinstance(layer, Recurrent):
                state = letters.recurrent(m, "P" if layer.proj_size else "H")
                for sub in range(self._listed(layer)):
                    cell = _Cell(self, s, stage, k, layer, sub, depth + sub, letters, m)
                    cell.inputs = (width, letter)
                    cell.module = modules[k] if modules else ""
                    cell.single = single
                    yield from cell.weights()
                    width, letter = layer.width, times(layer.directions, state)
                if self.convention == "keras" and not layer.name:
                    self.keras.skip(KERAS_LAYER[layer.cell], layer.stack - self._listed(layer))
                    if layer.bidirectional:
                        self.keras.skip("bidirectional", layer.stack - self._listed(layer))
                width, letter = layer.width, times(layer.directions, state)
                depth += layer.stack
                m += 1
            else:
                yield from _dense(self, s, stage, k, layer, j, (width, letter), depth, embedding)
                width, letter = layer.units, letters.dense(j)
                j += 1

    # The dense equivalent ---------------------------------------------------------------

    def _encoder_output(self, depth: int) -> tuple[int, str]:
        """The encoder's stacked layer ``depth`` in the dense equivalent: units, letters."""
        below = [(units, symbol) for first, units, symbol in self.encoder_outputs if first <= depth]
        return below[-1]

    def dense(self) -> Iterator[Weight]:
        hidden_layers = sum(stage.depth for stage in self.network.stages)
        for s, stage in enumerate(self.network.stages):
            yield from self._dense_stage(s, stage, hidden_layers)

    def _dense_stage(self, s: int, stage: Stage, hidden_layers: int) -> Iterator[Weight]:
        letters = Letters(self.network, s)
        t, t_letter = stage.timesteps, letters.size("T")
        prefix = self._prefix(s)
        width, letter = stage.features, letters.size("E" if stage.embedding else "I")
        flattened = dense_steps(stage)
        n = depth = j = m = 0
        embedding: tuple[str, int] | None = None
        for k, layer in enumerate(stage.layers):
            if isinstance(layer, Embedding):
                v, e = layer.vocab_size, layer.dim
                name = prefix + "W_e"
                embedding = (name, e)
                yield Weight(
                    name,
                    (v, e),
                    (letters.size("V"), letters.size("E")),
                    "embedding",
                    "embedding",
                    self._group(s, "embedding"),
                    stage=s,
                    module=k,
                )
            elif isinstance(layer, Recurrent):
                units = t * layer.directions * layer.hidden_size
                unit_letter = times(layer.directions, letters.recurrent(m, "H"))
                for sub in range(self._listed(layer)):
                    n += 1
                    inputs, symbol = t * width, f"{t_letter}·{letter}"
                    if s == 1:
                        extra, extra_symbol = self._encoder_output(depth + sub)
                        inputs, symbol = inputs + extra, f"{symbol}+{extra_symbol}"
                    group = "hidden" if hidden_layers == 1 else f"hidden layer {n}"
                    out_symbol = f"{t_letter}·{unit_letter}"
                    yield Weight(
                        f"{prefix}W_{n}",
                        (inputs, units),
                        (symbol, out_symbol),
                        "input" if n == 1 else "hidden",
                        "hidden",
                        self._group(s, group),
                        depth + sub,
                        stage=s,
                        module=k,
                        sublayer=sub,
                    )
                    yield Weight(
                        f"{prefix}b_{n}",
                        (units,),
                        (out_symbol,),
                        "input_bias",
                        "hidden",
                        self._group(s, group),
                        depth + sub,
                        stage=s,
                        module=k,
                        sublayer=sub,
                    )
                    width, letter = layer.directions * layer.hidden_size, unit_letter
                if s == 0:
                    self.encoder_outputs.append((depth, units, f"{t_letter}·{unit_letter}"))
                n += layer.stack - self._listed(layer)
                width, letter = layer.directions * layer.hidden_size, unit_letter
                depth += layer.stack
                m += 1
            else:
                n += 1
                inputs, symbol = (t * width, f"{t_letter}·{letter}") if flattened[k] else (
                    width, letter)  # fmt: skip
                tied = ""
                if layer.tie and embedding is not None and not flattened[k]:
                    tied = embedding[0] if embedding[1] == width else ""
                last = j == len(stage.dense) - 1
                group = self._group(s, "output" if last else f"dense {j + 1}")
                unit = letters.dense(j)
                yield Weight(
                    f"{prefix}W_{n}",
                    (inputs, layer.units),
                    (symbol, unit),
                    "output" if last else "dense",
                    "output",
                    group,
                    depth,
                    stage=s,
                    module=k,
                    tied=tied,
                )
                if layer.bias:
                    yield _dense_bias(f"{prefix}b_{n}", layer.units, unit, last, group, depth, s, k)
                width, letter = layer.units, unit
                j += 1
