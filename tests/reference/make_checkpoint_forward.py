"""Run the reference checkpoints in their frameworks, for tests/test_forward_checkpoints.py.

Run in the framework venv (torch==2.13.0, safetensors, onnx, onnxruntime; see README
"Development"), after make_checkpoints.py, make_torch_checkpoints.py and
make_onnx_checkpoints.py:

    /tmp/ref/bin/python tests/reference/make_checkpoint_forward.py

Each ``.pt`` file is loaded with ``torch.load(weights_only=True)`` and each ``.safetensors``
file with ``safetensors.torch.load_file``, into the module class that wrote it
(``load_state_dict``; the tied language model's safetensors file leaves out linear.weight,
which is the embedding's); each ``.onnx`` file runs in onnxruntime, the graph given its
recurrent nodes' Y and Y_h as extra outputs.  Inputs are fixed (seeded NumPy): token ids
for language models and the encoder-decoder, float x otherwise, float64 where the file is.

Writes checkpoint_forward_<case>.npz (x, and x_decoder; h, the top recurrent layer's
outputs, batch first; y, the head as rnncalc runs it: on each direction's final state for
--outputs last, on every step for --outputs all) and checkpoint_forward_cases.json.

* 16-bit files (bfloat16, float16) run in float32 on their weights widened to float32,
  as rnncalc widens them (exactly: every 16-bit float is a float32), so they hold to the
  float32 tolerance; the JSON also gives how far the framework's own 16-bit pass is from
  that (``native_16bit_difference``), which no tolerance on rnncalc could follow.
* The conv_* files hold a convolution before the recurrent layer, which rnncalc does not
  run: x is the recurrent layer's input (the convolution's output, as onnxruntime computes
  it for the ONNX file, random features for the state_dicts).
* ONNX graphs were exported for one sequence of T = 5 (fixed shapes): each sequence of the
  batch runs alone.  onnx_gru_bi's graph reads its head from gru(x)[0][-1], whose backward
  half is that direction's first step, not its final state: its y is the graph's Gemm
  applied by torch to Y_h, each direction's final state, as rnncalc's --outputs last is.
  onnx_rnn_relu's output is its sequence, h (no y); every other graph's output is y.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import torch
from make_checkpoints import ConvGru, LanguageModel
from make_torch_checkpoints import ConvLSTM, Seq2Seq
from onnx import numpy_helper
from safetensors.torch import load_file

HERE = Path(__file__).parent
CHECKPOINTS = HERE / "checkpoints"
BATCH, T = 3, 5
TOLERANCE = {"float64": 1e-10, "float32": 2e-5}

Arrays = dict[str, np.ndarray[Any, Any]]


def rng(name: str) -> np.random.Generator:
    return np.random.default_rng(sum(map(ord, name)))


def floats(name: str, features: int, dtype: str = "float32") -> np.ndarray[Any, Any]:
    return rng(name).standard_normal((BATCH, T, features)).astype(dtype)


def tokens(name: str, vocab: int, steps: int = T, seed: str = "") -> np.ndarray[Any, Any]:
    return rng(name + seed).integers(0, vocab, (BATCH, steps))


def state(file: str) -> dict[str, torch.Tensor]:
    path = str(CHECKPOINTS / file)
    weights: dict[str, torch.Tensor]
    if file.endswith(".safetensors"):
        weights = load_file(path)
    else:
        weights = torch.load(path, weights_only=True)
    held: dict[str, torch.Tensor] = weights.get(
        "model_state_dict", weights
    )  # a training checkpoint's
    return held


def loaded(module: torch.nn.Module, file: str, missing: tuple[str, ...] = ()) -> torch.nn.Module:
    result = module.load_state_dict(state(file), strict=not missing)
    assert tuple(result.missing_keys) == missing, result
    assert not result.unexpected_keys, result
    return module.float() if file != "gru_float64.pt" else module


def numpy(tensor: torch.Tensor) -> np.ndarray[Any, Any]:
    array: np.ndarray[Any, Any] = tensor.detach().numpy()
    return array


def sequence(module: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, Any]:
    """A seq-first recurrent module run batch first: its outputs (B, T, D*S) and final states."""
    out, final = module(x.transpose(0, 1))
    return out.transpose(0, 1), final


def recurrent_only(file: str, make: Callable[[], torch.nn.Module], features: int) -> Arrays:
    """A bare recurrent module (no head): h only."""
    x = floats(file, features, "float64" if file == "gru_float64.pt" else "float32")
    h, _ = sequence(loaded(make(), file), torch.from_numpy(x))
    return {"x": x, "h": numpy(h)}


def conv_lstm(file: str) -> Arrays:
    """The LSTM of ConvLSTM on features of the convolution's width."""
    x = floats(file, 4)
    h, _ = sequence(loaded(ConvLSTM(), file).lstm, torch.from_numpy(x))
    return {"x": x, "h": numpy(h)}


