"""Measure whole networks in PyTorch and Keras; write network_counts.json.

Not part of the test suite and not needed by it: the tests read the JSON this writes.
Run it in a separate environment that has the frameworks (see make_framework_counts.py):

    KERAS_BACKEND=torch /tmp/ref/bin/python tests/reference/make_network_counts.py

Each row is one whole network (an embedding, recurrent layers of different sizes, dense
heads, a tied output layer, or an encoder-decoder), given as the model description rnncalc
reads from a TOML model file (the dict ``tomllib`` returns, optional keys left out at their
defaults). The script builds the network from that description in PyTorch or Keras, runs it
forward on a tiny batch so that the widths really line up (not for the few built on the meta
device), and records:

* ``total``: ``sum(p.numel() for p in module.parameters())``, which counts a tied weight
  once, or ``model.count_params()``;
* ``tensors``: every weight's name and shape in the framework's order: PyTorch
  ``state_dict()`` keys (a tied weight under both its keys), Keras variable paths without
  the model's own name (a Sequential model prefixes ``sequential/``, a functional one
  nothing). A Keras encoder-decoder lists its weights by depth in the graph (both
  embeddings, then the first recurrent layer of each side, ...), not in network order;
* ``names_follow_rnncalc``: whether the model was built following rnncalc's naming rules,
  so that rnncalc's names must equal these. PyTorch: a simple network (one recurrent
  layer, at most one dense layer, nothing else) has the bare nn.RNN/LSTM/GRU keys and the
  head's ``weight`` and ``bias``; otherwise each layer is a submodule named after the
  layer's ``name`` or its kind (``embedding``, ``rnn``/``lstm``/``gru``, ``linear``; then
  ``_1``, ``_2`` ... within a sequence), under ``encoder.`` and ``decoder.`` for an
  encoder-decoder. Keras: its own automatic names after ``keras.utils.clear_session()``,
  each layer of a ``stack`` a layer of its own. The script checks each such row against
  those rules; the Keras variants built otherwise (``TimeDistributed`` heads) record
  ``false`` and must still match the totals. For Keras encoder-decoders the names follow
  the rules but their order is the framework's (see above);
* ``source``: where a published count comes from; the script checks the count.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from itertools import product
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import torch

OUT = Path(__file__).with_name("network_counts.json")
BATCH = 2
RECURRENT = ("rnn", "lstm", "gru")
TORCH_CELLS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
KERAS_CELLS = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
KERAS_BASE = {"rnn": "simple_rnn", "lstm": "lstm", "gru": "gru"}
TORCH_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda x: x,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softmax": lambda x: torch.softmax(x, dim=-1),
}
KERAS_ACTIVATIONS = {"identity": None, "relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid"}
KERAS_ACTIVATIONS |= {"softmax": "softmax"}

Layer = dict[str, Any]
Description = dict[str, Any]


# --- model descriptions, as tomllib returns them ---------------------------------------------


def embedding(vocab_size: int, dim: int) -> Layer:
    return {"kind": "embedding", "vocab_size": vocab_size, "dim": dim}


def recurrent(
    kind: str,
    hidden_size: int,
    *,
    bidirectional: bool = False,
    bias: bool = True,
    proj_size: int = 0,
    reset_after: bool = True,
    stack: int = 1,
    activation: str = "tanh",
    name: str | None = None,
) -> Layer:
    layer: Layer = {"kind": kind, "hidden_size": hidden_size}
    options = {
        "bidirectional": (bidirectional, False),
        "bias": (bias, True),
        "proj_size": (proj_size, 0),
        "reset_after": (reset_after, True),
        "stack": (stack, 1),
        "activation": (activation, "tanh"),
    }
    layer |= {key: value for key, (value, default) in options.items() if value != default}
    if name is not None:
        layer["name"] = name
    return layer


def rnn(hidden_size: int, **options: Any) -> Layer:
    return recurrent("rnn", hidden_size, **options)


def lstm(hidden_size: int, **options: Any) -> Layer:
    return recurrent("lstm", hidden_size, **options)


def gru(hidden_size: int, **options: Any) -> Layer:
    return recurrent("gru", hidden_size, **options)


def dense(
    units: int,
    activation: str = "identity",
    *,
    steps: str = "last",
    tie: bool = False,
    bias: bool = True,
    name: str | None = None,
) -> Layer:
    layer: Layer = {"kind": "dense", "units": units}
    if activation != "identity":
        layer["activation"] = activation
    if steps != "last":
        layer["steps"] = steps
    if tie:
        layer["tie"] = True
    if not bias:
        layer["bias"] = False
    if name is not None:
        layer["name"] = name
    return layer


def network(
    convention: str, timesteps: int, layers: list[Layer], input_size: int | None = None
) -> Description:
    model: Description = {"convention": convention, "timesteps": timesteps}
    if input_size is not None:
        model["input_size"] = input_size
    model["layers"] = layers
    return model


def seq2seq(
    convention: str,
    timesteps: int,
    encoder: list[Layer],
    decoder: list[Layer],
    *,
    input_size: int | None = None,
    target_timesteps: int | None = None,
    target_input_size: int | None = None,
) -> Description:
    model: Description = {"convention": convention, "timesteps": timesteps}
    if input_size is not None:
        model["input_size"] = input_size
    model["encoder"] = {"layers": encoder}
    model["decoder"] = {"layers": decoder}
    if target_timesteps is not None:
        model["decoder"]["timesteps"] = target_timesteps
    if target_input_size is not None:
        model["decoder"]["input_size"] = target_input_size
    return model


def sequences(model: Description) -> list[tuple[list[Layer], int | None, int]]:
    """(layers, input_size, timesteps) of the network's one or two sequences."""
    if "encoder" not in model:
        return [(model["layers"], model.get("input_size"), model["timesteps"])]
    decoder = model["decoder"]
    return [
        (model["encoder"]["layers"], model.get("input_size"), model["timesteps"]),
        (
            decoder["layers"],
            decoder.get("input_size"),
            decoder.get("timesteps", model["timesteps"]),
        ),
    ]


