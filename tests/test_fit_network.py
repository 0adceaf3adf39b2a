"""`rnncalc fit` on whole networks: a size the network shares, exact against the counts of
the networks found, and a clear refusal when there is no such size.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from networks import networks

from rnncalc.analysis.counts import count_params
from rnncalc.analysis.fit import SHARED, fit, smallest, solvable, solved
from rnncalc.cli import cli
from rnncalc.model.modelfile import to_dict
from rnncalc.model.network import Network
from rnncalc.model.spec import SpecError


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["fit", *args], prog_name="rnncalc")


def total(network: Network, solve: str, value: int) -> int:
    return count_params(solved(network, solve, value)).rnn.total


@settings(max_examples=80, deadline=None)
@given(network=networks(), solve=st.sampled_from(SHARED), budget=st.integers(1, 20_000))
def test_the_answer_fits_and_the_next_size_does_not(
    network: Network, solve: str, budget: int
) -> None:
    try:
        solvable(network, solve)
    except SpecError:
        assume(False)
    result = fit(network, solve, budget)
    low = smallest(network, solve)
    if result.value is None:
        assert total(network, solve, low) == result.total > budget
        return
    assert result.value >= low
    assert result.total == total(network, solve, result.value) <= budget
    assert budget < result.next_total == total(network, solve, result.value + 1)
    assert result.network == solved(network, solve, result.value)


def model_file(tmp_path: Path, *layers: str, top: str = "input_size = 10") -> str:
    path = tmp_path / "m.toml"
    path.write_text(f"{top}\n" + "".join(f"[[layers]]\n{layer}\n" for layer in layers))
    return str(path)


def test_hidden_size_sets_every_recurrent_layer(tmp_path: Path) -> None:
    lstm = 'kind = "lstm"\nhidden_size = 8'
    path = model_file(tmp_path, lstm, lstm, 'kind = "dense"\nunits = 5')
    data = json.loads(run("--budget", "10k", "--model", path, "-f", "json").stdout)
    # 4H(10 + H + 1) + 4H(H + H + 1) + 5H + 5 = 12H² + 53H + 5: 9,495 at H = 26, 10,184 at 27.
    assert (data["value"], data["total"], data["next_total"]) == (26, 9_495, 10_184)
    assert [layer.get("hidden_size") for layer in data["model"]["layers"]] == [26, 26, None]


def test_vocabulary_with_a_tied_output_layer() -> None:
    args = ("--budget", "20M", "-I", "650", "-H", "650", "-c", "lstm", "--tie")
    data = json.loads(run(*args, "--solve", "vocab-size", "-f", "json").stdout)
    # 650·V for the table and V for the tied layer's bias, plus the LSTM's
    # 4·650·(650 + 650 + 1) = 3,382,600: V <= 16,617,400 / 651 = 25,525.9.
    assert (data["value"], data["total"]) == (25_525, 651 * 25_525 + 3_382_600)
    assert data["model"]["layers"][-1] == {"kind": "dense", "units": 25_525, "tie": True}
    assert run(*args, "--solve", "vocab-size", "-q").stdout == "25525\n"


def test_layers_of_a_language_model() -> None:
    args = ("--budget", "20M", "--vocab-size", "10k", "-I", "650", "-H", "650", "-c", "lstm")
    result = run(*args, "--tie", "--solve", "layers", "-f", "json")
    data = json.loads(result.stdout)
    # 6.5M for the table, 10,000 for the tied bias, 3,382,600 per layer: 3 layers fit.
    assert (data["value"], data["total"]) == (3, 6_510_000 + 3 * 3_382_600)
    network = data["model"]
    assert network["layers"][1] == {"kind": "lstm", "hidden_size": 650, "stack": 3}
    assert network == to_dict(solved_network(args, 3))


def solved_network(args: tuple[str, ...], layers: int) -> Network:
    from rnncalc.model.modelfile import from_dict

    params = CliRunner().invoke(cli, ["params", *args[2:], "--tie", "-L", str(layers), "-f",
                                      "json"])  # fmt: skip
    return from_dict(json.loads(params.stdout)["model"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-H", "64/32", "--solve", "layers"],
         "layers sets the stack of the network's one recurrent layer, but it has 2"),
        (["--vocab-size", "10k", "-I", "650", "-c", "lstm", "--tie"],
         "hidden-size is fixed at 650 by the output layer tied to the embedding"),
        (["--vocab-size", "10k", "-H", "650", "--tie", "--solve", "input-size"],
         "input-size is fixed at 650 by the output layer tied to the embedding"),
        (["--vocab-size", "10k", "-I", "651", "--tie", "--bidirectional"],
         "no hidden size can satisfy --tie"),
        (["-I", "8", "-H", "8", "--tie", "-O", "5", "--solve", "vocab-size"],
         "leave -O out"),
        (["--vocab-size", "100", "--solve", "vocab-size"], "--vocab-size has no effect here"),
    ],
)  # fmt: skip
def test_a_size_the_network_does_not_share_is_refused_in_one_line(
    args: list[str], message: str
) -> None:
    result = run("--budget", "1M", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: ")


def test_hidden_sizes_that_differ_in_a_model_file_are_refused(tmp_path: Path) -> None:
    path = model_file(tmp_path, 'kind = "gru"\nhidden_size = 64', 'kind = "gru"\nhidden_size = 32')
    result = run("--budget", "1M", "--model", path)
    assert result.exit_code == 2
    assert "this network's differ (32, 64)" in result.stderr
    result = run("--budget", "1M", "--model", path, "--solve", "vocab-size")
    assert result.exit_code == 2
    assert "vocab-size needs an embedding" in result.stderr
    result = run("--budget", "1M", "--model", path, "-H", "8")
    assert result.exit_code == 2  # the solved size is not an option to give


def test_a_whole_network_s_table_describes_it() -> None:
    args = ["fit", "--budget", "100k", "-H", "64/64", "-O", "32/4", "--solve", "input-size"]
    out = CliRunner().invoke(cli, args, env={"COLUMNS": "200"}).stdout
    assert "Fit for T=3, I=1333:" in out
    assert "vanilla RNN 64 -> vanilla RNN 64 -> dense 32 (relu) -> dense 4" in out


@settings(max_examples=20, deadline=None)
@given(network=networks(), solve=st.sampled_from(SHARED), budget=st.integers(1, 20_000))
def test_a_model_file_fits_as_the_library_does(
    tmp_path_factory: pytest.TempPathFactory, network: Network, solve: str, budget: int
) -> None:
    from rnncalc.model.modelfile import to_toml

    path = tmp_path_factory.mktemp("fit") / "model.toml"
    path.write_text(to_toml(network))
    args = ("--budget", str(budget), "--model", str(path), "--solve", solve.replace("_", "-"))
    result = run(*args, "-f", "json")
    try:
        solvable(network, solve)
    except SpecError as error:
        why = error.message
    else:
        why = ""
    if why:
        assert result.exit_code == 2
        assert why in result.stderr.replace("\n", " ")
        return
    expected = fit(network, solve, budget).to_dict()
    assert result.exit_code == (0 if expected["fits"] else 1)  # 1: nothing fits
    assert json.loads(result.stdout) == expected
