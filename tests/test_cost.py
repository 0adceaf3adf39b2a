"""rnncalc cost: MACs, FLOPs and memory, checked by hand, against the tools, and against
the forward pass's own matrix products."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncalc import ModelSpec
from rnncalc.analysis.cost import estimate_cost
from rnncalc.analysis.cost_compute import ELEMENTWISE
from rnncalc.engine import assemble, stepwise_forward
from rnncalc.engine.run import init_weights
from rnncalc.model.shapes import rnn_weights

TOOLS = json.loads((Path(__file__).parent / "reference" / "tool_counts.json").read_text())
MODEL_FIELDS = ("cell", "input_size", "hidden_size", "timesteps", "layers", "bidirectional",
                "bias", "proj_size")  # fmt: skip


def test_seed_anchor_pytorch_vanilla_rnn() -> None:
    # 63 matmul MACs (36 input + 27 recurrent) + 18 bias additions = 81, as torchinfo says.
    report = estimate_cost(ModelSpec(output_size=0, convention="pytorch"))
    compute = report.rnn.compute
    assert [(line.name, line.per_sequence) for line in compute.matmul] == [
        ("input projection", 36),
        ("recurrent projection", 27),
    ]
    assert compute.matmul_macs == 63
    assert compute.bias_additions == 18
    assert compute.macs == 81
    assert {t.tool: t.count for t in report.tools} == {"torchinfo": 81, "ptflops": 90, "thop": 90}


@pytest.mark.parametrize(
    ("cell", "ours", "tools"),
    [
        # LSTM: 4H(I+H) = 84 MACs and 2·4H = 24 bias additions per step, 3 steps.
        ("lstm", (252, 72), {"torchinfo": 324, "ptflops": 414, "thop": 396}),
        # GRU: 3H(I+H) = 63 and 2·3H = 18 per step.
        ("gru", (189, 54), {"torchinfo": 243, "ptflops": 306, "thop": 306}),
    ],
)
def test_gated_anchors(cell: str, ours: tuple[int, int], tools: dict[str, int]) -> None:
    report = estimate_cost(ModelSpec(output_size=0, convention="pytorch", cell=cell))  # type: ignore[arg-type]
    assert (report.rnn.compute.matmul_macs, report.rnn.compute.bias_additions) == ours
    assert {t.tool: t.count for t in report.tools} == tools


@pytest.mark.parametrize(
    "row", TOOLS["rows"], ids=lambda r: "-".join(str(r[f]) for f in (*MODEL_FIELDS, "batch_size"))
)
def test_tool_formulas_equal_the_measured_tools(row: dict[str, Any]) -> None:
    spec = ModelSpec(output_size=0, convention="pytorch", **{f: row[f] for f in MODEL_FIELDS})
    report = estimate_cost(spec, row["batch_size"])
    assert {t.tool: t.count for t in report.tools} == {
        tool: row[tool] for tool in ("torchinfo", "ptflops", "thop")
    }


def test_rnncalc_macs_equal_torchinfo_for_pytorch_layers() -> None:
    for row in TOOLS["rows"]:
        spec = ModelSpec(output_size=0, convention="pytorch", **{f: row[f] for f in MODEL_FIELDS})
        assert estimate_cost(spec, row["batch_size"]).rnn.compute.layer_macs == row["torchinfo"]


class Counting(np.ndarray[Any, Any]):
    """An array that adds the multiply-adds of every @ it takes part in to a counter."""

    macs = 0

    def __matmul__(self, other: Any) -> Any:
        a, b = np.asarray(self), np.asarray(other)
        Counting.macs += a.shape[0] * a.shape[1] * b.shape[-1]
        return (a @ b).view(Counting)

    def __rmatmul__(self, other: Any) -> Any:
        a, b = np.asarray(other), np.asarray(self)
        Counting.macs += a.shape[0] * a.shape[1] * b.shape[-1]
        return (a @ b).view(Counting)


def counted_macs(spec: ModelSpec, batch: int) -> int:
    """Multiply-adds of the matrix products the step-by-step pass actually takes."""
    weights = init_weights(rnn_weights(spec), np.random.default_rng(0), "float64", 3)
    net = assemble(spec, weights, np.float64)
    x = np.random.default_rng(1).standard_normal((batch, spec.timesteps, spec.input_size))
    Counting.macs = 0
    counted = [
        [
            type(p)(
                **cast(
                    dict[str, Any],
                    {k: (v.view(Counting) if v is not None else None) for k, v in vars(p).items()},
                )
            )
            for p in layer
        ]
        for layer in net.layers
    ]
    net = type(net)(net.cell, net.reset_after, tuple(tuple(layer) for layer in counted), None)
    stepwise_forward(net, x.view(Counting))
    return Counting.macs


@settings(max_examples=40, deadline=None)
@given(
    cell=st.sampled_from(["rnn", "lstm", "gru"]),
    convention=st.sampled_from(["seed", "pytorch", "keras"]),
    layers=st.integers(1, 3),
    bidirectional=st.booleans(),
    sizes=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(2, 5)),
    batch=st.integers(1, 3),
    variant=st.booleans(),
)
def test_matmul_macs_equal_the_forward_pass_own_products(
    cell: Any, convention: Any, layers: int, bidirectional: bool, sizes: tuple[int, int, int],
    batch: int, variant: bool,
) -> None:  # fmt: skip
    extra: dict[str, Any] = {}
    if cell == "lstm" and convention == "pytorch" and variant:
        extra["proj_size"] = 1
    if cell == "gru" and convention == "keras":
        extra["reset_after"] = variant
    t, i, h = sizes
    spec = ModelSpec(t, i, h, 0, cell=cell, layers=layers, bidirectional=bidirectional,
                     convention=convention, **extra)  # fmt: skip
    assert estimate_cost(spec, batch).rnn.compute.matmul_macs == counted_macs(spec, batch)


def test_output_layer_runs_once_or_at_every_step() -> None:
    last = estimate_cost(ModelSpec(output_size=2), outputs="last").rnn.compute
    every = estimate_cost(ModelSpec(output_size=2), outputs="all").rnn.compute
    head = {line.name: line.per_sequence for line in last.matmul}["output layer"]
    assert head == 3 * 2
    assert {line.name: line.per_sequence for line in every.matmul}["output layer"] == 3 * head
    assert every.bias_additions - last.bias_additions == 2 * 2  # two more steps of b_y


def test_flops_convention() -> None:
    compute = estimate_cost(ModelSpec()).rnn.compute
    # Seed RNN: matmul 36 + 27 + 3 = 66; biases 9 + 1; element-wise 2 per unit: 2·3·3 = 18.
    assert compute.flops == 2 * 66 + 10 + 18 == 160
    assert sum(n for _, n in ELEMENTWISE["lstm"]) == 13
    assert sum(n for _, n in ELEMENTWISE["gru"]) == 11


def test_memory_by_hand() -> None:
    report = estimate_cost(ModelSpec(cell="lstm", convention="pytorch", output_size=0), 2)
    memory = report.rnn.memory
    assert memory.parameters == {"float32": 432, "float16": 216, "bfloat16": 216, "int8": 108}
    # B=2, T=3: inputs 2·3·4, hidden states 2·3·3, gate buffers 2·3·4·3, cell states 2·3·3.
    assert memory.activation_elements == {
        "inputs": 24,
        "hidden states": 18,
        "gate buffers": 72,
        "cell states": 18,
    }
    assert memory.activations == 132 * 4
    assert memory.training == {
        "weights": 432,
        "gradients": 432,
        "adam_moments": 864,
        "activations": 528,
    }
    half = estimate_cost(ModelSpec(), dtype="float16").rnn.memory
    assert half.training["weights"] == 28 * 2


@given(st.integers(1, 10**6), st.integers(1, 10**6), st.integers(1, 10**6))
def test_exact_at_any_size(t: int, i: int, h: int) -> None:
    report = estimate_cost(ModelSpec(t, i, h, 1), batch_size=10**6)
    compute = report.rnn.compute
    assert compute.matmul_macs == 10**6 * (t * (i * h + h * h) + h)
    assert type(compute.flops) is int
    for line in compute.matmul:
        if line.per_step is not None:
            assert line.per_step * t == line.per_sequence


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        estimate_cost(ModelSpec(), 0)
    with pytest.raises(ValueError, match="dtype"):
        estimate_cost(ModelSpec(), 1, dtype="float8")
