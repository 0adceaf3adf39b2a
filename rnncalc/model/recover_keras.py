"""A network recovered from a Keras file: the config tells the layers, the shapes prove them.

A ``.keras`` archive and a Keras 2 ``.h5`` model file hold the model's config (JSON, read
as data by :func:`rnncalc.formats.keras.read_keras_config`): its layers' classes, units,
``use_bias``, ``reset_after``, ``return_sequences``, activations and, in a functional
model, which layer feeds which (``inbound_nodes``, as ``keras/src/models/functional.py``
writes them).  The network is built from the config alone; each of its tensors is then
found in the file (``layers/<group>/cell/vars/<i>``, see :mod:`rnncalc.formats.keras`)
so that :func:`rnncalc.model.recover.proof` compares the config's shapes with the file's.
A functional model whose second recurrent layer starts from the first's final states
(``initial_state``) is an encoder and a decoder.

A ``.weights.h5`` holds no config: its layer groups are named after their classes
(``lstm_1``, ``bidirectional``, ``time_distributed``, ``dense``) and the shapes give the
sizes (G·H columns over H rows for the cell, a (2, 3H) GRU bias for ``reset_after``); the
layers are chained by their widths, and what the shapes cannot say (whether the last
recurrent layer returns sequences, activations) is chosen and said in the notes, with its
override.  Tensors that form no layer of the network (an optimizer's state, a convolution,
a Lambda's or a custom layer's weights) are ``other``.
"""

from __future__ import annotations

from typing import Any

from ..formats.keras import keras3_groups, read_keras_config
from ..formats.tensors import Listing
from .network import Dense, Embedding, Layer, Network, Recurrent, Stage, Steps
from .recover import Recovered, RecoveryError, Tensor
from .recover_keras_tensors import _CELLS, _Built, _from_shapes, _Part, _parts
from .spec import SpecError

#: Layers without weights that change no shape and do nothing at inference.
_PASSIVE = frozenset({"InputLayer", "Dropout", "SpatialDropout1D", "GaussianNoise",
                      "GaussianDropout", "AlphaDropout", "ActivityRegularization"})  # fmt: skip
#: Keras's activation names -> rnncalc's.
_ACTIVATIONS = {"linear": "identity", "relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid",
                "softmax": "softmax"}  # fmt: skip


def recover_keras(
    listing: Listing, path: str, timesteps: int, steps: str | None = None
) -> Recovered:
    """The network a Keras file's tensors form (see the module's docstring).

    ``timesteps`` is T; ``steps`` (``last`` or ``all``) places the dense layers of a
    ``.weights.h5``, which does not say where they run (a config does, and wins).
    Raises RecoveryError when no recurrent layer is found or the layers form no network.
    """
    parts = _parts(listing)
    config = read_keras_config(path)
    notes: list[str] = []
    if config is None:
        stages = [_from_shapes(parts, steps, notes)]
    else:
        stages = _from_config(config, listing.format, parts, notes, steps)
        if not any(isinstance(b.layer, Recurrent) for stage in stages for b in stage):
            raise RecoveryError("the config holds no recurrent layer (SimpleRNN, LSTM, GRU)")
    try:
        network = Network(
            tuple(
                Stage(timesteps, _input_size(built), tuple(b.layer for b in built))
                for built in stages
            ),
            "keras",
        )
    except SpecError as error:
        raise RecoveryError(f"the layers do not form a network: {error}") from None
    declared = _declared_steps(config)
    if declared and declared != timesteps:
        notes.append(f"the model's input declares {declared} steps (-T {declared} to use them)")
    names = _names(network, stages)
    used = set(names.values())
    other = tuple(Tensor(t.name, t.shape) for t in listing.tensors if t.name not in used)
    return Recovered(network, names, other, tuple(notes))


def _declared_steps(config: dict[str, Any] | None) -> int:
    """T where the config's first input layer fixes it (``batch_shape`` [None, T, ...]),
    else 0.
    """
    inner = config.get("config") if config else None
    layers = inner.get("layers") if isinstance(inner, dict) else None
    for entry in layers if isinstance(layers, list) else []:
        settings = entry.get("config") if isinstance(entry, dict) else None
        if isinstance(settings, dict):
            shape = settings.get("batch_shape") or settings.get("batch_input_shape")
            if isinstance(shape, list) and len(shape) > 1:
                steps = shape[1]
                return steps if isinstance(steps, int) and not isinstance(steps, bool) else 0
    return 0


# From a config ----------------------------------------------------------------------------


