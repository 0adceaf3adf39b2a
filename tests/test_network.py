"""Whole networks: counts and names against PyTorch and Keras, the dense equivalent worked by
hand, the seed's network unchanged, and every rule of what may follow what.

The framework numbers come from tests/reference/network_counts.json (271 networks, written
by tests/reference/make_network_counts.py with PyTorch 2.13 and Keras 3.15) and the names
from the forward references (tests/reference/make_network_forward.py); these tests need
neither framework.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from networks import networks

from rnncalc import ModelSpec
from rnncalc.model import shapes
from rnncalc.model.modelfile import from_dict
from rnncalc.model.network import Dense, Embedding, Network, Recurrent, Stage
from rnncalc.model.spec import SpecError

REFERENCE = Path(__file__).parent / "reference"
COUNTS = json.loads((REFERENCE / "network_counts.json").read_text())["networks"]
FORWARD = json.loads((REFERENCE / "network_forward_cases.json").read_text())["cases"]


def test_reference_data_covers_what_the_issue_asks() -> None:
    assert len(COUNTS) >= 200
    kinds = {row["id"].split("-")[1] for row in COUNTS}
    assert {"emb", "multi", "head", "tied", "s2s", "td"} <= kinds
    assert {row["framework"] for row in COUNTS} == {"pytorch", "keras"}
    published = {row["id"] for row in COUNTS if row.get("source")}
    assert {"kr-keras-io-bidirectional-lstm-imdb", "pt-sutskever-2014-seq2seq"} <= published


@pytest.mark.parametrize("row", COUNTS, ids=[row["id"] for row in COUNTS])
def test_total_equals_the_framework(row: dict[str, Any]) -> None:
    network = from_dict(row["model"])
    assert sum(w.count for w in shapes.rnn_weights(network)) == row["total"]
    assert sum(t.count for t in shapes.rnn_terms(network)) == row["total"]


NAMED = [row for row in COUNTS if row["names_follow_rnncalc"]]


@pytest.mark.parametrize("row", NAMED, ids=[row["id"] for row in NAMED])
def test_names_and_shapes_equal_the_framework(row: dict[str, Any]) -> None:
    listed = [(w.name, list(w.shape)) for w in shapes.rnn_weights(from_dict(row["model"]))]
    measured = [(name, shape) for name, shape in row["tensors"]]
    if row["framework"] == "keras" and "encoder" in row["model"]:
        # Keras lists a functional model's weights by depth in its graph, not layer order.
        listed, measured = sorted(listed), sorted(measured)
    assert listed == measured


@pytest.mark.parametrize("case", FORWARD, ids=list(FORWARD))
def test_names_equal_the_forward_references(case: str) -> None:
    with np.load(REFERENCE / f"network_forward_{case}.npz") as arrays:
        stored = {k: arrays[k].shape for k in arrays if k not in ("x", "x_decoder", "h", "y")}
    listed = shapes.rnn_weights(from_dict(FORWARD[case]["model"]))
    assert {w.name: w.shape for w in listed if not w.tied} == stored


def test_sutskever_seq2seq_is_384m() -> None:
    """Sutskever, Vinyals and Le (2014): 384M parameters, 64M of them recurrent."""
    row = next(r for r in COUNTS if "sutskever" in r["id"])
    network = from_dict(row["model"])
    weights = shapes.rnn_weights(network)
    total = sum(w.count for w in weights)
    recurrent = sum(w.count for w in weights if w.part == "recurrent" and w.role != "input_bias")
    assert total == row["total"] == 384_144_000
    # the paper's 64M counts W_ih and W_hh: 2 LSTMs x 4 layers x 4·1000·(1000 + 1000)
    matrices = sum(w.count for w in weights if w.role in ("input", "recurrent"))
    assert matrices == 64_000_000
    assert recurrent - matrices == 32_000  # PyTorch's bias_hh, which the paper leaves out


def test_the_seeds_network_is_one_recurrent_layer_and_one_dense_layer() -> None:
    network = ModelSpec().network()
    (stage,) = network.stages
    assert stage.layers == (Recurrent("rnn", 3), Dense(1))
    assert (stage.timesteps, stage.input_size) == (3, 4)
    assert sum(w.count for w in shapes.rnn_weights(network)) == 28
    assert sum(w.count for w in shapes.dense_weights(network)) == 127
    assert [w.name for w in shapes.rnn_weights(network)] == ["W_xh", "W_hh", "b_h", "W_yh", "b_y"]


def test_dense_equivalent_of_an_embedded_network_worked_by_hand() -> None:
    # V=10, E=4 -> LSTM H=3 -> dense O=2 on the last step, T=5.  The dense equivalent:
    # the same table 10·4 = 40; W_1 (T·E = 20, T·H = 15): 300 + 15; W_2 (15, 2): 30 + 2.
    stage = Stage(5, None, (Embedding(10, 4), Recurrent("lstm", 3), Dense(2)))
    weights = shapes.dense_weights(Network((stage,)))
    assert [(w.name, w.shape) for w in weights] == [
        ("W_e", (10, 4)),
        ("W_1", (20, 15)),
        ("b_1", (15,)),
        ("W_2", (15, 2)),
        ("b_2", (2,)),
    ]
    assert sum(w.count for w in weights) == 387


def test_dense_equivalent_of_an_encoder_decoder_worked_by_hand() -> None:
    # Encoder T=3, I=2, RNN H=2; decoder Td=2, Id=1, RNN H=2, dense O=1 at every step.
    # Encoder: W_1 (3·2, 3·2) + b = 42.  Decoder: W_1 reads its 2·1 inputs and the
    # encoder's 6 outputs (in place of the final state): (8, 4) + 4 = 36.  Head: (2, 1) + 1.
    network = Network(
        (
            Stage(3, 2, (Recurrent("rnn", 2),)),
            Stage(2, 1, (Recurrent("rnn", 2), Dense(1, steps="all"))),
        )
    )
    weights = shapes.dense_weights(network)
    assert [(w.name, w.shape, w.symbols) for w in weights] == [
        ("encoder.W_1", (6, 6), ("T·I", "T·H")),
        ("encoder.b_1", (6,), ("T·H",)),
        ("decoder.W_1", (8, 4), ("Td·Id+T·H", "Td·Hd")),
        ("decoder.b_1", (4,), ("Td·Hd",)),
        ("decoder.W_2", (2, 1), ("Hd", "O")),
        ("decoder.b_2", (1,), ("O",)),
    ]
    assert sum(w.count for w in weights) == 81


def test_a_tied_output_layer_is_listed_and_counted_once() -> None:
    stage = Stage(
        7, None, (Embedding(11, 6), Recurrent("lstm", 6, stack=2), Dense(11, steps="all", tie=True))
    )
    weights = shapes.rnn_weights(Network((stage,), "pytorch"))
    tied = [w for w in weights if w.tied]
    assert [(w.name, w.tied, w.shape, w.count, w.elements) for w in tied] == [
        ("linear.weight", "embedding.weight", (11, 6), 0, 66)
    ]
    assert weights[-1].name == "linear.bias"
    # 66 + 2 LSTM layers of 4·6·(6 + 6) + 2·4·6 = 336 each, + the output bias 11
    assert sum(w.count for w in weights) == 66 + 2 * 336 + 11


@given(networks())
def test_terms_and_listing_agree_on_every_network(network: Network) -> None:
    for listed, terms in (
        (shapes.rnn_weights, shapes.rnn_terms),
        (shapes.dense_weights, shapes.dense_terms),
    ):
        assert sum(w.count for w in listed(network)) == sum(t.count for t in terms(network))
        assert sum(w.elements for w in listed(network)) == sum(t.elements for t in terms(network))
    names = [w.name for w in shapes.rnn_weights(network)]
    assert len(names) == len(set(names))


def test_terms_fold_a_deep_stack_in_constant_work() -> None:
    stage = Stage(3, 4, (Recurrent("lstm", 5, stack=10**30), Recurrent("gru", 2, stack=10**20)))
    network = Network((stage,), "keras")
    total = sum(t.count for t in shapes.rnn_terms(network))
    lstm = 4 * 5 * (4 + 5) + 4 * 5 + (10**30 - 1) * (4 * 5 * (5 + 5) + 4 * 5)
    gru = 3 * 2 * (5 + 2) + 2 * 3 * 2 + (10**20 - 1) * (3 * 2 * (2 + 2) + 2 * 3 * 2)
    assert total == lstm + gru
    with pytest.raises(SpecError, match="at most 100 stacked layers"):
        shapes.rnn_weights(network)


def stage(*layers: Any, input_size: int | None = 4) -> Stage:
    return Stage(3, input_size, tuple(layers))


@pytest.mark.parametrize(
    ("build", "field", "message"),
    [
        (lambda: stage(Dense(2)), "layers", "at least one recurrent layer"),
        (lambda: stage(Recurrent("rnn", 3), Embedding(5, 2)), "layers[1]", "only be the first"),
        (lambda: stage(Embedding(5, 2), Recurrent("rnn", 3)), "input_size", "embedding"),
        (lambda: stage(Recurrent("rnn", 3), input_size=None), "input_size", "is needed"),
        (
            lambda: stage(Recurrent("rnn", 3), Dense(2), Recurrent("rnn", 3)),
            "layers[2]",
            "needs a sequence, but layers[1]",
        ),
        (
            lambda: stage(Recurrent("rnn", 3), Dense(2), Dense(2, steps="all")),
            "layers[2]",
            "needs a sequence",
        ),
        (lambda: stage(Recurrent("rnn", 3), Dense(2, tie=True)), "layers[1].tie", "embedding"),
        (
            lambda: stage(
                Embedding(5, 3), Recurrent("rnn", 3), Dense(4, tie=True), input_size=None
            ),
            "layers[2].units",
            "vocab_size 5",
        ),
        (
            lambda: stage(
                Embedding(5, 2), Recurrent("rnn", 3), Dense(5, tie=True), input_size=None
            ),
            "layers[2].tie",
            "reads 3 features",
        ),
        (lambda: Recurrent("lstm", 3, proj_size=3), "proj_size", "smaller than the hidden size 3"),
        (lambda: Recurrent("gru", 3, proj_size=1), "proj_size", "kind 'lstm'"),
        (lambda: Recurrent("lstm", 3, reset_after=False), "reset_after", "kind 'gru'"),
        (lambda: Recurrent("gru", 3, activation="relu"), "activation", "its own"),
        (lambda: Recurrent("rnn", 0), "hidden_size", "at least 1"),
        (lambda: Recurrent("rnn", 3, stack=True), "stack", "integer"),
        (lambda: Dense(2, steps="first"), "steps", "last, all"),  # type: ignore[arg-type]
        (lambda: Dense(2, name="a.b"), "name", "letters, digits"),
        (lambda: Embedding(0, 2), "vocab_size", "at least 1"),
    ],
)
def test_rules_name_the_field(build: Any, field: str, message: str) -> None:
    with pytest.raises(SpecError) as error:
        build()
    assert error.value.field == field
    assert message in error.value.message


@pytest.mark.parametrize(
    ("stages", "convention", "field", "message"),
    [
        (
            (stage(Recurrent("lstm", 3, proj_size=2)),),
            "keras",
            "layers[0].proj_size",
            "convention 'pytorch'",
        ),
        (
            (stage(Recurrent("gru", 3, reset_after=False)),),
            "pytorch",
            "layers[0].reset_after",
            "convention 'keras'",
        ),
        (
            (stage(Recurrent("rnn", 3, activation="sigmoid")),),
            "pytorch",
            "layers[0].activation",
            "tanh or relu",
        ),
        (
            (stage(Recurrent("rnn", 3), Dense(1)), stage(Recurrent("rnn", 3))),
            "seed",
            "encoder.layers[1]",
            "dense layers belong to the decoder",
        ),
        (
            (stage(Recurrent("lstm", 3, stack=2)), stage(Recurrent("lstm", 3))),
            "seed",
            "decoder.layers",
            "the encoder has 2 stacked layers, the decoder 1",
        ),
        (
            (stage(Recurrent("lstm", 3)), stage(Recurrent("gru", 3))),
            "seed",
            "decoder.layers[0]",
            "(h and c of 3), but holds h of 3",
        ),
        (
            (stage(Recurrent("gru", 3, bidirectional=True)), stage(Recurrent("gru", 3))),
            "seed",
            "decoder.layers[0]",
            "in 2 directions",
        ),
        (
            (stage(Recurrent("rnn", 3, name="core"), Recurrent("rnn", 3, name="core")),),
            "pytorch",
            "layers[1].name",
            "two layers are called 'core'",
        ),
        (
            (stage(Recurrent("rnn", 3, name="lstm_2")),),
            "keras",
            "layers[0].name",
            "rnncalc gives layers itself",
        ),
        (
            (stage(Recurrent("rnn", 3, name="core", stack=3), Dense(2, name="core_2")),),
            "keras",
            "layers[1].name",
            "rnncalc gives layers itself",
        ),
    ],
)
def test_network_rules_name_the_field(
    stages: tuple[Stage, ...], convention: Any, field: str, message: str
) -> None:
    with pytest.raises(SpecError) as error:
        Network(stages, convention)
    assert error.value.field == field
    assert message in error.value.message


def test_networks_are_values() -> None:
    a = ModelSpec(cell="lstm", layers=2).network()
    b = ModelSpec(cell="lstm", layers=2).network()
    assert a == b
    assert hash(a) == hash(b)
    assert a != ModelSpec(cell="lstm", layers=3).network()
    with pytest.raises(AttributeError, match="immutable"):
        a.convention = "keras"
    assert a.replace(convention="keras").convention == "keras"
    with pytest.raises(TypeError, match="no field 'cell'"):
        a.replace(cell="gru")
