"""Measure what torchinfo, ptflops and thop report for recurrent layers; write tool_counts.json.

Not part of the test suite and not needed by it.  rnncalc's ``cost`` reproduces these
tools' formulas (see rnncalc/cost.py); the tests check every row of the JSON.

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch==2.13.0 torchinfo ptflops thop
    /tmp/ref/bin/python tests/reference/make_tool_counts.py
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
from ptflops import get_model_complexity_info
from thop import profile
from torchinfo import summary

OUT = Path(__file__).with_name("tool_counts.json")
CELLS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def measure(case: dict[str, Any]) -> dict[str, int]:
    kwargs: dict[str, Any] = {
        "num_layers": case["layers"],
        "bidirectional": case["bidirectional"],
        "bias": case["bias"],
        "batch_first": True,
    }
    if case["proj_size"]:
        kwargs["proj_size"] = case["proj_size"]
    module = CELLS[case["cell"]](case["input_size"], case["hidden_size"], **kwargs)
    b, t, i = case["batch_size"], case["timesteps"], case["input_size"]
    torchinfo_macs = summary(module, input_size=(b, t, i), verbose=0).total_mult_adds
    with contextlib.redirect_stdout(io.StringIO()):
        ptflops_macs, _ = get_model_complexity_info(
            module,
            (t, i),
            as_strings=False,
            print_per_layer_stat=False,
            backend="pytorch",
            input_constructor=lambda _: torch.randn(b, t, i),
        )
        thop_ops, _ = profile(module, inputs=(torch.randn(b, t, i),), verbose=False)
    return {"torchinfo": int(torchinfo_macs), "ptflops": int(ptflops_macs), "thop": int(thop_ops)}


def main() -> None:
    rows = []
    for cell, layers, bidirectional, bias, batch in itertools.product(
        CELLS, (1, 2), (False, True), (True, False), (1, 3)
    ):
        for proj in (0, 2) if cell == "lstm" else (0,):
            case = {
                "cell": cell,
                "input_size": 4,
                "hidden_size": 3,
                "timesteps": 5,
                "layers": layers,
                "bidirectional": bidirectional,
                "bias": bias,
                "proj_size": proj,
                "batch_size": batch,
            }
            rows.append({**case, **measure(case)})
    meta = {name: version(name) for name in ("torch", "torchinfo", "ptflops", "thop")}
    lines = ",\n  ".join(json.dumps(row) for row in rows)
    OUT.write_text(f'{{"generated_with": {json.dumps(meta)},\n "rows": [\n  {lines}\n ]}}\n')
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
