"""Totals and subtotals: folds over the weight list from shapes.py.

Standard library only.  Nothing here multiplies sizes on its own: every number is a
``Weight.count`` or a sum of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from . import shapes
from .shapes import Weight
from .spec import DTYPE_BYTES, ModelSpec

ModelName = Literal["rnn", "dense"]


@dataclass(frozen=True)
class ModelCount:
    """The weights of one model with their total and per-part subtotals."""

    model: ModelName
    weights: tuple[Weight, ...]

    @property
    def total(self) -> int:
        """Sum of the element counts of all weights."""
        return sum(w.count for w in self.weights)

    def bytes(self, dtype: str = "float32") -> int:
        """Bytes of all weights stored as ``dtype`` (float32, float16, bfloat16, int8, ...)."""
        return self.total * DTYPE_BYTES[dtype]

    @property
    def subtotals(self) -> dict[str, int]:
        """Element counts per group, in weight order: "recurrent" (or "layer 0 forward" and
        so on for stacked and bidirectional networks), "hidden" (or "hidden layer 1" ...) and
        "output".
        """
        groups: dict[str, int] = {}
        for w in self.weights:
            groups[w.group] = groups.get(w.group, 0) + w.count
        return groups


@dataclass(frozen=True)
class ParamsReport:
    """What ``rnncalc params`` reports: the RNN against its dense equivalent."""

    spec: ModelSpec
    rnn: ModelCount
    dense: ModelCount

    @property
    def ratio(self) -> float:
        """Dense total divided by RNN total."""
        return self.dense.total / self.rnn.total


def count_params(spec: ModelSpec) -> ParamsReport:
    """Count the parameters of the seed's RNN and of its dense equivalent.

    >>> report = count_params(ModelSpec())
    >>> report.rnn.total, report.dense.total
    (28, 127)
    """
    return ParamsReport(
        spec=spec,
        rnn=ModelCount("rnn", shapes.rnn_weights(spec)),
        dense=ModelCount("dense", shapes.dense_weights(spec)),
    )