def check_description(model: Description) -> None:
    """The layers line up: what rnncalc accepts, checked before any framework builds it."""
    for index, (layers, input_size, _) in enumerate(sequences(model)):
        assert (input_size is None) == (layers[0]["kind"] == "embedding"), layers
        if index == 0 and "encoder" in model:
            assert all(layer["kind"] != "dense" for layer in layers)
        previous = "input"
        for position, layer in enumerate(layers):
            kind = layer["kind"]
            assert kind != "embedding" or position == 0
            if kind == "dense":
                steps = layer.get("steps", "last")
                allowed = ("rnn", "dense-last") if steps == "last" else ("rnn", "dense-all")
                assert previous in allowed, layers
                previous = f"dense-{steps}"
            else:
                assert previous in ("input", "rnn"), layers
                previous = "rnn" if kind in RECURRENT else "input"
    if "encoder" in model:
        encoder, decoder = (state_structure(layers) for layers, _, _ in sequences(model))
        assert encoder == decoder, model


def state_structure(layers: list[Layer]) -> list[tuple[str, int, int, bool]]:
    """Each recurrent sub-layer's state structure, for matching encoder and decoder."""
    return [
        (
            "lstm" if layer["kind"] == "lstm" else "h",
            layer["hidden_size"],
            layer.get("proj_size", 0),
            layer.get("bidirectional", False),
        )
        for layer in layers
        if layer["kind"] in RECURRENT
        for _ in range(layer.get("stack", 1))
    ]


def output_width(layers: list[Layer]) -> int:
    """The width of a sequence's output, from its description."""
    last = layers[-1]
    if last["kind"] == "dense":
        return int(last["units"])
    directions = 2 if last.get("bidirectional", False) else 1
    return directions * int(last.get("proj_size", 0) or last["hidden_size"])


def is_simple(model: Description) -> bool:
    if "encoder" in model:
        return False
    kinds = [layer["kind"] for layer in model["layers"]]
    recurrent_layers = sum(kind in RECURRENT for kind in kinds)
    return "embedding" not in kinds and recurrent_layers == 1 and kinds.count("dense") <= 1


# --- PyTorch ---------------------------------------------------------------------------------


def torch_module_names(layers: list[Layer]) -> list[str]:
    """The submodule attribute of each layer: its name, else its kind's base with _1, _2 ..."""
    seen: Counter[str] = Counter()
    names = []
    for layer in layers:
        if "name" in layer:
            names.append(layer["name"])
            continue
        base = "linear" if layer["kind"] == "dense" else str(layer["kind"])
        names.append(base if seen[base] == 0 else f"{base}_{seen[base]}")
        seen[base] += 1
    return names


class TorchSequence(torch.nn.Module):  # type: ignore[misc]
    """One sequence of layers, each an attribute; forward returns output and final states."""

    def __init__(self, layers: list[Layer], input_size: int | None) -> None:
        super().__init__()
        self.plan = list(zip(torch_module_names(layers), layers, strict=True))
        width = input_size or 0
        table: torch.nn.Embedding | None = None
        for name, layer in self.plan:
            kind = layer["kind"]
            module: torch.nn.Module
            if kind == "embedding":
                module = table = torch.nn.Embedding(layer["vocab_size"], layer["dim"])
                width = layer["dim"]
            elif kind in RECURRENT:
                kwargs: dict[str, Any] = {
                    "num_layers": layer.get("stack", 1),
                    "bias": layer.get("bias", True),
                    "bidirectional": layer.get("bidirectional", False),
                    "batch_first": True,
                }
                if layer.get("proj_size", 0):
                    kwargs["proj_size"] = layer["proj_size"]
                if kind == "rnn":
                    kwargs["nonlinearity"] = layer.get("activation", "tanh")
                module = TORCH_CELLS[kind](width, layer["hidden_size"], **kwargs)
                directions = 2 if layer.get("bidirectional", False) else 1
                width = directions * (layer.get("proj_size", 0) or layer["hidden_size"])
            else:
                linear = torch.nn.Linear(width, layer["units"], bias=layer.get("bias", True))
                if layer.get("tie", False):
                    assert table is not None
                    assert (layer["units"], width) == tuple(table.weight.shape), layer
                    linear.weight = table.weight
                module, width = linear, layer["units"]
            self.add_module(name, module)
        self.width = width

    def forward(
        self, x: torch.Tensor, states: list[tuple[torch.Tensor, ...]] | None = None
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, ...]]]:
        finals: list[tuple[torch.Tensor, ...]] = []
        pending = None if states is None else list(states)
        for index, (name, layer) in enumerate(self.plan):
            module = getattr(self, name)
            kind = layer["kind"]
            if kind == "embedding":
                x = module(x)
            elif kind == "dense":
                x = TORCH_ACTIVATIONS[layer.get("activation", "identity")](module(x))
            else:
                stack = layer.get("stack", 1)
                directions = 2 if layer.get("bidirectional", False) else 1
                initial: Any = None
                if pending is not None:  # a decoder: its sub-layers start from the encoder's
                    taken, pending = pending[:stack], pending[stack:]
                    assert len(taken) == stack
                    joined = [torch.cat(parts) for parts in zip(*taken, strict=True)]
                    initial = tuple(joined) if kind == "lstm" else joined[0]
                x, final = module(x, initial)
                parts = list(final) if kind == "lstm" else [final]
                for k in range(stack):
                    finals.append(tuple(p[k * directions : (k + 1) * directions] for p in parts))
                following = self.plan[index + 1][1] if index + 1 < len(self.plan) else {}
                if following.get("kind") == "dense" and following.get("steps", "last") == "last":
                    h = parts[0][-directions:]  # h_n's last layer: both directions
                    x = h.transpose(0, 1).reshape(h.shape[1], -1)
        assert not pending, "the decoder uses every final state of the encoder"
        return x, finals


