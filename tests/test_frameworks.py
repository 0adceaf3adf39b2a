"""Counts and shapes against what PyTorch 2.13 and Keras 3.15 report for the same layers.

The numbers come from tests/reference/framework_counts.json, written by
tests/reference/make_framework_counts.py in an environment with the frameworks; these tests
need neither framework.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rnncalc import ModelSpec, count_params

DATA = json.loads((Path(__file__).parent / "reference" / "framework_counts.json").read_text())
ROWS: list[dict[str, Any]] = DATA["rows"]
IDS = [
    "T{timesteps}-I{input_size}-H{hidden_size}-O{output_size}".format(**r["sizes"]) for r in ROWS
]


def test_reference_data_covers_the_seed_example() -> None:
    assert {"timesteps": 3, "input_size": 4, "hidden_size": 3, "output_size": 1} in [
        r["sizes"] for r in ROWS
    ]
    assert len(ROWS) >= 8


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_rnn_total_equals_keras(row: dict[str, Any]) -> None:
    assert count_params(ModelSpec(**row["sizes"])).rnn.total == row["keras_rnn"]["total"]


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_rnn_total_is_pytorch_less_its_second_bias(row: dict[str, Any]) -> None:
    # torch.nn.RNN keeps bias_ih and bias_hh, both of size H; the seed has one b_h.
    h = row["sizes"]["hidden_size"]
    assert count_params(ModelSpec(**row["sizes"])).rnn.total == row["torch_rnn"]["total"] - h


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_dense_total_equals_both_frameworks(row: dict[str, Any]) -> None:
    total = count_params(ModelSpec(**row["sizes"])).dense.total
    assert total == row["torch_dense"] == row["keras_dense"]


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_shapes_equal_keras_weights(row: dict[str, Any]) -> None:
    # The seed's row-vector convention is Keras's: kernel (I, H), recurrent_kernel (H, H).
    keras_names = {
        "W_xh": "SimpleRNN.kernel",
        "W_hh": "SimpleRNN.recurrent_kernel",
        "b_h": "SimpleRNN.bias",
        "W_yh": "Dense.kernel",
        "b_y": "Dense.bias",
    }
    keras_shapes = row["keras_rnn"]["shapes"]
    ours = {w.name: list(w.shape) for w in count_params(ModelSpec(**row["sizes"])).rnn.weights}
    assert {keras_names[name]: shape for name, shape in ours.items()} == keras_shapes


STACKS: list[dict[str, Any]] = DATA["stacks"]
MODEL_FIELDS = (
    "convention",
    "cell",
    "input_size",
    "hidden_size",
    "layers",
    "bidirectional",
    "bias",
    "proj_size",
    "reset_after",
)


def stack_id(row: dict[str, Any]) -> str:
    return "-".join(f"{row[f]}" for f in MODEL_FIELDS)


def test_stack_table_covers_every_configuration() -> None:
    configurations = {
        (r["convention"], r["cell"], r["layers"], r["bidirectional"], r["bias"]) for r in STACKS
    }
    assert len(configurations) == 2 * 3 * 3 * 2 * 2
    assert any(r["proj_size"] for r in STACKS)
    assert any(not r["reset_after"] for r in STACKS)


@pytest.mark.parametrize("row", STACKS, ids=[stack_id(r) for r in STACKS])
def test_stack_counts_names_and_shapes_equal_the_framework(row: dict[str, Any]) -> None:
    spec = ModelSpec(output_size=0, **{f: row[f] for f in MODEL_FIELDS})
    report = count_params(spec)
    assert report.rnn.total == row["total"]
    assert [(w.name, list(w.shape)) for w in report.rnn.weights] == list(row["shapes"].items())


@pytest.mark.parametrize(
    ("options", "total"),
    [
        ({"cell": "lstm", "convention": "pytorch"}, 108),
        ({"cell": "gru", "convention": "pytorch"}, 81),
        ({"bidirectional": True, "convention": "pytorch"}, 54),
        ({"cell": "lstm", "convention": "pytorch", "layers": 2, "bidirectional": True}, 480),
        ({"cell": "lstm", "convention": "pytorch", "proj_size": 2}, 102),
        ({"cell": "lstm", "convention": "keras"}, 96),
        ({"cell": "gru", "convention": "keras"}, 81),
        ({"cell": "gru", "convention": "keras", "reset_after": False}, 72),
        ({"bidirectional": True, "convention": "keras"}, 48),
        ({"cell": "lstm"}, 96),  # the seed's textbook LSTM: Keras's count
        ({"cell": "gru"}, 72),  # the textbook GRU: one bias per gate
    ],
)
def test_issue_anchors_at_the_seed_sizes(options: dict[str, Any], total: int) -> None:
    assert count_params(ModelSpec(output_size=0, **options)).rnn.total == total


def test_pytorch_lstm_300_to_512_two_layers() -> None:
    spec = ModelSpec(
        input_size=300, hidden_size=512, output_size=0, cell="lstm", layers=2, convention="pytorch"
    )
    assert count_params(spec).rnn.total == 3_768_320
