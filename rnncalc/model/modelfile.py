"""Model files: a whole network in TOML, read with the standard library's tomllib.

```toml
convention = "keras"        # seed | pytorch | keras; default seed
timesteps = 100             # T; default 3, the seed's
input_size = 10             # I; leave out when the first layer is an embedding
[[layers]]
kind = "embedding"          # vocab_size, dim; optional name
vocab_size = 20000
dim = 128
[[layers]]
kind = "lstm"               # rnn | lstm | gru: hidden_size; optional bidirectional, bias,
hidden_size = 64            #   proj_size, reset_after, stack, activation (rnn), name
bidirectional = true
[[layers]]
kind = "dense"              # units; optional activation, steps = "last" | "all", tie,
units = 10                  #   bias, name
```

An encoder-decoder puts its layers under ``[[encoder.layers]]`` and ``[[decoder.layers]]``;
the top level's ``timesteps`` and ``input_size`` are the encoder's, and ``[decoder]`` may
set its own (``timesteps``: the target length, default the source's).  Every key is
checked: unknown keys and kinds, wrong types and missing fields are a
:class:`~rnncalc.model.spec.SpecError` whose field is the key's path
(``layers[1].hidden_size``, counting from 0).  :func:`to_toml` writes the file for any
network, and reading it back gives the same network.  Standard library only; tomllib
loads only when a file is read.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, cast

from ..files import FileError, cannot, open_regular
from .network import Dense, Embedding, Layer, Network, Recurrent, Stage
from .spec import CELLS, CONVENTIONS, NOTATIONS, SpecError, check_choice

if TYPE_CHECKING:
    from .spec import Cell

#: A model file larger than this is not a model description (1 MiB holds thousands of
#: layers); it is refused before it is read.
MAX_FILE_BYTES = 1 << 20

TOP_KEYS = ("convention", "notation", "timesteps", "input_size", "layers", "encoder", "decoder")
#: Each kind's keys (besides ``kind``), in the order the file is written.
LAYER_KEYS = {
    "embedding": Embedding.FIELDS,
    "dense": Dense.FIELDS,
    **dict.fromkeys(CELLS, Recurrent.FIELDS[1:]),
}
_REQUIRED = {"embedding": ("vocab_size", "dim"), "dense": ("units",)}


class ModelFileError(FileError):
    """A model file that cannot be read, or does not describe a network; the one-line
    message starts with the file's path.
    """


def read_model(path: str) -> Network:
    """The network a TOML model file describes.

    Raises ModelFileError (naming the file, and the key where one is at fault) for a file
    that is missing, not a regular file, too large, not UTF-8 TOML, or not a valid network.
    """
    import tomllib

    with open_regular(path, ModelFileError) as file:
        size = os.fstat(file.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise ModelFileError(
                f"{path}: {size:,} bytes is too large for a model file (at most 1 MiB)"
            )
        try:
            raw = file.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise ModelFileError(cannot(path, "read", error)) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not a TOML file: it is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ModelFileError(f"{path}: not valid TOML: {error}") from None
    except ValueError:  # Python's limit on the digits of an integer
        raise ModelFileError(
            f"{path}: not a model file: a number in it has thousands of digits"
        ) from None
    except RecursionError:
        raise ModelFileError(f"{path}: not valid TOML: nested too deeply") from None
    try:
        return from_dict(data)
    except SpecError as error:
        raise ModelFileError(f"{path}: {error}") from None


def from_dict(data: dict[str, Any]) -> Network:
    """The network described by a model file's parsed contents (what tomllib returns)."""
    _known(data, TOP_KEYS, "", "the top level")
    convention = data.get("convention", "seed")
    notation = data.get("notation", "separate")
    check_choice("convention", convention, CONVENTIONS)
    check_choice("notation", notation, NOTATIONS)
    timesteps = data.get("timesteps", 3)
    input_size = data.get("input_size")
    if "encoder" in data or "decoder" in data:
        if "layers" in data:
            raise SpecError(
                "layers", "an encoder-decoder lists its layers under encoder and decoder"
            )
        for part in ("encoder", "decoder"):
            if not isinstance(data.get(part), dict):
                raise SpecError(part, f"an encoder-decoder needs a [{part}] table with layers")
        _known(data["encoder"], ("layers",), "encoder.", "[encoder]")
        _known(data["decoder"], ("layers", "timesteps", "input_size"), "decoder.", "[decoder]")
        encoder = _stage(data["encoder"], timesteps, input_size, "encoder.", top=True)
        decoder_data = data["decoder"]
        decoder = _stage(
            decoder_data,
            decoder_data.get("timesteps", timesteps),
            decoder_data.get("input_size"),
            "decoder.",
        )
        return Network((encoder, decoder), convention, notation)
    return Network((_stage(data, timesteps, input_size, "", top=True),), convention, notation)


