"""The estimate that guards --max-memory against the peak that tracemalloc measures.

NumPy reports its array allocations to tracemalloc, so the traced peak of a run is the
memory its arrays took at their worst.  Each case is large enough (4 MiB and more) that
arrays, not Python objects, make up the peak.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import pytest

from rnncalc import ModelSpec
from rnncalc.engine.run import RunOptions, estimate_bytes, run
from rnncalc.model.modelfile import from_dict
from rnncalc.model.network import Network

CASES: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
    # The case, scaled down: the dense equivalent's W_1 (T·I, T·H) dominates.
    ({"timesteps": 50, "input_size": 100, "hidden_size": 100}, {"dtype": "float32"}, True),
    ({"timesteps": 50, "input_size": 100, "hidden_size": 100}, {}, True),
    ({"timesteps": 1000, "input_size": 8, "hidden_size": 64}, {"batch_size": 64}, False),
    # A large batch: the step-by-step pass, not the dense equivalent, is the check's peak.
    ({"timesteps": 50, "input_size": 1, "hidden_size": 64}, {"batch_size": 512}, True),
    (
        {"timesteps": 50, "input_size": 64, "hidden_size": 256, "cell": "lstm"},
        {"batch_size": 32},
        False,
    ),
    (
        {"timesteps": 10, "input_size": 300, "hidden_size": 64, "cell": "gru", "layers": 2,
         "bidirectional": True, "convention": "pytorch"},
        {"batch_size": 16},
        True,
    ),
    (
        {"timesteps": 100, "input_size": 32, "hidden_size": 128, "cell": "lstm",
         "convention": "pytorch", "proj_size": 64, "layers": 3},
        {"batch_size": 8, "dtype": "float32", "outputs": "all"},
        False,
    ),
    (
        {"timesteps": 30, "input_size": 64, "hidden_size": 64, "cell": "gru",
         "convention": "keras", "output_size": 10},
        {"batch_size": 256, "outputs": "all"},
        True,
    ),
    (
        {"timesteps": 1, "input_size": 300, "hidden_size": 256, "cell": "lstm", "layers": 3},
        {"batch_size": 8},
        True,
    ),
    (
        {"timesteps": 5, "input_size": 300, "hidden_size": 128, "cell": "rnn", "layers": 2,
         "bidirectional": True, "convention": "keras", "bias": False},
        {"batch_size": 64},
        True,
    ),
]  # fmt: skip


def peak_bytes(spec: ModelSpec | Network, options: RunOptions, check: bool) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        report, _ = run(spec, options, check=check)
        assert report.ok or not check
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module", autouse=True)
def _warm_up() -> None:
    """Import and cache whatever a first run loads, so that it does not count as a peak."""
    for cell in ("rnn", "lstm", "gru"):
        run(ModelSpec(cell=cell), RunOptions(), check=True)


@pytest.mark.parametrize(("sizes", "options", "check"), CASES)
def test_estimate_is_within_a_quarter_of_the_measured_peak(
    sizes: dict[str, Any], options: dict[str, Any], check: bool
) -> None:
    spec, run_options = ModelSpec(**sizes), RunOptions(**options)
    estimate = estimate_bytes(spec, run_options, check)
    peak = peak_bytes(spec, run_options, check)
    assert peak > 4 * 2**20, "too small a case: Python objects would weigh in"
    assert 0.75 * peak <= estimate <= 1.25 * peak, (estimate, peak)


def embedding(vocab_size: int, dim: int) -> dict[str, Any]:
    return {"kind": "embedding", "vocab_size": vocab_size, "dim": dim}


def recurrent(kind: str, hidden_size: int, **options: Any) -> dict[str, Any]:
    return {"kind": kind, "hidden_size": hidden_size, **options}


def dense(units: int, **options: Any) -> dict[str, Any]:
    return {"kind": "dense", "units": units, **options}


NETWORKS: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
    # A tied language model: the embedding table and the per-step vocabulary outputs.
    (
        {"convention": "pytorch", "timesteps": 20, "layers": [
            embedding(10000, 200), recurrent("lstm", 200, stack=2),
            dense(10000, steps="all", tie=True)]},
        {"batch_size": 8},
        True,
    ),
    # A Keras stack of different sizes with a 2-layer head on the last step.
    (
        {"convention": "keras", "timesteps": 30, "input_size": 32, "layers": [
            recurrent("lstm", 128, bidirectional=True), recurrent("lstm", 64),
            dense(64, activation="relu"), dense(10)]},
        {"batch_size": 32},
        True,
    ),
    # Heads at every step, float32.
    (
        {"convention": "keras", "timesteps": 100, "input_size": 32, "layers": [
            recurrent("gru", 128, bidirectional=True), recurrent("gru", 64),
            dense(64, activation="relu", steps="all"), dense(10, steps="all")]},
        {"batch_size": 32, "dtype": "float32"},
        False,
    ),
    # An encoder-decoder: the encoder's final states kept for the decoder.
    (
        {"convention": "pytorch", "timesteps": 50,
         "encoder": {"layers": [embedding(5000, 128), recurrent("lstm", 256, stack=2)]},
         "decoder": {"timesteps": 40, "layers": [
             embedding(4000, 128), recurrent("lstm", 256, stack=2), dense(4000, steps="all")]}},
        {"batch_size": 8},
        False,
    ),
]  # fmt: skip


@pytest.mark.parametrize(("model", "options", "check"), NETWORKS)
def test_a_network_s_estimate_is_within_a_quarter_of_the_measured_peak(
    model: dict[str, Any], options: dict[str, Any], check: bool
) -> None:
    network, run_options = from_dict(model), RunOptions(**options)
    estimate = estimate_bytes(network, run_options, check)
    peak = peak_bytes(network, run_options, check)
    assert peak > 4 * 2**20, "too small a case: Python objects would weigh in"
    assert 0.75 * peak <= estimate <= 1.25 * peak, (estimate, peak)