def _from_config(
    config: dict[str, Any],
    kind: str,
    parts: dict[str, _Part],
    notes: list[str],
    steps: str | None,
) -> list[list[_Built]]:
    """The stages the config's layers form, each layer with the file's part for it."""
    entries = _config_layers(config, kind)
    stages = _split(entries)
    built: list[list[_Built]] = []
    for names in stages:
        layers = _StageBuilder(notes)
        for name in names:
            group, entry = entries[name]
            layers.add(name, entry, parts.get(group, _Part(group)))
        built.append(layers.built)
    if steps and any(
        isinstance(b.layer, Dense) and b.layer.steps != steps for stage in built for b in stage
    ):
        notes.append(f"the config places the dense layers: --outputs {steps} was not applied")
    return built


def _config_layers(config: dict[str, Any], kind: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """The config's layers by name, in its order, with the group each is saved in."""
    if not isinstance(config.get("config"), dict) or not isinstance(
        config["config"].get("layers"), list
    ):
        raise RecoveryError(
            f"the config is a {_text(config.get('class_name'))}, not a Sequential or "
            "functional model's list of layers"
        )
    entries: dict[str, tuple[str, dict[str, Any]]] = {}
    if kind == "keras":
        pairs = [(f"layers/{group}", entry) for group, entry in keras3_groups(config)]
    else:
        pairs = [(f"model_weights/{_name(e)}", e) for e in config["config"]["layers"]]
    for group, entry in pairs:
        if isinstance(entry, dict):
            entries[_name(entry) or group] = (group, entry)
    return entries


def _name(entry: Any) -> str:
    """A config layer's name (Keras 3 and 2 keep it in two places)."""
    if not isinstance(entry, dict):
        return ""
    inner = entry.get("config")
    name = inner.get("name") if isinstance(inner, dict) else None
    return _text(name if name is not None else entry.get("name", ""))


def _split(entries: dict[str, tuple[str, dict[str, Any]]]) -> list[list[str]]:
    """One stage, or an encoder and a decoder when a recurrent layer starts from another's
    final states: the encoder is that layer and what feeds it.
    """
    sources = {name: _sources(entry.get("inbound_nodes")) for name, (_, entry) in entries.items()}
    cells = (*_CELLS, "Bidirectional")
    recurrent = {name for name, (_, entry) in entries.items() if _class(entry) in cells}
    starts = [s for name in recurrent for s in sources[name][1:] if s in recurrent]
    if not starts:
        return [list(entries)]
    encoder: set[str] = set()
    todo = list(starts)
    while todo:
        name = todo.pop()
        if name not in encoder:
            encoder.add(name)
            todo.extend(sources.get(name, [])[:1] or [])
    return [[n for n in entries if n in encoder], [n for n in entries if n not in encoder]]


def _sources(nodes: Any) -> list[str]:
    """The layers a functional layer's call reads, in order: its input first, then the
    rest (a Keras 3 ``initial_state``, or Keras 2's extra inputs).
    """
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            history = value.get("keras_history") if "keras_history" in value else None
            if isinstance(history, list) and history and isinstance(history[0], str):
                found.append(history[0])
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            if len(value) >= 3 and isinstance(value[0], str) and isinstance(value[1], int):
                found.append(value[0])  # Keras 2: [layer name, node, tensor, kwargs]
                walk(value[3:])
                return
            for item in value:
                walk(item)

    walk(nodes)
    return found


def _class(entry: dict[str, Any]) -> str:
    return _text(entry.get("class_name"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


class _StageBuilder:
    """One stage's layers from the config's, in order: whether the layer before hands on a
    sequence places each dense layer.
    """

    def __init__(self, notes: list[str]) -> None:
        self.notes = notes
        self.built: list[_Built] = []
        self.sequence = True

    def add(self, name: str, entry: dict[str, Any], part: _Part) -> None:
        kind = _class(entry)
        settings = entry.get("config")
        settings = settings if isinstance(settings, dict) else {}
        try:
            layer = self._layer(name, kind, settings)
        except SpecError as error:
            raise RecoveryError(f"layer {name} ({kind}): {error}") from None
        if layer is not None:
            kernel = part.params.get("kernel") or part.params.get("forward/kernel")
            reads = kernel.shape[0] if kernel is not None and kernel.shape else 0
            self.built.append(_Built(layer, part, 0 if isinstance(layer, Embedding) else reads))
        elif part.params or part.unread:
            self.notes.append(
                f"{name} ({kind or 'an unnamed class'}) is no layer rnncalc models: its "
                "tensors are listed as other"
            )
        elif kind not in _PASSIVE:
            self.notes.append(f"{name} ({kind}) has no weights and is left out of the network")

    def _layer(self, name: str, kind: str, settings: dict[str, Any]) -> Layer | None:
        if kind == "Embedding":
            return Embedding(settings.get("input_dim"), settings.get("output_dim"))  # type: ignore[arg-type]
        if kind in _CELLS:
            return self._recurrent(name, kind, settings, False)
        if kind == "Bidirectional":
            merge = settings.get("merge_mode", "concat")
            inner = settings.get("layer")
            if not isinstance(inner, dict) or _class(inner) not in _CELLS:
                return None
            if merge != "concat":
                raise RecoveryError(
                    f"layer {name} (Bidirectional) merges its directions by {merge!r}: rnncalc "
                    "models merge_mode='concat' (D·H features) only"
                )
            inner_settings = inner.get("config")
            return self._recurrent(
                name, _class(inner), inner_settings if isinstance(inner_settings, dict) else {},
                True,
            )  # fmt: skip
        if kind == "TimeDistributed":
            inner = settings.get("layer")
            if isinstance(inner, dict) and _class(inner) == "Dense":
                inner_settings = inner.get("config")
                return self._dense(
                    name, inner_settings if isinstance(inner_settings, dict) else {}, "all"
                )
            return None
        if kind == "Dense":
            return self._dense(name, settings, "all" if self.sequence else "last")
        return None

    def _recurrent(
        self, name: str, kind: str, settings: dict[str, Any], bidirectional: bool
    ) -> Recurrent:
        activation = _text(settings.get("activation", "tanh"))
        cell = _CELLS[kind]
        if cell != "rnn":
            gates = _text(settings.get("recurrent_activation", "sigmoid"))
            if (activation, gates) != ("tanh", "sigmoid"):
                self.notes.append(
                    f"{name}: activations {activation or '(custom)'} and {gates or '(custom)'} "
                    f"are not a {kind}'s tanh and sigmoid, which rnncalc runs (the count is "
                    "the same)"
                )
            activation = "tanh"
        elif activation not in ("tanh", "relu"):
            self.notes.append(
                f"{name}: activation {activation or '(custom)'} is not one rnncalc runs for a "
                "SimpleRNN: tanh was chosen (the count is the same)"
            )
            activation = "tanh"
        if settings.get("go_backwards") and not bidirectional:
            self.notes.append(f"{name} runs backwards (go_backwards): rnncalc runs it forwards")
        self.sequence = bool(settings.get("return_sequences", False))
        reset_after = settings.get("reset_after", True) if cell == "gru" else True
        return Recurrent(
            cell,  # type: ignore[arg-type]
            settings.get("units"),  # type: ignore[arg-type]
            bidirectional,
            settings.get("use_bias", True),
            reset_after=reset_after,
            activation=activation,
        )

    def _dense(self, name: str, settings: dict[str, Any], steps: Steps) -> Dense:
        activation = settings.get("activation", "linear")
        ours = _ACTIVATIONS.get(activation) if isinstance(activation, str) else None
        if ours is None:
            self.notes.append(
                f"{name}: activation {_text(activation) or '(custom)'} is not one rnncalc "
                "runs: identity was chosen (the count is the same)"
            )
        return Dense(
            settings.get("units"),  # type: ignore[arg-type]
            ours or "identity",
            steps,
            bias=settings.get("use_bias", True),
        )


# Names ------------------------------------------------------------------------------------


def _input_size(built: list[_Built]) -> int | None:
    """The stage's features: none after an embedding, else what its first layer reads."""
    first = built[0] if built else None
    if first is None or isinstance(first.layer, Embedding):
        return None
    if not first.reads:
        raise RecoveryError(f"{first.part.group}: no kernel in the file to size the input")
    return first.reads


def _names(network: Network, stages: list[list[_Built]]) -> dict[str, str]:
    """rnncalc's name of each tensor -> the file's: the same variable of the same layer
    (``group/<key>`` when the file lacks it, so the proof names what is missing).
    """
    from . import shapes

    names = {}
    for w in shapes.rnn_weights(network):
        part = stages[w.stage][w.module].part
        variable = w.name.rpartition("/")[2]
        key = "kernel" if variable == "embeddings" else variable
        if isinstance(stages[w.stage][w.module].layer, Recurrent):
            key = f"{w.direction}/{variable}"
        stored = part.params.get(key)
        names[w.name] = stored.name if stored is not None else f"{part.group}/{key}"
    return names
