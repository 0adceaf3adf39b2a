"""rnncalc: exact parameter counts and shape checks for recurrent neural networks.

The Python API mirrors ``rnncalc params``::

    >>> from rnncalc import ModelSpec, count_params
    >>> report = count_params(ModelSpec(timesteps=3, input_size=4, hidden_size=3, output_size=1))
    >>> report.rnn.total, report.dense.total
    (28, 127)
    >>> [(w.name, w.shape) for w in report.rnn.weights]
    [('W_xh', (4, 3)), ('W_hh', (3, 3)), ('b_h', (3,)), ('W_yh', (3, 1)), ('b_y', (1,))]

Names are loaded on first use, so ``import rnncalc`` costs next to nothing and the command
line loads only the modules a command needs; numpy and rich are never imported here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ModelSpec": "model.spec",
    "SpecError": "model.spec",
    "Weight": "model.shapes",
    "rnn_weights": "model.shapes",
    "dense_weights": "model.shapes",
    "ModelCount": "analysis.counts",
    "ParamsReport": "analysis.counts",
    "count_params": "analysis.counts",
    "Explanation": "analysis.formulas",
    "Formula": "analysis.formulas",
    "explain": "analysis.formulas",
}

__all__ = [
    "Explanation",
    "Formula",
    "ModelCount",
    "ModelSpec",
    "ParamsReport",
    "SpecError",
    "Weight",
    "__version__",
    "count_params",
    "dense_weights",
    "explain",
    "rnn_weights",
]

if TYPE_CHECKING:
    from .analysis.counts import ModelCount, ParamsReport, count_params
    from .analysis.formulas import Explanation, Formula, explain
    from .model.shapes import Weight, dense_weights, rnn_weights
    from .model.spec import ModelSpec, SpecError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rnncalc' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return __all__