def language_model(file: str) -> Arrays:
    """Embedding, 2-layer LSTM (batch first) and the tied decoder on every step."""
    missing = ("linear.weight",) if file.endswith(".safetensors") else ()
    model = loaded(LanguageModel(), file, missing)
    assert model.linear.weight is model.embedding.weight
    x = tokens(file, 11)
    h, _ = model.lstm(model.embedding(torch.from_numpy(x)))
    return {"x": x, "h": numpy(h), "y": numpy(model.linear(h))}


def encoder_decoder(file: str) -> Arrays:
    """The encoder's final (h, c) start the decoder, which reads its own tokens; the
    decoder's linear on every step.
    """
    model = loaded(Seq2Seq(), file)
    x, x_decoder = tokens(file, 7), tokens(file, 9, 4, "decoder")
    _, final = sequence(model.encoder.lstm, model.encoder.embedding(torch.from_numpy(x)))
    out, _ = model.decoder.lstm(
        model.decoder.embedding(torch.from_numpy(x_decoder)).transpose(0, 1), final
    )
    h = out.transpose(0, 1)
    return {"x": x, "x_decoder": x_decoder, "h": numpy(h), "y": numpy(model.decoder.linear(h))}


def conv_gru(file: str) -> Arrays:
    """The 2-layer bidirectional GRU (batch first) of ConvGru and its head on each
    direction's final state of the top layer (h_n's last two).
    """
    model = loaded(ConvGru(), file)
    x = floats(file, 8)
    h, final = model.gru(torch.from_numpy(x))
    y = model.head(torch.cat([final[-2], final[-1]], dim=1))
    return {"x": x, "h": numpy(h), "y": numpy(y)}


def native_difference(file: str, make: Callable[[], torch.nn.Module]) -> float:
    """How far the framework's own 16-bit pass is from its float32 pass on the widened
    weights: the largest difference in h.
    """
    weights = state(file)
    dtype = next(iter(weights.values())).dtype
    module = make().to(dtype)
    module.load_state_dict(weights)
    x = torch.from_numpy(floats(file, 3))
    native, _ = sequence(module, x.to(dtype))
    wide, _ = sequence(module.float(), x)
    return float((native.float() - wide).abs().max())


