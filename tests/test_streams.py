"""The process around a command, in real subprocesses: closed and full output, encodings
that cannot hold box drawing, Ctrl-C and SIGTERM (see rnncalc/streams.py).
"""

from __future__ import annotations

import os
import pty
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnncalc.cli.streams import fallback

COMMAND = [sys.executable, "-m", "rnncalc"]
#: A forward pass that runs for many seconds: long enough to be interrupted mid-way.
LONG_RUN = ["forward", "-T", "1000000", "-H", "8", "-I", "2", "-B", "1", "--repeat", "100"]


def rnncalc(*args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*COMMAND, *args], capture_output=True, timeout=60, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def test_closed_stdout_is_one_line_and_status_1() -> None:
    result = subprocess.run(
        [*COMMAND, "params"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == b"rnncalc: standard output is closed: there is nowhere to write\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args", [["params"], ["sweep", "-T", "1..100000", "-f", "csv"], ["--help"]]
)
def test_a_full_disk_is_one_line_and_status_1(args: list[str]) -> None:
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [*COMMAND, *args], stdout=full, stderr=subprocess.PIPE, check=False, timeout=60
        )
    assert result.returncode == 1
    assert result.stderr == b"rnncalc: cannot write the output: No space left on device\n"


@pytest.mark.parametrize("encoding", ["latin-1", "ascii"])
@pytest.mark.parametrize(
    "args",
    [
        ["params", "--explain"],
        ["diagram", "-c", "lstm", "-L", "6", "--bidirectional", "-T", "20"],
        ["cost", "--explain"],
        ["sweep", "-T", "1..5", "--plot"],
        ["forward", "--check"],
    ],
)
def test_encodings_without_box_drawing_get_ascii(encoding: str, args: list[str]) -> None:
    result = rnncalc(*args, env={**os.environ, "PYTHONIOENCODING": encoding})
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    text = result.stdout.decode(encoding)  # strict: every byte is of the encoding
    utf8 = rnncalc(*args, env={**os.environ, "PYTHONIOENCODING": "utf-8"}).stdout.decode()
    # The same text, each character the encoding lacks replaced by its ASCII stand-in.
    expected = "".join(char if char.encode(encoding, "ignore") else fallback(char) for char in utf8)
    if args[0] == "forward":  # timings differ from run to run
        text, expected = (t.split("Timing:")[0] for t in (text, expected))
    assert text == expected
    assert text != utf8  # something needed a stand-in


def test_fallbacks_are_ascii() -> None:
    for char in "┏━┳┓┃│┡╇┩├┼┤└┴┘─═║╭╮×·²→←▶◀▲█…≤≥−⋮é":
        assert fallback(char).isascii()
        assert fallback(char)
    assert fallback("×") == "x"
    assert fallback("·") == "*"
    assert fallback("━") == "-"
    assert fallback("┃") == "|"
    assert fallback("╇") == "+"


def running(*args: str, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start rnncalc and return once it is past start-up (it has imported numpy)."""
    process = subprocess.Popen(
        [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd
    )
    time.sleep(1.5)
    assert process.poll() is None, "the run ended before it could be interrupted"
    return process


def test_ctrl_c_exits_130_quietly() -> None:
    process = running(*LONG_RUN)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert b"Traceback" not in err
    assert len(err.splitlines()) <= 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_save_leaves_nothing_behind(tmp_path: Path, sig: int) -> None:
    process = running(*LONG_RUN, "--save", "out.npz", cwd=tmp_path)
    (reserved,) = tmp_path.iterdir()  # the temporary file, made before the run
    assert reserved.name.startswith(".rnncalc-")
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == (143 if sig == signal.SIGTERM else 130)
    assert b"Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_closed_stderr_keeps_the_status_of_bad_input() -> None:
    result = subprocess.run(
        [*COMMAND, "params", "-T", "x"],
        capture_output=False,
        stdout=subprocess.PIPE,
        preexec_fn=lambda: os.close(2),
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == b""


def test_an_ascii_stream_escapes_what_it_cannot_hold() -> None:
    result = rnncalc("params", "-c", "ｒｎｎ", env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert result.returncode == 2
    # Not 'rnn', which would contradict "is not one of 'rnn', ...".
    assert b"'\\uff52\\uff4e\\uff4e' is not one of 'rnn', 'lstm', 'gru'" in result.stderr


def test_a_terminal_of_any_width_gets_a_finite_drawing() -> None:
    main, child = pty.openpty()
    env = {**os.environ, "COLUMNS": str(10**20), "TERM": "xterm"}
    process = subprocess.Popen(
        [*COMMAND, "sweep", "-T", "1..5", "--plot"], stdout=child, stderr=child, env=env
    )
    os.close(child)
    output = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal is gone: the process ended
            break
        if not chunk:
            break
        output += chunk
    os.close(main)
    assert process.wait(timeout=60) == 0
    assert b"Traceback" not in output
    assert max(len(line) for line in output.splitlines()) < 3000  # 1,000 columns, and colour


def test_a_failed_save_is_reported_as_such_and_leaves_nothing(tmp_path: Path) -> None:
    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    result = subprocess.run(
        [*COMMAND, "forward", "-T", "50", "-H", "64", "-B", "8", "--save", "out.npz"],
        capture_output=True,
        cwd=tmp_path,
        preexec_fn=small_files,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == b"Error: could not write out.npz: File too large\n"
    assert result.stdout == b""  # the file comes before the output
    assert list(tmp_path.iterdir()) == []
