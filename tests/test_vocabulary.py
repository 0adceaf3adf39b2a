"""One vocabulary across commands: the same option means the same thing everywhere, choices
ignore case, mistakes get suggestions, -q prints one number, JSON has one shape.
"""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from rnncalc.cli import cli

CONTEXT = click.Context(cli)
COMMANDS = {name: cli.get_command(CONTEXT, name) for name in cli.list_commands(CONTEXT)}


def option(command: str, name: str) -> click.Option | None:
    found = [p for p in COMMANDS[command].params if p.name == name]  # type: ignore[union-attr]
    return found[0] if found and isinstance(found[0], click.Option) else None


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), prog_name="rnncalc")


@pytest.mark.parametrize("name", ["batch_size", "dtype", "outputs", "quiet", "fmt", "layers"])
def test_an_option_is_the_same_wherever_it_is_offered(name: str) -> None:
    offered = {c: option(c, name) for c in COMMANDS if option(c, name) is not None}
    assert len(offered) >= 2, name
    opts = {tuple(o.opts) for o in offered.values() if o is not None}
    assert len(opts) == 1, opts
    if name in ("dtype", "outputs"):
        types = [o.type for o in offered.values() if o is not None]
        choices = {tuple(t.choices) for t in types if isinstance(t, click.Choice)}
        assert len(choices) == 1, choices
    if name == "batch_size":
        assert {o.default for o in offered.values() if o is not None} == {1}


def test_every_command_with_a_headline_number_prints_it_alone() -> None:
    assert run("params", "-q").stdout == "28\n"
    assert run("cost", "-q").stdout == "160\n"  # the seed RNN's FLOPs, batch 1
    assert run("fit", "--budget", "1M", "-q").stdout == "997\n"
    assert float(run("forward", "-q").stdout) > 0  # the median seconds of the pass
    for command in ("params", "cost", "forward", "fit"):
        args = ["--budget", "1M"] if command == "fit" else []
        result = run(command, *args, "-q", "-f", "json")
        assert result.exit_code == 2
        assert "--quiet prints a bare number" in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["params", "-q", "--cell", "LSTM"], "100\n"),
        # Keras GRU, reset_after: 3·H·(I + H) + 2·3·H = 63 + 18, then the head 3·1 + 1.
        (["params", "-q", "-c", "Gru", "--convention", "Keras"], "85\n"),
        (["params", "-q", "--notation", "CONCAT"], "28\n"),
        (["cost", "-q", "--dtype", "Float16"], "160\n"),
    ],
)
def test_choices_ignore_case(args: list[str], expected: str) -> None:
    assert run(*args).stdout == expected


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (["parms"], "Did you mean 'params'?"),
        (["swep"], "Did you mean 'sweep'?"),
        (["params", "--bidi"], "Did you mean '--bidirectional'?"),
        (["params", "--hidden"], "Did you mean '--hidden-size' or '--hidden-activation'?"),
        (["forward", "--re"], "Did you mean '--reset-after' or '--repeat'?"),
    ],
)
def test_a_mistake_gets_the_closest_names(args: list[str], suggestion: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert suggestion in result.stderr


@pytest.mark.parametrize(
    ("args", "flags", "options"),
    [
        (["cost"], [], {"batch_size", "dtype"}),
        (["forward"], [], {"batch_size", "dtype", "repeat", "seed", "engine"}),
        (["fit", "--budget", "1M", "-H", "64/64", "--solve", "input-size"], ["-H", "64/64"],
         {"solve", "budget"}),
        (["sweep", "-T", "1..3", "-H", "64/32"], ["-H", "64/32"], {"swept", "cost", "outputs"}),
    ],
)  # fmt: skip
def test_json_is_model_then_options_then_results(
    args: list[str], flags: list[str], options: set[str]
) -> None:
    """Commands on whole networks: the model in the model file's form (the one params
    prints for the same flags, sizes aside), the run's options, then the results.
    """
    data = json.loads(run(*args, "-f", "json").stdout)
    keys = list(data)
    assert keys[:2] == ["model", "options"]
    params = json.loads(run("params", *flags, "-f", "json").stdout)["model"]
    assert set(data["model"]) == set(params)
    assert [layer["kind"] for layer in data["model"]["layers"]] == [
        layer["kind"] for layer in params["layers"]
    ]
    assert set(data["options"]) == options
    assert not {"batch_size", "dtype", "outputs"} & set(keys[2:])


def test_params_json_has_the_model_first_and_no_options() -> None:
    data = json.loads(run("params", "-f", "json").stdout)
    assert next(iter(data)) == "model"
    assert data["model"] == {
        "convention": "seed",
        "timesteps": 3,
        "input_size": 4,
        "layers": [{"kind": "rnn", "hidden_size": 3}, {"kind": "dense", "units": 1}],
    }
