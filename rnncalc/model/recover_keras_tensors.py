"""A Keras file's tensors, for :mod:`rnncalc.model.recover_keras`: grouped by the layer
that saved them (Keras 3's numbered variables, Keras 2's names), and, for a
``.weights.h5``, which holds no config, the layers their shapes alone form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..formats.tensors import Listing, Stored
from .network import Dense, Embedding, Layer, Recurrent, Steps
from .recover import RecoveryError
from .spec import SpecError

#: Keras's recurrent classes -> rnncalc's cells, and their group names' bases.
_CELLS = {"SimpleRNN": "rnn", "LSTM": "lstm", "GRU": "gru"}
_BASES = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU", "bidirectional":
          "Bidirectional", "time_distributed": "TimeDistributed", "dense": "Dense",
          "embedding": "Embedding"}  # fmt: skip
#: Gate blocks -> cell, for a layer known by its shapes alone.
_GATES = {1: "SimpleRNN", 3: "GRU", 4: "LSTM"}
#: A Keras 3 variable's path inside its layer group; a Keras 2 weight's last name.
_KERAS3_VARIABLE = re.compile(r"(?:(forward|backward)_layer/)?(cell/|layer/)?vars/(\d+)")
_CELL_VARIABLES = ("kernel", "recurrent_kernel", "bias")


@dataclass
class _Part:
    """One layer group of the file: its tensors by key (``kernel``, ``bias``, and for a
    recurrent cell ``forward/kernel``, ``backward/recurrent_kernel``, ...).
    """

    group: str
    params: dict[str, Stored] = field(default_factory=dict)
    wrapped: bool = False  # under TimeDistributed's layer/
    unread: bool = False  # a tensor whose path is no Keras layer's

    @property
    def recurrent(self) -> bool:
        return "forward/recurrent_kernel" in self.params

    @property
    def base(self) -> str:
        """The group's class part: ``lstm_1`` -> ``lstm``."""
        return re.sub(r"_\d+$", "", self.group.rpartition("/")[2])


@dataclass
class _Built:
    """A layer of the network to be, with the file's part that holds its tensors."""

    layer: Layer
    part: _Part
    reads: int = 0  # features it reads, from its kernel (0: an embedding or unknown)


def _parts(listing: Listing) -> dict[str, _Part]:
    """The file's tensors by layer group; those under no layer group (an optimizer's) are
    left out, and so end up ``other``.
    """
    parts: dict[str, _Part] = {}
    for t in listing.tensors:
        pieces = t.name.split("/")
        if pieces[0] in ("layers", "model_weights") and len(pieces) > 2:
            group, rest = "/".join(pieces[:2]), pieces[2:]
        elif pieces[0] not in ("optimizer", "optimizer_weights", "vars") and len(pieces) > 1:
            group, rest = pieces[0], pieces[1:]  # a subclassed model's attribute, or Keras 2
        else:
            continue
        part = parts.setdefault(group, _Part(group))
        key = _key(listing.format, "/".join(rest), part)
        if key is None or key in part.params:
            part.unread = True
        else:
            part.params[key] = t
    return parts


def _key(kind: str, rest: str, part: _Part) -> str | None:
    """A tensor's key in its layer (see :class:`_Part`), or None when it is no known
    layer's: Keras 3 numbers variables (a cell's kernel, recurrent_kernel, bias; a dense
    layer's kernel, bias), Keras 2 names them.
    """
    if kind == "keras":
        found = _KERAS3_VARIABLE.fullmatch(rest)
        if found is None:
            return None
        direction, holder, index = found[1], found[2], int(found[3])
        if holder == "cell/" and index < len(_CELL_VARIABLES):
            return f"{direction or 'forward'}/{_CELL_VARIABLES[index]}"
        part.wrapped |= holder == "layer/"
        return ("kernel", "bias")[index] if index < 2 and not direction else None
    pieces = rest.split("/")
    name = pieces[-1].removesuffix(":0")
    if name == "recurrent_kernel" or any(p.endswith("_cell") for p in pieces):
        backward = any(p.startswith("backward_") for p in pieces)
        return f"{'backward' if backward else 'forward'}/{name}" if (
            name in _CELL_VARIABLES) else None  # fmt: skip
    return {"kernel": "kernel", "embeddings": "kernel", "bias": "bias"}.get(name)


# From shapes alone -----------------------------------------------------------------------


