"""Compute reference forward passes in PyTorch and Keras; write forward_<case>.npz and
forward_cases.json.

Not part of the test suite and not needed by it.  Each case draws weights in one
convention's names and shapes, loads them into the framework by those names (a PyTorch
state_dict, Keras variable paths), runs it in float64 and stores the weights, x, the top
layer's outputs h (B, T, D*H) and y.  Many-to-one heads read each direction's final state:
PyTorch's h_n for the last layer, Keras's Bidirectional without return_sequences.

* seed vanilla RNN: nn.RNN with weight_ih = W_xh.T, weight_hh = W_hh.T, bias_ih = b_h,
  bias_hh = 0, then nn.Linear; activations nn.RNN lacks (sigmoid, identity) run as an
  explicit loop of torch ops.
* seed LSTM and GRU: Keras LSTM and GRU(reset_after=False), the textbook cells, with the
  per-gate tensors cut from Keras's stacked kernels here.

Keras computes parts of some layers in float32 even under floatx float64, so its cases
carry a tolerance of 1e-6 (the layouts they prove would be off by O(1) if wrong); PyTorch's
cases hold to 1e-12.

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch==2.13.0 keras numpy
    KERAS_BACKEND=torch /tmp/ref/bin/python tests/reference/make_forward_reference.py
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

#: One case: its sizes, model options and run options, by the names used below.
Case = dict[str, Any]

VANILLA_FIELDS = ("B", "T", "I", "H", "O", "hidden", "output", "outputs")
VANILLA: dict[str, Case] = {
    name: dict(zip(VANILLA_FIELDS, values, strict=True))
    for name, values in {
        "seed": (2, 3, 4, 3, 1, "tanh", "identity", "last"),
        "relu_all_sigmoid": (3, 5, 3, 4, 2, "relu", "sigmoid", "all"),
        "softmax": (2, 6, 5, 7, 4, "tanh", "softmax", "last"),
        "no_output": (1, 4, 2, 5, 0, "tanh", "identity", "last"),
        "sigmoid_tanh_all": (4, 3, 6, 2, 3, "sigmoid", "tanh", "all"),
        "identity_long": (2, 40, 3, 8, 1, "identity", "identity", "last"),
    }.items()
}

# Gated, stacked and bidirectional cases: sizes, model options and the run.
MODELS: dict[str, Case] = {
    "pytorch_lstm": {"B": 2, "T": 5, "I": 4, "H": 3, "O": 2, "cell": "lstm"},
    "pytorch_gru_2_layers_bi": {
        "B": 3,
        "T": 4,
        "I": 3,
        "H": 4,
        "O": 1,
        "cell": "gru",
        "layers": 2,
        "bidirectional": True,
    },
    "pytorch_lstm_proj_bi_all": {
        "B": 2,
        "T": 6,
        "I": 5,
        "H": 4,
        "O": 3,
        "cell": "lstm",
        "layers": 2,
        "bidirectional": True,
        "proj_size": 2,
        "outputs": "all",
    },
    "pytorch_rnn_relu_bi_no_bias": {
        "B": 2,
        "T": 5,
        "I": 3,
        "H": 4,
        "O": 2,
        "cell": "rnn",
        "bidirectional": True,
        "bias": False,
        "hidden": "relu",
    },
    "pytorch_lstm_stack_no_head": {
        "B": 2,
        "T": 7,
        "I": 3,
        "H": 5,
        "O": 0,
        "cell": "lstm",
        "layers": 3,
    },
    "keras_gru": {"B": 2, "T": 5, "I": 4, "H": 3, "O": 2, "cell": "gru", "output": "softmax"},
    "keras_gru_reset_before_bi": {
        "B": 3,
        "T": 4,
        "I": 3,
        "H": 4,
        "O": 1,
        "cell": "gru",
        "reset_after": False,
        "bidirectional": True,
        "layers": 2,
    },
    "keras_lstm_all": {"B": 2, "T": 6, "I": 5, "H": 3, "O": 2, "cell": "lstm", "outputs": "all"},
    "keras_simple_rnn_bi": {
        "B": 2,
        "T": 4,
        "I": 3,
        "H": 5,
        "O": 1,
        "cell": "rnn",
        "bidirectional": True,
    },
    "keras_lstm_no_bias": {"B": 2, "T": 4, "I": 3, "H": 3, "O": 1, "cell": "lstm", "bias": False},
    "seed_lstm": {"B": 2, "T": 5, "I": 4, "H": 3, "O": 1, "cell": "lstm"},
    "seed_gru_2_layers_bi": {
        "B": 2,
        "T": 4,
        "I": 3,
        "H": 4,
        "O": 2,
        "cell": "gru",
        "layers": 2,
        "bidirectional": True,
    },
}
for name, case in MODELS.items():
    case["convention"] = name.split("_")[0]
    # Keras 3.15 on the torch backend computes parts of SimpleRNN, GRU(reset_after=False)
    # and softmax in float32 even with floatx float64 (seen: differences of ~5e-8 against
    # a plain NumPy loop), so its references hold to 1e-6; PyTorch's to 1e-12.
    case["tolerance"] = 1e-12 if case["convention"] == "pytorch" else 1e-6
    for key, default in (
        ("layers", 1),
        ("bidirectional", False),
        ("bias", True),
        ("proj_size", 0),
        ("reset_after", True),
        ("hidden", "tanh"),
        ("output", "identity"),
        ("outputs", "last"),
    ):
        case.setdefault(key, default)

OUTPUT = {
    "identity": lambda a: a,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softmax": lambda a: torch.softmax(a, dim=-1),
}
KERAS_CELL = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
GATES = {"lstm": "ifgo", "gru": "rzn"}  # seed per-gate names, PyTorch's order
KERAS_GATES = {"lstm": "ifgo", "gru": "zrn"}


def vanilla_states(case: Case, w: dict[str, np.ndarray], x: torch.Tensor) -> torch.Tensor:
    t = torch.from_numpy
    if case["hidden"] in ("tanh", "relu"):
        rnn = torch.nn.RNN(case["I"], case["H"], nonlinearity=case["hidden"], batch_first=True)
        rnn = rnn.double()
        with torch.no_grad():
            rnn.weight_ih_l0.copy_(t(w["W_xh"].T))
            rnn.weight_hh_l0.copy_(t(w["W_hh"].T))
            rnn.bias_ih_l0.copy_(t(w["b_h"]))
            rnn.bias_hh_l0.zero_()
            return rnn(x)[0]
    f = torch.sigmoid if case["hidden"] == "sigmoid" else (lambda a: a)
    h = torch.zeros(x.shape[0], case["H"], dtype=torch.float64)
    states = []
    for step in range(x.shape[1]):
        h = f(x[:, step] @ t(w["W_xh"]) + h @ t(w["W_hh"]) + t(w["b_h"]))
        states.append(h)
    return torch.stack(states, dim=1)


def make_vanilla(rng: np.random.Generator) -> None:
    for name, case in VANILLA.items():
        b, steps, i, h, o = (case[k] for k in "BTIHO")
        bound = 1 / np.sqrt(h)
        w = {
            "W_xh": rng.uniform(-bound, bound, (i, h)),
            "W_hh": rng.uniform(-bound, bound, (h, h)),
            "b_h": rng.uniform(-bound, bound, (h,)),
        }
        if o:
            w["W_yh"] = rng.uniform(-bound, bound, (h, o))
            w["b_y"] = rng.uniform(-bound, bound, (o,))
        x = rng.standard_normal((b, steps, i))
        with torch.no_grad():
            states = vanilla_states(case, w, torch.from_numpy(x))
            arrays = {**w, "x": x, "h": states.numpy()}
            if o:
                head = torch.nn.Linear(h, o).double()
                head.weight.copy_(torch.from_numpy(w["W_yh"].T))
                head.bias.copy_(torch.from_numpy(w["b_y"]))
                features = states if case["outputs"] == "all" else states[:, -1]
                arrays["y"] = OUTPUT[case["output"]](head(features)).numpy()
        np.savez(HERE / f"forward_{name}.npz", **arrays)


def pytorch_case(case: Case, rng: np.random.Generator, x: np.ndarray) -> dict[str, np.ndarray]:
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[case["cell"]]
    kwargs: dict[str, Any] = {
        "num_layers": case["layers"],
        "bias": case["bias"],
        "bidirectional": case["bidirectional"],
        "batch_first": True,
    }
    if case["cell"] == "rnn":
        kwargs["nonlinearity"] = case["hidden"]
    if case["proj_size"]:
        kwargs["proj_size"] = case["proj_size"]
    module = cls(case["I"], case["H"], **kwargs).double()
    bound = 1 / np.sqrt(case["H"])
    weights = {
        k: rng.uniform(-bound, bound, tuple(v.shape)) for k, v in module.state_dict().items()
    }
    module.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    d = 2 if case["bidirectional"] else 1
    features = d * (case["proj_size"] or case["H"])
    with torch.no_grad():
        out, state = module(torch.from_numpy(x))
        h_n = state[0] if case["cell"] == "lstm" else state
        arrays = {**weights, "x": x, "h": out.numpy()}
        if case["O"]:
            head = torch.nn.Linear(features, case["O"]).double()
            head_weights = {
                "weight": rng.uniform(-bound, bound, (case["O"], features)),
                "bias": rng.uniform(-bound, bound, (case["O"],)),
            }
            head.load_state_dict({k: torch.from_numpy(v) for k, v in head_weights.items()})
            last = torch.cat(list(h_n[-d:]), dim=1)  # each direction's final state
            inputs = out if case["outputs"] == "all" else last
            arrays |= head_weights
            arrays["y"] = OUTPUT[case["output"]](head(inputs)).numpy()
    return arrays


def keras_model(case: Case, head: bool, last_sequences: bool) -> keras.Model:
    layers: list[Any] = [keras.Input((case["T"], case["I"]))]
    for k in range(case["layers"]):
        sequences = k < case["layers"] - 1 or last_sequences
        kwargs: dict[str, Any] = {"return_sequences": sequences, "use_bias": case["bias"]}
        if case["cell"] == "gru":
            kwargs["reset_after"] = case["reset_after"]
        layer = KERAS_CELL[case["cell"]](case["H"], **kwargs)
        layers.append(keras.layers.Bidirectional(layer) if case["bidirectional"] else layer)
    if head and case["O"]:
        layers.append(keras.layers.Dense(case["O"], activation=_keras_activation(case)))
    return keras.Sequential(layers)


def _keras_activation(case: Case) -> str | None:
    return None if case["output"] == "identity" else case["output"]


def keras_case(case: Case, rng: np.random.Generator, x: np.ndarray) -> dict[str, np.ndarray]:
    keras.utils.clear_session()  # fresh layer names: lstm, lstm_1, bidirectional, dense ...
    model = keras_model(case, head=True, last_sequences=case["outputs"] == "all")
    bound = 1 / np.sqrt(case["H"])
    weights = {}
    for variable in model.weights:
        name = variable.path.split("/", 1)[1]  # without the model's own name
        weights[name] = rng.uniform(-bound, bound, tuple(variable.shape))
        variable.assign(weights[name])
    y = model(x)
    trunk = keras_model(case, head=False, last_sequences=True)
    for source, target in zip(model.weights, trunk.weights, strict=False):
        target.assign(source)
    h = trunk(x)
    arrays = {**weights, "x": x, "h": keras.ops.convert_to_numpy(h)}
    if case["O"]:
        arrays["y"] = keras.ops.convert_to_numpy(y)
    return arrays


def seed_case(case: Case, rng: np.random.Generator, x: np.ndarray) -> dict[str, np.ndarray]:
    """The textbook cells through Keras, their stacked kernels cut into per-gate tensors."""
    keras_arrays = keras_case({**case, "reset_after": False}, rng, x)
    h = case["H"]
    arrays: dict[str, np.ndarray] = {
        k: keras_arrays[k] for k in ("x", "h", "y") if k in keras_arrays
    }
    base = {"lstm": "lstm", "gru": "gru"}[case["cell"]]
    for layer in range(case["layers"]):
        for direction in ("forward", "backward") if case["bidirectional"] else ("forward",):
            name = base if layer == 0 else f"{base}_{layer}"
            if case["bidirectional"]:
                wrapper = "bidirectional" if layer == 0 else f"bidirectional_{layer}"
                name = f"{wrapper}/{direction}_{name}"
            prefix = f"{name}/{base}_cell/"
            sfx = (f"_l{layer}" if case["layers"] > 1 else "") + (
                "_reverse" if direction == "backward" else ""
            )
            for k, gate in enumerate(KERAS_GATES[case["cell"]]):
                block = slice(k * h, (k + 1) * h)
                arrays[f"W_x{gate}{sfx}"] = keras_arrays[prefix + "kernel"][:, block]
                arrays[f"W_h{gate}{sfx}"] = keras_arrays[prefix + "recurrent_kernel"][:, block]
                arrays[f"b_{gate}{sfx}"] = keras_arrays[prefix + "bias"][block]
    if case["O"]:
        arrays["W_yh"] = keras_arrays["dense/kernel"]
        arrays["b_y"] = keras_arrays["dense/bias"]
    return arrays


def main() -> None:
    rng = np.random.default_rng(2026)
    make_vanilla(rng)
    for name, case in MODELS.items():
        x = rng.standard_normal((case["B"], case["T"], case["I"]))
        make = {"pytorch": pytorch_case, "keras": keras_case, "seed": seed_case}
        arrays = make[case["convention"]](case, rng, x)
        # cast: mypy checks a ** argument against savez's own allow_pickle: bool as well
        np.savez(HERE / f"forward_{name}.npz", **cast(dict[str, Any], arrays))
    meta = {
        "torch": torch.__version__,
        "keras": keras.__version__,
        "dtype": "float64",
        "cases": VANILLA,
        "models": MODELS,
    }
    (HERE / "forward_cases.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(VANILLA) + len(MODELS)} cases to {HERE}")


if __name__ == "__main__":
    main()
