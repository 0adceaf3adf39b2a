"""What a network costs to run and train: multiply-accumulates, FLOPs and memory.

Every number is a fold over the shape list of :mod:`rnncalc.model.shapes` (no second formula):
a matrix of n elements costs n multiply-accumulates (MACs) per sequence each time it is
applied, a bias of n elements n additions.  Recurrent matrices are applied at each of the
T steps, the output layer once (``last``) or at each step (``all``), the dense model's
layers once.  FLOPs = 2 x matmul MACs + bias additions + element-wise operations, each
activation counted as one operation.

Other tools count recurrent layers differently: :mod:`.tools` reproduces their formulas.

Standard library only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..model.network import Dense, Network, Stage
from ..model.shapes import BIAS_ROLES, Term, Weight
from ..model.spec import DTYPE_BYTES, DTYPES, OUTPUTS, ModelSpec, Outputs, SpecError, check_int
from .counts import count_params
from .tools import ToolCount, recurrent_layers, tool_counts

#: Element-wise operations per hidden unit per step and direction, each named.
ELEMENTWISE: dict[str, tuple[tuple[str, int], ...]] = {
    "rnn": (("add the input and recurrent products", 1), ("activation f_h", 1)),
    "lstm": (
        ("add the input and recurrent products, 4 gates", 4),
        ("sigmoid of i, f, o", 3),
        ("tanh of g", 1),
        ("c = f*c + i*g: 2 multiplies, 1 add", 3),
        ("tanh of c", 1),
        ("h = o*tanh(c): 1 multiply", 1),
    ),
    "gru": (
        ("add the input and recurrent products of r, z", 2),
        ("sigmoid of r, z", 2),
        ("reset: 1 multiply", 1),
        ("add the candidate's products", 1),
        ("tanh of n", 1),
        ("h = (1-z)*n + z*h: 1 subtract, 2 multiplies, 1 add", 4),
    ),
}

PARAMETER_DTYPES = ("float32", "float16", "bfloat16", "int8")

FLOPS_CONVENTION = (
    "FLOPs = 2 x matmul MACs + bias additions + element-wise operations; "
    "each activation (sigmoid, tanh, ...) counts as one operation."
)

MATMUL_ROLES = {
    "input": "input projection",
    "hidden": "hidden layers",
    "recurrent": "recurrent projection",
    "input_recurrent": "input and recurrent projection",
    "projection": "projection layer",
    "dense": "dense layers",
    "output": "output layer",
}


#: Compute lines of the recurrent (or hidden) layers, which :attr:`Compute.layer_macs` sums.
LAYER_LINES = frozenset({*MATMUL_ROLES.values(), "layer biases"}) - {"output layer", "dense layers"}


@dataclass(frozen=True)
class Line:
    """One part of the compute: per step (None for the dense model) and per sequence."""

    name: str
    per_step: int | None
    per_sequence: int
    formula: str


@dataclass(frozen=True)
class Compute:
    """A model's multiply-accumulates and other operations, part by part."""

    matmul: tuple[Line, ...]
    biases: tuple[Line, ...]  # the layers' biases, then the output layer's
    elementwise: Line

    @property
    def matmul_macs(self) -> int:
        """All multiply-accumulates of the matrix products, per sequence (whole batch)."""
        return sum(line.per_sequence for line in self.matmul)

    @property
    def bias_additions(self) -> int:
        """All bias additions, per sequence (whole batch)."""
        return sum(line.per_sequence for line in self.biases)

    @property
    def macs(self) -> int:
        """Matmul MACs plus bias additions, the way torchinfo reports MACs."""
        return self.matmul_macs + self.bias_additions

    @property
    def layer_macs(self) -> int:
        """MACs (matmul + bias) of the recurrent (or hidden) layers: no dense layer's."""
        lines = (*self.matmul, *self.biases)
        return sum(
            line.per_sequence
            for line in lines
            if line.name.removeprefix("encoder ").removeprefix("decoder ") in LAYER_LINES
        )

    @property
    def flops(self) -> int:
        """2 x matmul MACs + bias additions + element-wise operations."""
        return 2 * self.matmul_macs + self.bias_additions + self.elementwise.per_sequence


