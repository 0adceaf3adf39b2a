"""Type names the engine's modules share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy.typing as npt

Array = npt.NDArray[Any]

#: Told of steps done, for a progress bar.
Advance = Callable[[int], None]

Form = Literal["separate", "concat"]

#: Each stacked layer's final state per direction: h (B, S), and c (B, H) for an LSTM (else
#: None); an encoder's start its decoder's layers.
States = list[list[tuple[Array, Array | None]]]

#: Steps between reports to an :data:`Advance` callback.
ADVANCE_EVERY = 256
