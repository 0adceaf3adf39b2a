"""Formulas written out the seed's way, from the weight list, for ``--explain``.

Every formula is built from the weights' shapes (in numbers) and symbols (in letters), so
it cannot drift from the counts; tests evaluate both forms and compare with the totals.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .counts import ParamsReport
from .shapes import Weight


@dataclass(frozen=True)
class Formula:
    """A total written out the seed's way: in letters, in numbers, and its value."""

    symbolic: str
    numeric: str
    total: int


@dataclass(frozen=True)
class Explanation:
    """Both models' formulas and why they scale differently with T."""

    rnn: Formula
    dense: Formula
    scaling: str


def formula(weights: tuple[Weight, ...]) -> Formula:
    """Write the sum of ``weights`` as the seed does: ``((4×3) + (3×3 + 3)) + (3×1 + 1)``.

    A bias joins the group of the matrix before it; each group is parenthesised, and a part
    (recurrent or hidden layer, output layer) with several groups is parenthesised again.
    """
    symbolic: list[str] = []
    numeric: list[str] = []
    for part in dict.fromkeys(w.part for w in weights):
        groups = _groups(tuple(w for w in weights if w.part == part))
        symbolic.append(_join(groups, _symbolic_term))
        numeric.append(_join(groups, _numeric_term))
    return Formula(" + ".join(symbolic), " + ".join(numeric), sum(w.count for w in weights))


def explain(report: ParamsReport) -> Explanation:
    """Formulas for both models and one sentence on how they grow with T."""
    first = report.dense.weights[0]
    t = report.spec.timesteps
    scaling = (
        f"The RNN reuses the same weights at each of its T = {t} steps, so T appears nowhere "
        f"in its count; the dense network reads all T·I inputs at once into T·H hidden units, "
        f"so its first matrix alone holds T²·I·H = {first.count} weights and its count grows "
        f"with T²."
    )
    return Explanation(formula(report.rnn.weights), formula(report.dense.weights), scaling)


def _groups(weights: tuple[Weight, ...]) -> list[list[Weight]]:
    groups: list[list[Weight]] = []
    for w in weights:
        if len(w.shape) == 1 and groups:
            groups[-1].append(w)
        else:
            groups.append([w])
    return groups


def _join(groups: list[list[Weight]], term: Callable[[Weight], str]) -> str:
    inner = ["(" + " + ".join(term(w) for w in group) + ")" for group in groups]
    return inner[0] if len(inner) == 1 else "(" + " + ".join(inner) + ")"


def _symbolic_term(w: Weight) -> str:
    return "×".join(f"({s})" if "+" in s else s for s in w.symbols)


def _numeric_term(w: Weight) -> str:
    return "×".join(str(n) for n in w.shape)
