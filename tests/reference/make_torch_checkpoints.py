"""Write small ``torch.save`` files with PyTorch itself, for tests/test_torchfile.py.

Run in the framework venv (torch==2.13.0; see README "Development"):

    /tmp/ref/bin/python tests/reference/make_torch_checkpoints.py

Writes tests/reference/checkpoints/*.pt (each a few kilobytes), torch_expected.npz (the values
of some of their tensors, as torch reads them, 16-bit floats widened to float32) and
torch_checkpoints.json (every file's tensors: name, dtype, shape, in the file's order; and
the groups of names that are one tied tensor); the tests read them without PyTorch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from make_checkpoints import LanguageModel

OUT = Path(__file__).with_name("checkpoints")


class Seq2Seq(torch.nn.Module):  # type: ignore[misc]
    """An encoder (embedding, LSTM) and a decoder (embedding, LSTM, linear)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.Module()
        self.encoder.embedding = torch.nn.Embedding(7, 4)
        self.encoder.lstm = torch.nn.LSTM(4, 5)
        self.decoder = torch.nn.Module()
        self.decoder.embedding = torch.nn.Embedding(9, 4)
        self.decoder.lstm = torch.nn.LSTM(4, 5)
        self.decoder.linear = torch.nn.Linear(5, 9)


class ConvLSTM(torch.nn.Module):  # type: ignore[misc]
    """A Conv1d and a BatchNorm1d before an LSTM: tensors no recurrent layer explains."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(3, 4, kernel_size=3)
        self.norm = torch.nn.BatchNorm1d(4)
        self.lstm = torch.nn.LSTM(4, 5)


def files() -> dict[str, Any]:
    """Every file's object; written with torch.save under its name."""
    torch.manual_seed(0)
    lm = LanguageModel()
    gru = torch.nn.GRU(3, 4).double()
    trained = torch.nn.LSTM(3, 4)
    optimizer = torch.optim.Adam(trained.parameters())
    trained(torch.randn(2, 1, 3))[0].sum().backward()
    optimizer.step()
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    return {
        "lm_tied.pt": lm.state_dict(),
        "checkpoint.pt": {
            "epoch": 3,
            "model_state_dict": trained.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
            "loss": 0.25,
        },
        "gru_float64.pt": gru.state_dict(),
        "lstm_proj_bi.pt": torch.nn.LSTM(3, 5, proj_size=2, bidirectional=True).state_dict(),
        "lstm_bfloat16.pt": torch.nn.LSTM(3, 4).to(torch.bfloat16).state_dict(),
        "lstm_float16.pt": torch.nn.LSTM(3, 4).half().state_dict(),
        "conv_lstm.pt": ConvLSTM().state_dict(),
        "encoder_decoder.pt": Seq2Seq().state_dict(),
        "views.pt": {"base": base, "transposed": base.t(), "sliced": base[1:, ::2]},
        "dtypes.pt": {
            name: torch.zeros(2, dtype=getattr(torch, name))
            for name in ("int64", "int8", "bool", "uint16", "complex64", "float8_e4m3fn")
        },
    }


def tied(state: dict[str, Any]) -> list[list[str]]:
    """Names that torch keeps as one tensor: the same memory, offset, shape and stride."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for key, value in state.items():
        view = (value.data_ptr(), tuple(value.shape), value.stride(), value.dtype)
        groups.setdefault(view, []).append(key)
    return [names for names in groups.values() if len(names) > 1]


EXPECTED = {
    "lm_tied.pt": ["embedding.weight", "lstm.bias_hh_l1"],
    "gru_float64.pt": ["weight_hh_l0"],
    "lstm_bfloat16.pt": ["weight_ih_l0"],
    "lstm_float16.pt": ["bias_ih_l0"],
    "views.pt": ["transposed", "sliced"],
}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    listed: dict[str, Any] = {}
    expected: dict[str, np.ndarray[Any, Any]] = {}
    for name, obj in files().items():
        torch.save(obj, OUT / name)
        state = obj.get("model_state_dict", obj)
        listed[name] = {
            "tensors": [
                [key, str(value.dtype).removeprefix("torch."), list(value.shape)]
                for key, value in state.items()
            ],
            "tied": tied(state),
        }
        for key in EXPECTED.get(name, []):
            expected[f"{name}/{key}"] = state[key].float().numpy() if state[key].dtype in (
                torch.bfloat16, torch.float16) else state[key].numpy()  # fmt: skip
    torch.save(LanguageModel(), OUT / "whole_model.pt")
    np.savez(OUT / "torch_expected.npz", allow_pickle=False, **expected)
    (OUT / "torch_checkpoints.json").write_text(json.dumps(listed, indent=1) + "\n")


if __name__ == "__main__":
    main()
