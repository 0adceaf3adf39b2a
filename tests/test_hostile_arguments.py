"""Generated hostile argument lists and files against every command.

Whatever the arguments (huge, negative, fractional, unicode, empty, malformed ranges,
options of other commands, special paths, damaged files), every invocation answers
within the time limit with one of the promised exit statuses, prints no traceback, keeps
its error to one short message, writes strict JSON, and leaves no temporary file behind
(see tests/hostile.py).  RNNCALC_FUZZ_EXAMPLES raises the number of examples per command.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import click
import numpy as np
import pytest
from hostile import invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncalc.cli import cli

CHECKPOINTS = Path(__file__).parent / "reference" / "checkpoints"
EXAMPLES = int(os.environ.get("RNNCALC_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Numbers as a user might type them, and as no user should.
NUMBERS = [
    "0", "1", "2", "3", "7", "64", "-1", "+3", " 3 ", "1_000", "1__0", "_1", "1k", "1.5k",
    "1.2345k", "2M", "1T", "1e3", "3.0", "2.5", "0x10", "nan", "inf", "３", "١٢",
    "1" + "0" * 100, "1" + "0" * 101, "9" * 5000, "1" + "0" * 4290 + "T", "-" + "9" * 40,
]  # fmt: skip
#: Sweep's lists and ranges, good and bad (none long enough to make a slow table).
RANGES = [
    "1..3", "1..5", "16..1024:x2", "1..1000000000000", "5..1", "1..10:+0", "1..10:x1",
    "1,,2", "1..", "..3", "1..3:", "1..3:*2", "2,4,8", "1.." + "9" * 3000, "1..1e3",
    "8/1..3", "1..3/2,4", "2/", "/", "4//2", "3/0", "/".join(["2"] * 1000), "/".join(["2"] * 1001),
]  # fmt: skip
SIZES_IN_BYTES = ["1", "1KiB", "64KiB", "16MiB", "0", "-1", "lots", "1.5MiB", "1e9", "10 MB"]
JUNK = [
    "", " ", "ü", "×", "\u202e", "\x00", "a" * 5000, "x " * 2500, "a\nb", "--", "-", "-T",
    "--format=", "%s",
]  # fmt: skip
EXTRA = ["--bogus", "extra", "--hidden", "--bidi", "-q", "--plot", "--check", "--budget", "1"]
#: Sizes per layer (-H 64/32, -O 64/10), good and bad.
LAYERED = ["64/32", "3/3/3", "4//3", "/", "3/", "/3", "0/3", "3/0", "1k/2M", "1/" * 1200 + "1"]
#: A model file as --model reads it: an encoder-decoder with embeddings and a tied head.
MODEL = """\
convention = "pytorch"
timesteps = 4
[[encoder.layers]]
kind = "embedding"
vocab_size = 11
dim = 3
[[encoder.layers]]
kind = "lstm"
hidden_size = 3
stack = 2
[[decoder.layers]]
kind = "embedding"
vocab_size = 7
dim = 3
[[decoder.layers]]
kind = "lstm"
hidden_size = 3
stack = 2
[[decoder.layers]]
kind = "dense"
units = 7
steps = "all"
tie = true
"""


def special_paths(root: Path) -> list[str]:
    """Files of every kind a path option may be given, made under ``root``."""
    good = root / "w.npz"
    np.savez(good, W_xh=np.ones((4, 3)), W_hh=np.ones((3, 3)), b_h=np.ones(3))
    np.save(root / "x.npy", np.ones((2, 3, 4)))
    (root / "random.bin").write_bytes(os.urandom(300))
    (root / "truncated.npz").write_bytes(good.read_bytes()[:150])
    with zipfile.ZipFile(root / "notes.npz", "w") as archive:
        archive.writestr("notes.txt", "not an array")
    np.save(root / "text.npy", np.array([[["a"]]]))
    np.save(root / "nan.npy", np.full((2, 3, 4), np.nan))
    np.save(root / "inf.npy", np.full((1, 2, 4), np.inf))
    np.save(root / "tokens.npy", np.array([[0, 3, 9], [12, -1, 2]]))
    np.savez(root / "pair.npz", x=np.ones((2, 3), np.int64), x_decoder=np.ones((2, 2), np.int64))
    (root / "lm.toml").write_text(
        'timesteps = 3\n[[layers]]\nkind = "embedding"\nvocab_size = 10\ndim = 4\n'
        '[[layers]]\nkind = "lstm"\nhidden_size = 4\n'
        '[[layers]]\nkind = "dense"\nunits = 10\nsteps = "all"\ntie = true\n'
    )
    (root / "seq2seq.toml").write_text(
        '[[encoder.layers]]\nkind = "embedding"\nvocab_size = 5\ndim = 2\n'
        '[[encoder.layers]]\nkind = "gru"\nhidden_size = 3\n'
        '[[decoder.layers]]\nkind = "embedding"\nvocab_size = 4\ndim = 2\n'
        '[[decoder.layers]]\nkind = "gru"\nhidden_size = 3\n'
    )
    (root / "existing.npz").write_bytes(b"old")
    (root / "folder").mkdir()
    os.mkfifo(root / "fifo")
    (root / "loop").symlink_to(root / "loop")
    (root / "dangling").symlink_to(root / "missing")
    (root / "link.npz").symlink_to(good)
    (root / "model.toml").write_text(MODEL)
    (root / "cut.toml").write_text(MODEL[:200])
    (root / "huge.toml").write_bytes(b"#" * (2 << 20))
    for name in ("lm_tied.safetensors", "conv_gru_bf16.safetensors", "lm_tied.pt",
                 "keras_lm.keras", "onnx_lm.onnx"):  # fmt: skip
        (root / name).write_bytes((CHECKPOINTS / name).read_bytes())
    (root / "cut.safetensors").write_bytes((CHECKPOINTS / "lm_tied.safetensors").read_bytes()[:900])
    names = [
        "model.toml", "cut.toml", "huge.toml", "lm_tied.safetensors", "conv_gru_bf16.safetensors",
        "lm_tied.pt", "keras_lm.keras", "onnx_lm.onnx",
        "cut.safetensors",
        "w.npz", "x.npy", "random.bin", "truncated.npz", "notes.npz", "text.npy", "nan.npy",
        "inf.npy", "tokens.npy", "pair.npz", "lm.toml", "seq2seq.toml", "existing.npz",
        "folder", "fifo", "loop", "dangling", "link.npz",
        "loop/out.npz", "missing/out.npz", "new.npz", "n" * 250 + ".npz", "ü.npz",
    ]  # fmt: skip
    return [str(root / name) for name in names] + ["/dev/zero", "/dev/null", "/proc/self/status"]


def option_values(param: click.Option, paths: list[str]) -> st.SearchStrategy[str]:
    if isinstance(param.type, click.Path) or param.name == "model_path":
        return st.sampled_from(paths)
    if param.name in ("hidden_size", "output_size"):
        return st.sampled_from(LAYERED + NUMBERS[:12] + RANGES[:4])
    if isinstance(param.type, click.Choice):
        return st.sampled_from([*map(str, param.type.choices), *JUNK[:6], "LSTM", "Json"])
    if param.name == "max_memory":
        return st.sampled_from(SIZES_IN_BYTES)
    if param.name in ("budget_bytes",):
        return st.sampled_from([*SIZES_IN_BYTES, "1EiB", "1" + "0" * 200])
    pool = RANGES + NUMBERS[:12] if param.type == click.STRING and param.name != "budget" else []
    return st.sampled_from(pool or NUMBERS + JUNK)


@st.composite
def argument_lists(draw: st.DrawFn, command: click.Command, paths: list[str]) -> list[str]:
    options = [p for p in command.params if isinstance(p, click.Option)]
    args: list[str] = []
    for param in draw(st.lists(st.sampled_from(options), max_size=6)):
        name = draw(st.sampled_from([*param.opts, *param.secondary_opts]))
        if param.is_flag:
            args.append(name)
        else:
            args += [name, draw(option_values(param, paths))]
    for _ in (p for p in command.params if isinstance(p, click.Argument)):  # inspect FILE
        args.insert(draw(st.integers(0, len(args))), draw(st.sampled_from(paths + JUNK[:4])))
    if draw(st.integers(0, 9)) == 0:
        args.insert(draw(st.integers(0, len(args))), draw(st.sampled_from(EXTRA + JUNK)))
    return args


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return special_paths(tmp_path_factory.mktemp("hostile"))


def no_temporary_files(paths: list[str]) -> None:
    root = Path(paths[0]).parent
    assert not list(root.glob(".rnncalc-*")), "a temporary file was left behind"


@pytest.mark.parametrize("name", sorted(cli.list_commands(click.Context(cli))))
def test_any_argument_list_gets_a_clear_answer(name: str, paths: list[str]) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    # Given first, so that a generated value comes later and wins: forward gets a low memory
    # limit, so that generated sizes stay quick to run, and fit a budget to work with.
    prefix = {"forward": ["--max-memory", "32MiB"], "fit": ["--budget", "100k"]}.get(name, [])

    @FUZZ
    @given(argument_lists(command, paths))
    def check(args: list[str]) -> None:
        invoke(name, *prefix, *args).check()
        no_temporary_files(paths)

    check()


@st.composite
def damaged(draw: st.DrawFn, valid: bytes) -> bytes:
    """A valid file, cut short, with bytes changed, or with bytes added."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=8))