@dataclass(frozen=True)
class Memory:
    """Bytes: parameters per data type, activations of a forward pass, a training step."""

    parameter_count: int
    activation_elements: dict[str, int]
    activation_formulas: dict[str, str]
    dtype: str

    @property
    def parameters(self) -> dict[str, int]:
        """Bytes of the parameters stored as float32, float16, bfloat16 and int8."""
        return {name: self.parameter_count * DTYPE_BYTES[name] for name in PARAMETER_DTYPES}

    @property
    def activations(self) -> int:
        """Bytes of the activations kept for backpropagation, in ``dtype``."""
        return sum(self.activation_elements.values()) * DTYPE_BYTES[self.dtype]

    @property
    def activation_bytes(self) -> dict[str, int]:
        """Bytes of each kind of activation kept, in ``dtype``."""
        return {name: n * self.itemsize for name, n in self.activation_elements.items()}

    @property
    def itemsize(self) -> int:
        """Bytes per element of ``dtype``."""
        return DTYPE_BYTES[self.dtype]

    @property
    def training(self) -> dict[str, int]:
        """Weights, gradients, Adam's two moments (each the size of the weights) and the
        activations kept for backpropagation through time, in ``dtype``.
        """
        weights = self.parameter_count * DTYPE_BYTES[self.dtype]
        return {
            "weights": weights,
            "gradients": weights,
            "adam_moments": 2 * weights,
            "activations": self.activations,
        }

    @property
    def training_total(self) -> int:
        """Bytes of a training step: the sum of :attr:`training`."""
        return sum(self.training.values())

    def to_dict(self) -> dict[str, Any]:
        """Parameters per dtype, the activations (elements, formulas, bytes), training."""
        return {
            "parameters": self.parameters,
            "activations": {
                "elements": self.activation_elements,
                "formulas": self.activation_formulas,
                "bytes": self.activations,
            },
            "training": {**self.training, "total": self.training_total},
        }


@dataclass(frozen=True)
class ModelCost:
    """One model's compute and memory."""

    compute: Compute
    memory: Memory

    def to_dict(self) -> dict[str, Any]:
        """``compute`` (every line, with its formula, and the sums) and ``memory``."""
        compute = self.compute
        return {
            "compute": {
                "matmul": [asdict(line) for line in compute.matmul],
                "matmul_macs": compute.matmul_macs,
                "biases": [asdict(line) for line in compute.biases],
                "bias_additions": compute.bias_additions,
                "macs": compute.macs,
                "elementwise": asdict(compute.elementwise),
                "flops": compute.flops,
            },
            "memory": self.memory.to_dict(),
        }


class CostReport:
    """What ``rnncalc cost`` reports, for a seed-style spec or a whole network."""

    __slots__ = ("batch_size", "dense", "network", "rnn", "tools")

    def __init__(
        self,
        network: Network,
        batch_size: int,
        rnn: ModelCost,
        dense: ModelCost,
        tools: tuple[ToolCount, ...],
    ) -> None:
        self.network, self.batch_size = network, batch_size
        self.rnn, self.dense, self.tools = rnn, dense, tools

    @property
    def spec(self) -> ModelSpec | None:
        """The seed-style spec of the network, when it has that form."""
        return ModelSpec.from_network(self.network)

    @property
    def outputs(self) -> Outputs | None:
        """Where a seed-style network's output layer runs (``last`` too when it has none),
        or None for other networks, whose dense layers say it themselves.
        """
        if self.spec is None:
            return None
        heads = self.network.stages[0].dense
        return heads[-1].steps if heads else "last"

    def __repr__(self) -> str:
        return (
            f"CostReport(rnn_flops={self.rnn.compute.flops:,}, "
            f"dense_flops={self.dense.compute.flops:,}, batch_size={self.batch_size})"
        )

    def to_dict(self) -> dict[str, Any]:
        """What ``rnncalc cost --format json`` prints: ``model`` (the model file's form),
        ``options`` (batch_size, dtype), ``flops_convention``, ``rnn`` and ``dense``
        (compute and memory), and ``tools`` (how torchinfo, ptflops and thop count the same
        recurrent layers).
        """
        from ..model.modelfile import to_dict

        return {
            "model": to_dict(self.network),
            "options": {"batch_size": self.batch_size, "dtype": self.rnn.memory.dtype},
            "flops_convention": FLOPS_CONVENTION,
            "rnn": self.rnn.to_dict(),
            "dense": self.dense.to_dict(),
            "tools": [
                {"tool": t.tool, "macs": t.count, "per_step": t.per_step, "source": t.source}
                for t in self.tools
            ],
        }


