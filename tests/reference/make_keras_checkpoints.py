"""Write small Keras files with Keras's own writers, for tests/test_keras_files.py.

Run in the framework venv (keras 3.15.1 on torch 2.13.0, h5py; see CONTRIBUTING.md):

    KERAS_BACKEND=torch /tmp/ref/bin/python tests/reference/make_keras_checkpoints.py

Writes tests/reference/checkpoints/keras_*: ``.keras`` archives, ``.weights.h5`` files
and Keras 2 layout ``.h5`` files (``model.save("m.h5")``, the legacy writer), and
keras_checkpoints.json with each file's datasets (name and shape, as h5py lists them) and
Keras's own count_params(); the tests read them without Keras installed.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np
from keras import layers

OUT = Path(__file__).with_name("checkpoints")


@keras.saving.register_keras_serializable(package="rnncalc_tests")
class Scale(keras.layers.Layer):  # type: ignore[misc]
    """A custom layer with one weight per feature: no layer rnncalc models ("other")."""

    def build(self, input_shape: tuple[int, ...]) -> None:
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, inputs: Any) -> Any:
        return inputs * self.scale


def language_model() -> keras.Model:
    """Embedding 13 x 5, a bidirectional LSTM of 8 returning sequences, an LSTM of 4 and a
    Dense of 3 on its last step.
    """
    return keras.Sequential([
        keras.Input((None,), dtype="int32"),
        layers.Embedding(13, 5),
        layers.Bidirectional(layers.LSTM(8, return_sequences=True)),
        layers.LSTM(4),
        layers.Dense(3),
    ])  # fmt: skip


def gru_model() -> keras.Model:
    """A GRU with reset_after=False (bias 3H), a TimeDistributed Dense, a dropout and a
    GRU with the default reset_after (bias (2, 3H)), then a Dense.
    """
    return keras.Sequential([
        keras.Input((6, 3)),
        layers.GRU(5, reset_after=False, return_sequences=True),
        layers.TimeDistributed(layers.Dense(2)),
        layers.Dropout(0.1),
        layers.GRU(4),
        layers.Dense(1, activation="sigmoid"),
    ])  # fmt: skip


def rnn_model() -> keras.Model:
    """A SimpleRNN of 5 without bias (relu) and a softmax Dense, trained one step with
    Adam: its optimizer's state is saved too ("other").
    """
    model = keras.Sequential([
        keras.Input((4, 3)),
        layers.SimpleRNN(5, use_bias=False, activation="relu"),
        layers.Dense(2, activation="softmax"),
    ])  # fmt: skip
    model.compile("adam", "mse")
    model.fit(np.ones((2, 4, 3)), np.ones((2, 2)), verbose=0)
    return model


def encoder_decoder() -> keras.Model:
    """A functional encoder-decoder: the decoder's LSTM starts from the encoder's h and c."""
    source = keras.Input((None,), dtype="int32", name="source")
    _, h, c = layers.LSTM(7, return_state=True)(layers.Embedding(20, 6)(source))
    target = keras.Input((None,), dtype="int32", name="target")
    decoded = layers.LSTM(7, return_sequences=True)(
        layers.Embedding(15, 6)(target), initial_state=[h, c]
    )
    return keras.Model([source, target], layers.Dense(15, activation="softmax")(decoded))


def lambda_model() -> keras.Model:
    """A Lambda layer (code in the config, never run by rnncalc) and a custom layer with a
    weight in front of an LSTM.
    """
    return keras.Sequential([
        keras.Input((4, 3)),
        layers.Lambda(lambda x: x * 2.0),
        Scale(),
        layers.LSTM(3),
        layers.Dense(1),
    ])  # fmt: skip


def datasets(path: Path) -> list[list[Any]]:
    """Every dataset of a Keras file (in an archive: of its weights member), as h5py sees it."""
    found: list[list[Any]] = []

    def visit(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            found.append([name, list(item.shape)])

    if path.suffix == ".keras":
        with (
            zipfile.ZipFile(path) as archive,
            archive.open("model.weights.h5") as member,
            h5py.File(member, "r") as h5,
        ):
            h5.visititems(visit)
    else:
        with h5py.File(path, "r") as h5:
            h5.visititems(visit)
    return found


def main() -> None:
    keras.utils.set_random_seed(0)
    OUT.mkdir(exist_ok=True)
    rows = []
    makers = {
        "keras_lm": (language_model, (".keras", ".weights.h5", ".h5")),
        "keras_gru": (gru_model, (".keras", ".weights.h5")),
        "keras_rnn": (rnn_model, (".keras", ".weights.h5", ".h5")),
        "keras_encoder_decoder": (encoder_decoder, (".keras",)),
        "keras_lambda": (lambda_model, (".keras",)),
    }
    for stem, (make, suffixes) in makers.items():
        model = make()
        custom = sum(x.count_params() for x in model.layers if isinstance(x, Scale))
        for suffix in suffixes:
            path = OUT / f"{stem}{suffix}"
            if suffix == ".weights.h5":
                model.save_weights(path)
            else:
                model.save(path)
            rows.append({
                "file": path.name,
                "count_params": model.count_params(),
                "not_modelled": custom,
                "datasets": datasets(path),
            })  # fmt: skip
    versions = {"keras": keras.__version__, "h5py": h5py.__version__, "backend": "torch"}
    text = json.dumps({"versions": versions, "files": rows}, indent=1)
    (OUT / "keras_checkpoints.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