@pytest.mark.parametrize("option", ["--weights", "--inputs"])
def test_damaged_files_get_a_clear_answer(option: str, tmp_path: Path) -> None:
    source = tmp_path / "valid"
    if option == "--weights":
        np.savez(source, W_xh=np.ones((4, 3)), W_hh=np.ones((3, 3)), b_h=np.ones(3))
        source = source.with_suffix(".npz")
    else:
        np.save(source, np.ones((2, 3, 4)))
        source = source.with_suffix(".npy")
    target = tmp_path / "damaged"

    @FUZZ
    @given(damaged(source.read_bytes()))
    def check(data: bytes) -> None:
        target.write_bytes(data)
        outcome = invoke("forward", "--check", option, str(target), "-O", "0")
        outcome.check()
        assert outcome.status in (0, 2)

    check()


@pytest.mark.parametrize("name", sorted(cli.list_commands(click.Context(cli))))
def test_damaged_model_files_get_a_clear_answer(name: str, tmp_path: Path) -> None:
    target = tmp_path / "damaged.toml"
    prefix = {"forward": ["--max-memory", "32MiB"], "fit": ["--budget", "100k"]}.get(name, [])

    @settings(FUZZ, max_examples=max(EXAMPLES // 4, 10))
    @given(damaged(MODEL.encode()))
    def check(data: bytes) -> None:
        target.write_bytes(data)
        outcome = invoke(name, *prefix, "--model", str(target))
        outcome.check()
        assert outcome.status in (0, 1, 2)

    check()


@pytest.mark.parametrize(
    "name", ["conv_gru_bf16.safetensors", "lm_tied.pt", "keras_lm.keras", "onnx_lm.onnx"]
)
def test_damaged_checkpoints_get_a_clear_answer(tmp_path: Path, name: str) -> None:
    target = tmp_path / f"damaged{Path(name).suffix}"

    @settings(FUZZ, max_examples=max(EXAMPLES // 4, 10))
    @given(damaged((CHECKPOINTS / name).read_bytes()))
    def check(data: bytes) -> None:
        target.write_bytes(data)
        outcome = invoke("inspect", str(target), "-f", "json")
        outcome.check()
        assert outcome.status in (0, 2)

    check()