class TorchSeq2Seq(torch.nn.Module):  # type: ignore[misc]
    def __init__(self, model: Description) -> None:
        super().__init__()
        (source, source_size, _), (target, target_size, _) = sequences(model)
        self.encoder = TorchSequence(source, source_size)
        self.decoder = TorchSequence(target, target_size)
        self.width = self.decoder.width

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _, states = self.encoder(source)
        return self.decoder(target, states)[0]


def torch_inputs(model: Description) -> list[torch.Tensor]:
    inputs = []
    for layers, input_size, timesteps in sequences(model):
        if layers[0]["kind"] == "embedding":
            inputs.append(torch.randint(0, layers[0]["vocab_size"], (BATCH, timesteps)))
        else:
            inputs.append(torch.randn(BATCH, timesteps, input_size))
    return inputs


def measure_torch(model: Description, meta: bool) -> dict[str, Any]:
    torch.manual_seed(0)
    with torch.device("meta" if meta else "cpu"):
        module = (
            TorchSeq2Seq(model) if "encoder" in model else TorchSequence(*sequences(model)[0][:2])
        )
    if not meta:
        with torch.no_grad():
            output = module(*torch_inputs(model))
        output = output[0] if isinstance(output, tuple) else output
        assert output.shape[0] == BATCH, output.shape
        assert output.shape[-1] == module.width == output_width(sequences(model)[-1][0])
    names = list(module.state_dict())
    if is_simple(model):  # bare nn.RNN/LSTM/GRU keys and the head's weight, bias
        names = [name.split(".", 1)[1] for name in names]
    shapes = [list(tensor.shape) for tensor in module.state_dict().values()]
    total = sum(p.numel() for p in module.parameters())
    return {"total": total, "tensors": [list(pair) for pair in zip(names, shapes, strict=True)]}


def expected_torch_names(model: Description) -> list[str]:
    """rnncalc's naming rules for PyTorch, written out independently of the builder."""

    def parameters(layer: Layer) -> list[str]:
        kind = layer["kind"]
        if kind == "embedding":
            return ["weight"]
        if kind == "dense":
            return ["weight"] + (["bias"] if layer.get("bias", True) else [])
        suffixes = ["", "_reverse"] if layer.get("bidirectional", False) else [""]
        names = []
        for k, suffix in product(range(layer.get("stack", 1)), suffixes):
            end = f"_l{k}{suffix}"
            names += [f"weight_ih{end}", f"weight_hh{end}"]
            if layer.get("bias", True):
                names += [f"bias_ih{end}", f"bias_hh{end}"]
            if layer.get("proj_size", 0):
                names.append(f"weight_hr{end}")
        return names

    def sequence(layers: list[Layer]) -> list[str]:
        attributes = torch_module_names(layers)
        return [
            f"{a}.{p}"
            for a, layer in zip(attributes, layers, strict=True)
            for p in parameters(layer)
        ]

    if "encoder" in model:
        (source, _, _), (target, _, _) = sequences(model)
        return [f"encoder.{n}" for n in sequence(source)] + [
            f"decoder.{n}" for n in sequence(target)
        ]
    if is_simple(model):
        return [p for layer in model["layers"] for p in parameters(layer)]
    return sequence(model["layers"])


# --- Keras -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KerasForm:
    functional: bool = False  # keras.Input and layer calls instead of keras.Sequential
    time_distributed: bool = False  # TimeDistributed(Dense) for the dense layers on all steps


def keras_layers(layers: list[Layer], form: KerasForm, return_state: bool) -> Iterator[Any]:
    """The Keras layer objects of one sequence, created in network order."""
    for index, layer in enumerate(layers):
        kind = layer["kind"]
        if kind == "embedding":
            yield keras.layers.Embedding(layer["vocab_size"], layer["dim"])
        elif kind == "dense":
            assert not layer.get("tie", False), "Keras has no tied Dense"
            named = {"name": layer["name"]} if "name" in layer else {}
            head = keras.layers.Dense(
                layer["units"],
                activation=KERAS_ACTIVATIONS[layer.get("activation", "identity")],
                use_bias=layer.get("bias", True),
                **named,
            )
            all_steps = layer.get("steps", "last") == "all"
            yield (
                keras.layers.TimeDistributed(head) if all_steps and form.time_distributed else head
            )
        else:
            following = layers[index + 1] if index + 1 < len(layers) else None
            sequence_out = following is not None and (
                following["kind"] in RECURRENT or following.get("steps", "last") == "all"
            )
            stack = layer.get("stack", 1)
            assert "name" not in layer or stack == 1, "Keras layer names must be unique"
            for k in range(stack):
                kwargs: dict[str, Any] = {
                    "return_sequences": k < stack - 1 or sequence_out,
                    "use_bias": layer.get("bias", True),
                }
                if return_state:
                    kwargs["return_state"] = True
                if kind == "gru":
                    kwargs["reset_after"] = layer.get("reset_after", True)
                if kind == "rnn":
                    kwargs["activation"] = layer.get("activation", "tanh")
                if "name" in layer:
                    kwargs["name"] = layer["name"]
                assert not layer.get("proj_size", 0), "Keras LSTM has no projection"
                cell = KERAS_CELLS[kind](layer["hidden_size"], **kwargs)
                yield keras.layers.Bidirectional(cell) if layer.get("bidirectional") else cell


def keras_input(layers: list[Layer], input_size: int | None, timesteps: int) -> Any:
    if layers[0]["kind"] == "embedding":
        return keras.Input((timesteps,), dtype="int32")
    return keras.Input((timesteps, input_size))


