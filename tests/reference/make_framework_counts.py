"""Measure parameter counts and weight shapes in PyTorch and Keras; write framework_counts.json.

Not part of the test suite and not needed by it: the tests read the JSON this writes.
Run it in a separate environment that has the frameworks:

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch==2.13.0 keras numpy
    KERAS_BACKEND=torch /tmp/ref/bin/python tests/reference/make_framework_counts.py

Two tables:

* ``rows``: the seed's vanilla RNN and dense network for several sizes (nn.RNN + Linear,
  SimpleRNN + Dense, and the MLPs), as the seed convention compares them;
* ``stacks``: every recurrent layer configuration rnncalc models, as the frameworks build
  it: cell x layers x directions x bias (x proj_size for PyTorch's LSTM, x reset_after for
  Keras's GRU) on a few sizes, with ``sum(p.numel() for p in module.parameters())`` or
  ``model.count_params()`` and every tensor's name and shape.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import torch

OUT = Path(__file__).with_name("framework_counts.json")

# (T, I, H, O): the seed's example, edge sizes, and a few realistic ones.
SIZES = [
    (3, 4, 3, 1),
    (3, 4, 3, 0),
    (1, 1, 1, 1),
    (1, 1, 1, 0),
    (10, 32, 64, 1),
    (7, 5, 11, 3),
    (100, 128, 256, 10),
    (50, 300, 512, 0),
    (2, 17, 1, 4),
]
# (I, H) for the layer configurations; proj_size must be below H.
STACK_SIZES = [(4, 3), (300, 512), (7, 5)]
TORCH_CELLS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
KERAS_CELLS = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def torch_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def torch_rnn(t: int, i: int, h: int, o: int) -> dict[str, Any]:
    rnn = torch.nn.RNN(i, h, batch_first=True)
    head = torch.nn.Linear(h, o) if o else None
    shapes = {k: list(v.shape) for k, v in rnn.state_dict().items()}
    if head is not None:
        shapes |= {f"head.{k}": list(v.shape) for k, v in head.state_dict().items()}
    return {"total": torch_count(rnn) + (torch_count(head) if head else 0), "shapes": shapes}


def torch_dense(t: int, i: int, h: int, o: int) -> int:
    layers = [torch.nn.Linear(t * i, t * h)] + ([torch.nn.Linear(t * h, o)] if o else [])
    return sum(torch_count(layer) for layer in layers)


def keras_rnn(t: int, i: int, h: int, o: int) -> dict[str, Any]:
    layers = [keras.Input((t, i)), keras.layers.SimpleRNN(h)]
    if o:
        layers.append(keras.layers.Dense(o))
    model = keras.Sequential(layers)
    shapes = {
        f"{type(layer).__name__}.{w.name}": list(w.shape)
        for layer in model.layers
        for w in layer.weights
    }
    return {"total": model.count_params(), "shapes": shapes}


def keras_dense(t: int, i: int, h: int, o: int) -> int:
    layers = [keras.Input((t * i,)), keras.layers.Dense(t * h)]
    if o:
        layers.append(keras.layers.Dense(o))
    return int(keras.Sequential(layers).count_params())


def torch_stacks() -> list[dict[str, Any]]:
    rows = []
    for (i, h), cell, layers, bidirectional, bias in itertools.product(
        STACK_SIZES, TORCH_CELLS, (1, 2, 3), (False, True), (True, False)
    ):
        for proj in (0, 2) if cell == "lstm" else (0,):
            kwargs: dict[str, Any] = {
                "num_layers": layers,
                "bidirectional": bidirectional,
                "bias": bias,
            }
            if proj:
                kwargs["proj_size"] = proj
            module = TORCH_CELLS[cell](i, h, **kwargs)
            rows.append(
                {
                    "convention": "pytorch",
                    "cell": cell,
                    "input_size": i,
                    "hidden_size": h,
                    "layers": layers,
                    "bidirectional": bidirectional,
                    "bias": bias,
                    "proj_size": proj,
                    "reset_after": True,
                    "total": torch_count(module),
                    "shapes": {k: list(v.shape) for k, v in module.state_dict().items()},
                }
            )
    return rows


def keras_stacks() -> list[dict[str, Any]]:
    rows = []
    for (i, h), cell, layers, bidirectional, bias in itertools.product(
        STACK_SIZES, KERAS_CELLS, (1, 2, 3), (False, True), (True, False)
    ):
        for reset_after in (True, False) if cell == "gru" else (True,):
            keras.utils.clear_session()  # fresh layer names: lstm, lstm_1, bidirectional ...
            stack: list[Any] = [keras.Input((5, i))]
            for k in range(layers):
                kwargs: dict[str, Any] = {"return_sequences": k < layers - 1, "use_bias": bias}
                if cell == "gru":
                    kwargs["reset_after"] = reset_after
                layer = KERAS_CELLS[cell](h, **kwargs)
                stack.append(keras.layers.Bidirectional(layer) if bidirectional else layer)
            model = keras.Sequential(stack)
            rows.append(
                {
                    "convention": "keras",
                    "cell": cell,
                    "input_size": i,
                    "hidden_size": h,
                    "layers": layers,
                    "bidirectional": bidirectional,
                    "bias": bias,
                    "proj_size": 0,
                    "reset_after": reset_after,
                    "total": model.count_params(),
                    "shapes": {w.path.split("/", 1)[1]: list(w.shape) for w in model.weights},
                }
            )
    return rows


def main() -> None:
    rows = []
    for t, i, h, o in SIZES:
        rows.append(
            {
                "sizes": {"timesteps": t, "input_size": i, "hidden_size": h, "output_size": o},
                "torch_rnn": torch_rnn(t, i, h, o),
                "keras_rnn": keras_rnn(t, i, h, o),
                "torch_dense": torch_dense(t, i, h, o),
                "keras_dense": keras_dense(t, i, h, o),
            }
        )
    stacks = torch_stacks() + keras_stacks()
    meta = {"torch": torch.__version__, "keras": keras.__version__}
    meta["backend"] = keras.backend.backend()
    rows_text = ",\n  ".join(json.dumps(row) for row in rows)
    stacks_text = ",\n  ".join(json.dumps(row) for row in stacks)
    OUT.write_text(
        f'{{"generated_with": {json.dumps(meta)},\n "rows": [\n  {rows_text}\n ],\n'
        f' "stacks": [\n  {stacks_text}\n ]}}\n'
    )
    print(f"wrote {len(rows)} rows and {len(stacks)} layer configurations to {OUT}")


if __name__ == "__main__":
    main()
