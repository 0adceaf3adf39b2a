"""The compiled pass: its tanh, the NumPy pass, the PyTorch references, and the engine choice."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from networks import networks
from numba import njit
from test_forward import CASES as SEED_CASES
from test_forward import reference as seed_reference
from test_forward_network import CASES as NETWORK_CASES
from test_forward_network import RESULTS
from test_forward_network import reference as network_reference

from rnncalc import ModelSpec
from rnncalc.cli import cli
from rnncalc.cli import forward as forward_command
from rnncalc.engine import assemble, engines, kernel_math, network_forward
from rnncalc.engine import threads as engine_threads
from rnncalc.engine.run import RunOptions, init_weights, run
from rnncalc.model import shapes
from rnncalc.model.modelfile import from_dict
from rnncalc.model.network import Network
from rnncalc.model.spec import SpecError

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


@njit(error_model="numpy")
def _tanh_all(x: np.ndarray, out: np.ndarray) -> None:
    for k in range(x.shape[0]):
        out[k] = kernel_math.tanh(x[k])


@njit(error_model="numpy")
def _sigmoid_all(x: np.ndarray, out: np.ndarray) -> None:
    for k in range(x.shape[0]):
        out[k] = kernel_math.sigmoid(x[k])


def test_tanh_and_sigmoid_are_within_4e_16_of_numpy() -> None:
    tiny = np.logspace(-300, 1.5, 20_000)
    x = np.concatenate(
        [
            np.linspace(-25, 25, 400_001),
            np.random.default_rng(0).standard_normal(100_000) * 4,
            tiny,
            -tiny,
            [0.0, -0.0, 1e308, -1e308, np.inf, -np.inf],
        ]
    )
    out = np.empty_like(x)
    _tanh_all(x, out)
    assert np.max(np.abs(out - np.tanh(x))) <= 4e-16
    small = (np.abs(x) < 1e-3) & (x != 0)  # relative precision kept near 0
    assert np.max(np.abs(out[small] / np.tanh(x[small]) - 1)) <= 1e-15
    assert np.signbit(out[x == 0]).tolist() == np.signbit(x[x == 0]).tolist()
    e = np.exp(-np.abs(x))
    _sigmoid_all(x, out)
    assert np.max(np.abs(out - np.where(x >= 0, 1.0, e) / (1.0 + e))) <= 5e-16
    _tanh_all(np.array([np.nan]), out[:1])
    assert np.isnan(out[0])


def test_float32_tanh_and_sigmoid_run_in_float32_within_2e_7() -> None:
    x = np.concatenate(
        [np.linspace(-25, 25, 400_001), np.random.default_rng(0).standard_normal(100_000) * 4]
    ).astype(np.float32)
    exact = np.tanh(x.astype(np.float64))
    out = np.empty_like(x)
    _tanh_all(x, out)
    assert np.max(np.abs(out - exact)) <= 2e-7  # NumPy's float32 tanh: 6e-8
    e = np.exp(-np.abs(x.astype(np.float64)))
    _sigmoid_all(x, out)
    assert np.max(np.abs(out - np.where(x >= 0, 1.0, e) / (1.0 + e))) <= 2e-7
    assert out.dtype == np.float32


def _grid() -> list[tuple[Any, ...]]:
    cases = []
    for cell, convention, bidirectional, layers, proj in itertools.product(
        ("rnn", "lstm", "gru"), ("seed", "pytorch", "keras"), (False, True), (1, 2), (0, 3)
    ):
        if proj and (cell != "lstm" or convention != "pytorch"):
            continue
        cases.append((cell, convention, bidirectional, layers, proj))
    return cases


@pytest.mark.parametrize(("cell", "convention", "bidirectional", "layers", "proj"), _grid())
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_cell_matches_the_numpy_pass(
    cell: str, convention: str, bidirectional: bool, layers: int, proj: int, dtype: str
) -> None:
    """Both GRU variants (Keras's reset_after=False is the textbook one), every f_h, a
    projection, reversed directions, batches split across threads or not.
    """
    resets = [True, False] if cell == "gru" and convention == "keras" else [None]
    for reset_after, batch, threads in itertools.product(resets, (1, 6), (None, 2)):
        options: dict[str, Any] = {"cell": cell, "convention": convention, "layers": layers}
        if reset_after is not None:
            options["reset_after"] = reset_after
        spec = ModelSpec(7, 4, 6, 2, bidirectional=bidirectional, proj_size=proj, **options)
        weights = init_weights(shapes.rnn_weights(spec), np.random.default_rng(0), dtype, 6)
        net = assemble(spec, weights, np.dtype(dtype))
        x = np.random.default_rng(1).standard_normal((batch, 7, 4)).astype(dtype)
        for f_h in ("tanh", "relu", "sigmoid", "identity") if cell == "rnn" else ("tanh",):
            h, y = network_forward(net, x, f_h, threads=threads)
            h2, y2 = network_forward(net, x, f_h, threads=threads, engine="compiled")
            assert h2.dtype == np.dtype(dtype)
            np.testing.assert_allclose(h2, h, rtol=0, atol=TOLERANCE[dtype])
            assert y is not None
            assert y2 is not None
            np.testing.assert_allclose(y2, y, rtol=0, atol=TOLERANCE[dtype])


def test_a_batch_split_across_threads_gives_the_same_states() -> None:
    """(64 x 257) @ (257 x 1024) per step: two shares, each stepped by its own thread."""
    spec = ModelSpec(5, 16, 256, 0, cell="lstm", convention="pytorch")
    weights = init_weights(shapes.rnn_weights(spec), np.random.default_rng(0), "float64", 256)
    net = assemble(spec, weights, np.float64)
    x = np.random.default_rng(1).standard_normal((64, 5, 16))
    one = network_forward(net, x, threads=1, engine="compiled")[0].copy()
    np.testing.assert_allclose(network_forward(net, x, threads=2, engine="compiled")[0], one)
    np.testing.assert_allclose(network_forward(net, x, threads=1)[0], one, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(SEED_CASES))
def test_seed_cases_match_pytorch_to_1e_12(name: str) -> None:
    case, ref = SEED_CASES[name], seed_reference(name)
    spec = ModelSpec(case["T"], case["I"], case["H"], case["O"])
    net = assemble(spec, ref, np.float64)
    h, y = network_forward(
        net, ref["x"], case["hidden"], case["output"], case["outputs"], engine="compiled"
    )
    np.testing.assert_allclose(h, ref["h"], rtol=0, atol=1e-12)
    if case["O"]:
        np.testing.assert_allclose(y, ref["y"], rtol=0, atol=1e-12)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(NETWORK_CASES))
def test_network_cases_match_the_frameworks(name: str) -> None:
    """PyTorch's networks to 1e-12, Keras's to 1e-6, as the NumPy pass; every check passes."""
    case, ref = NETWORK_CASES[name], network_reference(name)
    report, result = run(
        from_dict(case["model"]),
        RunOptions(case["batch"], engine="compiled"),
        check=True,
        weights={k: v for k, v in ref.items() if k not in RESULTS},
        x=ref["x"],
        x_decoder=ref.get("x_decoder"),
    )
    assert report.timing is not None
    assert report.timing.engine == "compiled"
    assert report.ok, [c for c in report.checks if not c.ok]
    np.testing.assert_allclose(result.h, ref["h"], rtol=0, atol=case["tolerance"])
    assert result.y is not None
    np.testing.assert_allclose(result.y, ref["y"], rtol=0, atol=case["tolerance"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(network=networks())
def test_checks_pass_for_any_network_compiled(network: Network) -> None:
    """forward --check compares the compiled pass with the step-by-step equations."""
    for dtype in ("float64", "float32"):
        options = RunOptions(2, dtype, engine="compiled")
        report, _ = run(network, options, check=True)
        assert report.ok, [c for c in report.checks if not c.ok]


def test_progress_hears_every_step() -> None:
    spec = ModelSpec(600, 3, 4, 1, cell="gru", bidirectional=True, layers=2)
    weights = init_weights(shapes.rnn_weights(spec), np.random.default_rng(0), "float64", 4)
    heard: list[int] = []
    network_forward(
        assemble(spec, weights, np.float64), np.ones((2, 600, 3)), advance=heard.append,
        engine="compiled",
    )  # fmt: skip
    assert sum(heard) == 2 * 2 * 600
    assert max(heard) == 256


def test_auto_compiles_long_runs_only() -> None:
    assert engines.choose("auto", 100, 10**6) == "numpy"
    assert engines.choose("auto", 10**6, 0) == "compiled"  # 15 s of NumPy steps
    assert engines.choose("auto", 10, 10**11) == "compiled"  # 10 s of NumPy products
    assert engines.choose("numpy", 10**9, 10**15) == "numpy"
    assert engines.choose("compiled", 1, 1) == "compiled"


def test_without_numba_auto_falls_back_and_compiled_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "numba", None)  # find_spec: not importable
    why = engines.unavailable()
    assert why == ("the compiled pass needs numba: pip install 'rnncalc[fast]' (or --engine numpy)")
    assert engines.choose("auto", 10**9, 10**15) == "numpy"
    with pytest.raises(ValueError, match="needs numba"):
        engines.choose("compiled", 1, 1)
    with pytest.raises(SpecError, match=r"^engine: the compiled pass needs numba"):
        RunOptions(engine="compiled")
    result = CliRunner().invoke(cli, ["forward", "--engine", "compiled"], prog_name="rnncalc")
    assert result.exit_code == 2
    assert (
        result.output.strip()
        .splitlines()[-1]
        .endswith("pip install 'rnncalc[fast]' (or --engine numpy)")
    )


def test_the_cli_names_the_engines_as_the_engine_does() -> None:
    assert forward_command.ENGINES == engines.ENGINES


@pytest.mark.parametrize("engine", ["compiled", "numpy"])
def test_the_cli_runs_the_engine_asked_for_and_says_so(engine: str, tmp_path: Path) -> None:
    saved = tmp_path / "out.npz"
    args = ["forward", "--check", "-c", "lstm", "-B", "3", "-T", "9", "--bidirectional"]
    result = CliRunner().invoke(
        cli, [*args, "--engine", engine, "--save", str(saved), "-f", "json"], prog_name="rnncalc"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["options"]["engine"] == data["timing"]["engine"] == engine
    table = CliRunner().invoke(cli, [*args, "--engine", engine], prog_name="rnncalc")
    assert f"\nEngine: {engine} (--engine {engine})\n" in table.output
    with np.load(saved) as arrays:
        h = arrays["h"]
    numpy_run = tmp_path / "numpy.npz"
    CliRunner().invoke(cli, [*args, "--engine", "numpy", "--save", str(numpy_run)])
    with np.load(numpy_run) as arrays:
        np.testing.assert_allclose(h, arrays["h"], rtol=0, atol=1e-12)


def test_auto_runs_the_seed_in_numpy() -> None:
    result = CliRunner().invoke(cli, ["forward", "-f", "json"], prog_name="rnncalc")
    data = json.loads(result.output)
    assert (data["options"]["engine"], data["timing"]["engine"]) == ("auto", "numpy")


def test_a_numpy_without_its_openblas_runs_the_numpy_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from rnncalc.engine import blas

    assert isinstance(blas.gemm_addresses(), tuple)  # this NumPy's wheel: found
    why = "the compiled pass calls NumPy's OpenBLAS ...: this NumPy's BLAS: mkl (--engine numpy)"
    monkeypatch.setattr(blas, "gemm_addresses", lambda: why)
    assert engines.unavailable() == why
    assert engines.choose("auto", 10**9, 10**15) == "numpy"
    with pytest.raises(SpecError, match="mkl"):
        RunOptions(engine="compiled")


@pytest.mark.parametrize("engine", ["compiled", "numpy"])
def test_a_bidirectional_layer_s_directions_at_once_give_the_same_states(engine: str) -> None:
    """Small steps: the two directions run on two threads at once (threads=None) or one
    after the other (threads=1), to the same numbers, the hand-over to the next layer too.
    """
    spec = ModelSpec(9, 5, 8, 3, cell="lstm", convention="pytorch", bidirectional=True, layers=2)
    weights = init_weights(shapes.rnn_weights(spec), np.random.default_rng(0), "float64", 8)
    net = assemble(spec, weights, np.float64)
    x = np.random.default_rng(1).standard_normal((4, 9, 5))
    assert engine_threads.pair_directions(4, 32 * 9, None) == (engine_threads._usable_cpus() >= 2)
    assert not engine_threads.pair_directions(4, 32 * 9, 1)
    assert not engine_threads.pair_directions(
        256, 2048 * 513, None
    )  # each direction splits its batch
    h1, y1 = network_forward(net, x, threads=1, engine=engine)  # type: ignore[arg-type]
    h1, y1 = h1.copy(), y1.copy()  # type: ignore[union-attr]
    h2, y2 = network_forward(net, x, engine=engine)  # type: ignore[arg-type]
    np.testing.assert_array_equal(h2, h1)
    np.testing.assert_array_equal(y2, y1)
