"""Hypothesis strategies for whole networks: valid ones of every shape the model allows."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from rnncalc.model.network import Dense, Embedding, Layer, Network, Recurrent, Stage

SIZES = st.integers(1, 9)
NAMES = st.sampled_from(["", "", "", "enc", "body", "top_1"])  # distinct ones are kept


@st.composite
def recurrent(draw: Any, convention: str, cell: str | None = None) -> Recurrent:
    cell = cell or draw(st.sampled_from(["rnn", "lstm", "gru"]))
    hidden = draw(st.integers(2, 9))
    proj = draw(st.integers(0, hidden - 1)) if cell == "lstm" and convention == "pytorch" else 0
    reset_after = draw(st.booleans()) if cell == "gru" and convention == "keras" else True
    activation = draw(st.sampled_from(["tanh", "relu"])) if cell == "rnn" else "tanh"
    return Recurrent(
        cell,  # type: ignore[arg-type]
        hidden,
        bidirectional=draw(st.booleans()),
        bias=draw(st.booleans()),
        proj_size=proj,
        reset_after=reset_after,
        stack=draw(st.integers(1, 3)),
        activation=activation,
    )


@st.composite
def stages(draw: Any, convention: str) -> Stage:
    layers: list[Layer] = []
    embedding = draw(st.booleans())
    if embedding:
        layers.append(Embedding(draw(st.integers(1, 30)), draw(SIZES)))
    for _ in range(draw(st.integers(1, 3))):
        layers.append(draw(recurrent(convention)))
    last = layers[-1]
    assert isinstance(last, Recurrent)
    width = last.width
    steps = draw(st.sampled_from(["last", "all"]))
    count = draw(st.integers(0, 3))
    for j in range(count):
        tie = embedding and j == count - 1 and steps == "all" and draw(st.booleans())
        if tie:
            first = layers[0]
            assert isinstance(first, Embedding)
            if width != first.dim:  # a layer to the embedding's width first
                layers.append(Dense(first.dim, "tanh", steps))
            layers.append(Dense(first.vocab_size, steps=steps, tie=True))
            break
        units = draw(SIZES)
        activation = draw(st.sampled_from(["identity", "relu"]))
        layers.append(Dense(units, activation, steps, bias=draw(st.booleans())))
        width = units
    names = draw(st.lists(NAMES, min_size=len(layers), max_size=len(layers)))
    taken = [name for name in names if name]
    if len(set(taken)) == len(taken):
        layers = [layer.replace(name=name) for layer, name in zip(layers, names, strict=True)]
    input_size = None if embedding else draw(SIZES)
    return Stage(draw(st.integers(1, 12)), input_size, tuple(layers))


@st.composite
def networks(draw: Any) -> Network:
    """A valid network: one stage, or an encoder-decoder whose states fit."""
    convention = draw(st.sampled_from(["seed", "pytorch", "keras"]))
    notation = "concat" if convention == "seed" and draw(st.booleans()) else "separate"
    first = draw(stages(convention))
    if not draw(st.booleans()):
        return Network((first,), convention, notation)  # type: ignore[arg-type]
    encoder = Stage(first.timesteps, first.input_size, tuple(first.layers[: _dense_from(first)]))
    decoder_layers: list[Layer] = []
    if draw(st.booleans()):
        decoder_layers.append(Embedding(draw(st.integers(1, 30)), draw(SIZES)))
    decoder_layers += [layer.replace(name="") for layer in encoder.recurrent]
    decoder_layers.append(Dense(draw(SIZES), steps="all"))
    input_size = None if decoder_layers[0].kind == "embedding" else draw(SIZES)
    decoder = Stage(draw(st.integers(1, 12)), input_size, tuple(decoder_layers))
    return Network((encoder, decoder), convention, notation)  # type: ignore[arg-type]


def _dense_from(stage: Stage) -> int:
    """Index of the first dense layer (the encoder keeps what comes before it)."""
    return next(
        (k for k, layer in enumerate(stage.layers) if isinstance(layer, Dense)),
        len(stage.layers),
    )
