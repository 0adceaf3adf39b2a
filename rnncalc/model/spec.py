"""The model description: sizes, cell, stacking and the convention its weights are written in.

Standard library only: this module is imported by every command, including the ones that
must start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, get_args

from ..units import MAX_NUMBER, MAX_NUMBER_TEXT, scientific
from .record import Record

if TYPE_CHECKING:
    from .network import Network

Notation = Literal["separate", "concat"]
Cell = Literal["rnn", "lstm", "gru"]
Convention = Literal["seed", "pytorch", "keras"]
#: Where the output layer runs: on the last step (many-to-one) or at every step.
Outputs = Literal["last", "all"]
NOTATIONS: tuple[str, ...] = get_args(Notation)
OUTPUTS: tuple[str, ...] = get_args(Outputs)
CELLS: tuple[str, ...] = get_args(Cell)
CONVENTIONS: tuple[str, ...] = get_args(Convention)

#: Bytes per element of the data types rnncalc sizes memory in (``--dtype``'s choices).
DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
DTYPES: tuple[str, ...] = tuple(DTYPE_BYTES)

#: Gate blocks per cell, by letter, in rnncalc's canonical order (PyTorch's): the vanilla
#: RNN's one block is "h"; the LSTM's i, f, g, o; the GRU's r, z, n.
GATES = {"rnn": "h", "lstm": "ifgo", "gru": "rzn"}


class SpecError(ValueError):
    """A model description that cannot describe a network; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_int(field: str, value: object, minimum: int, maximum: int = MAX_NUMBER) -> None:
    """Raise SpecError unless ``value`` is an int (not a bool) within the bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(field, f"must be an integer, got {type(value).__name__} {value!r:.40}")
    if value < minimum:
        raise SpecError(field, f"must be at least {minimum}, got {shown(value)}")
    if value > maximum:
        limit = MAX_NUMBER_TEXT if maximum == MAX_NUMBER else f"{maximum:,}"
        raise SpecError(field, f"must be at most {limit}, got {shown(value)}")


def check_choice(field: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise SpecError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise SpecError(field, f"must be one of {', '.join(choices)}, got {value!r:.40}")


def shown(value: int) -> str:
    """An integer for a message: in full up to 30 digits, else in powers of ten."""
    if abs(value) < 10**30:
        return str(value)
    return ("-" if value < 0 else "") + "about " + scientific(abs(value))


class CellSizes:
    """D, G and the state size, read off a cell's fields: what :class:`ModelSpec` and a
    whole network's :class:`~rnncalc.model.network.Recurrent` layer share.
    """

    __slots__ = ()
    cell: Cell
    hidden_size: int
    bidirectional: bool
    proj_size: int

    @property
    def directions(self) -> int:
        """D: 2 when bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def gates(self) -> int:
        """G: gate blocks per cell (1, 4 or 3)."""
        return len(GATES[self.cell])

    @property
    def state_size(self) -> int:
        """Features each direction hands on per step: P with a projection, else H."""
        return self.proj_size or self.hidden_size