def estimate_cost(
    model: ModelSpec | Network,
    batch_size: int = 1,
    outputs: Outputs | None = None,
    dtype: str = "float32",
) -> CostReport:
    """Compute and memory of the RNN and of its dense equivalent for a batch of sequences.

    ``outputs`` (``last``, the default, or ``all``) places a seed-style spec's output layer;
    a network's dense layers carry their own ``steps``.
    """
    check_int("batch_size", batch_size, 1)
    for field, value, choices in (("dtype", dtype, DTYPES), ("outputs", outputs, OUTPUTS)):
        if value is not None and value not in choices:
            raise SpecError(field, f"must be one of {', '.join(choices)}, got {value!r:.40}")
    network = with_outputs(model, outputs)
    report = count_params(network)
    b = batch_size
    rnn_terms, dense_terms = report.rnn.terms, report.dense.terms
    rnn = ModelCost(
        _compute(network, rnn_terms, b, True),
        _memory(report.rnn.total, _rnn_activations(network, b), dtype),
    )
    dense = ModelCost(
        _compute(network, dense_terms, b, False),
        _memory(report.dense.total, _dense_activations(network, b), dtype),
    )
    return CostReport(network, b, rnn, dense, tool_counts(network, b))


def with_outputs(model: ModelSpec | Network, outputs: Outputs | None) -> Network:
    """The network of ``model``, a seed-style spec's output layer placed by ``outputs``."""
    if isinstance(model, Network):
        if outputs is not None:
            raise SpecError("outputs", "a network's dense layers carry their own steps")
        return model
    network = model.network()
    if outputs in (None, "last"):
        return network
    stage = network.stages[0]
    layers = tuple(
        layer.replace(steps=outputs) if isinstance(layer, Dense) else layer
        for layer in stage.layers
    )
    return network.replace(stages=(stage.replace(layers=layers),))


def applications(network: Network, w: Weight) -> int:
    """How many times per sequence a tensor is applied: a recurrent layer's at each of its
    stage's T steps, a dense layer's once or at each step (its ``steps``), the dense
    equivalent's hidden layers' once, an embedding's never (a lookup multiplies nothing).
    """
    stage = network.stages[w.stage]
    if w.part == "embedding":
        return 0
    if w.part == "recurrent":
        return stage.timesteps
    if w.part == "hidden":
        return 1
    layer = stage.layers[w.module]
    return stage.timesteps if isinstance(layer, Dense) and layer.steps == "all" else 1


def _line_name(network: Network, w: Weight, name: str) -> str:
    return (("encoder ", "decoder ")[w.stage] if network.encoder_decoder else "") + name


def _compute(network: Network, terms: tuple[Term, ...], b: int, recurrent: bool) -> Compute:
    """Matmul and bias lines, each a role (or bias kind) in a stage, and element-wise work."""
    matmul: dict[str, list[Term]] = {}
    biases: dict[str, list[Term]] = {}
    for s in range(len(network.stages)):
        for role, name in MATMUL_ROLES.items():
            for term in terms:
                w = term.weight
                if w.stage == s and w.role == role and applications(network, w):
                    matmul.setdefault(_line_name(network, w, name), []).append(term)
    for term in terms:
        w = term.weight
        if w.role in BIAS_ROLES:
            kind = BIAS_LINES.get(w.role, "layer biases")
            biases.setdefault(_line_name(network, w, kind), []).append(term)
    return Compute(
        tuple(_line(network, name, members, b, recurrent) for name, members in matmul.items()),
        tuple(_line(network, name, members, b, recurrent) for name, members in biases.items()),
        _elementwise(network, b) if recurrent else _dense_elementwise(network, b),
    )


