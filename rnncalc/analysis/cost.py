"""What a network costs to run and train: multiply-accumulates, FLOPs and memory.

Every number is a fold over the shape list of :mod:`rnncalc.model.shapes` (no second formula):
a matrix of n elements costs n multiply-accumulates (MACs) per sequence each time it is
applied, a bias of n elements n additions.  Recurrent matrices are applied at each of the
T steps, the output layer once (``last``) or at each step (``all``), the dense model's
layers once.  FLOPs = 2 x matmul MACs + bias additions + element-wise operations, each
activation counted as one operation.

Other tools count recurrent layers differently; :func:`tool_counts` reproduces their
formulas for the same layer built in PyTorch, from their sources:

* torchinfo (``torchinfo/layer_info.py``, ``LayerInfo.calculate_macs``): every parameter of
  an RNN module, biases included, times the first two output dimensions (B*T);
* ptflops (``ptflops/pytorch_ops.py``, ``rnn_flops`` and ``rnn_flops_counter_hook``): per
  layer the elements of weight_ih and weight_hh, plus H (RNN), 7H (GRU) or 10H (LSTM) for
  the element-wise work, plus both biases, times T, times 2 when bidirectional; reported
  per sample (ptflops averages over the batch);
* thop (``thop/rnn_hooks.py``, ``_count_rnn_cell`` and friends): per layer and direction
  H(I+H) + H per gate block, 2H of biases per gate block, and 4H more for the element-wise
  work of a GRU or an LSTM, with I = D*H above the first layer, times B*T.

Standard library only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..model import shapes
from ..model.shapes import BIAS_ROLES, Term, Weight
from ..model.spec import DTYPE_BYTES, DTYPES, OUTPUTS, ModelSpec, Outputs, SpecError, check_int
from .counts import count_params

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
    "output": "output layer",
}


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
        """MACs (matmul + bias) of the recurrent or hidden layers, without the output layer."""
        lines = (*self.matmul, *self.biases)
        return sum(line.per_sequence for line in lines if not line.name.startswith("output"))

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


@dataclass(frozen=True)
class ToolCount:
    """What another tool reports for the recurrent layers, and how it gets there."""

    tool: str
    count: int
    per_step: str
    source: str


@dataclass(frozen=True)
class CostReport:
    """What ``rnncalc cost`` reports."""

    spec: ModelSpec
    batch_size: int
    outputs: Outputs
    rnn: ModelCost
    dense: ModelCost
    tools: tuple[ToolCount, ...]

    def __repr__(self) -> str:
        return (
            f"CostReport(rnn_flops={self.rnn.compute.flops:,}, "
            f"dense_flops={self.dense.compute.flops:,}, batch_size={self.batch_size}, "
            f"outputs={self.outputs!r}, spec={self.spec!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """What ``rnncalc cost --format json`` prints: ``spec``, ``options`` (batch_size,
        outputs, dtype), ``flops_convention``, ``rnn`` and ``dense`` (compute and memory),
        and ``tools`` (how torchinfo, ptflops and thop count the same layers).
        """
        return {
            "spec": self.spec.as_dict(),
            "options": {
                "batch_size": self.batch_size,
                "outputs": self.outputs,
                "dtype": self.rnn.memory.dtype,
            },
            "flops_convention": FLOPS_CONVENTION,
            "rnn": self.rnn.to_dict(),
            "dense": self.dense.to_dict(),
            "tools": [
                {"tool": t.tool, "macs": t.count, "per_step": t.per_step, "source": t.source}
                for t in self.tools
            ],
        }


def estimate_cost(
    spec: ModelSpec, batch_size: int = 1, outputs: Outputs = "last", dtype: str = "float32"
) -> CostReport:
    """Compute and memory of the RNN and of its dense equivalent for a batch of sequences."""
    check_int("batch_size", batch_size, 1)
    for field, value, choices in (("dtype", dtype, DTYPES), ("outputs", outputs, OUTPUTS)):
        if value not in choices:
            raise SpecError(field, f"must be one of {', '.join(choices)}, got {value!r:.40}")
    report = count_params(spec)
    rnn = ModelCost(
        _rnn_compute(spec, report.rnn.terms, batch_size, outputs),
        _memory(report.rnn.total, _rnn_activations(spec, batch_size, outputs), dtype),
    )
    dense = ModelCost(
        _dense_compute(spec, report.dense.terms, batch_size),
        _memory(report.dense.total, _dense_activations(spec, batch_size), dtype),
    )
    return CostReport(spec, batch_size, outputs, rnn, dense, tool_counts(spec, batch_size))


def _applications(spec: ModelSpec, w: Weight, outputs: Outputs) -> int:
    """How many times per sequence a tensor of the RNN is used."""
    if w.part == "output":
        return spec.timesteps if outputs == "all" else 1
    return spec.timesteps


def _rnn_compute(spec: ModelSpec, terms: tuple[Term, ...], b: int, outputs: Outputs) -> Compute:
    t = spec.timesteps
    matmul = []
    for role, name in MATMUL_ROLES.items():
        members = [term for term in terms if term.weight.role == role]
        if not members:
            continue
        times = _applications(spec, members[0].weight, outputs)
        total = sum(term.count for term in members)
        per_step = b * total if times == t else None
        formula = _product(b, times, members)
        matmul.append(Line(name, per_step, b * times * total, formula))
    bias_lines = []
    recurrent_biases = _biases(terms, "recurrent")
    if recurrent_biases:
        count = sum(term.count for term in recurrent_biases)
        bias_lines.append(
            Line("layer biases", b * count, b * t * count, _product(b, t, recurrent_biases))
        )
    head_biases = _biases(terms, "output")
    if head_biases:
        times = _applications(spec, head_biases[0].weight, outputs)
        count = sum(term.count for term in head_biases)
        per_step = b * count if times == t else None
        bias_lines.append(
            Line("output bias", per_step, b * times * count, _product(b, times, head_biases))
        )
    units = spec.layers * spec.directions * spec.hidden_size
    per_unit = sum(n for _, n in ELEMENTWISE[spec.cell])
    elementwise = Line(
        f"{per_unit} per unit: " + "; ".join(f"{what} ({n})" for what, n in ELEMENTWISE[spec.cell]),
        b * units * per_unit,
        b * t * units * per_unit,
        f"B·T·L·D·H·{per_unit} = {b}·{t}·{spec.layers}·{spec.directions}·"
        f"{spec.hidden_size}·{per_unit}",
    )
    return Compute(tuple(matmul), tuple(bias_lines), elementwise)


def _dense_compute(spec: ModelSpec, terms: tuple[Term, ...], b: int) -> Compute:
    matmul = []
    for role, name in MATMUL_ROLES.items():
        members = [term for term in terms if term.weight.role == role]
        if members:
            total = sum(term.count for term in members)
            matmul.append(Line(name, None, b * total, _product(b, 1, members)))
    bias_lines = []
    for name, part in (("layer biases", "hidden"), ("output bias", "output")):
        members = _biases(terms, part)
        if members:
            count = sum(term.count for term in members)
            bias_lines.append(Line(name, None, b * count, _product(b, 1, members)))
    hidden = spec.layers * spec.timesteps * spec.directions * spec.hidden_size
    return Compute(
        tuple(matmul),
        tuple(bias_lines),
        Line(
            "1 per unit: activation f_h of every hidden unit",
            None,
            b * hidden,
            f"B·L·T·D·H = {b}·{spec.layers}·{spec.timesteps}·{spec.directions}·{spec.hidden_size}",
        ),
    )


def _biases(terms: tuple[Term, ...], part: str) -> list[Term]:
    return [t for t in terms if t.weight.role in BIAS_ROLES and t.weight.part == part]


def _product(b: int, times: int, members: list[Term]) -> str:
    """``B·T·(a + b + 3·c)``: each term's count, times L-1 for the layers that repeat it."""
    counts = " + ".join(
        f"{t.weight.count:,}" if t.times == 1 else f"{t.times:,}·{t.weight.count:,}"
        for t in members
    )
    inner = f"({counts})" if len(members) > 1 else counts
    return f"{b}·{times}·{inner}" if times != 1 else f"{b}·{inner}"


