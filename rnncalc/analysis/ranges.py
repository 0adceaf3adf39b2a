"""Size lists and ranges for ``rnncalc sweep``: ``64``, ``1,10,100``, ``1..100``,
``32..256:+32``, ``16..1024:x2``, and lists of them (``1..4,8,16..64:x2``).

Ranges include both ends when the step lands on them, count upwards, and are lazy: a
range of a billion values costs no memory until it is walked, and its ``length`` is exact
however large (``len()`` is limited to what fits in a machine integer).  Every number is
read by :func:`rnncalc.units.parse_count`, so ``1k`` and ``1_000`` work here too.
Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from ..units import NUMBER, parse_count, quote

_RANGE = re.compile(rf"({NUMBER}[a-zA-Z]*)\.\.({NUMBER}[a-zA-Z]*)(?::([+x])({NUMBER}[a-zA-Z]*))?")


class Sizes(Sequence[int]):
    """A lazy sequence of sizes with an exact ``length``, its ``low`` and ``high`` ends, and
    the ``text`` it was read from (by :func:`parse_sizes`).
    """

    length: int
    low: int
    high: int
    text: str = ""

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> int:  # type: ignore[override]
        if index < 0:
            index += self.length
        if not 0 <= index < self.length:
            raise IndexError(index)
        return self.at(index)

    def at(self, index: int) -> int:
        """The value at ``0 <= index < length``."""
        raise NotImplementedError


class Arithmetic(Sizes):
    """start, start+step, ... up to ``stop`` (inclusive when the step lands on it)."""

    def __init__(self, start: int, stop: int, step: int = 1) -> None:
        self.start, self.step = start, step
        self.length = (stop - start) // step + 1
        self.low, self.high = start, start + (self.length - 1) * step

    def at(self, index: int) -> int:
        return self.start + index * self.step

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start, self.high + 1, self.step))  # iterates any size


class Geometric(Sizes):
    """start, start*k, start*k², ... up to ``stop`` (inclusive), without building a list."""

    def __init__(self, start: int, stop: int, factor: int) -> None:
        if start < 1 or factor < 2:
            raise ValueError(
                "a geometric range needs a start of 1 or more and a factor of 2 or more"
            )
        self.start, self.factor = start, factor
        count, value = 0, start
        while value <= stop:
            count, value = count + 1, value * factor
        self.length, self.low, self.high = count, start, value // factor

    def at(self, index: int) -> int:
        value: int = self.start * self.factor**index
        return value

    def __iter__(self) -> Iterator[int]:
        value = self.start
        while value <= self.high:
            yield value
            value *= self.factor


class Chain(Sizes):
    """Several sequences one after another, as one sequence (for ``1..4,8,16..64:x2``)."""

    def __init__(self, parts: list[Sizes]) -> None:
        self.parts = parts
        self.length = sum(part.length for part in parts)
        self.low = min(part.low for part in parts)
        self.high = max(part.high for part in parts)

    def at(self, index: int) -> int:
        for part in self.parts:
            if index < part.length:
                return part.at(index)
            index -= part.length
        raise IndexError(index)

    def __iter__(self) -> Iterator[int]:
        for part in self.parts:
            yield from part


def parse_sizes(text: str, minimum: int = 1) -> Sizes:
    """Parse a size list or range; raise ValueError with a message a user can act on."""
    parts: list[Sizes] = []
    for item in text.replace(" ", "").split(","):
        if not item:
            raise ValueError(f"{quote(text)} has an empty item; write e.g. 1,10,100 or 16..1024:x2")
        match = _RANGE.fullmatch(item)
        if match is None:
            if ".." not in item and ":" not in item:
                value = parse_count(item, minimum)
                parts.append(Arithmetic(value, value))
                continue
            raise ValueError(
                f"{quote(item)} is not a size, a list or a range such as 1..100, 32..256:+32 "
                "or 16..1024:x2"
            )
        start, stop = parse_count(match[1], minimum), parse_count(match[2], minimum)
        if stop < start:
            raise ValueError(f"{quote(item)} runs backwards; write {match[2]}..{match[1]}")
        kind, step = match[3] or "+", parse_count(match[4] or "1", 0)
        if kind == "+" and step < 1:
            raise ValueError(f"{quote(item)}: the step +{step} must be at least +1")
        if kind == "x" and step < 2:
            raise ValueError(f"{quote(item)}: the factor x{step} must be at least x2")
        if kind == "x" and start < 1:
            raise ValueError(f"{quote(item)}: a range that multiplies must start at 1 or more")
        parts.append(Arithmetic(start, stop, step) if kind == "+" else Geometric(start, stop, step))
    sizes = parts[0] if len(parts) == 1 else Chain(parts)
    sizes.text = text
    return sizes


def parse_layer_sizes(text: str, minimum: int = 1) -> tuple[Sizes, ...]:
    """Sizes per layer, slash-separated (``64/16..128:x2``), each part as
    :func:`parse_sizes` reads it; ``minimum`` 0 is allowed for one part only (a layer of 0
    units is no layer, which only a lone layer may be).
    """
    parts = text.split("/")
    if len(parts) > 1000:
        raise ValueError("at most 1000 layers, one size each")
    least = minimum if len(parts) == 1 else max(1, minimum)
    return tuple(parse_sizes(part, least) for part in parts)
