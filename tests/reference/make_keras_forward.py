"""Run the reference Keras files in Keras, for tests/test_forward_keras.py.

Run in the framework venv (keras 3.15.1 on torch 2.13.0, h5py; see CONTRIBUTING.md), after
make_keras_checkpoints.py:

    KERAS_BACKEND=torch /tmp/ref/bin/python tests/reference/make_keras_forward.py

Each ``.keras`` archive and Keras 2 ``.h5`` model file is loaded with
``keras.saving.load_model(compile=False)`` (keras_rnn.h5's legacy training config names
its loss as Keras 3 cannot deserialize; the run needs no compiled loss); each
``.weights.h5`` file is loaded with ``load_weights`` into the model
make_keras_checkpoints.py builds for it.  Inputs are fixed (seeded NumPy): token ids for
the embedding models (keras_lm, keras_encoder_decoder: ``x`` and ``x_decoder``), float x
otherwise.  Every reference Keras file is float32 (Keras's default dtype policy), so every
case is float32 and holds to the float32 tolerance; no Keras file here is float64.

Writes keras_forward_<case>.npz (x, and x_decoder; h; y) and keras_forward.json:

* h is the top recurrent layer's outputs at every step, batch first.  Where that layer
  returns its sequence (the encoder-decoder's decoder LSTM) h is a sub-model's output,
  ``keras.Model(model.inputs, layer.output)``.  Where it returns its last step only
  (keras_lm's LSTM(4), keras_gru's GRU(4), keras_rnn's SimpleRNN), h is a copy of that
  layer made from its config with ``return_sequences=True``, given the layer's own weights
  (``set_weights(get_weights())``), run by Keras on the layer's input as the loaded model
  computes it (a sub-model to ``layer.input``); its last step is checked to equal the
  layer's own output.
* y is the model's output, ``model(x)``: the head on the final state where the top
  recurrent layer returns its last step, the head on every step for the encoder-decoder,
  with the output activation the config gives (sigmoid, softmax), as rnncalc's recovered
  network runs it.
* A ``.weights.h5`` file holds no config, so not its activations: rnncalc takes tanh for a
  SimpleRNN and identity for a Dense, as for a state_dict, and says so.  Its case gives the
  activations the model that wrote it has (``activations``: keras_gru's sigmoid output,
  keras_rnn's relu SimpleRNN and softmax output), which the test sets with
  ``--hidden-activation`` and ``--output-activation``.
* keras_lambda.keras is no case: a Lambda (x * 2) and a custom Scale layer run before its
  LSTM, and rnncalc runs neither (inspect notes both).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np
import torch
from make_keras_checkpoints import gru_model, language_model, rnn_model

HERE = Path(__file__).parent
CHECKPOINTS = HERE / "checkpoints"
BATCH = 3
TOLERANCE = {"float64": 1e-10, "float32": 2e-5}
RECURRENT = (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)

Arrays = dict[str, np.ndarray[Any, Any]]


def rng(name: str) -> np.random.Generator:
    return np.random.default_rng(sum(map(ord, name)))


def floats(name: str, steps: int, features: int) -> np.ndarray[Any, Any]:
    return rng(name).standard_normal((BATCH, steps, features)).astype("float32")


def tokens(name: str, vocab: int, steps: int, seed: str = "") -> np.ndarray[Any, Any]:
    return rng(name + seed).integers(0, vocab, (BATCH, steps))


def numpy(tensor: Any) -> np.ndarray[Any, Any]:
    array: np.ndarray[Any, Any] = keras.ops.convert_to_numpy(tensor)
    return array


def loaded(file: str, build: Callable[[], keras.Model] | None = None) -> keras.Model:
    path = CHECKPOINTS / file
    if file.endswith(".weights.h5"):
        assert build is not None
        model = build()
        model.load_weights(path)
        return model
    return keras.saving.load_model(path, compile=False)


def top_recurrent(model: keras.Model) -> keras.layers.Layer:
    found = [x for x in model.layers if isinstance(x, (*RECURRENT, keras.layers.Bidirectional))]
    return found[-1]


def sequence_of(model: keras.Model, x: Any) -> np.ndarray[Any, Any]:
    """The top recurrent layer's outputs at every step, batch first (see the module's doc)."""
    layer = top_recurrent(model)
    assert isinstance(layer, RECURRENT), layer  # the top layers here are one-directional
    if layer.return_sequences:
        return numpy(keras.Model(model.inputs, layer.output)(x))
    below = numpy(keras.Model(model.inputs, layer.input)(x))
    config = {**layer.get_config(), "return_sequences": True, "name": layer.name + "_all"}
    every = type(layer).from_config(config)
    every.build(below.shape)
    every.set_weights(layer.get_weights())
    h = numpy(every(below))
    np.testing.assert_array_equal(h[:, -1], numpy(layer(below)))
    return h


def case(file: str, x: Arrays, build: Callable[[], keras.Model] | None = None) -> Arrays:
    model = loaded(file, build)
    feed = [x["x"], x["x_decoder"]] if "x_decoder" in x else x["x"]
    h = sequence_of(model, feed)
    return {**x, "h": h, "y": numpy(model(feed))}


def lm(file: str) -> Arrays:
    return case(file, {"x": tokens(file.split(".", maxsplit=1)[0], 13, 5)}, language_model)


def gru(file: str) -> Arrays:
    return case(file, {"x": floats(file.split(".", maxsplit=1)[0], 6, 3)}, gru_model)


def rnn(file: str) -> Arrays:
    return case(file, {"x": floats(file.split(".", maxsplit=1)[0], 4, 3)}, rnn_model)


def encoder_decoder(file: str) -> Arrays:
    stem = file.split(".", maxsplit=1)[0]
    return case(file, {"x": tokens(stem, 20, 5), "x_decoder": tokens(stem, 15, 4, "decoder")})


#: What a .weights.h5 file does not hold: the activations of the model that wrote it.
ACTIVATIONS = {
    "keras_gru.weights.h5": {"output_activation": "sigmoid"},
    "keras_rnn.weights.h5": {"hidden_activation": "relu", "output_activation": "softmax"},
}

CASES: dict[str, tuple[str, Callable[[str], Arrays]]] = {
    "lm": ("keras_lm.keras", lm),
    "lm_weights": ("keras_lm.weights.h5", lm),
    "lm_h5": ("keras_lm.h5", lm),
    "gru": ("keras_gru.keras", gru),
    "gru_weights": ("keras_gru.weights.h5", gru),
    "rnn": ("keras_rnn.keras", rnn),
    "rnn_weights": ("keras_rnn.weights.h5", rnn),
    "rnn_h5": ("keras_rnn.h5", rnn),
    "encoder_decoder": ("keras_encoder_decoder.keras", encoder_decoder),
}


def main() -> None:
    index: dict[str, Any] = {}
    for name, (file, make) in CASES.items():
        arrays = make(file)
        dtype = "float64" if arrays["h"].dtype == np.float64 else "float32"
        index[name] = {
            "file": file,
            "dtype": dtype,
            "tolerance": TOLERANCE[dtype],
            "framework": f"keras {keras.__version__} (torch {torch.__version__}, "
            f"h5py {h5py.__version__})",
        }
        if file in ACTIVATIONS:
            index[name]["activations"] = ACTIVATIONS[file]
        np.savez(HERE / f"keras_forward_{name}.npz", allow_pickle=False, **arrays)
    (HERE / "keras_forward.json").write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    main()