def _from_shapes(parts: dict[str, _Part], steps: str | None, notes: list[str]) -> list[_Built]:
    """One stage from a ``.weights.h5``: the layers its groups hold, chained by width."""
    rnns = [_Built(_recurrent_of(p), p, _rows(p, "forward/kernel"))
            for p in parts.values() if p.recurrent and not p.unread]  # fmt: skip
    if not rnns:
        raise RecoveryError("no recurrent layer (a group with cell/vars) in the file")
    plain = [p for p in parts.values() if not p.recurrent and not p.unread and _plain(p)]
    reads = {b.reads for b in rnns}
    named = [p.group for p in plain if p.base == "embedding"]
    if len(named) > 1:
        raise RecoveryError(
            f"{' and '.join(named)}: two embeddings (an encoder-decoder?) and no config to "
            "say which feeds which; inspect the .keras file"
        )
    tables = sorted(
        (p for p in plain if "bias" not in p.params and p.base not in ("dense", "time_distributed")
         and p.params["kernel"].shape[1] in reads),
        key=lambda p: p.base != "embedding",
    )  # fmt: skip
    built: list[_Built] = []
    if tables:
        vocab, dim = tables[0].params["kernel"].shape
        built.append(_Built(Embedding(vocab, dim), tables[0]))
        plain.remove(tables[0])
    denses = [
        _Built(_dense_of(p), p, p.params["kernel"].shape[0]) for p in plain if p.base != "embedding"
    ]
    built += _chain(rnns, denses, dim if tables else None)
    last = max(k for k, b in enumerate(built) if isinstance(b.layer, Recurrent))
    after = built[last + 1 :]
    per_step = any(isinstance(b.layer, Dense) and b.layer.steps == "all" for b in after)
    place: Steps = "all" if steps == "all" or (steps is None and per_step) else "last"
    for b in after:
        if isinstance(b.layer, Dense) and b.layer.steps != "all":
            b.layer = b.layer.replace(steps=place)
    notes.append(
        "a .weights.h5 holds no config: the layers were read from the shapes and the groups' "
        "names; activations are not in it (tanh and identity were chosen: write others in "
        "the model file)"
    )
    for b in built:
        if isinstance(b.layer, Recurrent) and b.layer.cell == "gru" and not b.layer.bias:
            notes.append(
                "a GRU without bias does not say where it resets (reset_after: the shapes "
                "are the same either way): reset_after = true, Keras's default, was chosen "
                "(for forward, write reset_after = false in the model file and give --model)"
            )
    if after and steps is None and not per_step:
        notes.append(
            "a .weights.h5 does not say whether the last recurrent layer returns sequences: "
            "the dense layers after it were placed on the last step (override with "
            "--outputs last|all)"
        )
    return built


def _dense_of(part: _Part) -> Dense:
    """A dense layer from its kernel (in, out) and bias; every step inside a
    TimeDistributed (and before a recurrent layer: set when chained), else the last.
    """
    wrapped = part.wrapped or part.base == "time_distributed"
    units = part.params["kernel"].shape[1]
    return Dense(units, steps="all" if wrapped else "last", bias="bias" in part.params)


def _plain(part: _Part) -> bool:
    """Whether a group is a dense layer or an embedding: a 2-D kernel and its bias."""
    kernel, bias = part.params.get("kernel"), part.params.get("bias")
    if kernel is None or len(kernel.shape) != 2 or set(part.params) - {"kernel", "bias"}:
        return False
    return bias is None or bias.shape == kernel.shape[1:]


def _rows(part: _Part, key: str) -> int:
    """The rows of a 2-D tensor of ``part`` (a kernel's: the features it reads)."""
    stored = part.params.get(key)
    if stored is None or len(stored.shape) != 2:
        what = "no" if stored is None else f"a {len(stored.shape)}-D"
        raise RecoveryError(f"{part.group} has {what} {key.replace('forward/', '')}")
    return stored.shape[0]


def _recurrent_of(part: _Part) -> Recurrent:
    """A recurrent layer from its shapes: recurrent_kernel (H, G·H), a GRU's bias (2, 3H)
    when it resets after the recurrent product.
    """
    recurrent = part.params["forward/recurrent_kernel"].shape
    gates, remainder = divmod(recurrent[1], recurrent[0]) if len(recurrent) == 2 and (
        recurrent[0]) else (0, 1)  # fmt: skip
    kind = _GATES.get(gates) if not remainder else None
    named = _BASES.get(part.base)
    if kind is None or (named in _CELLS and named != kind):
        raise RecoveryError(
            f"{part.group}: a recurrent_kernel of shape {recurrent} is not H x G·H for the "
            f"{named or 'SimpleRNN, GRU or LSTM'} it should be"
        )
    bias = part.params.get("forward/bias")
    try:
        return Recurrent(
            _CELLS[kind],  # type: ignore[arg-type]
            recurrent[0],
            "backward/kernel" in part.params,
            bias is not None,
            reset_after=kind != "GRU" or bias is None or len(bias.shape) == 2,
        )
    except SpecError as error:
        raise RecoveryError(f"{part.group}: {error.message}") from None


def _chain(rnns: list[_Built], denses: list[_Built], width: int | None) -> list[_Built]:
    """The recurrent and dense layers in the order their widths chain, from ``width`` (an
    embedding's) or the recurrent layer that reads what no layer hands on; a recurrent
    layer is taken before a dense one that reads the same, and a dense one followed by a
    recurrent layer runs at every step.  RecoveryError when the recurrent layers form no
    single chain; dense layers left out are ``other``.
    """
    handed = {_gives(b) for b in rnns + denses}
    if width is None:
        width = next((b.reads for b in rnns if b.reads not in handed), rnns[0].reads)
    chain: list[_Built] = []
    while True:
        found = next((b for b in rnns if b.reads == width), None)
        found = found or next((b for b in denses if b.reads == width), None)
        if found is None:
            break
        (rnns if isinstance(found.layer, Recurrent) else denses).remove(found)
        chain.append(found)
        width = _gives(found)
    if rnns:
        groups = ", ".join(b.part.group for b in rnns)
        raise RecoveryError(
            f"{groups} read no layer's output: the recurrent layers form no single chain (an "
            "encoder-decoder?); inspect the .keras file, whose config says"
        )
    last = max(k for k, b in enumerate(chain) if isinstance(b.layer, Recurrent))
    return [
        _Built(b.layer.replace(steps="all"), b.part, b.reads)
        if k < last and isinstance(b.layer, Dense) else b
        for k, b in enumerate(chain)
    ]  # fmt: skip


def _gives(built: _Built) -> int:
    """Features a layer hands on."""
    layer = built.layer
    return layer.units if isinstance(layer, Dense) else layer.width  # type: ignore[union-attr]
