"""The model description: the sizes of the seed's RNN and how its weights are written.

Standard library only: this module is imported by every command, including the ones that
must start fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Notation = Literal["separate", "concat"]
NOTATIONS: tuple[str, ...] = get_args(Notation)


class SpecError(ValueError):
    """A model description that cannot describe a network; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ModelSpec:
    """Sizes of a many-to-one RNN, in the seed's letters.

    ``timesteps`` (T), ``input_size`` (I), ``hidden_size`` (H) and ``output_size`` (O);
    ``output_size=0`` means no output layer at all.  ``notation`` chooses between the seed's
    two ways of writing the hidden-state update: ``separate`` (W_xh and W_hh) or ``concat``
    (one W_h of shape (H+I) x H acting on [h_{t-1}, x_t]).  The defaults are the seed's
    worked example.
    """

    timesteps: int = 3
    input_size: int = 4
    hidden_size: int = 3
    output_size: int = 1
    notation: Notation = "separate"

    def __post_init__(self) -> None:
        for field, minimum in (
            ("timesteps", 1),
            ("input_size", 1),
            ("hidden_size", 1),
            ("output_size", 0),
        ):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int):
                raise SpecError(field, f"must be an integer, got {value!r}")
            if value < minimum:
                raise SpecError(field, f"must be at least {minimum}, got {value}")
        if self.notation not in NOTATIONS:
            raise SpecError(
                "notation", f"must be one of {', '.join(NOTATIONS)}, got {self.notation!r}"
            )

    @property
    def has_output_layer(self) -> bool:
        """Whether the network ends in an output layer (``output_size > 0``)."""
        return self.output_size > 0
