"""Compute reference forward passes in PyTorch; write forward_<case>.npz and forward_cases.json.

Not part of the test suite and not needed by it.  Each case builds the seed's RNN in
PyTorch from NumPy weights in the seed's convention (weight_ih = W_xh.T, weight_hh = W_hh.T,
bias_ih = b_h, bias_hh = 0, then an nn.Linear head with weight = W_yh.T, bias = b_y), runs
it in float64 and stores the weights, x, every hidden state h (B, T, H) and y.  Hidden
activations that nn.RNN lacks (sigmoid, identity) run as an explicit loop of torch ops.

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch==2.13.0 numpy
    /tmp/ref/bin/python tests/reference/make_forward_reference.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).parent

FIELDS = ("B", "T", "I", "H", "O", "hidden", "output", "outputs")
CASES = {
    name: dict(zip(FIELDS, values, strict=True))
    for name, values in {
        "seed": (2, 3, 4, 3, 1, "tanh", "identity", "last"),
        "relu_all_sigmoid": (3, 5, 3, 4, 2, "relu", "sigmoid", "all"),
        "softmax": (2, 6, 5, 7, 4, "tanh", "softmax", "last"),
        "no_output": (1, 4, 2, 5, 0, "tanh", "identity", "last"),
        "sigmoid_tanh_all": (4, 3, 6, 2, 3, "sigmoid", "tanh", "all"),
        "identity_long": (2, 40, 3, 8, 1, "identity", "identity", "last"),
    }.items()
}

OUTPUT = {
    "identity": lambda a: a,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softmax": lambda a: torch.softmax(a, dim=-1),
}


def hidden_states(case: dict, w: dict[str, np.ndarray], x: torch.Tensor) -> torch.Tensor:
    t = torch.from_numpy
    if case["hidden"] in ("tanh", "relu"):
        rnn = torch.nn.RNN(case["I"], case["H"], nonlinearity=case["hidden"], batch_first=True)
        rnn = rnn.double()
        with torch.no_grad():
            rnn.weight_ih_l0.copy_(t(w["W_xh"].T))
            rnn.weight_hh_l0.copy_(t(w["W_hh"].T))
            rnn.bias_ih_l0.copy_(t(w["b_h"]))
            rnn.bias_hh_l0.zero_()
            return rnn(x)[0]
    f = torch.sigmoid if case["hidden"] == "sigmoid" else (lambda a: a)
    h = torch.zeros(x.shape[0], case["H"], dtype=torch.float64)
    states = []
    for step in range(x.shape[1]):
        h = f(x[:, step] @ t(w["W_xh"]) + h @ t(w["W_hh"]) + t(w["b_h"]))
        states.append(h)
    return torch.stack(states, dim=1)


def main() -> None:
    rng = np.random.default_rng(2026)
    for name, case in CASES.items():
        b, steps, i, h, o = (case[k] for k in "BTIHO")
        bound = 1 / np.sqrt(h)
        w = {
            "W_xh": rng.uniform(-bound, bound, (i, h)),
            "W_hh": rng.uniform(-bound, bound, (h, h)),
            "b_h": rng.uniform(-bound, bound, (h,)),
        }
        if o:
            w["W_yh"] = rng.uniform(-bound, bound, (h, o))
            w["b_y"] = rng.uniform(-bound, bound, (o,))
        x = rng.standard_normal((b, steps, i))
        with torch.no_grad():
            states = hidden_states(case, w, torch.from_numpy(x))
            arrays = {**w, "x": x, "h": states.numpy()}
            if o:
                head = torch.nn.Linear(h, o).double()
                head.weight.copy_(torch.from_numpy(w["W_yh"].T))
                head.bias.copy_(torch.from_numpy(w["b_y"]))
                features = states if case["outputs"] == "all" else states[:, -1]
                arrays["y"] = OUTPUT[case["output"]](head(features)).numpy()
        np.savez(HERE / f"forward_{name}.npz", **arrays)
    meta = {"torch": torch.__version__, "dtype": "float64", "cases": CASES}
    (HERE / "forward_cases.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(CASES)} cases to {HERE}")


if __name__ == "__main__":
    main()