#: Bias roles with a line of their own; the others are the layers' biases.
BIAS_LINES = {"dense_bias": "dense biases", "output_bias": "output bias"}


def _line(network: Network, name: str, members: list[Term], b: int, recurrent: bool) -> Line:
    """One line: its terms' elements (a tied weight's too: it multiplies) times B times
    their applications, and per step where the RNN runs them at every step.
    """
    counts = [applications(network, t.weight) for t in members]
    if len(set(counts)) > 1:  # a stage's dense layers on the last step and on every step
        total = sum(t.elements * n for t, n in zip(members, counts, strict=True))
        formula = " + ".join(_product(b, n, [t]) for t, n in zip(members, counts, strict=True))
        return Line(name, None, b * total, formula)
    times, total = counts[0], sum(t.elements for t in members)
    steps = network.stages[members[0].weight.stage].timesteps
    per_step = b * total if recurrent and times == steps else None
    return Line(name, per_step, b * times * total, _product(b, times, members))


def _product(b: int, times: int, members: list[Term]) -> str:
    """``B·T·(a + b + 3·c)``: each term's elements, times L-1 for the layers that repeat it."""
    counts = " + ".join(
        f"{t.weight.elements:,}" if t.times == 1 else f"{t.times:,}·{t.weight.elements:,}"
        for t in members
    )
    inner = f"({counts})" if len(members) > 1 else counts
    return f"{b}·{times}·{inner}" if times != 1 else f"{b}·{inner}"


def _dense_layers(network: Network) -> list[tuple[Stage, Dense]]:
    return [(stage, layer) for stage in network.stages for layer in stage.dense]


def _elementwise(network: Network, b: int) -> Line:
    """The cells' element-wise work per unit and step (:data:`ELEMENTWISE`), and one
    operation per unit of each dense layer with an activation.
    """
    layers = recurrent_layers(network)
    cells = list(dict.fromkeys(layer.cell for _, layer, _ in layers))
    names = []
    for cell in cells:
        per_unit = sum(n for _, n in ELEMENTWISE[cell])
        ops = "; ".join(f"{what} ({n})" for what, n in ELEMENTWISE[cell])
        names.append(f"{per_unit} per unit{f' ({cell.upper()})' if len(cells) > 1 else ''}: {ops}")
    per_step = per_sequence = 0
    formulas, values = [], []
    for stage, layer, _ in layers:
        per_unit = sum(n for _, n in ELEMENTWISE[layer.cell])
        units = layer.stack * layer.directions * layer.hidden_size
        per_step += b * units * per_unit
        per_sequence += b * stage.timesteps * units * per_unit
        formulas.append("B·T·L·D·H·" + str(per_unit))
        values.append(
            f"{b}·{stage.timesteps}·{layer.stack}·{layer.directions}·{layer.hidden_size}·{per_unit}"
        )
    heads = _activated(network, b)
    if heads:
        names.append("1 per unit of each dense layer with an activation")
        formulas.append("B·O")
        values.extend(v for v, _ in heads)
        per_sequence += sum(n for _, n in heads)
    formula = f"{formulas[0]} = {values[0]}" if len(values) == 1 else " + ".join(values)
    single = len({stage.timesteps for stage in network.stages}) == 1 and not heads
    return Line("; ".join(names), per_step if single else None, per_sequence, formula)


def _activated(network: Network, b: int) -> list[tuple[str, int]]:
    """The dense layers with an activation: one operation per unit each time they run."""
    found = []
    for stage, layer in _dense_layers(network):
        if layer.activation != "identity":
            steps = stage.timesteps if layer.steps == "all" else 1
            found.append((f"{b}·{steps}·{layer.units}", b * steps * layer.units))
    return found


def _dense_elementwise(network: Network, b: int) -> Line:
    """One activation per hidden unit of the dense equivalent (and per dense-layer unit
    with an activation).
    """
    values, total = [], 0
    for stage, layer, _ in recurrent_layers(network):
        t, d, h = stage.timesteps, layer.directions, layer.hidden_size
        values.append(f"{b}·{layer.stack}·{t}·{d}·{h}")
        total += b * layer.stack * t * d * h
    heads = _activated(network, b)
    values.extend(v for v, _ in heads)
    total += sum(n for _, n in heads)
    formula = f"B·L·T·D·H = {values[0]}" if len(values) == 1 else " + ".join(values)
    return Line("1 per unit: activation f_h of every hidden unit", None, total, formula)