Kept = dict[str, tuple[int, str]]


def _rnn_activations(spec: ModelSpec, b: int, outputs: Outputs) -> Kept:
    """Elements a forward pass keeps for backpropagation through time, with formulas."""
    t, h, s, g = spec.timesteps, spec.hidden_size, spec.state_size, spec.gates
    ld = f"{b}·{t}·{spec.layers}·{spec.directions}"
    runs = spec.layers * spec.directions
    state = "P" if spec.proj_size else "H"
    kept: Kept = {
        "inputs": (b * t * spec.input_size, f"B·T·I = {b}·{t}·{spec.input_size}"),
        "hidden states": (b * t * runs * s, f"B·T·L·D·{state} = {ld}·{s}"),
    }
    if spec.cell != "rnn":
        kept["gate buffers"] = (b * t * runs * g * h, f"B·T·L·D·{g}·H = {ld}·{g}·{h}")
    if spec.cell == "lstm":
        kept["cell states"] = (b * t * runs * h, f"B·T·L·D·H = {ld}·{h}")
    if spec.has_output_layer:
        steps = t if outputs == "all" else 1
        kept["outputs"] = (
            b * steps * spec.output_size,
            f"B·{'T·' if steps > 1 else ''}O = "
            f"{b}·{f'{t}·' if steps > 1 else ''}{spec.output_size}",
        )
    return kept