def onnx_case(file: str) -> Arrays:
    """The graph run by onnxruntime one sequence at a time, Y and Y_h of its recurrent
    nodes exposed (and the first node's X, for the convolution's output).
    """
    model = onnx.load(str(CHECKPOINTS / file))
    graph = model.graph
    rnns = [n for n in graph.node if n.op_type in ("LSTM", "GRU", "RNN")]
    first, last = rnns[0], rnns[-1]
    extra = [first.input[0], last.output[0], last.output[1]]
    graph.output.extend(
        onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in extra
    )
    session = onnxruntime.InferenceSession(model.SerializeToString())
    (feed,) = session.get_inputs()
    shape = feed.shape
    token_ids = "int64" in feed.type
    if token_ids:
        x = tokens(file, 11)
    else:
        features = shape[1] if file == "onnx_conv_lstm.onnx" else shape[-1]
        x = floats(file, features)
    runs: dict[str, list[np.ndarray[Any, Any]]] = {"x": [], "h": [], "y": [], "final": []}
    for b in range(BATCH):
        one = x[b : b + 1]
        if shape[0] == T:  # seq first: (T, 1, ...)
            one = np.swapaxes(one, 0, 1)
        elif file == "onnx_conv_lstm.onnx":  # (1, channels, T)
            one = np.swapaxes(one, 1, 2)
        y, inputs, seq, final = session.run(None, {feed.name: one})
        runs["x"].append(np.swapaxes(inputs, 0, 1) if inputs.ndim == 3 else one)
        steps, directions, _, size = seq.shape
        runs["h"].append(seq.transpose(2, 0, 1, 3).reshape(1, steps, directions * size))
        runs["y"].append(y.transpose(1, 0, 2) if y.ndim == 3 else y)
        runs["final"].append(final.transpose(1, 0, 2).reshape(1, -1))
    result = {key: np.concatenate(value) for key, value in runs.items()}
    if file != "onnx_conv_lstm.onnx":
        result["x"] = x
    if file == "onnx_gru_bi.onnx":
        weights = {t.name: torch.from_numpy(numpy_helper.to_array(t)) for t in graph.initializer}
        final = torch.from_numpy(result["final"])
        result["y"] = numpy(torch.nn.functional.linear(final, weights["linear.weight"],
                                                       weights["linear.bias"]))  # fmt: skip
    del result["final"]
    if file == "onnx_rnn_relu.onnx":  # the graph's output is the sequence itself
        np.testing.assert_array_equal(result.pop("y"), result["h"])
    return result


def lstm_3_4() -> torch.nn.Module:
    return torch.nn.LSTM(3, 4)


CASES: dict[str, tuple[str, Callable[[str], Arrays]]] = {
    "checkpoint": ("checkpoint.pt", lambda f: recurrent_only(f, lstm_3_4, 3)),
    "conv_lstm": ("conv_lstm.pt", conv_lstm),
    "encoder_decoder": ("encoder_decoder.pt", encoder_decoder),
    "gru_float64": ("gru_float64.pt", lambda f: recurrent_only(
        f, lambda: torch.nn.GRU(3, 4).double(), 3)),
    "lm_tied": ("lm_tied.pt", language_model),
    "lstm_bfloat16": ("lstm_bfloat16.pt", lambda f: recurrent_only(f, lstm_3_4, 3)),
    "lstm_float16": ("lstm_float16.pt", lambda f: recurrent_only(f, lstm_3_4, 3)),
    "lstm_proj_bi": ("lstm_proj_bi.pt", lambda f: recurrent_only(
        f, lambda: torch.nn.LSTM(3, 5, proj_size=2, bidirectional=True), 3)),
    "conv_gru_bf16": ("conv_gru_bf16.safetensors", conv_gru),
    "lm_tied_safetensors": ("lm_tied.safetensors", language_model),
    **{name.removesuffix(".onnx"): (name, onnx_case) for name in (
        "onnx_conv_lstm.onnx", "onnx_gru_bi.onnx", "onnx_gru_head.onnx", "onnx_lm.onnx",
        "onnx_lm_tied.onnx", "onnx_lm_unfolded.onnx", "onnx_rnn_relu.onnx")},
}  # fmt: skip

#: 16-bit files and the module class their difference is measured on.
SIXTEEN_BIT = {"lstm_bfloat16.pt": lstm_3_4, "lstm_float16.pt": lstm_3_4}


def main() -> None:
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    index: dict[str, Any] = {}
    for case, (file, make) in CASES.items():
        arrays = make(file)
        dtype = "float64" if arrays["h"].dtype == np.float64 else "float32"
        entry: dict[str, Any] = {
            "file": file,
            "dtype": dtype,
            "tolerance": TOLERANCE[dtype],
            "framework": "onnxruntime " + onnxruntime.__version__ if file.endswith(".onnx")
            else "torch " + torch.__version__,
        }  # fmt: skip
        if file in SIXTEEN_BIT:
            entry["native_16bit_difference"] = native_difference(file, SIXTEEN_BIT[file])
        np.savez(HERE / f"checkpoint_forward_{case}.npz", allow_pickle=False, **arrays)
        index[case] = entry
    (HERE / "checkpoint_forward_cases.json").write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    main()
