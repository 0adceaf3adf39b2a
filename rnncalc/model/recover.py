"""A network recovered from a checkpoint's tensor names and shapes, and the proof that it is.

PyTorch's state_dict names each tensor ``<module path>.<parameter>``, and the parameters
say what the module is (``torch.nn.RNN/LSTM/GRU``: ``weight_ih_l{k}`` (G*H, in),
``weight_hh_l{k}`` (G*H, H or P), ``bias_ih_l{k}``, ``bias_hh_l{k}``, ``weight_hr_l{k}``
(P, H), ``_reverse`` for the backward direction; ``nn.Embedding``: ``weight`` (V, E);
``nn.Linear``: ``weight`` (out, in) and ``bias``).  :func:`recover_pytorch` reads modules in
the file's order (a state_dict's order is the order the modules were registered), sizes
every layer from its shapes, and chains them: each layer must read what the one before
hands on.  What forms no layer of a recurrent network (a convolution, a norm, an
optimizer's state) is set aside as ``other``, so the file's total always adds up.

The recovered network is named as rnncalc names it; :attr:`Recovered.names` maps those
names to the file's, and :func:`proof` compares, tensor by tensor, the shapes
:mod:`rnncalc.model.shapes` predicts for the network with the shapes the file holds.
Where two readings fit, the choice is said in :attr:`Recovered.notes` with its override.
Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from . import shapes
from .network import Dense, Embedding, Layer, Network, Recurrent, Stage, Steps
from .spec import SpecError

#: A recurrent module's parameter: weight_ih_l0, bias_hh_l1_reverse, weight_hr_l0, ...
_RNN_PARAMETER = re.compile(r"(weight|bias)_(ih|hh|hr)_l(\d+)(_reverse)?")
#: Gate blocks G -> cell.
_CELLS = {1: "rnn", 3: "gru", 4: "lstm"}


class RecoveryError(SpecError):
    """Tensors that do not form a recurrent network; the message says which and why."""

    def __init__(self, message: str) -> None:
        super().__init__("tensors", message)


@dataclass(frozen=True)
class Tensor:
    """A tensor as the file holds it: its name and shape, and the name of the tensor whose
    storage it shares (a tied weight saved twice), if any.
    """

    name: str
    shape: tuple[int, ...]
    shares: str = ""


@dataclass(frozen=True)
class Recovered:
    """The network the tensors form, rnncalc's tensor names -> the file's, the tensors
    that belong to no layer, and the choices made where two readings fit.
    """

    network: Network
    names: dict[str, str]
    other: tuple[Tensor, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    """One tensor of the proof: rnncalc's prediction against the file."""

    name: str
    file_name: str
    predicted: tuple[int, ...]
    found: tuple[int, ...] | None

    @property
    def ok(self) -> bool:
        """Whether the file holds the tensor with the predicted shape (a tied weight the
        file leaves out, as safetensors does, is found in the tensor it shares).
        """
        return self.found == self.predicted