def numpy_inputs(model: Description) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    inputs = []
    for layers, input_size, timesteps in sequences(model):
        if layers[0]["kind"] == "embedding":
            inputs.append(rng.integers(0, layers[0]["vocab_size"], (BATCH, timesteps)))
        else:
            shape = (BATCH, timesteps, input_size or 0)
            inputs.append(rng.standard_normal(shape).astype("float32"))
    return inputs


def keras_model(model: Description, form: KerasForm) -> Any:
    keras.utils.clear_session()  # fresh automatic names: lstm, lstm_1, dense ...
    if "encoder" in model:  # functional: encoder states are the decoder's initial states
        (source, source_size, source_t), (target, target_size, target_t) = sequences(model)
        source_input = keras_input(source, source_size, source_t)
        x, states = source_input, []
        for layer in keras_layers(source, form, return_state=True):
            if isinstance(layer, keras.layers.Embedding):
                x = layer(x)
            else:
                x, *final = layer(x)
                states.append(final)
        target_input = keras_input(target, target_size, target_t)
        y = target_input
        for layer in keras_layers(target, form, return_state=False):
            is_recurrent = not isinstance(layer, keras.layers.Embedding | keras.layers.Dense)
            is_recurrent = is_recurrent and not isinstance(layer, keras.layers.TimeDistributed)
            y = layer(y, initial_state=states.pop(0)) if is_recurrent else layer(y)
        assert not states, "the decoder uses every final state of the encoder"
        return keras.Model([source_input, target_input], y)
    layers, input_size, timesteps = sequences(model)[0]
    objects = list(keras_layers(layers, form, return_state=False))
    if not form.functional:
        return keras.Sequential([keras_input(layers, input_size, timesteps), *objects])
    inputs = keras_input(layers, input_size, timesteps)
    x = inputs
    for layer in objects:
        x = layer(x)
    return keras.Model(inputs, x)


def measure_keras(model: Description, form: KerasForm) -> dict[str, Any]:
    built = keras_model(model, form)
    inputs = numpy_inputs(model)
    output = built(inputs if len(inputs) > 1 else inputs[0])
    assert output.shape[0] == BATCH, output.shape
    assert output.shape[-1] == output_width(sequences(model)[-1][0]), output.shape
    prefix = f"{built.name}/"
    tensors = [[w.path.removeprefix(prefix), [int(n) for n in w.shape]] for w in built.weights]
    return {"total": int(built.count_params()), "tensors": tensors}


def expected_keras_names(model: Description) -> list[str]:
    """Keras's automatic names as rnncalc's rules state them, written out independently."""
    seen: Counter[str] = Counter()

    def auto(base: str) -> str:
        seen[base] += 1
        return base if seen[base] == 1 else f"{base}_{seen[base] - 1}"

    names = []
    for layers, _, _ in sequences(model):
        for layer in layers:
            kind = layer["kind"]
            if kind == "embedding":
                names.append(f"{auto('embedding')}/embeddings")
            elif kind == "dense":
                name = layer.get("name") or auto("dense")
                names += [f"{name}/kernel"] + ([f"{name}/bias"] if layer.get("bias", True) else [])
            else:
                variables = ["kernel", "recurrent_kernel"] + (
                    ["bias"] if layer.get("bias", True) else []
                )
                for _ in range(layer.get("stack", 1)):
                    inner = layer.get("name") or auto(KERAS_BASE[kind])
                    paths = [inner]
                    if layer.get("bidirectional", False):
                        wrapper = auto("bidirectional")
                        paths = [f"{wrapper}/forward_{inner}", f"{wrapper}/backward_{inner}"]
                    cell = f"{KERAS_BASE[kind]}_cell"
                    names += [f"{path}/{cell}/{v}" for path in paths for v in variables]
    return names


# --- the networks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    model: Description
    source: str | None = None
    published: int | None = None  # an exact published count
    published_millions: int | None = None  # a count published rounded to millions
    meta: bool = False  # built on the meta device: too big to allocate, not run
    form: KerasForm = KerasForm()


def layer_slug(layer: Layer) -> str:
    kind = layer["kind"]
    if kind == "embedding":
        return f"e{layer['vocab_size']}x{layer['dim']}"
    if kind == "dense":
        slug = f"d{layer['units']}"
        flags = {"a": layer.get("steps") == "all", "t": layer.get("tie"), "nb": "bias" in layer}
    else:
        slug = f"{kind}{layer['hidden_size']}"
        slug += f"x{layer['stack']}" if "stack" in layer else ""
        slug += f"p{layer['proj_size']}" if "proj_size" in layer else ""
        flags = {
            "bi": layer.get("bidirectional"),
            "nb": "bias" in layer,
            "ra0": "reset_after" in layer,
            "relu": layer.get("activation") == "relu",
        }
    return slug + "".join(flag for flag, on in flags.items() if on)


def model_slug(model: Description) -> str:
    parts = [f"i{model['input_size']}"] if "input_size" in model else []
    if "encoder" not in model:
        return "-".join(parts + [layer_slug(layer) for layer in model["layers"]])
    decoder = model["decoder"]
    target = [f"i{decoder['input_size']}"] if "input_size" in decoder else []
    source = "-".join(parts + [layer_slug(layer) for layer in model["encoder"]["layers"]])
    return source + "--" + "-".join(target + [layer_slug(layer) for layer in decoder["layers"]])


def case(prefix: str, model: Description, **extra: Any) -> Case:
    framework = "pt" if model["convention"] == "pytorch" else "kr"
    return Case(f"{framework}-{prefix}-{model_slug(model)}", model, **extra)


