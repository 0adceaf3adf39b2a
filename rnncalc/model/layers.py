"""The layers a network is made of: :class:`Embedding`, :class:`Recurrent` and :class:`Dense`.

Each record checks its own fields (sizes, choices, names) as it is built; what may follow
what is :mod:`rnncalc.model.network`'s job.  Standard library only: this loads at every start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from .record import Record
from .spec import CELLS, CellSizes, SpecError, check_choice, check_int, shown

if TYPE_CHECKING:
    from .spec import Cell

#: Where a dense layer runs: on the last step's output (many-to-one) or at every step.
Steps = Literal["last", "all"]
STEPS: tuple[str, ...] = ("last", "all")
#: Activations of dense layers (softmax over the units) and of the vanilla RNN's cell.
DENSE_ACTIVATIONS: tuple[str, ...] = ("identity", "relu", "tanh", "sigmoid", "softmax")
RNN_ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "sigmoid", "identity")


def _check_bool(field: str, value: object) -> None:
    if not isinstance(value, bool):
        raise SpecError(field, f"must be true or false, got {value!r:.40}")


def _check_name(value: object) -> None:
    if not isinstance(value, str):
        raise SpecError("name", f"must be a string, got {value!r:.40}")
    if value and not (value.replace("_", "a").isalnum() and value.isascii() and len(value) < 64):
        raise SpecError(
            "name", f"must be letters, digits and underscores (at most 63), got {value!r:.40}"
        )


class Embedding(Record):
    """A lookup table of ``vocab_size`` rows of ``dim`` features: token ids in, vectors out.

    PyTorch ``nn.Embedding(vocab_size, dim)`` (``weight``), Keras ``Embedding``
    (``embeddings``): vocab_size x dim parameters, no bias.
    """

    kind: ClassVar[str] = "embedding"
    FIELDS = ("vocab_size", "dim", "name")
    __slots__ = FIELDS
    vocab_size: int
    dim: int
    name: str

    def __init__(self, vocab_size: int, dim: int, name: str = "") -> None:
        check_int("vocab_size", vocab_size, 1)
        check_int("dim", dim, 1)
        _check_name(name)
        self._set(vocab_size=vocab_size, dim=dim, name=name)


class Recurrent(Record, CellSizes):
    """``stack`` identical recurrent layers of one ``cell`` (PyTorch's ``num_layers``).

    ``bidirectional`` runs a backward copy of each (D = 2); ``bias=False`` drops its biases;
    ``proj_size`` (P) is PyTorch's LSTM projection, ``reset_after=False`` Keras's GRU
    variant with one bias vector; ``activation`` is the vanilla RNN's f_h.  The rules that
    depend on the convention are checked by :class:`~rnncalc.model.network.Network`.
    """

    FIELDS = (
        "cell",
        "hidden_size",
        "bidirectional",
        "bias",
        "proj_size",
        "reset_after",
        "stack",
        "activation",
        "name",
    )
    __slots__ = FIELDS
    cell: Cell
    hidden_size: int
    bidirectional: bool
    bias: bool
    proj_size: int
    reset_after: bool
    stack: int
    activation: str
    name: str

    def __init__(
        self,
        cell: Cell,
        hidden_size: int,
        bidirectional: bool = False,
        bias: bool = True,
        proj_size: int = 0,
        reset_after: bool = True,
        stack: int = 1,
        activation: str = "tanh",
        name: str = "",
    ) -> None:
        check_choice("kind", cell, CELLS)
        check_int("hidden_size", hidden_size, 1)
        for field, value in (
            ("bidirectional", bidirectional),
            ("bias", bias),
            ("reset_after", reset_after),
        ):
            _check_bool(field, value)
        check_int("proj_size", proj_size, 0)
        check_int("stack", stack, 1)
        check_choice("activation", activation, RNN_ACTIVATIONS)
        _check_name(name)
        if proj_size and proj_size >= hidden_size:
            raise SpecError(
                "proj_size",
                f"must be smaller than the hidden size {shown(hidden_size)}, got {proj_size}",
            )
        if proj_size and cell != "lstm":
            raise SpecError("proj_size", "is PyTorch's LSTM projection: it needs kind 'lstm'")
        if not reset_after and cell != "gru":
            raise SpecError("reset_after", "is Keras's GRU variant: it needs kind 'gru'")
        if activation != "tanh" and cell != "rnn":
            raise SpecError("activation", f"is the vanilla RNN's f_h: a {cell} has its own")
        self._set(
            cell=cell,
            hidden_size=hidden_size,
            bidirectional=bidirectional,
            bias=bias,
            proj_size=proj_size,
            reset_after=reset_after,
            stack=stack,
            activation=activation,
            name=name,
        )

    @property
    def kind(self) -> str:
        """The model file's ``kind``: the cell."""
        return self.cell

    @property
    def width(self) -> int:
        """Features per step out of the layer: D*H, or D*P with a projection."""
        return self.directions * self.state_size


class Dense(Record):
    """A fully connected layer of ``units``: on the last step (``steps="last"``) or on
    every step (``"all"``, Keras's Dense on a sequence, TimeDistributed).

    ``tie=True`` shares its weight with the stage's embedding (a language model's output
    layer, PyTorch ``decoder.weight = encoder.weight``): it then needs as many units as the
    vocabulary and an input as wide as the embedding, and adds only its bias.
    """

    kind: ClassVar[str] = "dense"
    FIELDS = ("units", "activation", "steps", "tie", "bias", "name")
    __slots__ = FIELDS
    units: int
    activation: str
    steps: Steps
    tie: bool
    bias: bool
    name: str

    def __init__(
        self,
        units: int,
        activation: str = "identity",
        steps: Steps = "last",
        tie: bool = False,
        bias: bool = True,
        name: str = "",
    ) -> None:
        check_int("units", units, 1)
        check_choice("activation", activation, DENSE_ACTIVATIONS)
        check_choice("steps", steps, STEPS)
        _check_bool("tie", tie)
        _check_bool("bias", bias)
        _check_name(name)
        self._set(units=units, activation=activation, steps=steps, tie=tie, bias=bias, name=name)


Layer = Embedding | Recurrent | Dense
