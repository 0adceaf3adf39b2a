"""Weights and inputs the run draws itself, and a record of which weights it read."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping

import numpy as np

from ..model.shapes import Weight
from .types import Array


class UsageRecorder(Mapping[str, Array]):
    """A read-only view of named arrays that remembers which ones were read."""

    def __init__(self, arrays: Mapping[str, Array]) -> None:
        self._arrays = arrays
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> Array:
        array = self._arrays[name]
        self.read.add(name)
        return array

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    @property
    def elements_read(self) -> int:
        """Total element count of the arrays that were read."""
        return sum(self._arrays[name].size for name in self.read)


def init_weights(
    weights: tuple[Weight, ...],
    rng: np.random.Generator,
    dtype: str,
    hidden_size: int | None = None,
) -> dict[str, Array]:
    """Random arrays with the listed shapes (a tied weight has none: it is its embedding's).

    Recurrent tensors draw from U(-1/sqrt(H), 1/sqrt(H)) as ``torch.nn.RNN`` initialises
    them, H being ``hidden_size`` or, when None, each tensor's own layer's; dense and
    output layers from U(-1/sqrt(n), 1/sqrt(n)) for n inputs, as ``torch.nn.Linear`` does
    (a bias takes its matrix's bound); embeddings from U(-1, 1).
    """
    arrays: dict[str, Array] = {}
    bound = 1.0
    for w in weights:
        if w.tied:
            continue
        if w.part == "recurrent":
            bound = 1.0 / math.sqrt(hidden_size or _hidden_size(w))
        elif w.role in ("input", "hidden", "dense", "output"):
            bound = 1.0 / math.sqrt(w.shape[1] if w.transposed else w.shape[0])
        elif w.role == "embedding":
            bound = 1.0

        def draw(n: int, bound: float = bound) -> Array:
            return rng.uniform(-bound, bound, (n,))

        arrays[w.name] = drawn(draw, w.shape, dtype)
    return arrays


def _hidden_size(w: Weight) -> int:
    """H of the recurrent layer a tensor belongs to, read off its shape: the gate axis
    holds one block of H per gate (a projection (P, H) in PyTorch's layout, its columns).
    """
    if w.role == "projection":
        return w.shape[1]
    return (w.shape[0] if w.transposed else w.shape[-1]) // len(w.gates)


#: Random numbers are drawn in float64 blocks of this many and stored in the array's dtype,
#: so that a float32 array never needs a float64 copy of itself (the numbers are the same
#: as one draw of the whole array: the generator's stream does not depend on the blocks).
_DRAW_BLOCK = 1 << 16


def drawn(draw: Callable[[int], Array], shape: tuple[int, ...], dtype: str) -> Array:
    out = np.empty(shape, dtype)
    flat = out.reshape(-1)
    for start in range(0, flat.size, _DRAW_BLOCK):
        stop = min(start + _DRAW_BLOCK, flat.size)
        flat[start:stop] = draw(stop - start)
    return out
