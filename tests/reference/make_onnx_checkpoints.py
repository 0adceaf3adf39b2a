"""Write small ONNX files with ``torch.onnx.export``, for tests/test_onnx_files.py.

Run in the framework venv (torch==2.13.0, onnx, onnxscript; see README "Development"):

    /tmp/ref/bin/python tests/reference/make_onnx_checkpoints.py

Every model is exported with the TorchScript exporter (``dynamo=False``), which writes most
users' files (a Linear on a 3-D input becomes a MatMul with a transposed copy of its weight
and an Add, on a 2-D input a Gemm with transB = 1).  Writes
tests/reference/checkpoints/onnx_*.onnx (each a few kilobytes) and onnx_checkpoints.json:
for each file, PyTorch's parameter count (the sum of ``p.numel()``), the network rnncalc
should recover (as a model file's table) and the initializers (name, ONNX data type, dims)
as onnx reads them.  An LSTM with ``proj_size`` is not written: the
TorchScript exporter refuses it ("LSTMs with projections"), and the default (dynamo) exporter
writes an LSTM of hidden_size = proj_size without the projection, another model.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import onnx
import torch

OUT = Path(__file__).with_name("checkpoints")
T = 5


class LanguageModel(torch.nn.Module):  # type: ignore[misc]
    """An embedding, a 2-layer LSTM and a linear layer on every step."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(11, 4)
        self.lstm = torch.nn.LSTM(4, 5, num_layers=2)
        self.linear = torch.nn.Linear(5, 11)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.linear(self.lstm(self.embedding(tokens))[0])


class BiGRU(torch.nn.Module):  # type: ignore[misc]
    """A bidirectional GRU and a linear layer on the last step."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = torch.nn.GRU(3, 4, bidirectional=True)
        self.linear = torch.nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.gru(x)[0][-1])


class ReluRNN(torch.nn.Module):  # type: ignore[misc]
    """A vanilla RNN with relu and no biases, its sequence out."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = torch.nn.RNN(3, 4, nonlinearity="relu", bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


class ConvLSTM(torch.nn.Module):  # type: ignore[misc]
    """A Conv1d over the features before an LSTM, and a head on its final state: the
    convolution is no recurrent layer.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(3, 4, kernel_size=3, padding=1)
        self.lstm = torch.nn.LSTM(4, 5)
        self.linear = torch.nn.Linear(5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, channels, T)
        features = self.conv(x).permute(2, 0, 1)
        _, (h, _) = self.lstm(features)
        return self.linear(h[-1])


class TiedLanguageModel(torch.nn.Module):  # type: ignore[misc]
    """An embedding, an LSTM and a linear layer on the last step that shares the
    embedding's weight (the exporter's Gemm reads the embedding's initializer).
    """

    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(11, 4)
        self.lstm = torch.nn.LSTM(4, 4)
        self.linear = torch.nn.Linear(4, 11)
        self.linear.weight = self.embedding.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.linear(self.lstm(self.embedding(tokens))[0][-1])


class GRUHead(torch.nn.Module):  # type: ignore[misc]
    """A batch-first GRU and two linear layers with a relu between, on the last step."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = torch.nn.GRU(3, 4, batch_first=True)
        self.hidden = torch.nn.Linear(4, 6)
        self.out = torch.nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(self.gru(x)[0][:, -1])))


def models() -> dict[str, tuple[torch.nn.Module, torch.Tensor, dict[str, Any]]]:
    """Each file's model, an example input and the network rnncalc should recover."""
    torch.manual_seed(0)
    return {
        "onnx_lm.onnx": (
            LanguageModel(),
            torch.zeros(T, 1, dtype=torch.long),
            {"layers": [
                {"kind": "embedding", "vocab_size": 11, "dim": 4},
                {"kind": "lstm", "hidden_size": 5, "stack": 2},
                {"kind": "dense", "units": 11, "steps": "all"},
            ]},
        ),
        "onnx_gru_bi.onnx": (
            BiGRU(),
            torch.zeros(T, 1, 3),
            {"input_size": 3, "layers": [
                {"kind": "gru", "hidden_size": 4, "bidirectional": True},
                {"kind": "dense", "units": 2},
            ]},
        ),
        "onnx_rnn_relu.onnx": (
            ReluRNN(),
            torch.zeros(T, 1, 3),
            {"input_size": 3, "layers": [
                {"kind": "rnn", "hidden_size": 4, "bias": False, "activation": "relu"},
            ]},
        ),
        "onnx_conv_lstm.onnx": (
            ConvLSTM(),
            torch.zeros(1, 3, T),
            {"input_size": 4, "layers": [
                {"kind": "lstm", "hidden_size": 5},
                {"kind": "dense", "units": 2},
            ]},
        ),
        "onnx_lm_tied.onnx": (
            TiedLanguageModel(),
            torch.zeros(T, 1, dtype=torch.long),
            {"layers": [
                {"kind": "embedding", "vocab_size": 11, "dim": 4},
                {"kind": "lstm", "hidden_size": 4},
                {"kind": "dense", "units": 11, "tie": True},
            ]},
        ),
        "onnx_gru_head.onnx": (
            GRUHead(),
            torch.zeros(1, T, 3),
            {"input_size": 3, "layers": [
                {"kind": "gru", "hidden_size": 4},
                {"kind": "dense", "units": 6, "activation": "relu"},
                {"kind": "dense", "units": 2},
            ]},
        ),
    }  # fmt: skip


#: Files exported without constant folding: W, R and B computed in the graph from the
#: state_dict's own tensors.
UNFOLDED = {"onnx_lm_unfolded.onnx": "onnx_lm.onnx"}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    listed: dict[str, Any] = {}
    exports = models()
    exports.update({name: exports[model] for name, model in UNFOLDED.items()})
    for name, (model, example, network) in exports.items():
        model.eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter warns about batch sizes
            torch.onnx.export(model, (example,), str(OUT / name), dynamo=False,
                              do_constant_folding=name not in UNFOLDED)  # fmt: skip
        graph = onnx.load(str(OUT / name)).graph
        listed[name] = {
            "pytorch_parameters": sum(p.numel() for p in model.parameters()),
            "network": {"convention": "pytorch", "timesteps": T, **network},
            "initializers": [
                [t.name, onnx.TensorProto.DataType.Name(t.data_type), list(t.dims)]
                for t in graph.initializer
            ],
            "exporter": f"torch {torch.__version__} (dynamo=False)",
            "constant_folding": name not in UNFOLDED,
        }
    (OUT / "onnx_checkpoints.json").write_text(json.dumps(listed, indent=1) + "\n")


if __name__ == "__main__":
    main()