def _stage(
    data: dict[str, Any], timesteps: Any, input_size: Any, path: str, top: bool = False
) -> Stage:
    raw = data.get("layers")
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"{path}layers", "must be a list of [[layers]] tables, at least one")
    layers = tuple(_layer(item, f"{path}layers[{k}]") for k, item in enumerate(raw))
    try:
        return Stage(timesteps, input_size, layers)
    except SpecError as error:
        top_level = top and error.field in ("timesteps", "input_size")
        raise SpecError(error.field if top_level else path + error.field, error.message) from None


def _layer(item: object, path: str) -> Layer:
    if not isinstance(item, dict):
        raise SpecError(path, "must be a table with a kind")
    kind = item.get("kind")
    if not isinstance(kind, str) or kind not in LAYER_KEYS:
        raise SpecError(f"{path}.kind", f"must be one of {', '.join(LAYER_KEYS)}, got {kind!r:.40}")
    keys = LAYER_KEYS[kind]
    _known(item, ("kind", *keys), f"{path}.", f"a {kind} layer")
    required = _REQUIRED.get(kind, ("hidden_size",))
    for key in required:
        if key not in item:
            raise SpecError(f"{path}.{key}", f"is needed for a {kind} layer")
    values = {key: item[key] for key in keys if key in item}
    try:
        if kind == "embedding":
            return Embedding(**values)
        if kind == "dense":
            return Dense(**values)
        return Recurrent(cast("Cell", kind), **values)  # one of CELLS, checked above
    except SpecError as error:
        raise SpecError(f"{path}.{error.field}", error.message) from None


def _known(data: dict[str, Any], keys: tuple[str, ...], path: str, where: str) -> None:
    for key in data:
        if key not in keys:
            raise SpecError(f"{path}{key}", f"is not a key of {where}; it takes {', '.join(keys)}")


def to_dict(network: Network) -> dict[str, Any]:
    """The model file's contents for ``network``: defaults left out, layers in order."""
    data: dict[str, Any] = {"convention": network.convention}
    if network.notation != "separate":
        data["notation"] = network.notation
    first = network.stages[0]
    data["timesteps"] = first.timesteps
    if first.input_size is not None:
        data["input_size"] = first.input_size
    if not network.encoder_decoder:
        data["layers"] = [_layer_dict(layer) for layer in first.layers]
        return data
    decoder = network.stages[1]
    data["encoder"] = {"layers": [_layer_dict(layer) for layer in first.layers]}
    data["decoder"] = {}
    if decoder.timesteps != first.timesteps:
        data["decoder"]["timesteps"] = decoder.timesteps
    if decoder.input_size is not None:
        data["decoder"]["input_size"] = decoder.input_size
    data["decoder"]["layers"] = [_layer_dict(layer) for layer in decoder.layers]
    return data


def _layer_dict(layer: Layer) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": layer.kind}
    defaults = _DEFAULTS[type(layer)]
    for key, value in layer.as_dict().items():
        if key != "cell" and (key not in defaults or defaults[key] != value):
            data[key] = value
    return data


_DEFAULTS: dict[type, dict[str, object]] = {
    Embedding: {"name": ""},
    Recurrent: {
        "bidirectional": False,
        "bias": True,
        "proj_size": 0,
        "reset_after": True,
        "stack": 1,
        "activation": "tanh",
        "name": "",
    },
    Dense: {"activation": "identity", "steps": "last", "tie": False, "bias": True, "name": ""},
}


def to_toml(network: Network) -> str:
    """The model file for ``network``, as TOML that :func:`read_model` reads back."""
    data = to_dict(network)
    lines = [
        f"{key} = {_value(value)}"
        for key, value in data.items()
        if key not in ("layers", "encoder", "decoder")
    ]
    if "layers" in data:
        lines += _tables("layers", data["layers"])
    else:
        lines += _tables("encoder.layers", data["encoder"]["layers"])
        decoder = data["decoder"]
        settings = [f"{key} = {_value(value)}" for key, value in decoder.items() if key != "layers"]
        if settings:
            lines += ["", "[decoder]", *settings]
        lines += _tables("decoder.layers", decoder["layers"])
    return "\n".join(lines) + "\n"


def _tables(name: str, layers: list[dict[str, Any]]) -> list[str]:
    lines = []
    for layer in layers:
        lines += ["", f"[[{name}]]"]
        lines += [f"{key} = {_value(value)}" for key, value in layer.items()]
    return lines


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    assert isinstance(value, str)  # names are letters, digits and underscores; choices words
    return f'"{value}"'