def _dense_activations(spec: ModelSpec, b: int) -> Kept:
    t, d, h = spec.timesteps, spec.directions, spec.hidden_size
    kept: Kept = {
        "inputs": (b * t * spec.input_size, f"B·T·I = {b}·{t}·{spec.input_size}"),
        "hidden units": (
            b * spec.layers * t * d * h,
            f"B·L·T·D·H = {b}·{spec.layers}·{t}·{d}·{h}",
        ),
    }
    if spec.has_output_layer:
        kept["outputs"] = (b * spec.output_size, f"B·O = {b}·{spec.output_size}")
    return kept


def _memory(parameters: int, kept: Kept, dtype: str) -> Memory:
    elements = {name: n for name, (n, _) in kept.items()}
    formulas = {name: formula for name, (_, formula) in kept.items()}
    return Memory(parameters, elements, formulas, dtype)


def tool_counts(spec: ModelSpec, batch_size: int) -> tuple[ToolCount, ...]:
    """The recurrent layers as torchinfo, ptflops and thop count them, built in PyTorch."""
    torch_spec = spec.replace(
        convention="pytorch", notation="separate", reset_after=True, output_size=0
    )
    terms = shapes.rnn_terms(torch_spec)
    b, t, h = batch_size, spec.timesteps, spec.hidden_size
    g, d = spec.gates, spec.directions
    params = sum(term.count for term in terms)
    bias = 2 if spec.bias else 0
    ptflops_extra = {"rnn": 1, "gru": 7, "lstm": 10}[spec.cell]
    ptflops_layers = sum(
        term.count
        for term in terms
        if term.weight.direction == "forward" and term.weight.role in ("input", "recurrent")
    ) + spec.layers * (ptflops_extra * h + bias * g * h)
    thop_extra = {"rnn": 0, "gru": 4, "lstm": 4}[spec.cell]

    def thop_cell(inputs: int) -> int:
        return g * (h * (inputs + h) + h) + thop_extra * h + (bias * g * h)

    thop = d * (thop_cell(spec.input_size) + (spec.layers - 1) * thop_cell(d * h))
    return (
        ToolCount(
            "torchinfo",
            b * t * params,
            "every parameter, biases included, times B·T",
            "torchinfo/layer_info.py: LayerInfo.calculate_macs",
        ),
        ToolCount(
            "ptflops",
            t * d * ptflops_layers,
            f"weight_ih + weight_hh + {ptflops_extra}·H + both biases, per layer; "
            "times T·D, averaged over the batch",
            "ptflops/pytorch_ops.py: rnn_flops, rnn_flops_counter_hook",
        ),
        ToolCount(
            "thop",
            b * t * thop,
            f"G·(H·(I+H) + H) + {thop_extra}·H + 2·G·H of biases, per layer and direction; "
            "times B·T",
            "thop/rnn_hooks.py: _count_rnn_cell, _count_gru_cell, _count_lstm_cell",
        ),
    )
