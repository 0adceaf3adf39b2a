"""Compute reference forward passes of whole networks in PyTorch and Keras; write
network_forward_<case>.npz and network_forward_cases.json.

Not part of the test suite and not needed by it.  Each case is a model description in
the form rnncalc's TOML model files take (embeddings, recurrent layers of different sizes,
dense heads, tied output layers, encoder-decoder).  The script builds that network in the
framework, draws every weight with a seeded NumPy Generator under its name (rnncalc's
PyTorch names are the module's state_dict keys; Keras's are the variable paths), loads
them by name (PyTorch load_state_dict(strict=True), Keras variable paths), runs it in
float64 and stores the weights, x (and x_decoder), the last recurrent layer's output
sequence h and the last dense layer's output y.

* PyTorch: one submodule per layer, named by the layer's ``name`` or its automatic base
  (embedding, rnn, lstm, gru, linear; a second one of a base ``<base>_1``, ...), one
  nn.RNN/LSTM/GRU with num_layers=stack per recurrent layer; encoder-decoder under
  ``encoder.`` and ``decoder.``, the encoder's (h_n[, c_n]) of each recurrent layer being
  the (h_0[, c_0]) of the decoder's corresponding one.  A tied linear layer's weight is
  the embedding's Parameter: stored once, under the embedding's name.
* Keras: a functional model, layers created in order after keras.utils.clear_session()
  so their automatic names are Keras's own; the encoder's layers return_state=True and
  the decoder's take them as initial_state (Bidirectional: forward states, then backward
  ones, the order it both returns and takes).  h comes from a second build whose last
  recurrent layer returns sequences, given the same weights by path.

Many-to-one heads ("steps": "last") read each direction's final state: PyTorch's h_n of
the top layer, Keras's Bidirectional without return_sequences.  Keras 3.15 on the torch
backend multiplies float64 tensors in float32 (keras.ops.matmul computes in
backend.result_type, which maps float64 to float32 "to align with JAX"; a Dense without a
bias even returns float32, stored here as float64), so its cases hold to 1e-6; PyTorch's
to 1e-12.

    KERAS_BACKEND=torch /tmp/ref/bin/python tests/reference/make_network_forward.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, cast

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import torch

HERE = Path(__file__).parent
keras.config.set_floatx("float64")

#: A model description or one of its layers, as tomllib returns it.
Description = dict[str, Any]
Arrays = dict[str, np.ndarray]

RECURRENT = ("rnn", "lstm", "gru")
BASE = {"embedding": "embedding", "rnn": "rnn", "lstm": "lstm", "gru": "gru", "dense": "linear"}
ACTIVATION = {
    "identity": lambda a: a,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softmax": lambda a: torch.softmax(a, dim=-1),
}


def embedding(vocab_size: int, dim: int) -> Description:
    return {"kind": "embedding", "vocab_size": vocab_size, "dim": dim}


def recurrent(kind: str, hidden_size: int, **options: Any) -> Description:
    return {"kind": kind, "hidden_size": hidden_size, **options}


def dense(units: int, **options: Any) -> Description:
    return {"kind": "dense", "units": units, **options}


#: name: (framework, batch, model description); the timesteps are the description's.
CASES: dict[str, tuple[str, int, Description]] = {
    "lm_tied": (
        "pytorch",
        2,
        {
            "convention": "pytorch",
            "timesteps": 5,
            "layers": [
                embedding(11, 6),
                recurrent("lstm", 6, stack=2),
                dense(11, steps="all", tie=True),
            ],
        },
    ),
    "stack_heads": (
        "pytorch",
        3,
        {
            "convention": "pytorch",
            "timesteps": 6,
            "input_size": 5,
            "layers": [
                recurrent("lstm", 8, bidirectional=True),
                recurrent("gru", 4),
                dense(6, activation="relu"),
                dense(3),
            ],
        },
    ),
    "encoder_decoder": (
        "pytorch",
        3,
        {
            "convention": "pytorch",
            "timesteps": 6,
            "encoder": {"layers": [embedding(13, 5), recurrent("lstm", 7, stack=2)]},
            "decoder": {
                "timesteps": 4,
                "layers": [embedding(9, 4), recurrent("lstm", 7, stack=2), dense(9, steps="all")],
            },
        },
    ),
    "rnn_relu_per_step": (
        "pytorch",
        2,
        {
            "convention": "pytorch",
            "timesteps": 5,
            "input_size": 3,
            "layers": [
                recurrent("rnn", 4, activation="relu", bidirectional=True),
                dense(2, activation="sigmoid", steps="all"),
            ],
        },
    ),
    "lstm_proj_stack": (
        "pytorch",
        2,
        {
            "convention": "pytorch",
            "timesteps": 5,
            "input_size": 4,
            "layers": [
                recurrent("lstm", 6, proj_size=3),
                recurrent("lstm", 5),
                dense(2, activation="softmax"),
            ],
        },
    ),
    # Extra: a bidirectional GRU encoder-decoder (both directions' final states handed
    # over) under a bias-free per-step head.
    "gru_bi_encoder_decoder": (
        "pytorch",
        2,
        {
            "convention": "pytorch",
            "timesteps": 4,
            "encoder": {"layers": [embedding(7, 3), recurrent("gru", 4, bidirectional=True)]},
            "decoder": {
                "timesteps": 3,
                "layers": [
                    embedding(6, 3),
                    recurrent("gru", 4, bidirectional=True),
                    dense(6, steps="all", bias=False),
                ],
            },
        },
    ),
    # Extra: layers named by the description, two recurrent layers of one kind, a chain
    # of per-step dense layers and a bias-free tied output layer that is not the first.
    "named_tied_chain": (
        "pytorch",
        2,
        {
            "convention": "pytorch",
            "timesteps": 4,
            "layers": [
                {**embedding(7, 4), "name": "tokens"},
                recurrent("gru", 5, name="lower"),
                recurrent("gru", 3, bidirectional=True, name="upper"),
                dense(4, activation="tanh", steps="all", name="bottleneck"),
                dense(7, steps="all", tie=True, bias=False, name="decode"),
            ],
        },
    ),
    # Extra: automatic names of repeated bases (rnn, rnn_1; linear, linear_1), a stack
    # inside a bidirectional tanh RNN, and a many-to-one head on a bias-free bidirectional
    # layer (h_n's last two rows: forward after step T, backward after step 1).
    "rnn_repeated_bases": (
        "pytorch",
        2,
        {
            "convention": "pytorch",
            "timesteps": 4,
            "input_size": 3,
            "layers": [
                recurrent("rnn", 4, stack=2, bidirectional=True),
                recurrent("rnn", 3, bias=False, bidirectional=True),
                dense(3, activation="tanh"),
                dense(2, bias=False),
            ],
        },
    ),
    "keras_stack": (
        "keras",
        2,
        {
            "convention": "keras",
            "timesteps": 7,
            "layers": [
                embedding(20, 6),
                recurrent("lstm", 5, bidirectional=True),
                recurrent("lstm", 3),
                dense(4, activation="relu"),
                dense(2, activation="softmax"),
            ],
        },
    ),
    "keras_gru_per_step": (
        "keras",
        2,
        {
            "convention": "keras",
            "timesteps": 5,
            "input_size": 4,
            "layers": [
                recurrent("gru", 5, reset_after=False),
                recurrent("gru", 3),
                dense(2, activation="tanh", steps="all"),
            ],
        },
    ),
    "keras_encoder_decoder": (
        "keras",
        2,
        {
            "convention": "keras",
            "timesteps": 5,
            "encoder": {"layers": [embedding(10, 4), recurrent("lstm", 6)]},
            "decoder": {
                "timesteps": 3,
                "layers": [
                    embedding(8, 3),
                    recurrent("lstm", 6),
                    dense(8, activation="softmax", steps="all"),
                ],
            },
        },
    ),
    # Extra: Keras's Bidirectional state order (forward then backward) across an
    # encoder-decoder of two recurrent layers each, with a GRU and a bidirectional LSTM.
    "keras_bi_encoder_decoder": (
        "keras",
        2,
        {
            "convention": "keras",
            "timesteps": 4,
            "encoder": {
                "layers": [
                    embedding(9, 3),
                    recurrent("lstm", 4, bidirectional=True),
                    recurrent("gru", 5),
                ]
            },
            "decoder": {
                "timesteps": 3,
                "layers": [
                    embedding(7, 3),
                    recurrent("lstm", 4, bidirectional=True),
                    recurrent("gru", 5),
                    dense(7, steps="all"),
                ],
            },
        },
    ),
    # Extra: a bidirectional SimpleRNN (relu) with a many-to-one bias-free head after a
    # per-layer bias-free GRU.
    "keras_rnn_bi_last": (
        "keras",
        3,
        {
            "convention": "keras",
            "timesteps": 4,
            "input_size": 3,
            "layers": [
                recurrent("gru", 4, bias=False),
                recurrent("rnn", 3, activation="relu", bidirectional=True),
                dense(2, bias=False),
            ],
        },
    ),
}


def sequences(description: Description) -> list[tuple[str, list[Description]]]:
    """(prefix, layers) of each sequence: one, or the encoder's and the decoder's."""
    if "encoder" in description:
        return [
            ("encoder.", description["encoder"]["layers"]),
            ("decoder.", description["decoder"]["layers"]),
        ]
    return [("", description["layers"])]


def module_names(layers: list[Description]) -> list[str]:
    """Each layer's name: its own, or its base numbered within the sequence."""
    seen: dict[str, int] = {}
    names = []
    for layer in layers:
        if "name" in layer:
            names.append(layer["name"])
            continue
        base = BASE[layer["kind"]]
        count = seen.get(base, 0)
        seen[base] = count + 1
        names.append(base if count == 0 else f"{base}_{count}")
    return names