Kept = dict[str, tuple[int, str]]


def _keep(kept: dict[str, list[tuple[int, str, str]]]) -> Kept:
    """Sum each kind's parts; one part keeps its formula in letters."""
    out: Kept = {}
    for name, parts in kept.items():
        total = sum(n for n, _, _ in parts)
        if len(parts) == 1:
            out[name] = (total, f"{parts[0][1]} = {parts[0][2]}")
        else:
            out[name] = (total, " + ".join(numbers for _, _, numbers in parts))
    return out


def _inputs(network: Network, b: int, kept: dict[str, list[tuple[int, str, str]]]) -> None:
    """Each stage's inputs, as vectors: I features, or the embedding's E per token."""
    for stage in network.stages:
        width, letter = (stage.features, "E" if stage.embedding else "I")
        kept.setdefault("inputs", []).append(
            (b * stage.timesteps * width, f"B·T·{letter}", f"{b}·{stage.timesteps}·{width}")
        )


def _outputs(network: Network, b: int, kept: dict[str, list[tuple[int, str, str]]]) -> None:
    """Each dense layer's outputs, once or at every step: the same in both models."""
    for stage, layer in _dense_layers(network):
        last = layer is stage.dense[-1]
        steps = stage.timesteps if layer.steps == "all" else 1
        kept.setdefault("outputs" if last else "dense outputs", []).append(
            (
                b * steps * layer.units,
                f"B·{'T·' if steps > 1 else ''}{'O' if last else 'U'}",
                f"{b}·{f'{steps}·' if steps > 1 else ''}{layer.units}",
            )
        )


def _rnn_activations(network: Network, b: int) -> Kept:
    """Elements a forward pass keeps for backpropagation through time, with formulas: the
    input vectors (an embedding's rows), every layer's states and gate buffers, the dense
    layers' outputs.
    """
    kept: dict[str, list[tuple[int, str, str]]] = {}
    _inputs(network, b, kept)
    for stage, layer, _ in recurrent_layers(network):
        t, runs = stage.timesteps, layer.stack * layer.directions
        ld = f"{b}·{t}·{layer.stack}·{layer.directions}"
        s, h, g = layer.state_size, layer.hidden_size, layer.gates
        state = "P" if layer.proj_size else "H"
        kept.setdefault("hidden states", []).append(
            (b * t * runs * s, f"B·T·L·D·{state}", f"{ld}·{s}")
        )
        if layer.cell != "rnn":
            kept.setdefault("gate buffers", []).append(
                (b * t * runs * g * h, f"B·T·L·D·{g}·H", f"{ld}·{g}·{h}")
            )
        if layer.cell == "lstm":
            kept.setdefault("cell states", []).append((b * t * runs * h, "B·T·L·D·H", f"{ld}·{h}"))
    _outputs(network, b, kept)
    return _keep(kept)


def _dense_activations(network: Network, b: int) -> Kept:
    """The dense equivalent's inputs, hidden units (T·D·H per recurrent layer) and the
    dense layers' outputs.
    """
    kept: dict[str, list[tuple[int, str, str]]] = {}
    _inputs(network, b, kept)
    for stage, layer, _ in recurrent_layers(network):
        t, d, h = stage.timesteps, layer.directions, layer.hidden_size
        kept.setdefault("hidden units", []).append(
            (b * layer.stack * t * d * h, "B·L·T·D·H", f"{b}·{layer.stack}·{t}·{d}·{h}")
        )
    _outputs(network, b, kept)
    return _keep(kept)


def _memory(parameters: int, kept: Kept, dtype: str) -> Memory:
    elements = {name: n for name, (n, _) in kept.items()}
    formulas = {name: formula for name, (_, formula) in kept.items()}
    return Memory(parameters, elements, formulas, dtype)
