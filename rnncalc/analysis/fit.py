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
from typing import Any

from ..model.spec import ModelSpec, SpecError, check_int, smallest
from .sweep import SIZES, compiled, structure

#: The sizes ``fit`` can solve for, by ModelSpec field (T never enters the RNN's count).
SOLVABLE = ("hidden_size", "input_size", "layers")


@dataclass(frozen=True)
class Fit:
    """The largest value of ``solve`` whose RNN total is within ``budget``, with the other
    sizes and options as in ``template``: its total and the total one above it.  When even
    the smallest model is over the budget, ``value`` is None and ``total`` is the smallest
    model's.
    """

    template: ModelSpec
    solve: str
    budget: int
    value: int | None
    total: int
    next_total: int
    smallest: int

    @property
    def fits(self) -> bool:
        """Whether some value fits the budget."""
        return self.value is not None

    @property
    def spare(self) -> int:
        """Parameters left in the budget by the value found (negative when nothing fits)."""
        return self.budget - self.total

    @property
    def spec(self) -> ModelSpec:
        """The model found (the smallest one when nothing fits)."""
        found: dict[str, Any] = {self.solve: self.value or self.smallest}
        return self.template.replace(**found)

    def to_dict(self) -> dict[str, Any]:
        """What ``rnncalc fit --format json`` prints (the budget in parameters)."""
        return {
            "spec": self.spec.as_dict(),
            "options": {"solve": self.solve, "budget": self.budget},
            "fits": self.fits,
            "value": self.value,
            "total": self.total,
            "next_total": self.next_total,
            "smallest": self.smallest,
        }


def rnn_total(template: ModelSpec, field: str) -> Callable[[int], int]:
    """The RNN's total as a function of one size, the others as in ``template``."""

    def total(value: int) -> int:
        sizes = {name: getattr(template, name) for name in SIZES}
        sizes[field] = value
        shape = structure(template, sizes["layers"] > 1, sizes["output_size"] > 0)
        result: int = compiled(shape, "last")(*sizes.values())[0]
        return result

    return total


def fit(template: ModelSpec, solve: str, budget: int) -> Fit:
    """The largest value of ``solve`` (a field of :data:`SOLVABLE`) whose RNN total is at
    most ``budget``; the value the template holds for it is not used.
    """
    if solve not in SOLVABLE:
        raise SpecError("solve", f"must be one of {', '.join(SOLVABLE)}, got {solve!r:.40}")
    check_int("budget", budget, 1)
    total = rnn_total(template, solve)
    low = smallest(solve, template.proj_size)
    if total(low) > budget:
        return Fit(template, solve, budget, None, total(low), total(low), low)
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
    return Fit(template, solve, budget, value, total(value), total(value + 1), low)
