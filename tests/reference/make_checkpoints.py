"""Write small checkpoint files with the frameworks' own writers, for tests/test_checkpoints.py.

Run in the framework venv (torch==2.13.0, safetensors; see README "Development"):

    /tmp/ref/bin/python tests/reference/make_checkpoints.py

Writes tests/reference/checkpoints/*.safetensors (and, below, the other formats), each a few
kilobytes; the tests read them without any framework installed.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

OUT = Path(__file__).with_name("checkpoints")


class LanguageModel(torch.nn.Module):  # type: ignore[misc]
    """An embedding, a 2-layer LSTM and a decoder tied to the embedding."""

    def __init__(self, vocab: int = 11, width: int = 6) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, width)
        self.lstm = torch.nn.LSTM(width, width, num_layers=2, batch_first=True)
        self.linear = torch.nn.Linear(width, vocab)
        self.linear.weight = self.embedding.weight


def safetensors_files() -> None:
    torch.manual_seed(0)
    model = LanguageModel()
    state = {k: v for k, v in model.state_dict().items() if k != "linear.weight"}
    save_file(state, str(OUT / "lm_tied.safetensors"), metadata={"format": "pt"})
    every = {
        name: torch.zeros(4, dtype=getattr(torch, name))
        for name in ("float32", "float64", "float16", "bfloat16", "int8", "uint8", "int16",
                     "int32", "int64", "bool", "float8_e4m3fn", "float8_e5m2")
    }  # fmt: skip
    save_file(every, str(OUT / "dtypes.safetensors"))
    save_file(dict(ConvGru().state_dict()), str(OUT / "conv_gru_bf16.safetensors"))


class ConvGru(torch.nn.Module):  # type: ignore[misc]
    """A convolution in front of a bidirectional GRU and a head, in bfloat16: the
    convolution and the norm form no recurrent layer ("other").
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(3, 8, 5)
        self.norm = torch.nn.LayerNorm(8)
        self.gru = torch.nn.GRU(8, 4, num_layers=2, bidirectional=True, batch_first=True)
        self.head = torch.nn.Linear(8, 2)
        self.to(torch.bfloat16)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    safetensors_files()