def directions(layer: Description) -> int:
    return 2 if layer.get("bidirectional", False) else 1


def dense_input(layers: list[Description], index: int) -> str:
    """What the dense layer at ``index`` reads: "sequence", "last" or "dense"."""
    if layers[index - 1]["kind"] == "dense":
        if layers[index - 1].get("steps", "last") != layers[index].get("steps", "last"):
            raise ValueError("dense layers of one chain read the same steps")
        return "dense"
    return "sequence" if layers[index].get("steps", "last") == "all" else "last"


class TorchSequence(torch.nn.Module):  # type: ignore[misc]
    """One sequence of layers: [embedding], recurrent layers, dense layers."""

    def __init__(self, layers: list[Description], input_size: int | None) -> None:
        super().__init__()
        self.layers = layers
        self.names = module_names(layers)
        size = input_size
        embedding_name = None
        for name, layer in zip(self.names, layers, strict=True):
            kind = layer["kind"]
            module: torch.nn.Module
            if kind == "embedding":
                module = torch.nn.Embedding(layer["vocab_size"], layer["dim"])
                size, embedding_name = layer["dim"], name
            elif kind in RECURRENT:
                module = self._recurrent(layer, cast(int, size))
                size = directions(layer) * (layer.get("proj_size", 0) or layer["hidden_size"])
            else:
                module = torch.nn.Linear(size, layer["units"], bias=layer.get("bias", True))
                if layer.get("tie", False):
                    tied = cast(torch.nn.Embedding, getattr(self, cast(str, embedding_name)))
                    if tied.weight.shape != module.weight.shape:
                        raise ValueError(f"{name} cannot be tied to {embedding_name}")
                    module.weight = tied.weight
                size = layer["units"]
            self.add_module(name, module)

    @staticmethod
    def _recurrent(layer: Description, size: int) -> torch.nn.Module:
        kwargs: dict[str, Any] = {
            "num_layers": layer.get("stack", 1),
            "bias": layer.get("bias", True),
            "bidirectional": layer.get("bidirectional", False),
            "batch_first": True,
        }
        if layer["kind"] == "rnn":
            kwargs["nonlinearity"] = layer.get("activation", "tanh")
        if layer.get("proj_size", 0):
            kwargs["proj_size"] = layer["proj_size"]
        cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[layer["kind"]]
        return cls(size, layer["hidden_size"], **kwargs)

    def forward(
        self, x: torch.Tensor, initial: list[Any] | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, list[Any]]:
        """(h, y, final states of each recurrent layer) for x."""
        seq, h, y, last = x, None, None, None
        finals: list[Any] = []
        for index, (name, layer) in enumerate(zip(self.names, self.layers, strict=True)):
            module = getattr(self, name)
            if layer["kind"] == "embedding":
                seq = module(seq)
            elif layer["kind"] in RECURRENT:
                start = initial[len(finals)] if initial is not None else None
                seq, state = module(seq, start)
                finals.append(state)
                h_n = state[0] if layer["kind"] == "lstm" else state
                d = directions(layer)
                last = torch.cat(list(h_n[-d:]), dim=1)  # each direction's final state
                h = seq
            else:
                reads = dense_input(self.layers, index)
                source = {"sequence": seq, "last": last, "dense": y}[reads]
                y = ACTIVATION[layer.get("activation", "identity")](module(source))
        return h, y, finals