EMB1_SIZES = [  # (vocab, dim, hidden, timesteps)
    (20000, 128, 64, 200),
    (1, 1, 1, 1),
    (1000, 64, 128, 10),
    (50, 8, 16, 5),
    (5000, 300, 256, 40),
    (2, 3, 2, 3),
    (30000, 100, 32, 20),
    (10, 4, 3, 7),
    (256, 32, 48, 12),
]
COMMON_OPTIONS: list[dict[str, Any]] = [
    {},
    {"stack": 2},
    {"stack": 3},
    {"bidirectional": True},
    {"bias": False},
    {"bidirectional": True, "stack": 2},
    {"bidirectional": True, "bias": False, "stack": 3},
]
RELU_OPTIONS: list[dict[str, Any]] = [
    {"activation": "relu"},
    {"activation": "relu", "bidirectional": True},
]
EXTRA_OPTIONS: dict[str, dict[str, list[dict[str, Any]]]] = {
    "pytorch": {  # proj_size: filled in as a quarter of the hidden size
        "lstm": [
            {"proj_size": -1},
            {"proj_size": -1, "bidirectional": True},
            {"proj_size": -1, "stack": 2, "bias": False},
        ],
        "rnn": RELU_OPTIONS,
        "gru": [],
    },
    "keras": {
        "gru": [
            {"reset_after": False},
            {"reset_after": False, "bidirectional": True},
            {"reset_after": False, "stack": 2, "bias": False},
        ],
        "rnn": RELU_OPTIONS,
        "lstm": [],
    },
}


def emb1_heads(vocab: int) -> list[list[Layer]]:
    return [
        [],
        [dense(1, "sigmoid")],
        [dense(10, "softmax")],
        [dense(64, "relu"), dense(5)],
        [dense(vocab, "softmax", steps="all")],
        [dense(32, "relu", steps="all"), dense(vocab, steps="all")],
        [dense(16, "tanh", bias=False), dense(8, "relu"), dense(3, "softmax")],
        [dense(7, bias=False)],
        [
            dense(12, "relu", steps="all"),
            dense(6, "tanh", steps="all", bias=False),
            dense(2, "sigmoid", steps="all"),
        ],
        [dense(1, steps="all", bias=False)],
    ]


