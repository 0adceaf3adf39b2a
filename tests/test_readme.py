"""The README is part of the product: its commands and outputs must be the real ones."""

from __future__ import annotations

import doctest
import os
import re
import shlex
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import rnncalc
from rnncalc.analysis import counts
from rnncalc.cli import cli

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONSOLE_BLOCKS = re.findall(r"```console\n(.*?)```", README, flags=re.DOTALL)
#: Model files the examples read: a toml block whose first line is ``# file: NAME``.
FILES = dict(re.findall(r"```toml\n# file: (\S+)\n(.*?)```", README, flags=re.DOTALL))
#: Checkpoints the examples read, by the name they have there: framework-made files of
#: tests/reference/checkpoints/ (tests/reference/make_checkpoints.py).
CHECKPOINTS = {
    "lm.pt": "lm_tied.pt",
    "model.keras": "keras_lm.keras",
    "conv_gru.safetensors": "conv_gru_bf16.safetensors",
}


def examples() -> list[tuple[str, str]]:
    """(command, output) for every `$ rnncalc ...` in a console block."""
    found = []
    for block in CONSOLE_BLOCKS:
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, output = chunk.partition("\n")
            found.append((command, output))
    return found


def test_readme_has_examples(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--update-goldens"):
        rewrite_readme_examples()
    assert len(examples()) >= 6


def steady(text: str) -> str:
    """Blank out what changes from run to run: timings and rounding-level differences."""
    text = re.sub(r"^Timing: .*$", "Timing: ...", text, flags=re.MULTILINE)
    return re.sub(r"\d\.\de[+-]\d\d", "#.#e-##", text)


def output_of(command: str) -> str:
    program, *args = shlex.split(command)
    assert program == "rnncalc"
    with tempfile.TemporaryDirectory() as folder:
        for name, text in FILES.items():
            (Path(folder) / name).write_text(text, encoding="utf-8")
        for name, source in CHECKPOINTS.items():
            data = (ROOT / "tests" / "reference" / "checkpoints" / source).read_bytes()
            (Path(folder) / name).write_bytes(data)
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            result = CliRunner().invoke(cli, args, prog_name="rnncalc")
        finally:
            os.chdir(cwd)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(("command", "expected"), examples(), ids=[c for c, _ in examples()])
def test_readme_example_output_is_real(
    command: str, expected: str, request: pytest.FixtureRequest
) -> None:
    if request.config.getoption("--update-goldens"):
        pytest.skip("rewritten by test_readme_has_examples")
    assert steady(output_of(command)) == steady(expected)


def rewrite_readme_examples() -> None:
    """Rewrite every console example's output in README.md with the real one."""

    def rewrite(block: re.Match[str]) -> str:
        chunks = re.split(r"^\$ ", block[1], flags=re.MULTILINE)
        body = ""
        for chunk in chunks[1:]:
            command, _, old = chunk.partition("\n")
            new = output_of(command)
            body += f"$ {command}\n{old if steady(old) == steady(new) else new}"
        return f"```console\n{chunks[0]}{body}```"

    text = re.sub(r"```console\n(.*?)```", rewrite, README, flags=re.DOTALL)
    (ROOT / "README.md").write_text(text, encoding="utf-8")


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"```sh\n(python3 -m venv .*?)\n```", README)
    install, test = commands[:2]
    assert install.endswith("rnncalc params")
    assert test.endswith("python -m pytest")
    assert test in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_readme_python_examples() -> None:
    python = "\n".join(re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL))
    test = doctest.DocTestParser().get_doctest(python, {}, "README.md", "README.md", 0)
    assert test.examples
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.failures == 0


@pytest.mark.parametrize("module", [rnncalc, counts])
def test_docstring_examples(module: object) -> None:
    failures, tried = doctest.testmod(module)  # type: ignore[arg-type]
    assert tried > 0
    assert failures == 0
