"""Size a model for a parameter budget: the largest hidden size (input size, layer count)
whose total stays within it.  Exact at any size.  Standard library only.

The total is a polynomial of degree at most 2 in each of these sizes (the shape list's
symbols multiply at most two sizes: 4·H × H, H × I ...), so three totals fix it: solve
the quadratic in integers (``math.isqrt``), then verify against the real count and step by
ones until total(value) <= budget < total(value + 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .spec import ModelSpec
from .sweep import SIZES, compiled, structure

#: What ``--solve`` accepts, by option name.
SOLVABLE = {"hidden-size": "hidden_size", "input-size": "input_size", "layers": "layers"}


@dataclass(frozen=True)
class Fit:
    """The largest value within the budget, its total, and the total one above it."""

    solve: str
    value: int
    total: int
    next_total: int
    budget: int


def rnn_total(template: ModelSpec, field: str) -> Callable[[int], int]:
    """The RNN's total as a function of one size, the others as in ``template``."""

    def total(value: int) -> int:
        sizes = {name: getattr(template, name) for name in SIZES}
        sizes[field] = value
        shape = structure(template, sizes["layers"] > 1, sizes["output_size"] > 0)
        result: int = compiled(shape, "last")(*sizes.values())[0]
        return result

    return total


def smallest(template: ModelSpec, field: str) -> int:
    """The smallest valid value: above the projection for the hidden size, else 1."""
    return template.proj_size + 1 if field == "hidden_size" else 1


def fit(template: ModelSpec, solve: str, budget: int) -> Fit | None:
    """The largest value of ``solve`` whose RNN total is at most ``budget``, or None."""
    field = SOLVABLE[solve]
    total = rnn_total(template, field)
    low = smallest(template, field)
    if total(low) > budget:
        return None
    c0, c1, c2 = (total(low + k) for k in range(3))
    d1, d2 = c1 - c0, c2 - 2 * c1 + c0
    # c0 + d1·u + d2·u(u-1)/2 <= budget  <=>  d2·u² + (2·d1 - d2)·u + 2·(c0 - budget) <= 0
    a, b, c = d2, 2 * d1 - d2, 2 * (c0 - budget)
    if a == 0:
        u = -c // b if b > 0 else 0
    else:
        u = (-b + math.isqrt(max(0, b * b - 4 * a * c))) // (2 * a)
    value = low + max(0, u)
    while total(value + 1) <= budget:
        value += 1
    while value > low and total(value) > budget:
        value -= 1
    return Fit(solve, value, total(value), total(value + 1), budget)