class TorchEncoderDecoder(torch.nn.Module):  # type: ignore[misc]
    """An encoder and a decoder sequence: names under ``encoder.`` and ``decoder.``."""

    def __init__(self, description: Description) -> None:
        super().__init__()
        input_size = description.get("input_size")
        self.encoder = TorchSequence(description["encoder"]["layers"], input_size)
        self.decoder = TorchSequence(description["decoder"]["layers"], None)

    def forward(
        self, x: torch.Tensor, x_decoder: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The decoder's (h, y), teacher-forced, from the encoder's final states."""
        _, _, states = self.encoder(x)
        h, y, _ = self.decoder(x_decoder, states)
        return h, y


def torch_weights(network: torch.nn.Module, rng: np.random.Generator) -> Arrays:
    """Draw each distinct parameter (PyTorch's init families) under its first name."""
    weights: Arrays = {}
    for name, parameter in network.named_parameters():  # a tied Parameter once
        owner = network.get_submodule(name.rsplit(".", 1)[0])
        shape = tuple(parameter.shape)
        if isinstance(owner, torch.nn.Embedding):
            weights[name] = rng.standard_normal(shape)
            continue
        fan = owner.in_features if isinstance(owner, torch.nn.Linear) else owner.hidden_size
        bound = 1 / np.sqrt(fan)
        weights[name] = rng.uniform(-bound, bound, shape)
    return weights


def pytorch_case(description: Description, batch: int, rng: np.random.Generator) -> Arrays:
    network: torch.nn.Module
    if "encoder" in description:
        network = TorchEncoderDecoder(description).double()
    else:  # module names: embedding.weight, lstm.weight_ih_l0, linear.bias ...
        network = TorchSequence(description["layers"], description.get("input_size")).double()
    weights = torch_weights(network, rng)
    by_id = {id(p): n for n, p in network.named_parameters()}
    state = {
        key: torch.from_numpy(weights[by_id[id(value)]])
        for key, value in network.state_dict(keep_vars=True).items()
    }
    network.load_state_dict(state, strict=True)
    arrays = {**weights, **inputs(description, batch, rng)}
    x = torch.from_numpy(arrays["x"])
    with torch.no_grad():
        if "x_decoder" in arrays:
            h, y = network(x, torch.from_numpy(arrays["x_decoder"]))
        else:
            h, y, _ = network(x)
    arrays["h"] = cast(torch.Tensor, h).numpy()
    if y is not None:
        arrays["y"] = y.numpy()
    if bare(description):  # rnncalc names a lone nn.RNN and nn.Linear by their own keys
        arrays = {key.rsplit(".", 1)[-1]: value for key, value in arrays.items()}
    return arrays


def bare(description: Description) -> bool:
    """A network of one recurrent layer and at most one dense layer, no embedding, no
    encoder and no names: rnncalc names its tensors without module prefixes.
    """
    layers = description.get("layers", [])
    kinds = [layer["kind"] for layer in layers]
    return (
        "encoder" not in description
        and "embedding" not in kinds
        and sum(kind in ("rnn", "lstm", "gru") for kind in kinds) == 1
        and kinds.count("dense") <= 1
        and not any("name" in layer for layer in layers)
    )


def inputs(description: Description, batch: int, rng: np.random.Generator) -> Arrays:
    """x: token ids (int64) or features (float64); x_decoder: the decoder's token ids."""
    arrays: Arrays = {}
    for (prefix, layers), steps in zip(
        sequences(description),
        (description["timesteps"], description.get("decoder", {}).get("timesteps")),
        strict=False,
    ):
        key = "x_decoder" if prefix == "decoder." else "x"
        first = layers[0]
        if first["kind"] == "embedding":
            arrays[key] = rng.integers(0, first["vocab_size"], (batch, steps), dtype=np.int64)
        else:
            arrays[key] = rng.standard_normal((batch, steps, description["input_size"]))
    return arrays


def keras_layer(layer: Description, sequences_out: bool, state_out: bool) -> Any:
    kind = layer["kind"]
    if kind == "embedding":
        return keras.layers.Embedding(layer["vocab_size"], layer["dim"])
    if kind == "dense":
        activation = layer.get("activation", "identity")
        return keras.layers.Dense(
            layer["units"],
            activation=None if activation == "identity" else activation,
            use_bias=layer.get("bias", True),
        )
    if layer.get("stack", 1) != 1 or layer.get("proj_size", 0):
        raise ValueError("Keras has no stacked or projected recurrent layer")
    kwargs: dict[str, Any] = {
        "return_sequences": sequences_out,
        "return_state": state_out,
        "use_bias": layer.get("bias", True),
    }
    if kind == "gru":
        kwargs["reset_after"] = layer.get("reset_after", True)
    if kind == "rnn":
        kwargs["activation"] = layer.get("activation", "tanh")
    cls = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
    made = cls[kind](layer["hidden_size"], **kwargs)
    return keras.layers.Bidirectional(made) if layer.get("bidirectional", False) else made


def keras_sequence(
    layers: list[Description], x: Any, trunk: bool, pair: str, initial: list[Any] | None = None
) -> tuple[Any, list[Any]]:
    """The sequence's output and each recurrent layer's final states.

    ``trunk``: stop at the last recurrent layer and let it return sequences (for h);
    ``pair``: "" alone, "encoder" (states out) or "decoder" (states in).
    """
    recurrent_at = [k for k, layer in enumerate(layers) if layer["kind"] in RECURRENT]
    finals: list[Any] = []
    for index, layer in enumerate(layers):
        if trunk and index > recurrent_at[-1]:
            break
        if layer["kind"] not in RECURRENT:
            x = keras_layer(layer, False, False)(x)
            continue
        feeds_sequence = index != recurrent_at[-1] or (
            index + 1 < len(layers) and layers[index + 1].get("steps", "last") == "all"
        )
        made = keras_layer(layer, feeds_sequence or trunk, pair == "encoder")
        if pair == "decoder":
            x = made(x, initial_state=cast(list[Any], initial)[len(finals)])
            finals.append(None)
        elif pair == "encoder":
            x, *states = made(x)
            finals.append(states)  # Bidirectional: forward's states, then backward's
        else:
            x = made(x)
    return x, finals


def keras_model(description: Description, trunk: bool) -> Any:
    keras.utils.clear_session()  # fresh automatic names: embedding, lstm, lstm_1, dense ...
    if "encoder" in description:
        x = keras.Input((description["timesteps"],), dtype="int64")
        x_decoder = keras.Input((description["decoder"]["timesteps"],), dtype="int64")
        encoder = description["encoder"]["layers"]
        _, states = keras_sequence(encoder, x, trunk=False, pair="encoder")
        decoder = description["decoder"]["layers"]
        out, _ = keras_sequence(decoder, x_decoder, trunk, pair="decoder", initial=states)
        return keras.Model([x, x_decoder], out)
    first = description["layers"][0]
    if first["kind"] == "embedding":
        x = keras.Input((description["timesteps"],), dtype="int64")
    else:
        x = keras.Input((description["timesteps"], description["input_size"]))
    out, _ = keras_sequence(description["layers"], x, trunk, pair="")
    return keras.Model(x, out)


def keras_paths(model: Any) -> dict[str, Any]:
    return {v.path.removeprefix(f"{model.name}/"): v for v in model.weights}


def keras_weights(variables: dict[str, Any], rng: np.random.Generator) -> Arrays:
    """Draw each variable: embeddings N(0, 1), the rest U(±1/sqrt(units or fan-in))."""
    weights: Arrays = {}
    for path, variable in variables.items():
        shape = tuple(variable.shape)
        owner = path.rsplit("/", 1)[0]
        if path.endswith("/embeddings"):
            weights[path] = rng.standard_normal(shape)
            continue
        if owner.endswith("_cell"):  # a recurrent cell: its units
            fan = variables[f"{owner}/recurrent_kernel"].shape[0]
        else:  # a dense layer: its inputs
            fan = variables[f"{owner}/kernel"].shape[0]
        bound = 1 / np.sqrt(fan)
        weights[path] = rng.uniform(-bound, bound, shape)
    return weights


def keras_case(description: Description, batch: int, rng: np.random.Generator) -> Arrays:
    trunk = keras_model(description, trunk=True)
    model = keras_model(description, trunk=False)
    variables, trunk_variables = keras_paths(model), keras_paths(trunk)
    if not trunk_variables.keys() <= variables.keys():
        raise ValueError(f"trunk paths {sorted(trunk_variables.keys() - variables.keys())}")
    weights = keras_weights(variables, rng)
    for path, variable in (*variables.items(), *trunk_variables.items()):
        variable.assign(weights[path])
    arrays = {**weights, **inputs(description, batch, rng)}
    feed = [arrays["x"], arrays["x_decoder"]] if "x_decoder" in arrays else arrays["x"]
    # float64 as stored: a bias-free Dense hands back ops.matmul's float32 (see the top)
    arrays["h"] = np.asarray(keras.ops.convert_to_numpy(trunk(feed)), dtype=np.float64)
    if any(layer["kind"] == "dense" for _, layers in sequences(description) for layer in layers):
        arrays["y"] = np.asarray(keras.ops.convert_to_numpy(model(feed)), dtype=np.float64)
    return arrays


def main() -> None:
    rng = np.random.default_rng(2027)
    meta_cases: dict[str, Any] = {}
    for name, (framework, batch, description) in CASES.items():
        make = pytorch_case if framework == "pytorch" else keras_case
        arrays = make(description, batch, rng)
        # cast: mypy checks a ** argument against savez's own allow_pickle: bool as well
        np.savez(HERE / f"network_forward_{name}.npz", **cast(dict[str, Any], arrays))
        meta_cases[name] = {
            "model": description,
            "batch": batch,
            "tolerance": 1e-12 if framework == "pytorch" else 1e-6,
            "framework": framework,
        }
    meta = {
        "torch": torch.__version__,
        "keras": keras.__version__,
        "dtype": "float64",
        "cases": meta_cases,
    }
    (HERE / "network_forward_cases.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(CASES)} cases to {HERE}")


if __name__ == "__main__":
    main()
