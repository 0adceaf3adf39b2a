"""Size a model for a parameter budget: the largest hidden size (input size, layer count,
vocabulary) whose total stays within it.  Exact at any size.  Standard library only.

The size solved for is one the whole network shares: every recurrent layer's hidden size,
the input size (the embedding's width when there is one), the stack of the one recurrent
layer, or the vocabulary (a tied output layer's units follow it).  The total is a
polynomial of degree at most 2 in it (the shape list's symbols multiply at most two sizes:
4·H × H, H × I ...), so three totals fix it: solve the quadratic in integers
(``math.isqrt``), then verify against the compiled count and step by ones until
total(value) <= budget < total(value + 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..model.network import Network
from ..model.spec import ModelSpec, SpecError, check_int
from .sweep import Slot, Sweep, size_of, with_sizes

#: The seed's sizes ``fit`` can solve for, by field (T never enters the RNN's count).
SOLVABLE = ("hidden_size", "input_size", "layers")
#: Every size it can solve for: the seed's and a network's vocabulary.
SHARED = (*SOLVABLE, "vocab_size")


@dataclass(frozen=True)
class Fit:
    """The largest value of ``solve`` whose RNN total is within ``budget``, with the other
    sizes and options as in ``template``: its total and the total one above it.  When even
    the smallest model is over the budget, ``value`` is None and ``total`` is the smallest
    model's.
    """

    template: ModelSpec | Network
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
    def spec(self) -> ModelSpec | Network:
        """The model found (the smallest one when nothing fits), of the template's type."""
        if isinstance(self.template, ModelSpec):
            found: dict[str, Any] = {self.solve: self.value or self.smallest}
            return self.template.replace(**found)
        return self.network

    @property
    def network(self) -> Network:
        """The network found (the smallest one when nothing fits)."""
        return solved(_network(self.template), self.solve, self.value or self.smallest)

    def to_dict(self) -> dict[str, Any]:
        """What ``rnncalc fit --format json`` prints (the budget in parameters): ``model``
        (the model file's contents, :func:`rnncalc.model.modelfile.to_dict`), ``options``,
        then the results.
        """
        from ..model.modelfile import to_dict

        return {
            "model": to_dict(self.network),
            "options": {"solve": self.solve, "budget": self.budget},
            "fits": self.fits,
            "value": self.value,
            "total": self.total,
            "next_total": self.next_total,
            "smallest": self.smallest,
        }


def _network(model: ModelSpec | Network) -> Network:
    return model.network() if isinstance(model, ModelSpec) else model


def _slots(network: Network, solve: str) -> list[Slot]:
    """The slots that ``solve`` sets together (see :func:`solvable`)."""
    plan = Sweep(network)
    if solve == "hidden_size":
        return [slot for slot in plan.slots if slot.field == "hidden_size"]
    if solve == "layers":
        return [slot for slot in plan.slots if slot.field == "stack"]
    if solve == "vocab_size":
        return [slot for slot in plan.slots if slot.field == "vocab_size" and slot.stage == 0]
    first = network.stages[0]
    return [plan.slots[plan.index(0, 0, "dim") if first.embedding else plan.index(0, -1, solve)]]


def solvable(network: Network, solve: str) -> None:
    """Raise SpecError("solve", why) unless ``network`` has one ``solve`` size to find:
    its recurrent layers share one hidden size, it has one recurrent layer to stack, an
    embedding for the vocabulary, and no tied layer fixes the size.
    """
    if solve not in SHARED:
        raise SpecError("solve", f"must be one of {', '.join(SHARED)}, got {solve!r:.40}")
    recurrent = [layer for stage in network.stages for layer in stage.recurrent]
    if solve == "hidden_size":
        sizes = sorted({layer.hidden_size for layer in recurrent})
        if len(sizes) > 1:
            shown = ", ".join(map(str, sizes))
            raise SpecError(
                "solve",
                f"hidden-size sets every recurrent layer's hidden size, but this network's "
                f"differ ({shown}): give the layers one size, or solve another size",
            )
    if solve == "layers" and len(recurrent) > 1:
        raise SpecError(
            "solve",
            f"layers sets the stack of the network's one recurrent layer, but it has "
            f"{len(recurrent)}: give one -H (a model file with one recurrent layer), or solve "
            "another size",
        )
    if solve == "vocab_size" and network.stages[0].embedding is None:
        raise SpecError(
            "solve", "vocab-size needs an embedding (--vocab-size, or a model file with one)"
        )
    low = smallest(network, solve)
    for value in (low, low + 1):
        try:
            solved(network, solve, value)
        except SpecError:
            name = solve.replace("_", "-")
            current = size_of(network, _slots(network, solve)[0])
            raise SpecError(
                "solve",
                f"{name} is fixed at {current:,} by the output layer tied to the embedding: "
                "the embedding's width must equal the width the tied layer reads, which no "
                f"other {name} gives; solve layers or vocab-size, or untie it",
            ) from None


def smallest(network: Network, solve: str) -> int:
    """The smallest value ``solve`` may take: one above the largest projection P for the
    hidden size, else 1.
    """
    if solve != "hidden_size":
        return 1
    return 1 + max(layer.proj_size for stage in network.stages for layer in stage.recurrent)


def solved(network: Network, solve: str, value: int) -> Network:
    """``network`` with the size ``solve`` set to ``value`` (SpecError when that breaks a
    rule)."""
    return with_sizes(network, dict.fromkeys(_slots(network, solve), value))


def rnn_total(template: ModelSpec | Network, field: str) -> Callable[[int], int]:
    """The RNN's total as a function of one shared size, the others as in ``template``."""
    network = _network(template)
    plan = Sweep(network)
    positions = [plan.slots.index(slot) for slot in _slots(network, field)]
    sizes = plan.sizes()
    layers = positions[0] if field == "layers" else None
    stacked = sizes[plan.letters.index("L")] > 1 if "L" in plan.letters else False

    def total(value: int) -> int:
        for position in positions:
            sizes[position] = value
        evaluate = plan.evaluator(value > 1 if layers is not None else stacked, True)
        result: int = evaluate(*sizes)[0]
        return result

    return total


def fit(template: ModelSpec | Network, solve: str, budget: int) -> Fit:
    """The largest value of ``solve`` (a field of :data:`SHARED`) whose RNN total is at
    most ``budget``; the value the template holds for it is not used.  Raises SpecError
    when the network has no such size to find (:func:`solvable`).
    """
    network = _network(template)
    solvable(network, solve)
    check_int("budget", budget, 1)
    total = rnn_total(network, solve)
    low = smallest(network, solve)
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
