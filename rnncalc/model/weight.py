"""The records the shape list is made of: :class:`Weight`, one tensor with its shape in
numbers and letters and its place in the network; :class:`Term`, a weight and how many like
it a model holds; the roles a tensor plays.  :mod:`rnncalc.model.shapes` makes them and is
where the rest of rnncalc imports them from.

Standard library only.
"""

from __future__ import annotations

import math
from typing import Literal

from .record import Record

Role = Literal[
    "embedding",
    "input",
    "hidden",
    "recurrent",
    "input_recurrent",
    "input_bias",
    "recurrent_bias",
    "biases",
    "projection",
    "dense",
    "dense_bias",
    "output",
    "output_bias",
]
Part = Literal["embedding", "recurrent", "hidden", "output"]
Direction = Literal["forward", "backward"]

#: Roles of tensors that are added, not multiplied: biases.
BIAS_ROLES = frozenset({"input_bias", "recurrent_bias", "biases", "dense_bias", "output_bias"})

ROLE_DESCRIPTIONS: dict[Role, str] = {
    "embedding": "token -> vector",
    "input": "input -> hidden",
    "hidden": "hidden -> hidden",
    "recurrent": "hidden -> hidden",
    "input_recurrent": "[hidden, input] -> hidden",
    "input_bias": "hidden bias",
    "recurrent_bias": "recurrent bias",
    "biases": "input and recurrent biases",
    "projection": "projection",
    "dense": "dense layer",
    "dense_bias": "dense bias",
    "output": "hidden -> output",
    "output_bias": "output bias",
}


class Weight(Record):
    """One weight tensor: its name, its shape in numbers and in letters, and its place.

    ``gates`` lists, in order, the gate blocks the tensor holds along its gate axis;
    ``transposed`` marks PyTorch's (out, in) layout, where the seed and Keras use (in, out).
    ``group`` labels the subtotal the tensor counts towards.  ``layer`` is the stacked
    recurrent layer it belongs to, or for other layers how many stacked layers precede it
    (the seed's output layer sits at L); ``stage`` (0, or 1 for a decoder), ``module`` (the
    layer's index in its stage) and ``sublayer`` (its place in a stack) place it in a
    :class:`~rnncalc.model.network.Network`.  ``tied`` names the tensor whose storage it
    shares (a language model's output layer and its embedding): it then adds nothing to
    the count.
    """

    FIELDS = (
        "name",
        "shape",
        "symbols",
        "role",
        "part",
        "group",
        "layer",
        "direction",
        "gates",
        "transposed",
        "stage",
        "module",
        "sublayer",
        "tied",
    )
    __slots__ = FIELDS
    name: str
    shape: tuple[int, ...]
    symbols: tuple[str, ...]
    role: Role
    part: Part
    group: str
    layer: int
    direction: Direction
    gates: str
    transposed: bool
    stage: int
    module: int
    sublayer: int
    tied: str

    def __init__(
        self,
        name: str,
        shape: tuple[int, ...],
        symbols: tuple[str, ...],
        role: Role,
        part: Part,
        group: str,
        layer: int = 0,
        direction: Direction = "forward",
        gates: str = "",
        transposed: bool = False,
        stage: int = 0,
        module: int = 0,
        sublayer: int = 0,
        tied: str = "",
    ) -> None:
        self._set(
            name=name,
            shape=shape,
            symbols=symbols,
            role=role,
            part=part,
            group=group,
            layer=layer,
            direction=direction,
            gates=gates,
            transposed=transposed,
            stage=stage,
            module=module,
            sublayer=sublayer,
            tied=tied,
        )

    @property
    def elements(self) -> int:
        """Number of elements, an exact Python int."""
        return math.prod(self.shape)

    @property
    def count(self) -> int:
        """Parameters the tensor adds to the model: its elements, or 0 when ``tied`` (they
        are counted at the tensor it shares).
        """
        return 0 if self.tied else math.prod(self.shape)


class Term:
    """A weight and how many tensors like it a model holds: 1, or s-1 for a tensor of the
    second layer of a stack of s, which every layer above it repeats with the same shape.

    Terms fold a stack of any depth in constant work: sum ``count`` over them for a total,
    over those of one role for a cost.  The weights come from stacks of at most two
    layers, so their names and ``layer`` numbers are not the deep model's: list tensors
    with :func:`rnn_weights` instead.  (A plain class: a dataclass costs start-up time.)
    """

    __slots__ = ("times", "weight")

    def __init__(self, weight: Weight, times: int) -> None:
        self.weight, self.times = weight, times

    def __repr__(self) -> str:
        return f"Term({self.weight.name!r}, times={self.times})"

    @property
    def count(self) -> int:
        """Parameters of all the tensors this term stands for."""
        return self.weight.count * self.times

    @property
    def elements(self) -> int:
        """Elements of all the tensors this term stands for (tied ones included)."""
        return self.weight.elements * self.times

    @property
    def repeated(self) -> bool:
        """Whether the term stands for layers 2 to s of a stack (``times`` is s-1)."""
        return self.weight.sublayer == 1
