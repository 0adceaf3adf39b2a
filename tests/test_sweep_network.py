"""`rnncalc sweep` on whole networks: every size of the network swept, rows equal to the
counts of each network, columns by letter, and misuse refused in one line.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from networks import networks

from rnncalc.analysis.cost import estimate_cost
from rnncalc.analysis.counts import count_params
from rnncalc.analysis.sweep import COUNTS, Sweep, slots, with_sizes
from rnncalc.cli import cli
from rnncalc.model import shapes
from rnncalc.model.modelfile import from_dict, to_toml
from rnncalc.model.network import Embedding, Network
from rnncalc.model.shapes import Weight
from rnncalc.model.spec import SpecError


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="rnncalc")


def csv_rows(*args: str) -> list[dict[str, str]]:
    result = run("sweep", *args, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


@settings(max_examples=80, deadline=None)
@given(network=networks(), data=st.data())
def test_rows_equal_the_counts_of_each_network(network: Network, data: st.DataObject) -> None:
    plan = Sweep(network)
    position = data.draw(st.integers(0, len(plan.slots) - 1))
    slot = plan.slots[position]
    values = data.draw(st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True))
    valid: list[tuple[int, Network]] = []
    for value in values:
        with contextlib.suppress(SpecError):  # a hidden size not above P, a tied width ...
            valid.append((value, with_sizes(network, {slot: value})))
    assume(valid)
    rows = list(plan.rows({position: [value for value, _ in valid]}))
    assert len(rows) == len(valid)
    for row, (value, sized) in zip(rows, valid, strict=True):
        assert row[: len(plan.slots)] == tuple(Sweep(sized).sizes())
        assert row[position] == value
        counts = dict(zip(COUNTS, row[len(plan.slots) :], strict=True))
        report = count_params(sized)
        assert counts["rnn_total"] == report.rnn.total
        assert counts["dense_total"] == report.dense.total
        assert counts["rnn_float32_bytes"] == 4 * report.rnn.total
        assert counts["rnn_macs"] == macs(sized, shapes.rnn_weights(sized))
        assert counts["dense_macs"] == macs(sized, shapes.dense_weights(sized))
        cost = estimate_cost(sized)  # the same MACs as cost counts them
        assert (counts["rnn_macs"], counts["dense_macs"]) == (
            cost.rnn.compute.macs, cost.dense.compute.macs)  # fmt: skip


def macs(network: Network, weights: tuple[Weight, ...]) -> int:
    """MACs per sequence, folded over the weight list: each tensor's elements (a tied one's
    too: it is applied) times how often it runs, none for a lookup table, its stage's T for
    a recurrent tensor and for a dense layer at every step, once for any other.
    """
    total = 0
    for w in weights:
        layer = network.stages[w.stage].layers[w.module]
        t = network.stages[w.stage].timesteps
        if isinstance(layer, Embedding):
            continue
        runs = t if w.part == "recurrent" or getattr(layer, "steps", "") == "all" else 1
        total += w.elements * runs
    return total


def test_the_letters_are_the_shape_list_s() -> None:
    encoder_decoder = {
        "convention": "pytorch",
        "timesteps": 7,
        "encoder": {"layers": [{"kind": "embedding", "vocab_size": 50, "dim": 8},
                               {"kind": "gru", "hidden_size": 6}]},
        "decoder": {"layers": [{"kind": "embedding", "vocab_size": 40, "dim": 5},
                               {"kind": "gru", "hidden_size": 6},
                               {"kind": "dense", "units": 9, "steps": "all"},
                               {"kind": "dense", "units": 40, "steps": "all"}]},
    }  # fmt: skip
    letters = [slot.letter for slot in slots(from_dict(encoder_decoder))]
    assert letters == ["T", "V", "E", "H", "Td", "Vd", "Ed", "Hd", "U", "O"]


# The command line: each row is the network params counts.


def test_a_layer_s_size_sweeps_by_its_own_column() -> None:
    args = ("-c", "lstm", "--convention", "keras")
    rows = csv_rows("-H", "64/16..64:x2", "-O", "64/1,10", *args)
    assert list(rows[0]) == ["T", "I", "H1", "H2", "U", "O", "rnn_total", "dense_total", "ratio"]
    assert [(r["H2"], r["O"]) for r in rows] == [
        ("16", "1"), ("16", "10"), ("32", "1"), ("32", "10"), ("64", "1"), ("64", "10"),
    ]  # fmt: skip
    for r in rows:
        sizes = ("-H", f"64/{r['H2']}", "-O", f"64/{r['O']}", *args)
        params = json.loads(run("params", *sizes, "-f", "json").stdout)
        assert int(r["rnn_total"]) == params["rnn"]["total"]
        assert int(r["dense_total"]) == params["dense"]["total"]
    # Keras, by hand: LSTM(64) on 4 inputs 4·64·(4+64+1) = 17,664; LSTM(16) on 64:
    # 4·16·(64+16+1) = 5,184; Dense(64) 16·64+64 = 1,088; Dense(1) 65.
    assert rows[0]["rnn_total"] == str(17_664 + 5_184 + 1_088 + 65)


def test_the_vocabulary_sweeps_and_a_tied_layer_follows_it() -> None:
    tied = ("-I", "128", "-H", "128", "--tie", "-T", "3")
    rows = csv_rows("--vocab-size", "1k..100k:x10", *tied, "--cost", "--outputs", "all")
    assert [r["V"] for r in rows] == ["1000", "10000", "100000"]
    assert "O" not in rows[0]  # the tied layer's units are V
    for r in rows:
        total = run("params", "-q", "--vocab-size", r["V"], *tied).stdout
        assert r["rnn_total"] == total.strip()
    first = rows[0]
    # V·E + the cell's 128·128 + 128·128 + 128, the tied layer's bias V (its weight is V·E).
    assert first["rnn_total"] == str(128_000 + 32_896 + 1_000)
    # MACs: the cell at every step, 3·32,896; the output layer at every step (--outputs all),
    # 3·(1000·128 + 1000); no MACs for the lookup.
    assert first["rnn_macs"] == str(3 * 32_896 + 3 * 129_000)
    # The dense equivalent: the table, then 384 -> 384 (147,840), then the tied layer at
    # every step (--outputs all, as params and cost have it): its bias 1,000 stored, its
    # 128 -> 1000 applied 3 times.
    assert first["dense_total"] == str(128_000 + 147_840 + 1_000)
    assert first["dense_macs"] == str(147_840 + 3 * 129_000)
    cost = json.loads(
        run("cost", "--vocab-size", "1000", *tied, "--outputs", "all", "-f", "json").stdout
    )
    assert (cost["rnn"]["compute"]["macs"], cost["dense"]["compute"]["macs"]) == (
        int(first["rnn_macs"]), int(first["dense_macs"]))  # fmt: skip


def test_a_model_file_sweeps_its_top_level_sizes(tmp_path: Path) -> None:
    path = tmp_path / "seq2seq.toml"
    path.write_text(
        'convention = "keras"\ntimesteps = 5\ninput_size = 4\n'
        '[[encoder.layers]]\nkind = "lstm"\nhidden_size = 6\n'
        '[[decoder.layers]]\nkind = "embedding"\nvocab_size = 30\ndim = 3\n'
        '[[decoder.layers]]\nkind = "lstm"\nhidden_size = 6\n'
        '[[decoder.layers]]\nkind = "dense"\nunits = 30\nsteps = "all"\n'
    )
    rows = csv_rows("--model", str(path), "-T", "5,10", "-I", "4..8:+4")
    assert list(rows[0])[:6] == ["T", "I", "H", "Td", "Vd", "Ed"]
    assert [(r["T"], r["I"]) for r in rows] == [("5", "4"), ("5", "8"), ("10", "4"), ("10", "8")]
    for r in rows:
        args = ("--model", str(path), "-T", r["T"], "-I", r["I"])
        params = json.loads(run("params", *args, "-f", "json").stdout)
        assert int(r["rnn_total"]) == params["rnn"]["total"]
        assert int(r["dense_total"]) == params["dense"]["total"]


def test_json_names_the_model_with_the_swept_sizes_null() -> None:
    result = run("sweep", "-H", "8/2..4:+2", "--vocab-size", "10,20", "-I", "5", "-f", "json")
    document = json.loads(result.stdout)
    assert document["model"]["layers"] == [
        {"kind": "embedding", "vocab_size": None, "dim": 5},
        {"kind": "rnn", "hidden_size": 8},
        {"kind": "rnn", "hidden_size": None},
        {"kind": "dense", "units": 1},
    ]
    assert document["options"]["swept"] == {"hidden_size": "8/2..4:+2", "vocab_size": "10,20"}
    assert [(r["V"], r["H2"]) for r in document["rows"]] == [(10, 2), (10, 4), (20, 2), (20, 4)]


def test_a_network_s_plot_labels_its_letter() -> None:
    out = run("sweep", "-H", "5/1..3", "--plot").stdout
    assert out.startswith("Parameters along H2 (log scale")
    assert "H2=3" in out


def test_the_seed_s_shape_keeps_its_column_names() -> None:
    rows = csv_rows("-O", "0,1", "-L", "1,2")
    assert list(rows[0])[:5] == ["timesteps", "input_size", "hidden_size", "output_size", "layers"]
    totals = [run("params", "-q", "-O", r["output_size"], "-L", r["layers"]).stdout for r in rows]
    assert [r["rnn_total"] + "\n" for r in rows] == totals


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-H", "64/32", "-L", "1,2"], "-L stacks layers of one size"),
        (["-H", "64//32"], "has an empty item"),
        (["-H", "64/0..2"], "must be at least 1"),
        (["-O", "8/0,1"], "must be at least 1"),
        (["-H", "4/1..3", "--proj-size", "2", "-c", "lstm", "--convention", "pytorch"],
         "every hidden size must be above --proj-size 2"),
        (["--vocab-size", "50", "--tie", "-I", "8", "-H", "8", "-O", "50,60"],
         "'--output-size': the output layer tied to the embedding has as many units as the "
         "vocabulary: sweep --vocab-size instead"),
        (["--vocab-size", "50", "--tie", "-I", "8,16", "-H", "8"],
         "'--input-size': 16 (of 8,16) breaks the model"),
        (["--vocab-size", "50", "--tie", "-I", "8", "-H", "8..16:x2"],
         "'--hidden-size': 16 (of 8..16:x2) breaks the model"),
        (["--vocab-size", "0..5"], "must be at least 1"),
    ],
)  # fmt: skip
def test_misuse_is_one_line(args: list[str], message: str) -> None:
    result = run("sweep", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("Error")] == [
        result.stderr.splitlines()[-1]
    ]


@pytest.mark.parametrize(
    ("args", "text", "message"),
    [
        (["-H", "16..32"], "", "describes layers, which come from the model file"),
        (["--vocab-size", "10,20"], "", "describes layers"),
        (["--cost", "--outputs", "all"], "", "describes layers"),
        ([], 'hidden_size = "16..32"', "must be an integer, got str '16..32'"),
        (["-I", "2,3"], "", "'--input-size': 3 (of 2,3) breaks the model"),
    ],
)
def test_model_files_sweep_only_their_top_level_sizes(
    tmp_path: Path, args: list[str], text: str, message: str
) -> None:
    path = tmp_path / "m.toml"
    body = text or "hidden_size = 2"
    path.write_text(
        'timesteps = 3\n[[layers]]\nkind = "embedding"\nvocab_size = 9\ndim = 2\n'
        f'[[layers]]\nkind = "rnn"\n{body}\n'
        '[[layers]]\nkind = "dense"\nunits = 9\ntie = true\nsteps = "all"\n'
    )
    result = run("sweep", "--model", str(path), *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_seed_shaped_model_file_without_a_dense_layer(tmp_path: Path) -> None:
    path = tmp_path / "gru.toml"
    path.write_text('input_size = 4\n[[layers]]\nkind = "gru"\nhidden_size = 5\n')
    rows = csv_rows("--model", str(path), "-T", "1,2")
    assert list(rows[0])[:4] == ["timesteps", "input_size", "hidden_size", "layers"]
    # GRU 3·5·(4 + 5 + 1) = 150 at any T; the dense equivalent 4T -> 5T: 4T·5T + 5T.
    assert [(r["rnn_total"], r["dense_total"]) for r in rows] == [("150", "25"), ("150", "90")]


@pytest.mark.parametrize("command", ["sweep", "fit", "params"])
def test_a_model_path_with_a_nul_byte_is_a_usage_error(command: str) -> None:
    budget = ["--budget", "1k"] if command == "fit" else []
    result = run(command, *budget, "--model", "a\x00b")
    assert result.exit_code == 2
    assert "'--model': a\x00b: cannot open: embedded null byte" in result.stderr


@settings(max_examples=25, deadline=None)
@given(network=networks(), t=st.integers(1, 6), i=st.integers(1, 6))
def test_model_file_rows_equal_params(tmp_path_factory: pytest.TempPathFactory, network: Network,
                                      t: int, i: int) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("sweep") / "model.toml"
    path.write_text(to_toml(network))
    embedded = network.stages[0].embedding is not None
    tied = any(layer.tie for layer in network.stages[0].dense)
    sizes = ["-T", f"{t},{t + 3}"] + ([] if embedded and tied else ["-I", f"{i},{i + 1}"])
    result = run("sweep", "--model", str(path), *sizes, "-f", "jsonl")
    assert result.exit_code == 0, result.stderr
    for line in result.stdout.splitlines():
        row = json.loads(line)
        given = ["-T", str(row["T" if "T" in row else "timesteps"])]
        if len(sizes) > 2:
            given += ["-I", str(row["E" if embedded else "I" if "I" in row else "input_size"])]
        params = json.loads(run("params", "--model", str(path), *given, "-f", "json").stdout)
        assert (row["rnn_total"], row["dense_total"]) == (
            params["rnn"]["total"],
            params["dense"]["total"],
        )
