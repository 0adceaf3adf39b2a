"""The NumPy forward pass: numerics against PyTorch-made references, checks, and failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncalc import ModelSpec
from rnncalc.engine import assemble, stepwise_forward
from rnncalc.engine.run import (
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    PassFailed,
    RunOptions,
    Workspace,
    init_weights,
    pass_flops,
    rnn_forward,
    run,
)
from rnncalc.model import shapes

REFERENCE = Path(__file__).parent / "reference"
CASES: dict[str, dict[str, Any]] = json.loads((REFERENCE / "forward_cases.json").read_text())[
    "cases"
]


def reference(name: str) -> dict[str, np.ndarray]:
    with np.load(REFERENCE / f"forward_{name}.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fast_pass_matches_pytorch_to_1e_12(name: str) -> None:
    case, ref = CASES[name], reference(name)
    h, y = rnn_forward(ref, ref["x"], case["hidden"], case["output"], case["outputs"])
    assert h.shape == ref["h"].shape
    np.testing.assert_allclose(h, ref["h"], rtol=0, atol=1e-12)
    if case["O"]:
        assert y is not None
        assert y.shape == ref["y"].shape
        np.testing.assert_allclose(y, ref["y"], rtol=0, atol=1e-12)
    else:
        assert y is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_stepwise_and_concat_passes_match_pytorch(name: str) -> None:
    case, ref = CASES[name], reference(name)
    spec = ModelSpec(case["T"], case["I"], case["H"], case["O"])
    net = assemble(spec, ref, np.float64)
    for form in ("separate", "concat"):
        states, seen = stepwise_forward(net, ref["x"], case["hidden"], form)
        np.testing.assert_allclose(states, ref["h"], rtol=0, atol=1e-12)
        assert seen == [(case["B"], case["H"])] * case["T"]


def test_reference_cases_cover_every_activation_and_output_mode() -> None:
    assert {c["hidden"] for c in CASES.values()} == set(HIDDEN_ACTIVATIONS)
    assert {c["output"] for c in CASES.values()} == set(OUTPUT_ACTIVATIONS)
    assert {c["outputs"] for c in CASES.values()} == {"last", "all"}


def test_activation_names_match_the_cli() -> None:
    from rnncalc.engine.activations import DENSE_ACTIVATIONS
    from rnncalc.model.network import DENSE_ACTIVATIONS as DENSE_NAMES
    from rnncalc.model.network import RNN_ACTIVATIONS

    assert set(RNN_ACTIVATIONS) == set(HIDDEN_ACTIVATIONS)
    assert set(DENSE_NAMES) == set(DENSE_ACTIVATIONS) == {*OUTPUT_ACTIVATIONS, "relu"}


def test_workspace_reuse_gives_the_same_result() -> None:
    ref = reference("softmax")
    workspace = Workspace()
    h, y = rnn_forward(ref, ref["x"], "tanh", "softmax", workspace=workspace)
    assert y is not None
    first = [h.copy(), y.copy()]
    second = rnn_forward(ref, ref["x"], "tanh", "softmax", workspace=workspace)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_seed_example_checks_all_pass() -> None:
    report, _ = run(ModelSpec(), RunOptions(batch_size=2), check=True)
    assert report.ok
    names = [c.name for c in report.checks]
    assert "parameters used = params total" in names
    assert "[h_{t-1}, x_t] W_h = separate form" in names
    used = next(c for c in report.checks if c.name == "parameters used = params total")
    assert (used.expected, used.actual) == (28, 28)
    dense = next(c for c in report.checks if c.name.startswith("dense: parameters"))
    assert (dense.expected, dense.actual) == (127, 127)
    assert report.shapes == {"x": [2, 3, 4], "h": [2, 3, 3], "y": [2, 1]}


def test_without_check_there_are_no_checks_but_a_timing() -> None:
    report, _ = run(ModelSpec(), RunOptions(repeat=3))
    assert report.checks == ()
    assert report.ok
    assert report.timing is not None
    assert report.timing.repeat == 3
    assert report.timing.seconds > 0


def test_pass_flops_counts_each_matmul() -> None:
    # 2·B·T·(I·H + H·H) + 2·B·H·O: 2·2·3·(12 + 9) + 2·2·3·1 = 252 + 12.
    assert pass_flops(ModelSpec(), 2, "last") == 264
    # With outputs at every step the head runs T times: 252 + 2·2·3·3·1.
    assert pass_flops(ModelSpec(), 2, "all") == 252 + 36


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec(),
        ModelSpec(cell="lstm", layers=3, bidirectional=True, hidden_size=5),
        ModelSpec(cell="lstm", convention="pytorch", proj_size=2, hidden_size=4, layers=2),
        ModelSpec(cell="gru", convention="keras", layers=2, output_size=0),
    ],
)
def test_the_workspace_holds_exactly_the_planned_buffers(spec: ModelSpec) -> None:
    # estimate_bytes counts these same buffers: if the pass allocated others, the plan (and
    # so the estimate) would be wrong, and this fails.
    from rnncalc.engine import assemble, network_forward
    from rnncalc.engine.fast import direction_buffers, layer_outputs

    b, t = 3, spec.timesteps
    weights = init_weights(shapes.rnn_weights(spec), np.random.default_rng(0), "float64")
    workspace = Workspace()
    x = np.ones((b, t, spec.input_size))
    network_forward(assemble(spec, weights, x.dtype), x, workspace=workspace)
    width, state = spec.gates * spec.hidden_size, spec.state_size
    planned: dict[str, tuple[int, ...]] = {}
    for layer in range(spec.layers):
        for d in range(spec.directions):
            for name, shape in direction_buffers(b, t, state, width).items():
                planned[f"{name}{layer}.{d}"] = shape
        outputs = layer_outputs(b, t, state, spec.directions)
        if outputs is not None:
            planned[f"out{layer}"] = outputs
    assert workspace.shapes() == planned


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    a, b, c = (run(ModelSpec(), RunOptions(seed=seed))[1] for seed in (7, 7, 8))
    assert a is not None
    assert b is not None
    assert c is not None
    np.testing.assert_array_equal(a.h, b.h)
    assert not np.array_equal(a.h, c.h)


def test_softmax_outputs_are_distributions() -> None:
    _, result = run(ModelSpec(output_size=5), RunOptions(output_activation="softmax", batch_size=4))
    assert result is not None
    assert result.y is not None
    np.testing.assert_allclose(result.y.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    assert (result.y > 0).all()


def test_sigmoid_does_not_overflow() -> None:
    a = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    HIDDEN_ACTIVATIONS["sigmoid"](a)
    np.testing.assert_allclose(a, [0.0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-30.0)), 1.0])


sizes = st.integers(min_value=1, max_value=9)


@settings(max_examples=40, deadline=None)
@given(
    b=sizes,
    t=sizes,
    i=sizes,
    h=sizes,
    o=st.integers(min_value=0, max_value=5),
    hidden=st.sampled_from(sorted(HIDDEN_ACTIVATIONS)),
    output=st.sampled_from(sorted(OUTPUT_ACTIVATIONS)),
    outputs=st.sampled_from(["last", "all"]),
    dtype=st.sampled_from(["float32", "float64"]),
)
def test_checks_pass_for_any_valid_sizes(
    b: int, t: int, i: int, h: int, o: int, hidden: str, output: str, outputs: Any, dtype: Any
) -> None:
    options = RunOptions(b, dtype, hidden, output, outputs)
    report, result = run(ModelSpec(t, i, h, o), options, check=True)
    assert report.ok, [c for c in report.checks if not c.ok]
    assert result is not None
    assert result.h.dtype == np.dtype(dtype)


def corrupt(monkeypatch: pytest.MonkeyPatch, name: str, wider: int) -> None:
    """Corrupt the one shape source: the tensor `name` gets `wider` more columns, for the
    listing, the totals and the forward pass alike.
    """
    original = shapes._Walk.rnn

    def rnn(walk: Any) -> Any:
        for w in original(walk):
            yield w.replace(shape=(*w.shape[:-1], w.shape[-1] + wider)) if w.name == name else w

    monkeypatch.setattr(shapes._Walk, "rnn", rnn)


def test_corrupted_recurrent_matrix_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    corrupt(monkeypatch, "W_hh", 1)
    with pytest.raises(PassFailed) as failed:
        run(ModelSpec(), RunOptions(), check=True)
    report = failed.value.report
    assert not report.ok
    assert report.timing is None
    assert report.checks[0].name == "forward pass runs"
    assert report.checks[0].actual == "ValueError: W_hh gives (3, 4) in row form, expected (3, 3)"


def test_corrupted_output_matrix_fails_the_y_shape_check(monkeypatch: pytest.MonkeyPatch) -> None:
    corrupt(monkeypatch, "W_yh", 1)
    report, _ = run(ModelSpec(), RunOptions(batch_size=2), check=True)
    failed = {c.name: c for c in report.checks if not c.ok}
    assert set(failed) == {"y: outputs (last) shape"}
    assert (
        failed["y: outputs (last) shape"].expected,
        failed["y: outputs (last) shape"].actual,
    ) == (
        [2, 1],
        [2, 2],
    )


def test_pass_that_skips_a_weight_fails_the_count_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from rnncalc.engine import run as forward

    real = assemble  # what forward.assemble names (run imports it, does not re-export it)

    def forgetful(spec: ModelSpec, arrays: Any, dtype: Any) -> Any:
        return real(spec.replace(output_size=0), arrays, dtype)  # never reads W_yh, b_y

    monkeypatch.setattr(forward, "assemble", forgetful)
    report, _ = run(ModelSpec(), RunOptions(batch_size=2), check=True)
    failed = {c.name: (c.expected, c.actual) for c in report.checks if not c.ok}
    assert failed == {
        "y: outputs (last) shape": ([2, 1], None),
        "parameters used = params total": (28, 24),
    }


@pytest.mark.parametrize("threads", [2, 3, 5])
def test_threaded_pass_equals_single_threaded(threads: int) -> None:
    ref = reference("relu_all_sigmoid")
    x = np.concatenate([ref["x"]] * 3)  # 9 sequences, split unevenly
    h, y = rnn_forward(ref, x, "relu", "sigmoid", "all", threads=1)
    assert y is not None
    one = [h.copy(), y.copy()]
    many = rnn_forward(ref, x, "relu", "sigmoid", "all", threads=threads)
    for a, b in zip(one, many, strict=True):
        assert b is not None
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(many[0][:3], ref["h"], rtol=0, atol=1e-12)


def test_batch_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    from rnncalc.engine import threads as engine

    assert engine.batch_chunks(9, 512, 2) == [slice(0, 4), slice(4, 9)]
    assert engine.batch_chunks(1, 512, 4) == [slice(0, 1)]
    # By default, one thread per CPU, when each share's step has 2^20 multiply-adds or more.
    monkeypatch.setattr(engine, "_usable_cpus", lambda: 2)
    monkeypatch.setattr(engine, "_blas_controller", object)
    halves = [slice(0, 128), slice(128, 256)]
    assert engine.batch_chunks(256, 512 * 512, None) == halves  # 128·512·512 = 2^25
    assert engine.batch_chunks(8, 2**18, None) == [slice(0, 4), slice(4, 8)]  # 4·2^18 = 2^20
    assert engine.batch_chunks(8, 2**18 - 1, None) == [slice(0, 8)]  # just under: one
    assert engine.batch_chunks(64, 64 * 64, None) == [slice(0, 64)]  # too small a step
    assert engine.batch_chunks(1, 512 * 512, None) == [slice(0, 1)]  # one sequence cannot split
    # Without control of BLAS's threads, splitting would oversubscribe: one share.
    monkeypatch.setattr(engine, "_blas_controller", lambda: None)
    assert engine.batch_chunks(256, 512 * 512, None) == [slice(0, 256)]
