"""Networks recovered from PyTorch tensor names and shapes: every framework-made state_dict of
the reference data, every generated network, and the tensors that form no network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from networks import networks

from rnncalc.model import shapes
from rnncalc.model.modelfile import from_dict
from rnncalc.model.network import Dense, Layer, Network, Recurrent
from rnncalc.model.recover import RecoveryError, Tensor, proof, recover_pytorch

REFERENCE = Path(__file__).parent / "reference"
COUNTS = json.loads((REFERENCE / "network_counts.json").read_text())["networks"]
PYTORCH = [row for row in COUNTS if row["framework"] == "pytorch"]


def tensors_of(network: Network) -> list[Tensor]:
    """A state_dict as torch.save writes it: a tied weight listed, sharing its storage."""
    return [Tensor(w.name, w.shape, w.tied) for w in shapes.rnn_weights(network)]


def skeleton(network: Network) -> Network:
    """What a state_dict cannot say, set as recovery sets it: no names, default activations,
    dense layers at every step in a decoder or beside a tied layer, else on the last step;
    and no lengths (T = 1).
    """
    stages = []
    for s, stage in enumerate(network.stages):
        every = s == 1 or any(isinstance(x, Dense) and x.tie for x in stage.layers)
        layers = [_plain(layer, every) for layer in stage.layers]
        stages.append(stage.replace(timesteps=1, layers=tuple(layers)))
    return network.replace(stages=tuple(stages), notation="separate")


@pytest.mark.parametrize("row", PYTORCH, ids=[row["id"] for row in PYTORCH])
def test_framework_state_dicts_are_recovered(row: dict[str, Any]) -> None:
    """The names and shapes PyTorch itself wrote (tests/reference/make_network_counts.py)."""
    original = from_dict(row["model"])
    # the reader reports a tied weight as sharing the embedding's storage
    shares = {w.name: w.tied for w in shapes.rnn_weights(original) if w.tied}
    files = [Tensor(name, tuple(shape), shares.get(name, "")) for name, shape in row["tensors"]]
    recovered = recover_pytorch(files, original.stages[0].timesteps)
    assert all(r.ok for r in proof(recovered, {t.name: t.shape for t in files}))
    total = sum(w.count for w in shapes.rnn_weights(recovered.network))
    # a tied weight is in the state_dict twice, so the file's sum counts it twice
    tied = sum(w.elements for w in shapes.rnn_weights(original) if w.tied)
    assert total == row["total"] == sum(_count(t.shape) for t in files) - tied
    assert not recovered.other
    assert skeleton(recovered.network) == skeleton(original)


def _plain(layer: Layer, every: bool) -> Layer:
    layer = layer.replace(name="")
    if isinstance(layer, Recurrent):
        return layer.replace(activation="tanh")
    if isinstance(layer, Dense):
        return layer.replace(activation="identity", steps="all" if every else "last")
    return layer


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for dim in shape:
        n *= dim
    return n


@settings(max_examples=150, deadline=None)
@given(networks())
def test_every_pytorch_network_is_recovered_from_its_tensors(network: Network) -> None:
    stages = tuple(  # PyTorch's GRU resets after the recurrent product
        stage.replace(layers=tuple(
            x.replace(reset_after=True) if isinstance(x, Recurrent) else x
            for x in stage.layers
        ))
        for stage in network.stages
    )  # fmt: skip
    network = network.replace(stages=stages, convention="pytorch", notation="separate")
    files = tensors_of(network)
    recovered = recover_pytorch(files, network.stages[0].timesteps)
    rows = proof(recovered, {t.name: t.shape for t in files})
    assert all(r.ok for r in rows)
    assert sum(w.count for w in shapes.rnn_weights(recovered.network)) == sum(
        w.count for w in shapes.rnn_weights(network)
    )
    assert skeleton(recovered.network) == skeleton(network)


def test_names_sorted_as_safetensors_sorts_them() -> None:
    """The decoder before the encoder and linear before lstm: recovered all the same."""
    encoder = ("encoder.embedding.weight", (13, 5)), ("encoder.lstm.weight_ih_l0", (28, 5))
    rest = [
        ("encoder.lstm.weight_hh_l0", (28, 7)),
        ("decoder.embedding.weight", (9, 5)),
        ("decoder.linear.bias", (9,)),
        ("decoder.linear.weight", (9, 7)),
        ("decoder.lstm.weight_hh_l0", (28, 7)),
        ("decoder.lstm.weight_ih_l0", (28, 5)),
    ]
    files = [Tensor(n, s) for n, s in sorted([*encoder, *rest])]
    recovered = recover_pytorch(files, 6)
    network = recovered.network
    assert network.encoder_decoder
    assert [type(x).__name__ for x in network.stages[1].layers] == [
        "Embedding",
        "Recurrent",
        "Dense",
    ]
    assert network.stages[0].embedding is not None
    assert network.stages[0].embedding.vocab_size == 13
    assert all(r.ok for r in proof(recovered, {t.name: t.shape for t in files}))


def test_what_forms_no_layer_is_set_aside() -> None:
    files = [
        Tensor("conv.weight", (8, 4, 3)),
        Tensor("conv.bias", (8,)),
        Tensor("rnn.weight_ih_l0", (5, 8)),
        Tensor("rnn.weight_hh_l0", (5, 5)),
        Tensor("norm.weight", (5,)),
        Tensor("rnn.gain", (5,)),
        Tensor("fc.weight", (2, 5)),
        Tensor("fc.bias", (2,)),
    ]
    recovered = recover_pytorch(files, 3)
    assert [t.name for t in recovered.other] == [
        "conv.weight",
        "conv.bias",
        "norm.weight",
        "rnn.gain",
    ]
    stage = recovered.network.stages[0]
    assert stage.input_size == 8
    assert [type(x).__name__ for x in stage.layers] == ["Recurrent", "Dense"]
    assert "tanh was chosen" in " ".join(recovered.notes)
    assert recovered.names["weight"] == "fc.weight"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([Tensor("fc.weight", (2, 5))], "no recurrent module"),
        ([Tensor("rnn.weight_ih_l0", (10, 4))], "no weight_hh_l0"),
        (
            [Tensor("rnn.weight_ih_l0", (10, 4)), Tensor("rnn.weight_hh_l0", (10, 5))],
            "is not G·H x H",
        ),
        (
            [Tensor("rnn.weight_ih_l0", (12, 4)), Tensor("rnn.weight_hh_l0", (12, 3)),
             Tensor("rnn.bias_ih_l0", (12,))],
            "lacks bias_hh_l0",
        ),
        (
            [Tensor("a.weight_ih_l0", (12, 4)), Tensor("a.weight_hh_l0", (12, 3)),
             Tensor("b.weight_ih_l0", (12, 9)), Tensor("b.weight_hh_l0", (12, 3))],
            "reads 9 features, but the recurrent layer before it hands on 3",
        ),
    ],
)  # fmt: skip
def test_tensors_that_form_no_network(files: list[Tensor], message: str) -> None:
    with pytest.raises(RecoveryError, match=message):
        recover_pytorch(files, 3)
