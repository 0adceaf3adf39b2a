"""The flags that describe a network: :func:`rnncalc.cli.model.build_network` run backwards.

A network the flags can describe (one stage; recurrent layers of one cell and one set of
options, several only one layer each; dense layers with biases, of one placement, the
same activation before the last; no names) gets its shortest command line, defaults left
out; any other needs a model file, and gets None.  A test builds every generated network's
flags back into the same network.
"""

from __future__ import annotations

import shlex

from ..model.network import Dense, Network, Recurrent


def network_flags(network: Network) -> list[str] | None:
    """The model options that build ``network``, or None where only a model file can."""
    if network.encoder_decoder:
        return None
    (stage,) = network.stages
    recurrent, dense = stage.recurrent, stage.dense
    first = recurrent[0]
    if any(layer.name for layer in stage.layers) or any(
        _options(layer) != _options(first) for layer in recurrent
    ):
        return None
    if len(recurrent) > 1 and any(layer.stack > 1 for layer in recurrent):
        return None
    if len(stage.layers) != (stage.embedding is not None) + len(recurrent) + len(dense):
        return None
    if stage.layers[(stage.embedding is not None) + len(recurrent) - 1] is not recurrent[-1]:
        return None  # a dense layer between recurrent ones
    if dense and not _plain_heads(dense):
        return None
    flags = ["-T", str(stage.timesteps)]
    embedding = stage.embedding
    if embedding is not None:
        flags += ["--vocab-size", str(embedding.vocab_size), "-I", str(embedding.dim)]
    else:
        flags += ["-I", str(stage.input_size)]
    flags += ["-H", "/".join(str(layer.hidden_size) for layer in recurrent)]
    flags += _recurrent_flags(first, network.convention)
    flags += ["-O", "/".join(str(layer.units) for layer in dense) if dense else "0"]
    flags += _dense_flags(dense)
    if network.convention != "seed":
        flags += ["--convention", network.convention]
    if network.notation != "separate":
        flags += ["--notation", network.notation]
    return flags


def _options(layer: Recurrent) -> tuple[object, ...]:
    """What one set of flags gives every recurrent layer: all but the sizes and the stack."""
    return tuple(getattr(layer, f) for f in Recurrent.FIELDS if f not in ("hidden_size", "stack"))


def _plain_heads(dense: tuple[Dense, ...]) -> bool:
    """Dense layers the flags describe: biases, one placement, one activation before the
    last, a tie only on the last.
    """
    return (
        all(layer.bias for layer in dense)
        and len({layer.steps for layer in dense}) == 1
        and len({layer.activation for layer in dense[:-1]}) <= 1
        and not any(layer.tie for layer in dense[:-1])
    )


def _recurrent_flags(layer: Recurrent, convention: str) -> list[str]:
    flags = []
    if layer.cell != "rnn":
        flags += ["-c", layer.cell]
    if layer.stack > 1:
        flags += ["-L", str(layer.stack)]
    if layer.bidirectional:
        flags.append("--bidirectional")
    if not layer.bias:
        flags.append("--no-bias")
    if layer.proj_size:
        flags += ["--proj-size", str(layer.proj_size)]
    if layer.cell == "gru" and convention == "keras" and not layer.reset_after:
        flags.append("--no-reset-after")
    if layer.activation != "tanh":
        flags += ["--hidden-activation", layer.activation]
    return flags


def _dense_flags(dense: tuple[Dense, ...]) -> list[str]:
    if not dense:
        return []
    flags = []
    if dense[0].steps != "last":
        flags += ["--outputs", dense[0].steps]
    if dense[-1].tie:
        flags.append("--tie")
    if len(dense) > 1 and dense[0].activation != "relu":
        flags += ["--head-activation", dense[0].activation]
    if dense[-1].activation != "identity":
        flags += ["--output-activation", dense[-1].activation]
    return flags


def command_line(command: str, network: Network) -> str | None:
    """``rnncalc COMMAND`` with the flags for ``network``, quoted for a shell; or None."""
    flags = network_flags(network)
    return None if flags is None else shlex.join(["rnncalc", command, *flags])
