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

import re
from dataclasses import dataclass, field
from typing import Any

from ..formats.keras import keras3_groups, read_keras_config
from ..formats.tensors import Listing, Stored
from .network import Dense, Embedding, Layer, Network, Recurrent, Stage, Steps
from .recover import Recovered, RecoveryError, Tensor
from .spec import SpecError

#: Keras's recurrent classes -> rnncalc's cells, and their group names' bases.
_CELLS = {"SimpleRNN": "rnn", "LSTM": "lstm", "GRU": "gru"}
_BASES = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU", "bidirectional":
          "Bidirectional", "time_distributed": "TimeDistributed", "dense": "Dense",
          "embedding": "Embedding"}  # fmt: skip
#: Gate blocks -> cell, for a layer known by its shapes alone.
_GATES = {1: "SimpleRNN", 3: "GRU", 4: "LSTM"}
#: Layers without weights that change no shape and do nothing at inference.
_PASSIVE = frozenset({"InputLayer", "Dropout", "SpatialDropout1D", "GaussianNoise",
                      "GaussianDropout", "AlphaDropout", "ActivityRegularization"})  # fmt: skip
#: Keras's activation names -> rnncalc's.
_ACTIVATIONS = {"linear": "identity", "relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid",
                "softmax": "softmax"}  # fmt: skip
#: A Keras 3 variable's path inside its layer group; a Keras 2 weight's last name.
_KERAS3_VARIABLE = re.compile(r"(?:(forward|backward)_layer/)?(cell/|layer/)?vars/(\d+)")
_CELL_VARIABLES = ("kernel", "recurrent_kernel", "bias")


@dataclass
class _Part:
    """One layer group of the file: its tensors by key (``kernel``, ``bias``, and for a
    recurrent cell ``forward/kernel``, ``backward/recurrent_kernel``, ...).
    """

    group: str
    params: dict[str, Stored] = field(default_factory=dict)
    wrapped: bool = False  # under TimeDistributed's layer/
    unread: bool = False  # a tensor whose path is no Keras layer's

    @property
    def recurrent(self) -> bool:
        return "forward/recurrent_kernel" in self.params

    @property
    def base(self) -> str:
        """The group's class part: ``lstm_1`` -> ``lstm``."""
        return re.sub(r"_\d+$", "", self.group.rpartition("/")[2])


@dataclass
class _Built:
    """A layer of the network to be, with the file's part that holds its tensors."""

    layer: Layer
    part: _Part
    reads: int = 0  # features it reads, from its kernel (0: an embedding or unknown)


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


def _parts(listing: Listing) -> dict[str, _Part]:
    """The file's tensors by layer group; those under no layer group (an optimizer's) are
    left out, and so end up ``other``.
    """
    parts: dict[str, _Part] = {}
    for t in listing.tensors:
        pieces = t.name.split("/")
        if pieces[0] in ("layers", "model_weights") and len(pieces) > 2:
            group, rest = "/".join(pieces[:2]), pieces[2:]
        elif pieces[0] not in ("optimizer", "optimizer_weights", "vars") and len(pieces) > 1:
            group, rest = pieces[0], pieces[1:]  # a subclassed model's attribute, or Keras 2
        else:
            continue
        part = parts.setdefault(group, _Part(group))
        key = _key(listing.format, "/".join(rest), part)
        if key is None or key in part.params:
            part.unread = True
        else:
            part.params[key] = t
    return parts


def _key(kind: str, rest: str, part: _Part) -> str | None:
    """A tensor's key in its layer (see :class:`_Part`), or None when it is no known
    layer's: Keras 3 numbers variables (a cell's kernel, recurrent_kernel, bias; a dense
    layer's kernel, bias), Keras 2 names them.
    """
    if kind == "keras":
        found = _KERAS3_VARIABLE.fullmatch(rest)
        if found is None:
            return None
        direction, holder, index = found[1], found[2], int(found[3])
        if holder == "cell/" and index < len(_CELL_VARIABLES):
            return f"{direction or 'forward'}/{_CELL_VARIABLES[index]}"
        part.wrapped |= holder == "layer/"
        return ("kernel", "bias")[index] if index < 2 and not direction else None
    pieces = rest.split("/")
    name = pieces[-1].removesuffix(":0")
    if name == "recurrent_kernel" or any(p.endswith("_cell") for p in pieces):
        backward = any(p.startswith("backward_") for p in pieces)
        return f"{'backward' if backward else 'forward'}/{name}" if (
            name in _CELL_VARIABLES) else None  # fmt: skip
    return {"kernel": "kernel", "embeddings": "kernel", "bias": "bias"}.get(name)


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


# From shapes alone -----------------------------------------------------------------------


