"""Measure parameter counts and weight shapes in PyTorch and Keras; write framework_counts.json.

Not part of the test suite and not needed by it: the tests read the JSON this writes.
Run it in a separate environment that has the frameworks:

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch==2.13.0 keras numpy
    KERAS_BACKEND=torch /tmp/ref/bin/python tests/reference/make_framework_counts.py
"""

from __future__ import annotations

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
    return keras.Sequential(layers).count_params()


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
    meta = {
        "torch": torch.__version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
    }
    lines = ",\n  ".join(json.dumps(row) for row in rows)
    OUT.write_text(f'{{"generated_with": {json.dumps(meta)},\n "rows": [\n  {lines}\n ]}}\n')
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
