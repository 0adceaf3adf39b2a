"""Size lists and ranges for ``rnncalc sweep``: ``64``, ``1,10,100``, ``1..100``,
``32..256:+32``, ``16..1024:x2``, and lists of them (``1..4,8,16..64:x2``).

Ranges include both ends when the step lands on them, count upwards, and are lazy: a
range of a billion values costs no memory until it is walked.  Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

_RANGE = re.compile(r"(\d+)\.\.(\d+)(?::([+x])(\d+))?")


class Geometric(Sequence[int]):
    """start, start*k, start*k², ... up to ``stop`` (inclusive), without building a list."""

    def __init__(self, start: int, stop: int, factor: int) -> None:
        self.start, self.stop, self.factor = start, stop, factor
        count, value = 0, start
        while value <= stop:
            count, value = count + 1, value * factor
        self._len = count

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index: int) -> int:  # type: ignore[override]
        if not -self._len <= index < self._len:
            raise IndexError(index)
        value: int = self.start * self.factor ** (index % self._len)
        return value

    def __iter__(self) -> Iterator[int]:
        value = self.start
        while value <= self.stop:
            yield value
            value *= self.factor


class Chain(Sequence[int]):
    """Several sequences one after another, as one sequence (for ``1..4,8,16..64:x2``)."""

    def __init__(self, parts: list[Sequence[int]]) -> None:
        self.parts = parts

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)

    def __getitem__(self, index: int) -> int:  # type: ignore[override]
        if index < 0:
            index += len(self)
        for part in self.parts:
            if index < len(part):
                return part[index]
            index -= len(part)
        raise IndexError(index)

    def __iter__(self) -> Iterator[int]:
        for part in self.parts:
            yield from part


def bounds(values: Sequence[int]) -> tuple[int, int]:
    """The smallest and largest value, without walking a range."""
    parts = values.parts if isinstance(values, Chain) else [values]
    return min(part[0] for part in parts), max(part[-1] for part in parts)


def parse_sizes(text: str, minimum: int = 1) -> Sequence[int]:
    """Parse a size list or range; raise ValueError with a message a user can act on."""
    parts: list[Sequence[int]] = []
    for item in text.replace(" ", "").split(","):
        if not item:
            raise ValueError(f"{text!r} has an empty item; write e.g. 1,10,100 or 16..1024:x2")
        if item.isdigit():
            parts.append([_at_least(int(item), minimum, text)])
            continue
        match = _RANGE.fullmatch(item)
        if match is None:
            raise ValueError(
                f"{item!r} is not a size, a list or a range such as 1..100, 32..256:+32 or "
                "16..1024:x2"
            )
        start, stop = _at_least(int(match[1]), minimum, text), int(match[2])
        if stop < start:
            raise ValueError(f"{item!r} runs backwards; write {stop}..{start}")
        kind, step = match[3] or "+", int(match[4] or 1)
        if kind == "+" and step < 1:
            raise ValueError(f"{item!r}: the step +{step} must be at least +1")
        if kind == "x" and step < 2:
            raise ValueError(f"{item!r}: the factor x{step} must be at least x2")
        parts.append(range(start, stop + 1, step) if kind == "+" else Geometric(start, stop, step))
    return parts[0] if len(parts) == 1 else Chain(parts)


def _at_least(value: int, minimum: int, text: str) -> int:
    if value < minimum:
        raise ValueError(f"{text!r}: sizes must be at least {minimum}, got {value}")
    return value
