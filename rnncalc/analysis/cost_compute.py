"""The compute part of :mod:`rnncalc.analysis.cost`: multiply-accumulates (MACs) and FLOPs,
line by line (a role or a bias kind in a stage, and the cells' element-wise work), folded
over the shape list's terms.

Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.network import Dense, Network, Stage
from ..model.shapes import BIAS_ROLES, Term, Weight
from .tools import recurrent_layers

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
