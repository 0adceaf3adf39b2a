"""How other tools count the same recurrent layers, built in PyTorch, from their sources:

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

from dataclasses import dataclass

from ..model import shapes
from ..model.network import Network, Recurrent, Stage
from ..model.spec import ModelSpec


@dataclass(frozen=True)
class ToolCount:
    """What another tool reports for the recurrent layers, and how it gets there."""

    tool: str
    count: int
    per_step: str
    source: str


def recurrent_layers(network: Network) -> list[tuple[Stage, Recurrent, int]]:
    """Each recurrent layer with its stage and the features it reads."""
    found = []
    for stage in network.stages:
        width = stage.features
        for layer in stage.layers:
            if isinstance(layer, Recurrent):
                found.append((stage, layer, width))
                width = layer.width
    return found


#: The element-wise work per unit that ptflops and thop add to each cell's products.
PTFLOPS_EXTRA = {"rnn": 1, "gru": 7, "lstm": 10}
THOP_EXTRA = {"rnn": 0, "gru": 4, "lstm": 4}


def tool_counts(network: Network, batch_size: int) -> tuple[ToolCount, ...]:
    """The recurrent layers as torchinfo, ptflops and thop count them, built in PyTorch
    (each layer as its own ``nn.RNN/LSTM/GRU``, the counts summed).
    """
    counts = [0, 0, 0]
    for stage, layer, width in recurrent_layers(network):
        spec = ModelSpec(
            stage.timesteps, width, layer.hidden_size, 0, "separate", layer.cell, layer.stack,
            layer.bidirectional, "pytorch", layer.bias, layer.proj_size,
        )  # fmt: skip
        for k, n in enumerate(_layer_tools(spec, batch_size)):
            counts[k] += n
    cells = dict.fromkeys(layer.cell for _, layer, _ in recurrent_layers(network))
    ptflops_text = "/".join(str(PTFLOPS_EXTRA[c]) for c in cells)
    thop_text = "/".join(str(THOP_EXTRA[c]) for c in cells)
    return (
        ToolCount(
            "torchinfo",
            counts[0],
            "every parameter, biases included, times B·T",
            "torchinfo/layer_info.py: LayerInfo.calculate_macs",
        ),
        ToolCount(
            "ptflops",
            counts[1],
            f"weight_ih + weight_hh + {ptflops_text}·H + both biases, per layer; "
            "times T·D, averaged over the batch",
            "ptflops/pytorch_ops.py: rnn_flops, rnn_flops_counter_hook",
        ),
        ToolCount(
            "thop",
            counts[2],
            f"G·(H·(I+H) + H) + {thop_text}·H + 2·G·H of biases, per layer and direction; "
            "times B·T",
            "thop/rnn_hooks.py: _count_rnn_cell, _count_gru_cell, _count_lstm_cell",
        ),
    )


def _layer_tools(spec: ModelSpec, b: int) -> tuple[int, int, int]:
    """torchinfo's, ptflops' and thop's counts for one PyTorch recurrent module."""
    terms = shapes.rnn_terms(spec)
    t, h = spec.timesteps, spec.hidden_size
    g, d = spec.gates, spec.directions
    params = sum(term.count for term in terms)
    bias = 2 if spec.bias else 0
    ptflops_extra = PTFLOPS_EXTRA[spec.cell]
    ptflops_layers = sum(
        term.count
        for term in terms
        if term.weight.direction == "forward" and term.weight.role in ("input", "recurrent")
    ) + spec.layers * (ptflops_extra * h + bias * g * h)
    thop_extra = THOP_EXTRA[spec.cell]

    def thop_cell(inputs: int) -> int:
        return g * (h * (inputs + h) + h) + thop_extra * h + (bias * g * h)

    thop = d * (thop_cell(spec.input_size) + (spec.layers - 1) * thop_cell(d * h))
    return b * t * params, t * d * ptflops_layers, b * t * thop