def embedding_one_recurrent(convention: str) -> Iterator[Case]:
    """Embedding, one recurrent layer with every option, and 0 to 3 dense layers."""
    count = 0
    for cell in RECURRENT:
        for options in COMMON_OPTIONS + EXTRA_OPTIONS[convention][cell]:
            for _ in range(2):
                vocab, dim, hidden, timesteps = EMB1_SIZES[count % len(EMB1_SIZES)]
                if options.get("proj_size") and hidden < 2:
                    vocab, dim, hidden, timesteps = EMB1_SIZES[(count + 1) % len(EMB1_SIZES)]
                chosen = dict(options)
                if chosen.get("proj_size"):
                    chosen["proj_size"] = max(1, hidden // 4)
                heads = emb1_heads(vocab)[(count * 3) % 10]
                layers = [embedding(vocab, dim), recurrent(cell, hidden, **chosen), *heads]
                count += 1
                yield case("emb", network(convention, timesteps, layers))


MULTI_SIZES = [(64, 32), (128, 256), (1, 1), (16, 8), (512, 128), (3, 5), (32, 32), (200, 100)]
MULTI_SIZES.append((7, 2))
MULTI_FRONTS: list[tuple[int, int] | int] = [(10000, 100), 13, (1, 1), 1, (5000, 64), 40, (300, 16)]
MULTI_FRONTS += [6, (20000, 128)]


def multi_heads() -> list[list[Layer]]:
    return [
        [dense(1, "sigmoid")],
        [dense(5, "softmax", steps="all")],
        [],
        [dense(32, "relu"), dense(4)],
        [dense(3, bias=False)],
    ]


def several_recurrent(convention: str) -> Iterator[Case]:
    """Two or three recurrent layers of different sizes, cells and directions."""
    directions = [(False, False), (True, False), (False, True), (True, True)]
    for index, (first, second) in enumerate(product(RECURRENT, RECURRENT)):
        sizes, front = MULTI_SIZES[index], MULTI_FRONTS[index]
        bi1, bi2 = directions[index % 4]
        layers = [recurrent(first, sizes[0], bidirectional=bi1)]
        layers.append(recurrent(second, sizes[1], bidirectional=bi2))
        layers += multi_heads()[index % 5]
        if isinstance(front, tuple):
            yield case("multi", network(convention, 9, [embedding(*front), *layers]))
        else:
            yield case("multi", network(convention, 9, layers, input_size=front))
    triples: list[tuple[list[Layer], int | None]] = [
        ([lstm(256, bidirectional=True), gru(128), rnn(64), dense(10, "softmax")], 40),
        ([gru(32, stack=2), gru(16, bidirectional=True), lstm(8), dense(1)], 3),
        ([embedding(1, 1), rnn(1), lstm(1), gru(1), dense(1, steps="all")], None),
        ([embedding(20000, 300), lstm(512), lstm(256), lstm(128), dense(2, "softmax")], None),
        ([rnn(20, bias=False, activation="relu"), lstm(10), dense(1, "sigmoid")], 5),
        ([embedding(800, 50), lstm(64, name="lower"), lstm(32, name="upper")], None),
        (
            [embedding(900, 40), gru(32, name="features"), gru(16), dense(4, name="classifier")],
            None,
        ),
    ]
    if convention == "pytorch":
        triples += [
            ([lstm(64, proj_size=16), lstm(32, bidirectional=True), dense(2)], 12),
            (
                [
                    embedding(3000, 96),
                    lstm(128, proj_size=32, bidirectional=True, stack=2),
                    gru(64),
                ],
                None,
            ),
            ([lstm(10, bidirectional=True), lstm(10, proj_size=5, bidirectional=True)], 4),
        ]
    else:
        triples += [
            ([gru(64, reset_after=False), gru(32), dense(8, "relu"), dense(1)], 12),
            (
                [
                    embedding(3000, 96),
                    gru(48, reset_after=False, bidirectional=True, stack=2),
                    lstm(64),
                ],
                None,
            ),
            ([lstm(16, bidirectional=True, name="context"), rnn(8), dense(3, "softmax")], 4),
        ]
    for layers, input_size in triples:
        yield case("multi", network(convention, 11, layers, input_size=input_size))


def dense_heads(convention: str) -> Iterator[Case]:
    """Input features, one recurrent layer and dense heads; simple networks among them."""
    rows: list[tuple[int, int, list[Layer]]] = [
        (1, 1, [rnn(1), dense(1)]),
        (3, 4, [rnn(3), dense(1)]),
        (5, 4, [lstm(3)]),
        (6, 10, [gru(20), dense(5, steps="all")]),
        (30, 32, [lstm(64, stack=2), dense(1, "sigmoid")]),
        (8, 8, [gru(16, bidirectional=True), dense(2, "softmax")]),
        (4, 5, [rnn(7, bidirectional=True, stack=3, bias=False), dense(3, bias=False)]),
        (50, 128, [lstm(256, bidirectional=True), dense(10, steps="all")]),
        (2, 3, [lstm(1, stack=2), dense(1)]),
        (12, 16, [lstm(32), dense(64, "relu"), dense(32, "relu"), dense(10, "softmax")]),
        (1, 1, [gru(1), dense(1, "tanh"), dense(1)]),
        (25, 20, [rnn(40, activation="relu"), dense(40, "relu", bias=False), dense(1, "sigmoid")]),
        (
            7,
            6,
            [
                lstm(12, bidirectional=True),
                dense(24, "tanh", steps="all"),
                dense(12, "relu", steps="all"),
                dense(6, steps="all", bias=False),
                dense(3, "softmax", steps="all"),
            ],
        ),
        (15, 50, [gru(100, stack=2), dense(50, "relu"), dense(25, "relu"), dense(2, "softmax")]),
        (3, 3, [lstm(4), dense(8, "sigmoid", steps="all"), dense(1, steps="all")]),
        (60, 64, [gru(128, bidirectional=True, bias=False), dense(256, "relu"), dense(1)]),
        (9, 10, [lstm(20), dense(64, "relu", name="hidden"), dense(10, "softmax", name="out")]),
    ]
    if convention == "pytorch":
        rows += [
            (10, 32, [lstm(32, proj_size=8), dense(4)]),
            (5, 6, [lstm(16, proj_size=4, bidirectional=True, stack=2), dense(2, steps="all")]),
            (8, 64, [lstm(64, proj_size=16), dense(16, "relu"), dense(1)]),
        ]
    else:
        rows += [
            (10, 32, [gru(32, reset_after=False), dense(4)]),
            (
                5,
                6,
                [gru(16, reset_after=False, bidirectional=True, stack=2), dense(2, steps="all")],
            ),
            (8, 64, [gru(64, reset_after=False), dense(16, "relu"), dense(1)]),
        ]
    for timesteps, input_size, layers in rows:
        yield case("head", network(convention, timesteps, layers, input_size=input_size))


def tied_language_models() -> Iterator[Case]:
    """PyTorch language models whose output layer shares the embedding's weight."""
    rows: list[list[Layer]] = [
        [embedding(10000, 200), lstm(200, stack=2), dense(10000, steps="all", tie=True)],
        [embedding(33278, 200), lstm(200, stack=2), dense(33278, "softmax", steps="all", tie=True)],
        [embedding(1, 1), rnn(1), dense(1, steps="all", tie=True)],
        [embedding(50, 8), gru(8), dense(50, steps="all", tie=True)],
        [embedding(100, 16), lstm(32, proj_size=16), dense(100, steps="all", tie=True)],
        [embedding(1000, 64), lstm(32, bidirectional=True), dense(1000, steps="all", tie=True)],
        [
            embedding(500, 32),
            lstm(64, proj_size=16, bidirectional=True),
            dense(500, steps="all", tie=True),
        ],
        [
            embedding(2000, 48),
            gru(96),
            dense(48, "tanh", steps="all"),
            dense(2000, steps="all", tie=True),
        ],
        [
            embedding(300, 20),
            lstm(64, stack=2),
            dense(20, steps="all", bias=False),
            dense(300, steps="all", tie=True),
        ],
        [embedding(700, 10), rnn(10, bias=False), dense(700, steps="all", tie=True, bias=False)],
        [embedding(5000, 128), lstm(256), lstm(128), dense(5000, "softmax", steps="all", tie=True)],
        [embedding(64, 6), gru(3, bidirectional=True, stack=3), dense(64, steps="all", tie=True)],
        [embedding(200, 16), lstm(16, name="core"), dense(200, "softmax", tie=True)],
        [embedding(400, 24), gru(24), dense(400, tie=True, name="decoder")],
        [
            embedding(33278, 400),
            lstm(1150),
            lstm(1150),
            lstm(400),
            dense(33278, steps="all", tie=True),
        ],
    ]
    for layers in rows:
        yield case("tied", network("pytorch", 35, layers))


def encoder_decoders(convention: str) -> Iterator[Case]:
    """Encoder-decoders whose decoder starts from the encoder's final states."""
    both: list[tuple[list[Layer], list[Layer], dict[str, Any]]] = [
        (
            [embedding(1000, 64), lstm(128)],
            [embedding(2000, 64), lstm(128), dense(2000, "softmax", steps="all")],
            {},
        ),
        (
            [embedding(5000, 256), lstm(512, stack=2)],
            [embedding(6000, 256), lstm(512, stack=2), dense(6000, steps="all")],
            {},
        ),
        (
            [embedding(30, 16), lstm(32, stack=3)],
            [embedding(40, 16), lstm(32, stack=3), dense(40, steps="all")],
            {"target_timesteps": 12},
        ),
        (
            [embedding(100, 8), lstm(16, stack=4)],
            [embedding(120, 8), lstm(16, stack=4), dense(120, steps="all")],
            {},
        ),
        (  # keras-io's lstm_seq2seq (71 and 93 characters), which publishes no count
            [lstm(256)],
            [lstm(256), dense(93, "softmax", steps="all")],
            {"input_size": 71, "target_input_size": 93, "target_timesteps": 59},
        ),
        ([embedding(800, 32), gru(64)], [embedding(900, 32), gru(64), dense(900, steps="all")], {}),
        (
            [embedding(300, 24), gru(48, bidirectional=True)],
            [embedding(400, 24), gru(48, bidirectional=True), dense(400, steps="all")],
            {},
        ),
        (
            [embedding(1, 1), lstm(1, bidirectional=True, stack=2)],
            [embedding(1, 1), lstm(1, bidirectional=True, stack=2), dense(1, steps="all")],
            {},
        ),
        (
            [embedding(600, 40), lstm(80, bidirectional=True)],
            [embedding(700, 40), lstm(80, bidirectional=True), dense(700, "softmax", steps="all")],
            {},
        ),
        (
            [rnn(10, activation="relu")],
            [rnn(10, activation="relu"), dense(2, steps="all")],
            {"input_size": 5, "target_input_size": 3},
        ),
        (
            [embedding(500, 32), lstm(64, stack=2)],
            [embedding(600, 32), lstm(64), lstm(64), dense(600, steps="all")],
            {},
        ),
        (
            [embedding(500, 32), lstm(128), lstm(64)],
            [embedding(700, 32), lstm(128), lstm(64), dense(700, steps="all")],
            {},
        ),
        (
            [embedding(2000, 100), lstm(200)],
            [
                embedding(2500, 100),
                lstm(200),
                dense(100, "tanh", steps="all"),
                dense(2500, "softmax", steps="all"),
            ],
            {},
        ),
        (
            [embedding(1000, 32), gru(64)],
            [gru(64), dense(20, steps="all")],
            {"target_input_size": 20, "target_timesteps": 9},
        ),
        ([embedding(1000, 64), lstm(64)], [embedding(2000, 64), lstm(64), dense(10)], {}),
        (
            [lstm(16, bias=False)],
            [lstm(16, bias=False), dense(8, steps="all", bias=False)],
            {"input_size": 8, "target_input_size": 8},
        ),
        (
            [embedding(50, 10), gru(20, stack=2, bidirectional=True)],
            [
                embedding(60, 10),
                gru(20, bidirectional=True),
                gru(20, bidirectional=True),
                dense(60, steps="all"),
            ],
            {},
        ),
    ]
    if convention == "pytorch":
        both += [
            (
                [embedding(1000, 64), lstm(256, proj_size=64)],
                [embedding(1000, 64), lstm(256, proj_size=64), dense(1000, steps="all", tie=True)],
                {},
            ),
            (
                [embedding(4000, 128), gru(128)],
                [embedding(3000, 128), gru(128), dense(3000, steps="all", tie=True)],
                {},
            ),
            (
                [embedding(90, 12), lstm(24, proj_size=6, bidirectional=True, stack=2)],
                [
                    embedding(80, 12),
                    lstm(24, proj_size=6, bidirectional=True, stack=2),
                    dense(80, steps="all"),
                ],
                {},
            ),
        ]
    else:
        both += [
            (
                [embedding(800, 32), gru(64, reset_after=False)],
                [embedding(900, 32), gru(64, reset_after=False), dense(900, steps="all")],
                {},
            ),
            (
                [gru(12, reset_after=False, bidirectional=True, stack=2)],
                [gru(12, reset_after=False, bidirectional=True, stack=2), dense(4, steps="all")],
                {"input_size": 6, "target_input_size": 4},
            ),
        ]
    for source, target, options in both:
        yield case("s2s", seq2seq(convention, 15, source, target, **options))


def published() -> Iterator[Case]:
    """Models whose parameter counts are published."""
    guide = "keras-io guides/working_with_rnns (Working with RNNs)"
    yield Case(
        "kr-keras-io-bidirectional-lstm-imdb",
        network(
            "keras",
            200,
            [
                embedding(20000, 128),
                lstm(64, bidirectional=True),
                lstm(64, bidirectional=True),
                dense(1, "sigmoid"),
            ],
        ),
        source="keras-io examples/nlp/bidirectional_lstm_imdb (Bidirectional LSTM on IMDB), "
        "model.summary(): Total params: 2,757,761",
        published=2_757_761,
        form=KerasForm(functional=True),
    )
    yield Case(
        "kr-keras-io-guide-rnn-lstm",
        network("keras", 10, [embedding(1000, 64), lstm(128), dense(10)]),
        source=f"{guide}, first Sequential model: Total params: 164,106",
        published=164_106,
    )
    yield Case(
        "kr-keras-io-guide-rnn-gru-simplernn",
        network("keras", 10, [embedding(1000, 64), gru(256), rnn(128), dense(10)]),
        source=f"{guide}, outputs and states: Total params: 361,866",
        published=361_866,
    )
    yield Case(
        "kr-keras-io-guide-rnn-encoder-decoder",
        seq2seq(
            "keras",
            10,
            [embedding(1000, 64), lstm(64, name="encoder")],
            [embedding(2000, 64), lstm(64, name="decoder"), dense(10)],
        ),
        source=f"{guide}, encoder-decoder with initial_state: Total params: 258,698",
        published=258_698,
    )
    yield Case(
        "kr-keras-io-guide-rnn-bidirectional",
        network(
            "keras",
            5,
            [lstm(64, bidirectional=True), lstm(32, bidirectional=True), dense(10)],
            input_size=10,
        ),
        source=f"{guide}, bidirectional RNNs: Total params: 80,266",
        published=80_266,
    )
    yield Case(
        "pt-sutskever-2014-seq2seq",
        seq2seq(
            "pytorch",
            30,
            [embedding(160000, 1000), lstm(1000, stack=4)],
            [embedding(80000, 1000), lstm(1000, stack=4), dense(80000, "softmax", steps="all")],
        ),
        source="Sutskever, Vinyals & Le 2014, Sequence to Sequence Learning with Neural "
        "Networks (arXiv:1409.3215) sec. 3.4: 384M parameters, 64M of them recurrent "
        "connections (rounded; PyTorch adds a second bias per gate)",
        published_millions=384,
        meta=True,
    )
    zaremba = "Zaremba, Sutskever & Vinyals 2014, Recurrent Neural Network Regularization"
    for size, millions in ((650, 20), (1500, 66)):
        yield Case(
            f"pt-zaremba-2014-{'medium' if size == 650 else 'large'}",
            network(
                "pytorch",
                35,
                [embedding(10000, size), lstm(size, stack=2), dense(10000, steps="all")],
            ),
            source=f"{zaremba} (arXiv:1409.2329), Penn Treebank {size}-unit 2-layer LSTM: "
            f"{millions}M parameters (rounded)",
            published_millions=millions,
            meta=size == 1500,
        )
    yield Case(
        "pt-awd-lstm-ptb",
        network(
            "pytorch",
            70,
            [
                embedding(10000, 400),
                lstm(1150),
                lstm(1150),
                lstm(400),
                dense(10000, steps="all", tie=True),
            ],
        ),
        source="Merity, Keskar & Socher 2017, Regularizing and Optimizing LSTM Language Models "
        "(AWD-LSTM, arXiv:1708.02182) Table 1, Penn Treebank: 24M parameters (rounded)",
        published_millions=24,
    )


def keras_variants(cases: list[Case]) -> Iterator[Case]:
    """Keras networks built otherwise: functional with keras.Input, TimeDistributed heads."""
    plain = [c for c in cases if c.id.startswith("kr-") and c.source is None]
    plain = [c for c in plain if "encoder" not in c.model]

    def all_steps(c: Case) -> bool:
        return any(layer.get("steps") == "all" for layer in c.model["layers"])

    with_all = [c for c in plain if all_steps(c)]
    for c in with_all[::3][:10]:
        yield replace(c, id=c.id.replace("kr-", "kr-td-", 1), form=KerasForm(time_distributed=True))
    for c in plain[::6][:12]:
        yield replace(c, id=c.id.replace("kr-", "kr-fn-", 1), form=KerasForm(functional=True))
    for c in with_all[1::5][:4]:
        yield replace(c, id=c.id.replace("kr-", "kr-fntd-", 1), form=KerasForm(True, True))


def all_cases() -> list[Case]:
    cases: list[Case] = []
    for convention in ("pytorch", "keras"):
        cases += embedding_one_recurrent(convention)
        cases += several_recurrent(convention)
        cases += dense_heads(convention)
        if convention == "pytorch":
            cases += tied_language_models()
        cases += encoder_decoders(convention)
    cases += published()
    cases += keras_variants(cases)
    return cases


def measure(c: Case) -> dict[str, Any]:
    check_description(c.model)
    framework = c.model["convention"]
    if framework == "pytorch":
        measured = measure_torch(c.model, c.meta)
        expected = expected_torch_names(c.model)
    else:
        measured = measure_keras(c.model, c.form)
        expected = expected_keras_names(c.model)
    names = [name for name, _ in measured["tensors"]]
    follows = names == expected
    if framework == "keras" and "encoder" in c.model:
        # A functional model lists its layers by depth in the graph: both embeddings, then
        # the first recurrent layers of encoder and decoder, ... The names follow the rules,
        # the order does not.
        follows = sorted(names) == sorted(expected)
    assert follows or c.form.time_distributed, (c.id, names, expected)
    if c.published is not None:
        assert measured["total"] == c.published, (c.id, measured["total"])
    if c.published_millions is not None:
        assert abs(measured["total"] / 1e6 - c.published_millions) < 0.5, (c.id, measured)
    row = {"id": c.id, "framework": framework, "model": c.model} | measured
    row["names_follow_rnncalc"] = follows
    if c.source is not None:
        row["source"] = c.source
    return row


def main() -> None:
    # Expected: the oneDNN fallback for LSTM projections, softmax over a vocabulary of one.
    warnings.filterwarnings("ignore", message="LSTM with projections is not supported")
    warnings.filterwarnings("ignore", message="You are using a softmax over axis -1")
    cases = all_cases()
    ids = [c.id for c in cases]
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    assert not duplicates, duplicates
    rows = [measure(c) for c in cases]
    meta = {"torch": torch.__version__, "keras": keras.__version__}
    meta["backend"] = keras.backend.backend()
    text = ",\n  ".join(json.dumps(row) for row in rows)
    OUT.write_text(f'{{"generated_with": {json.dumps(meta)},\n "networks": [\n  {text}\n ]}}\n')
    categories = Counter(
        (row["framework"], "published" if "source" in row else row["id"].split("-")[1])
        for row in rows
    )
    for (framework, category), count in sorted(categories.items()):
        print(f"{framework:8} {category:10} {count}")
    totals = {row["id"]: row["total"] for row in rows}
    print(f"Sutskever et al. 2014 seq2seq: {totals['pt-sutskever-2014-seq2seq']:,} parameters")
    print(f"keras-io IMDB bidirectional LSTM: {totals['kr-keras-io-bidirectional-lstm-imdb']:,}")
    print(f"wrote {len(rows)} networks to {OUT}")


if __name__ == "__main__":
    main()