def _from_shapes(parts: dict[str, _Part], steps: str | None, notes: list[str]) -> list[_Built]:
    """One stage from a ``.weights.h5``: the layers its groups hold, chained by width."""
    rnns = [_Built(_recurrent_of(p), p, _rows(p, "forward/kernel"))
            for p in parts.values() if p.recurrent and not p.unread]  # fmt: skip
    if not rnns:
        raise RecoveryError("no recurrent layer (a group with cell/vars) in the file")
    plain = [p for p in parts.values() if not p.recurrent and not p.unread and _plain(p)]
    reads = {b.reads for b in rnns}
    named = [p.group for p in plain if p.base == "embedding"]
    if len(named) > 1:
        raise RecoveryError(
            f"{' and '.join(named)}: two embeddings (an encoder-decoder?) and no config to "
            "say which feeds which; inspect the .keras file"
        )
    tables = sorted(
        (p for p in plain if "bias" not in p.params and p.base not in ("dense", "time_distributed")
         and p.params["kernel"].shape[1] in reads),
        key=lambda p: p.base != "embedding",
    )  # fmt: skip
    built: list[_Built] = []
    if tables:
        vocab, dim = tables[0].params["kernel"].shape
        built.append(_Built(Embedding(vocab, dim), tables[0]))
        plain.remove(tables[0])
    denses = [
        _Built(_dense_of(p), p, p.params["kernel"].shape[0]) for p in plain if p.base != "embedding"
    ]
    built += _chain(rnns, denses, dim if tables else None)
    last = max(k for k, b in enumerate(built) if isinstance(b.layer, Recurrent))
    after = built[last + 1 :]
    per_step = any(isinstance(b.layer, Dense) and b.layer.steps == "all" for b in after)
    place: Steps = "all" if steps == "all" or (steps is None and per_step) else "last"
    for b in after:
        if isinstance(b.layer, Dense) and b.layer.steps != "all":
            b.layer = b.layer.replace(steps=place)
    notes.append(
        "a .weights.h5 holds no config: the layers were read from the shapes and the groups' "
        "names; activations are not in it (tanh and identity were chosen: write others in "
        "the model file)"
    )
    for b in built:
        if isinstance(b.layer, Recurrent) and b.layer.cell == "gru" and not b.layer.bias:
            notes.append(
                "a GRU without bias does not say where it resets (reset_after: the shapes "
                "are the same either way): reset_after = true, Keras's default, was chosen "
                "(for forward, write reset_after = false in the model file and give --model)"
            )
    if after and steps is None and not per_step:
        notes.append(
            "a .weights.h5 does not say whether the last recurrent layer returns sequences: "
            "the dense layers after it were placed on the last step (override with "
            "--outputs last|all)"
        )
    return built


def _dense_of(part: _Part) -> Dense:
    """A dense layer from its kernel (in, out) and bias; every step inside a
    TimeDistributed (and before a recurrent layer: set when chained), else the last.
    """
    wrapped = part.wrapped or part.base == "time_distributed"
    units = part.params["kernel"].shape[1]
    return Dense(units, steps="all" if wrapped else "last", bias="bias" in part.params)


def _plain(part: _Part) -> bool:
    """Whether a group is a dense layer or an embedding: a 2-D kernel and its bias."""
    kernel, bias = part.params.get("kernel"), part.params.get("bias")
    if kernel is None or len(kernel.shape) != 2 or set(part.params) - {"kernel", "bias"}:
        return False
    return bias is None or bias.shape == kernel.shape[1:]


def _rows(part: _Part, key: str) -> int:
    """The rows of a 2-D tensor of ``part`` (a kernel's: the features it reads)."""
    stored = part.params.get(key)
    if stored is None or len(stored.shape) != 2:
        what = "no" if stored is None else f"a {len(stored.shape)}-D"
        raise RecoveryError(f"{part.group} has {what} {key.replace('forward/', '')}")
    return stored.shape[0]


def _recurrent_of(part: _Part) -> Recurrent:
    """A recurrent layer from its shapes: recurrent_kernel (H, G·H), a GRU's bias (2, 3H)
    when it resets after the recurrent product.
    """
    recurrent = part.params["forward/recurrent_kernel"].shape
    gates, remainder = divmod(recurrent[1], recurrent[0]) if len(recurrent) == 2 and (
        recurrent[0]) else (0, 1)  # fmt: skip
    kind = _GATES.get(gates) if not remainder else None
    named = _BASES.get(part.base)
    if kind is None or (named in _CELLS and named != kind):
        raise RecoveryError(
            f"{part.group}: a recurrent_kernel of shape {recurrent} is not H x G·H for the "
            f"{named or 'SimpleRNN, GRU or LSTM'} it should be"
        )
    bias = part.params.get("forward/bias")
    try:
        return Recurrent(
            _CELLS[kind],  # type: ignore[arg-type]
            recurrent[0],
            "backward/kernel" in part.params,
            bias is not None,
            reset_after=kind != "GRU" or bias is None or len(bias.shape) == 2,
        )
    except SpecError as error:
        raise RecoveryError(f"{part.group}: {error.message}") from None


def _chain(rnns: list[_Built], denses: list[_Built], width: int | None) -> list[_Built]:
    """The recurrent and dense layers in the order their widths chain, from ``width`` (an
    embedding's) or the recurrent layer that reads what no layer hands on; a recurrent
    layer is taken before a dense one that reads the same, and a dense one followed by a
    recurrent layer runs at every step.  RecoveryError when the recurrent layers form no
    single chain; dense layers left out are ``other``.
    """
    handed = {_gives(b) for b in rnns + denses}
    if width is None:
        width = next((b.reads for b in rnns if b.reads not in handed), rnns[0].reads)
    chain: list[_Built] = []
    while True:
        found = next((b for b in rnns if b.reads == width), None)
        found = found or next((b for b in denses if b.reads == width), None)
        if found is None:
            break
        (rnns if isinstance(found.layer, Recurrent) else denses).remove(found)
        chain.append(found)
        width = _gives(found)
    if rnns:
        groups = ", ".join(b.part.group for b in rnns)
        raise RecoveryError(
            f"{groups} read no layer's output: the recurrent layers form no single chain (an "
            "encoder-decoder?); inspect the .keras file, whose config says"
        )
    last = max(k for k, b in enumerate(chain) if isinstance(b.layer, Recurrent))
    return [
        _Built(b.layer.replace(steps="all"), b.part, b.reads)
        if k < last and isinstance(b.layer, Dense) else b
        for k, b in enumerate(chain)
    ]  # fmt: skip


def _gives(built: _Built) -> int:
    """Features a layer hands on."""
    layer = built.layer
    return layer.units if isinstance(layer, Dense) else layer.width  # type: ignore[union-attr]


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