class ModelSpec(Record, CellSizes):
    """A recurrent network described by its sizes, in the seed's letters.

    ``timesteps`` (T), ``input_size`` (I), ``hidden_size`` (H) and ``output_size`` (O);
    ``output_size=0`` means no output layer at all.  ``cell`` is ``rnn`` (the seed's vanilla
    RNN), ``lstm`` or ``gru``; ``layers`` stacks cells, ``bidirectional`` adds a backward copy
    of every layer (D = 2).  ``convention`` names the weights as the seed (``seed``),
    ``torch.nn`` (``pytorch``) or Keras (``keras``) does; ``bias=False`` drops the recurrent
    biases (the output layer keeps its own).  ``proj_size`` (P) is PyTorch's LSTM projection,
    ``reset_after`` Keras's GRU variant with two bias vectors.  ``notation`` chooses between
    the seed's two ways of writing the update: ``separate`` (W_xh and W_hh) or ``concat``
    (one W_h of shape (H+I) x H acting on [h_{t-1}, x_t]).  The defaults are the seed's
    worked example.
    """

    FIELDS = (
        "timesteps",
        "input_size",
        "hidden_size",
        "output_size",
        "notation",
        "cell",
        "layers",
        "bidirectional",
        "convention",
        "bias",
        "proj_size",
        "reset_after",
    )
    __slots__ = FIELDS
    timesteps: int
    input_size: int
    hidden_size: int
    output_size: int
    notation: Notation
    cell: Cell
    layers: int
    bidirectional: bool
    convention: Convention
    bias: bool
    proj_size: int
    reset_after: bool

    def __init__(
        self,
        timesteps: int = 3,
        input_size: int = 4,
        hidden_size: int = 3,
        output_size: int = 1,
        notation: Notation = "separate",
        cell: Cell = "rnn",
        layers: int = 1,
        bidirectional: bool = False,
        convention: Convention = "seed",
        bias: bool = True,
        proj_size: int = 0,
        reset_after: bool = True,
    ) -> None:
        self._set(
            timesteps=timesteps,
            input_size=input_size,
            hidden_size=hidden_size,
            output_size=output_size,
            notation=notation,
            cell=cell,
            layers=layers,
            bidirectional=bidirectional,
            convention=convention,
            bias=bias,
            proj_size=proj_size,
            reset_after=reset_after,
        )
        self._check()

    def _check(self) -> None:
        for field, minimum in (
            ("timesteps", 1),
            ("input_size", 1),
            ("hidden_size", 1),
            ("output_size", 0),
            ("layers", 1),
            ("proj_size", 0),
        ):
            check_int(field, getattr(self, field), minimum)
        for field, choices in (
            ("notation", NOTATIONS),
            ("cell", CELLS),
            ("convention", CONVENTIONS),
        ):
            check_choice(field, getattr(self, field), choices)
        for field in ("bidirectional", "bias", "reset_after"):
            if not isinstance(getattr(self, field), bool):
                raise SpecError(field, f"must be True or False, got {getattr(self, field)!r:.40}")
        self._check_combination()

    def _check_combination(self) -> None:
        if self.proj_size and (self.cell != "lstm" or self.convention != "pytorch"):
            raise SpecError(
                "proj_size",
                "is PyTorch's LSTM projection: it needs cell 'lstm' and convention 'pytorch'",
            )
        if self.proj_size and self.proj_size >= self.hidden_size:
            raise SpecError(
                "proj_size",
                f"must be smaller than the hidden size {self.hidden_size}, got {self.proj_size}",
            )
        if not self.reset_after and (self.cell != "gru" or self.convention != "keras"):
            raise SpecError(
                "reset_after", "is Keras's GRU variant: it needs cell 'gru' and convention 'keras'"
            )
        if self.notation == "concat" and self.convention != "seed":
            raise SpecError(
                "notation", "concat is the seed page's notation: it needs convention 'seed'"
            )

    def network(self) -> Network:
        """The same model as a :class:`~rnncalc.model.network.Network`: one stage of one
        recurrent layer (``stack`` = L) and, unless O is 0, one dense layer on the last step.
        """
        from .network import Dense, Network, Recurrent, Stage

        layers: tuple[Recurrent | Dense, ...] = (
            Recurrent(
                self.cell,
                self.hidden_size,
                self.bidirectional,
                self.bias,
                self.proj_size,
                self.reset_after or self.cell != "gru",
                self.layers,
            ),
        )
        if self.output_size:
            layers += (Dense(self.output_size),)
        return Network(
            (Stage(self.timesteps, self.input_size, layers),), self.convention, self.notation
        )

    @classmethod
    def from_network(cls, network: Network) -> ModelSpec | None:
        """The spec whose :meth:`network` has the same tensors, if the network has that
        form (one stage of one recurrent layer, tanh unless a vanilla RNN's, and at most one
        plain dense layer; where it runs does not change a tensor); else None.
        """
        from .network import Dense, Recurrent

        stage, *more = network.stages
        cell, *head = stage.layers
        if more or stage.input_size is None or not isinstance(cell, Recurrent):
            return None
        if len(head) > 1 or cell.name or cell.activation != "tanh":
            return None
        dense = head[0] if head else None
        if dense is not None and (
            not isinstance(dense, Dense) or dense != Dense(dense.units, steps=dense.steps)
        ):
            return None
        return cls(
            stage.timesteps,
            stage.input_size,
            cell.hidden_size,
            dense.units if isinstance(dense, Dense) else 0,
            network.notation,
            cell.cell,
            cell.stack,
            cell.bidirectional,
            network.convention,
            cell.bias,
            cell.proj_size,
            cell.reset_after,
        )

    @property
    def has_output_layer(self) -> bool:
        """Whether the network ends in an output layer (``output_size > 0``)."""
        return self.output_size > 0

    @property
    def keras_reset_after(self) -> bool:
        """Whether this is a Keras GRU with separate input and recurrent biases."""
        return self.cell == "gru" and self.convention == "keras" and self.reset_after


#: The sizes of a model, as opposed to its structure (cell, convention, layers, ...).
SIZE_FIELDS = ("timesteps", "input_size", "hidden_size", "output_size")


def smallest(field: str, proj_size: int = 0) -> int:
    """The smallest value a size may take: 0 for the output size (no output layer), one more
    than the projection P for the hidden size, else 1.
    """
    return {"output_size": 0, "hidden_size": proj_size + 1}.get(field, 1)


def skeleton(spec: ModelSpec | None = None, **given: Any) -> ModelSpec:
    """A model with the structure of ``spec`` (cell, convention, layers, directions, biases,
    projection, ...) and the ``given`` fields, and the smallest sizes its rules allow, but
    an output layer (O = 1) unless given: which tensors exist and their names do not depend
    on the sizes, so this stands for any sizes when reading names from a file or compiling
    a polynomial.
    """
    values = spec.as_dict() if spec else {}
    values.update(given)
    for field in SIZE_FIELDS:
        if field not in given:
            values[field] = smallest(field, values.get("proj_size", 0))
    if "output_size" not in given:
        values["output_size"] = 1
    return ModelSpec(**values)
