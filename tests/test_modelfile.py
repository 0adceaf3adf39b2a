"""Model files: TOML read back into the network that wrote it, and every malformed file
refused with one message that names the file and the key.
"""
# ruff: noqa: E501 (the table of malformed files reads best one case a line)

from __future__ import annotations

import contextlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from networks import networks

from rnncalc.model.modelfile import ModelFileError, from_dict, read_model, to_dict, to_toml
from rnncalc.model.network import Network
from rnncalc.model.spec import SpecError

STAGES = ["encoder", "decoder"]

REFERENCE = Path(__file__).parent / "reference"
COUNTS = json.loads((REFERENCE / "network_counts.json").read_text())["networks"]

ISSUE_EXAMPLE = """\
convention = "keras"        # seed | pytorch | keras; default seed
timesteps = 100             # T
[[layers]]
kind = "embedding"          # vocab_size, dim
vocab_size = 20000
dim = 128
[[layers]]
kind = "lstm"
hidden_size = 64
bidirectional = true
[[layers]]
kind = "dense"
units = 10
"""


def write(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "model.toml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def test_the_issues_example_reads(tmp_path: Path) -> None:
    network = read_model(write(tmp_path, ISSUE_EXAMPLE))
    (stage,) = network.stages
    assert network.convention == "keras"
    assert [layer.kind for layer in stage.layers] == ["embedding", "lstm", "dense"]
    assert stage.timesteps == 100
    assert stage.input_size is None
    assert stage.features == 128


@settings(max_examples=150, deadline=None)
@given(networks())
def test_every_network_round_trips(network: Network) -> None:
    text = to_toml(network)
    assert from_dict(tomllib.loads(text)) == network
    assert to_toml(from_dict(tomllib.loads(text))) == text


@pytest.mark.parametrize("row", COUNTS[::7], ids=[row["id"] for row in COUNTS[::7]])
def test_reference_descriptions_are_written_back_unchanged(row: dict[str, Any]) -> None:
    assert to_dict(from_dict(row["model"])) == row["model"]


def test_the_written_file_is_the_model_file_form() -> None:
    network = from_dict(tomllib.loads(ISSUE_EXAMPLE))
    assert to_toml(network) == (
        'convention = "keras"\n'
        "timesteps = 100\n"
        "\n[[layers]]\n"
        'kind = "embedding"\nvocab_size = 20000\ndim = 128\n'
        "\n[[layers]]\n"
        'kind = "lstm"\nhidden_size = 64\nbidirectional = true\n'
        "\n[[layers]]\n"
        'kind = "dense"\nunits = 10\n'
    )


def test_an_encoder_decoder_is_written_under_its_two_tables() -> None:
    text = to_toml(
        from_dict(
            {
                "timesteps": 6,
                "encoder": {"layers": [{"kind": "embedding", "vocab_size": 13, "dim": 5},
                                       {"kind": "lstm", "hidden_size": 7, "stack": 2}]},
                "decoder": {"timesteps": 4, "layers": [
                    {"kind": "embedding", "vocab_size": 9, "dim": 4},
                    {"kind": "lstm", "hidden_size": 7, "stack": 2},
                    {"kind": "dense", "units": 9, "steps": "all"}]},
            }
        )
    )  # fmt: skip
    assert "\n[[encoder.layers]]\n" in text
    assert "\n[decoder]\ntimesteps = 4\n" in text
    assert text.count("[[decoder.layers]]") == 3


RNN = ["[[layers]]", "kind = 'rnn'", "hidden_size = 3"]
EMBEDDING = ["[[layers]]", "kind = 'embedding'", "vocab_size = 5", "dim = 2"]
LSTM = ["[[layers]]", "kind = 'lstm'"]
ENCODER_RNN = ["[[encoder.layers]]", "kind = 'rnn'", "hidden_size = 3"]
DECODER_RNN = [
    "[decoder]",
    "input_size = 1",
    "[[decoder.layers]]",
    "kind = 'rnn'",
    "hidden_size = 3",
]
MALFORMED = [
    (["convention = 'tf'", *RNN], "convention: must be one of seed, pytorch, keras, got 'tf'"),
    (["notation = 1", "input_size = 2", *RNN], "notation: must be one of separate, concat"),
    (["input_size = 4", "layers = []"], "layers: must be a list of [[layers]] tables"),
    (["input_size = 4", "width = 3", *RNN], "width: is not a key of the top level; it takes"),
    (["input_size = 4", "[[layers]]", "kind = 'transformer'"], "layers[0].kind: must be one of"),
    (["input_size = 4", "[[layers]]", "hidden_size = 3"], "layers[0].kind: must be one of"),
    (["input_size = 4", *LSTM], "layers[0].hidden_size: is needed for a lstm layer"),
    (
        ["input_size = 4", *LSTM, "hidden_size = '64'"],
        "layers[0].hidden_size: must be an integer, got str",
    ),
    (
        ["input_size = 4", *LSTM, "hidden_size = 6.5"],
        "layers[0].hidden_size: must be an integer, got float",
    ),
    (
        ["input_size = 4", *LSTM, "hidden_size = 3", "bidirectional = 1"],
        "layers[0].bidirectional: must be true or false",
    ),
    (
        ["input_size = 4", *LSTM, "hidden_size = 3", "units = 2"],
        "layers[0].units: is not a key of a lstm layer",
    ),
    (
        ["input_size = 4", *RNN, "[[layers]]", "kind = 'dense'", "units = 2", "tie = true"],
        "layers[1].tie: needs an embedding",
    ),
    (
        [
            *EMBEDDING,
            *RNN,
            "[[layers]]",
            "kind = 'dense'",
            "units = 5",
            "steps = 'all'",
            "tie = true",
        ],
        "layers[2].tie: the tied weight is the embedding's (5 x 2), but this layer reads 3 features",
    ),
    (RNN, "input_size: is needed unless the first layer is an embedding"),
    (["timesteps = 0", "input_size = 2", *RNN], "timesteps: must be at least 1"),
    (["layers = [1, 2]"], "layers[0]: must be a table with a kind"),
    (["input_size = 2", *ENCODER_RNN], "decoder: an encoder-decoder needs a [decoder] table"),
    (
        [
            "input_size = 2",
            "[[encoder.layers]]",
            "kind = 'lstm'",
            "hidden_size = 3",
            "[decoder]",
            "input_size = 1",
            "[[decoder.layers]]",
            "kind = 'lstm'",
            "hidden_size = 4",
        ],
        "decoder.layers[0]: stacked layer 0 starts from the encoder's layer 0 final state (h and c of 3), but holds h and c of 4",
    ),
    (
        ["input_size = 2", *ENCODER_RNN, "[[decoder.layers]]", "kind = 'rnn'", "hidden_size = 3"],
        "decoder.input_size: is needed",
    ),
    (
        [
            "input_size = 2",
            *ENCODER_RNN,
            "[[encoder.layers]]",
            "kind = 'dense'",
            "units = 3",
            *DECODER_RNN,
        ],
        "encoder.layers[1]: the encoder hands on its final states",
    ),
    (
        ["input_size = 2", "[encoder]", "timesteps = 3", *ENCODER_RNN, *DECODER_RNN],
        "encoder.timesteps: is not a key of [encoder]",
    ),
    (
        ["input_size = 2", *RNN, "[[decoder.layers]]", "kind = 'rnn'", "hidden_size = 3"],
        "layers: an encoder-decoder lists its layers under encoder and decoder",
    ),
]


@pytest.mark.parametrize(("lines", "message"), MALFORMED)
def test_malformed_files_name_the_file_and_the_key(
    tmp_path: Path, lines: list[str], message: str
) -> None:
    path = write(tmp_path, "\n".join(lines))
    with pytest.raises(ModelFileError) as error:
        read_model(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_files_that_are_not_toml(tmp_path: Path) -> None:
    for content, message in (
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[[layers]\n", "not valid TOML"),
        (b"timesteps = " + b"9" * 5000, "a number in it has thousands of digits"),
        (b"a = " + b"[" * 100_000, "not valid TOML"),
    ):
        with pytest.raises(ModelFileError, match=message):
            read_model(write(tmp_path, content))


def test_paths_that_are_not_model_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such file"):
        read_model(str(tmp_path / "missing.toml"))
    with pytest.raises(ModelFileError, match=r"not a regular file \(a directory\)"):
        read_model(str(tmp_path))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match=r"not a regular file \(a FIFO\)"):
        read_model(str(fifo))  # refused without blocking on the pipe
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * ((1 << 20) + 1))
    with pytest.raises(ModelFileError, match="too large"):
        read_model(str(big))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.binary(max_size=300))
def test_any_content_gives_a_network_or_one_clear_error(text: str | bytes) -> None:
    raw = text.encode() if isinstance(text, str) else text
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"rnncalc-fuzz-{os.getpid()}.toml"
    path.write_bytes(raw)
    try:
        read_model(str(path))
    except ModelFileError:
        pass  # one clear message; anything else fails the test
    finally:
        path.unlink()


@settings(max_examples=200, deadline=None)
@given(networks(), st.data())
def test_mutated_files_give_a_network_or_one_clear_error(network: Network, data: Any) -> None:
    """Take a valid file, change one value to something of another type or out of range."""
    content = tomllib.loads(to_toml(network))
    table = content
    layers = (
        content.get("layers")
        or content[data.draw(st.sampled_from(["encoder", "decoder"]))]["layers"]
    )
    table = data.draw(st.sampled_from([content, *layers]))
    key = data.draw(st.sampled_from(sorted(table)))
    table[key] = data.draw(st.sampled_from([0, -1, 10**101, "x", 1.5, True, [], {}, "lstm", "all"]))
    with contextlib.suppress(SpecError):  # a message naming the key; anything else fails
        from_dict(content)