class _Module:
    """The tensors of one module path, in file order."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.params: dict[str, Tensor] = {}

    @property
    def recurrent(self) -> bool:
        return any(_RNN_PARAMETER.fullmatch(p) for p in self.params)


def recover_pytorch(
    tensors: Sequence[Tensor], timesteps: int, steps: str | None = None
) -> Recovered:
    """The network a PyTorch state_dict's tensors form (see the module's docstring).

    ``timesteps`` is T (a state_dict does not hold it); ``steps`` places the dense layers
    (``last`` or ``all``; by default ``all`` for a language model's output layer tied to
    its embedding, else ``last``).  Raises RecoveryError when no recurrent module is found
    or a recurrent module's tensors are incomplete or inconsistent.
    """
    modules: dict[tuple[str, bool], _Module] = {}
    for t in tensors:  # a bare nn.RNN's state_dict with its head: weight_ih_l0 ... weight, bias
        path, _, param = t.name.rpartition(".")
        key = (path, bool(_RNN_PARAMETER.fullmatch(param)))
        modules.setdefault(key, _Module(path)).params[param] = t
    recurrent = [m for m in modules.values() if m.recurrent]
    if not recurrent:
        raise RecoveryError("no recurrent module (weight_ih_l0, weight_hh_l0, ...) in the file")
    groups = _stages(list(modules.values()))
    builder = _Builder(timesteps, steps)
    stages = [builder.stage(s, group) for s, group in enumerate(groups)]
    try:
        network = Network(tuple(stages), "pytorch")
    except SpecError as error:
        raise RecoveryError(f"the layers do not form a network: {error}") from None
    names = _names(network, builder.sources)
    return Recovered(network, names, tuple(builder.other), tuple(builder.notes))


def _stages(modules: list[_Module]) -> list[list[_Module]]:
    """One stage, or two when the modules fall under two top-level paths (``encoder.``,
    ``decoder.``) that each hold a recurrent module.
    """

    def top(m: _Module) -> str:
        return m.path.partition(".")[0] if "." in m.path else ""

    tops = list(dict.fromkeys(top(m) for m in modules if m.recurrent))
    if len(tops) != 2 or "" in tops:
        return [modules]
    if tops[0].startswith("dec") and tops[1].startswith("enc"):  # names sorted, as safetensors does
        tops.reverse()
    groups: list[list[_Module]] = [[], []]
    s = 0
    for m in modules:  # a module outside both goes with the stage before it
        s = tops.index(top(m)) if top(m) in tops else s
        groups[s].append(m)
    return groups


class _Builder:
    """Chains one stage's modules by their widths (not by file order alone: safetensors
    sorts names); collects the layers, where each came from, the tensors that are no
    layer, and the notes.
    """

    def __init__(self, timesteps: int, steps: str | None) -> None:
        self.timesteps = timesteps
        self.steps: Steps | None = "all" if steps == "all" else "last" if steps else None
        #: (stage, layer index) -> (module path, parameters) of the layer's file tensors.
        self.sources: dict[tuple[int, int], tuple[str, dict[str, Tensor]]] = {}
        self.other: list[Tensor] = []
        self.notes: list[str] = []

    def stage(self, s: int, modules: list[_Module]) -> Stage:
        rnns = _chain([m for m in modules if m.recurrent])
        rest = [m for m in modules if not m.recurrent]
        placed: list[tuple[_Module, Layer]] = []
        features = rnns[0].params["weight_ih_l0"].shape[1]
        embedding = _find_embedding(modules, rest, rnns[0], features)
        if embedding is not None:
            vocab, dim = embedding.params["weight"].shape
            placed.append((embedding, Embedding(vocab, dim)))
            rest.remove(embedding)
        width = features
        for m in rnns:
            layer = _recurrent(m)
            read = m.params["weight_ih_l0"].shape[1]
            if read != width:
                raise RecoveryError(
                    f"{m.path or 'the recurrent module'} reads {read} features, but the "
                    f"recurrent layer before it hands on {width}"
                )
            placed.append((m, layer))
            width = layer.width
        table = placed[0][1] if embedding is not None else None
        while True:
            found = next((x for m in rest if (x := self._dense(m, width, table)) is not None), None)
            if found is None:
                break
            module, dense = found
            placed.append((module, dense))
            rest.remove(module)
            width = dense.units
        per_step = s == 1 or any(isinstance(x, Dense) and x.tie for _, x in placed)
        steps = self.steps or ("all" if per_step else "last")  # a decoder's or an LM's head
        placed = [(m, x.replace(steps=steps) if isinstance(x, Dense) else x) for m, x in placed]
        for m in rest:
            self.other.extend(m.params.values())
        for k, (m, _) in enumerate(placed):
            self.sources[(s, k)] = (m.path, m.params)
        layers = tuple(layer for _, layer in placed)
        self._notes(layers, steps)
        return Stage(self.timesteps, None if embedding else features, layers)

    def _dense(self, m: _Module, width: int, table: Layer | None) -> tuple[_Module, Dense] | None:
        """``m`` as a linear layer reading ``width`` features, or None."""
        weight, bias = m.params.get("weight"), m.params.get("bias")
        if set(m.params) - {"weight", "bias"} or (weight is None and bias is None):
            return None
        embedding = table if isinstance(table, Embedding) else None
        if weight is not None:
            if len(weight.shape) != 2 or weight.shape[1] != width:
                return None
            units = weight.shape[0]
            tie = embedding is not None and weight.shares.endswith(".weight") and (
                weight.shape == (embedding.vocab_size, embedding.dim))  # fmt: skip
        else:  # a bias alone: its weight was left out as the embedding's (safetensors)
            assert bias is not None
            if embedding is None or bias.shape != (embedding.vocab_size,) or width != embedding.dim:
                return None
            units, tie = embedding.vocab_size, True
            self.notes.append(
                f"{m.path}.weight is not in the file: it is tied to the embedding (saved once)"
            )
        if bias is not None and bias.shape != (units,):
            return None
        return m, Dense(units, tie=tie, bias=bias is not None)  # steps: set for the stage

    def _notes(self, layers: tuple[Layer, ...], steps: Steps) -> None:
        if self.steps is None and any(isinstance(x, Dense) for x in layers):
            place = "every step" if steps == "all" else "the last step"
            self.notes.append(
                f"a state_dict does not say where its dense layers run: {place} was chosen "
                "(override with --outputs last|all)"
            )
        if any(isinstance(x, Recurrent) and x.cell == "rnn" for x in layers):
            self.notes.append(
                "a vanilla RNN's nonlinearity (tanh or relu) is not in a state_dict: tanh "
                'was chosen (write activation = "relu" in the model file if it is relu)'
            )


def _chain(rnns: list[_Module]) -> list[_Module]:
    """The recurrent modules in the order their widths chain: the first is the one that
    reads what no other hands on (file order among equals).
    """
    widths = {id(m): _recurrent(m).width for m in rnns}
    remaining, ordered = list(rnns), []
    width: int | None = None
    while remaining:
        reads = [m.params["weight_ih_l0"].shape[1] for m in remaining]
        if width is None:
            handed = {widths[id(m)] for m in remaining}
            pick = next((k for k, r in enumerate(reads) if r not in handed), 0)
        else:
            pick = next((k for k, r in enumerate(reads) if r == width), 0)
        m = remaining.pop(pick)
        ordered.append(m)
        width = widths[id(m)]
    return ordered


def _find_embedding(
    modules: list[_Module], rest: list[_Module], first: _Module, features: int
) -> _Module | None:
    """The embedding in front of the first recurrent layer: a lone 2-D ``weight`` whose rows
    that layer reads, named like one (``embedding``, ``embed_tokens``, ...) or else listed
    before it (a dense layer without bias has the same form, after it).
    """
    candidates = [m for m in rest if _embedding(m, features)]
    named = [m for m in candidates if "emb" in m.path.lower()]
    before = [m for m in candidates if modules.index(m) < modules.index(first)]
    chosen = named or before
    return chosen[0] if chosen else None


def _embedding(m: _Module, features: int) -> bool:
    """Whether ``m`` is an ``nn.Embedding`` whose rows the first recurrent layer reads."""
    weight = m.params.get("weight")
    return set(m.params) == {"weight"} and weight is not None and (
        len(weight.shape) == 2 and weight.shape[1] == features)  # fmt: skip


def _recurrent(m: _Module) -> Recurrent:
    """An ``nn.RNN/LSTM/GRU`` from its parameters: every layer and direction complete and
    of one set of sizes.
    """
    where = m.path or "the recurrent module"
    found: dict[str, tuple[int, ...]] = {}
    for param, t in m.params.items():
        if not _RNN_PARAMETER.fullmatch(param):
            raise RecoveryError(f"{where} holds {param!r}, which no torch.nn.RNN/LSTM/GRU has")
        found[param] = t.shape
    depth = 1 + max(int(_RNN_PARAMETER.fullmatch(p)[3]) for p in found)  # type: ignore[index]
    bidirectional = any(p.endswith("_reverse") for p in found)
    hh = _need(found, "weight_hh_l0", 2, where)
    hr = found.get("weight_hr_l0")
    hidden = hr[1] if hr is not None and len(hr) == 2 else hh[1]
    proj = hr[0] if hr is not None and len(hr) == 2 else 0
    gates, remainder = divmod(hh[0], hidden) if hidden else (0, 1)
    if remainder or gates not in _CELLS:
        raise RecoveryError(
            f"{where}: weight_hh_l0 of shape {hh} is not G·H x H for G = 1, 3 or 4 (RNN, GRU, LSTM)"
        )
    cell = _CELLS[gates]
    bias = "bias_ih_l0" in found
    try:
        layer = Recurrent(cell, hidden, bidirectional, bias, proj, True, depth)  # type: ignore[arg-type]
    except SpecError as error:
        raise RecoveryError(f"{where}: {error.message}") from None
    expected = _expected_parameters(
        layer, found["weight_ih_l0"][1] if "weight_ih_l0" in found else 0
    )
    if set(expected) != set(found):
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        what = f"lacks {', '.join(missing[:3])}" if missing else f"has extra {', '.join(extra[:3])}"
        raise RecoveryError(f"{where} {what} for a {depth}-layer {cell.upper()}")
    return layer


def _need(found: dict[str, tuple[int, ...]], name: str, ndim: int, where: str) -> tuple[int, ...]:
    shape = found.get(name)
    if shape is None or len(shape) != ndim:
        raise RecoveryError(f"{where}: no {name} of {ndim} dimensions")
    return shape


def _expected_parameters(layer: Recurrent, features: int) -> list[str]:
    """The parameter names of a recurrent module (shapes are the proof's to compare)."""
    stage = Stage(1, max(features, 1), (layer,))
    return [w.name for w in shapes.rnn_weights(Network((stage,), "pytorch"))]


def _names(
    network: Network, sources: dict[tuple[int, int], tuple[str, dict[str, Tensor]]]
) -> dict[str, str]:
    """rnncalc's name of each tensor -> the file's: the same parameter of the same module."""
    names = {}
    for w in shapes.rnn_weights(network):
        path, params = sources[(w.stage, w.module)]
        param = w.name.rpartition(".")[2]
        file_name = f"{path}.{param}" if path else param
        if param in params or not w.tied:
            names[w.name] = file_name
        else:  # a tied weight the file left out: found in the embedding's
            names[w.name] = names[w.tied]
    return names


def proof(recovered: Recovered, shapes_in_file: dict[str, tuple[int, ...]]) -> tuple[Row, ...]:
    """Each tensor rnncalc predicts for the recovered network against the file's."""
    return tuple(
        Row(w.name, recovered.names[w.name], w.shape, shapes_in_file.get(recovered.names[w.name]))
        for w in shapes.rnn_weights(recovered.network)
    )
