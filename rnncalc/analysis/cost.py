"""What a network costs to run and train: multiply-accumulates, FLOPs and memory.

Every number is a fold over the shape list of :mod:`rnncalc.model.shapes` (no second formula):
a matrix of n elements costs n multiply-accumulates (MACs) per sequence each time it is
applied, a bias of n elements n additions.  Recurrent matrices are applied at each of the
T steps, the output layer once (``last``) or at each step (``all``), the dense model's
layers once.  FLOPs = 2 x matmul MACs + bias additions + element-wise operations, each
activation counted as one operation.

The compute (MACs, FLOPs) is :mod:`.cost_compute`, the memory :mod:`.cost_memory`.
Other tools count recurrent layers differently: :mod:`.tools` reproduces their formulas.

Standard library only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..model.network import Dense, Network
from ..model.spec import DTYPES, OUTPUTS, ModelSpec, Outputs, SpecError, check_int
from .cost_compute import Compute, _compute
from .cost_memory import Memory, _dense_activations, _memory, _rnn_activations
from .counts import count_params
from .tools import ToolCount, tool_counts

FLOPS_CONVENTION = (
    "FLOPs = 2 x matmul MACs + bias additions + element-wise operations; "
    "each activation (sigmoid, tanh, ...) counts as one operation."
)


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
