"""What a forward run takes and gives: its options, its checks, its report and arrays, and
how it tells its progress.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..model.spec import OUTPUTS, ModelSpec, Outputs, SpecError, check_int
from .activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .engines import ENGINES, unavailable
from .types import Array

if TYPE_CHECKING:
    from ..model.network import Network

DType = Literal["float32", "float64"]


#: Largest acceptable difference between two computations of the same hidden states,
#: relative to the largest magnitude among them (and at least 1).
TOLERANCE: dict[str, float] = {"float32": 1e-5, "float64": 1e-12}


#: The most runs ``repeat`` times: a median of more adds nothing but waiting.
MAX_REPEAT = 1000


@dataclass(frozen=True)
class RunOptions:
    """How to run the pass: batch, precision, timing and seed; and for the seed-style
    spec, which has no place for them, f_h, f_y and where its output layer runs (a
    network carries its own).

    Invalid values raise :class:`~rnncalc.model.spec.SpecError` naming the field.
    """

    batch_size: int = 1
    dtype: DType = "float64"
    hidden_activation: str | None = None
    output_activation: str = "identity"
    outputs: Outputs = "last"
    repeat: int = 1
    seed: int = 0
    engine: str = "auto"

    def __post_init__(self) -> None:
        check_int("batch_size", self.batch_size, 1)
        check_int("repeat", self.repeat, 1, MAX_REPEAT)
        check_int("seed", self.seed, 0)
        if self.dtype not in TOLERANCE:
            raise SpecError(
                "dtype",
                f"the pass computes in float64 or float32, got {self.dtype!r:.40} (NumPy has no "
                "bfloat16, and float16 or int8 would not hold the checks' precision)",
            )
        for field, choices in (
            ("hidden_activation", (None, *HIDDEN_ACTIVATIONS)),
            ("output_activation", OUTPUT_ACTIVATIONS),
            ("outputs", OUTPUTS),
            ("engine", ENGINES),
        ):
            if getattr(self, field) not in choices:
                names = ", ".join(c for c in choices if c is not None)
                raise SpecError(field, f"must be one of {names}, got {getattr(self, field)!r:.40}")

        if self.engine == "compiled":
            why = unavailable()
            if why is not None:
                raise SpecError("engine", why)

    @property
    def f_h(self) -> str:
        """The hidden activation the pass uses: ``hidden_activation``, or tanh (the vanilla
        RNN's default, and what the gated cells' candidates use).
        """
        return self.hidden_activation or "tanh"


@dataclass(frozen=True)
class Check:
    """One comparison of a predicted value with what the pass produced."""

    name: str
    expected: Any
    actual: Any
    ok: bool
    comparison: Literal["==", "<="] = "=="


@dataclass(frozen=True)
class Timing:
    """The fast pass alone: median seconds over ``repeat`` runs, the throughput, and the
    ``engine`` that ran it (compiled or numpy: :mod:`rnncalc.engine.engines`).
    """

    seconds: float
    repeat: int
    flops: int
    engine: str = "numpy"

    @property
    def gflops(self) -> float | None:
        """Matmul FLOPs per second, in billions (None if the clock saw no time pass)."""
        return self.flops / self.seconds / 1e9 if self.seconds > 0 else None


@dataclass(frozen=True)
class ForwardReport:
    """What ``rnncalc forward`` reports."""

    network: Network
    options: RunOptions
    checks: tuple[Check, ...]
    shapes: dict[str, list[int]]
    timing: Timing | None

    @property
    def spec(self) -> ModelSpec | None:
        """The seed-style spec of the network, when it has that form (:func:`seed_spec`)."""
        return seed_spec(self.network)

    @property
    def failed(self) -> int:
        """How many checks failed."""
        return sum(not c.ok for c in self.checks)

    @property
    def ok(self) -> bool:
        """Whether the pass ran and every check passed."""
        return self.timing is not None and all(c.ok for c in self.checks)

    def __repr__(self) -> str:
        timing = "failed" if self.timing is None else f"{self.timing.seconds:.3g} s"
        return (
            f"ForwardReport(ok={self.ok}, checks={len(self.checks)}, pass={timing}, "
            f"shapes={self.shapes!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """What ``rnncalc forward --format json`` prints: ``model`` (the model file's
        contents, :func:`rnncalc.model.modelfile.to_dict`), ``options`` (batch_size, dtype,
        repeat, seed, engine as asked), ``ok``, ``checks`` ({name, expected, actual, ok,
        comparison}), ``shapes`` and ``timing`` ({seconds, repeat, gflops, flops, engine as
        run}; null when the pass failed).
        """
        from ..model.modelfile import to_dict

        timing = self.timing
        return {
            "model": to_dict(self.network),
            "options": {field: getattr(self.options, field) for field in RUN_FIELDS},
            "ok": self.ok,
            "checks": [asdict(c) for c in self.checks],
            "shapes": self.shapes,
            "timing": None
            if timing is None
            else {
                "seconds": timing.seconds,
                "repeat": timing.repeat,
                "gflops": timing.gflops,
                "flops": timing.flops,
                "engine": timing.engine,
            },
        }


#: The options of a run itself, as JSON shows them (the rest belong to the network).
RUN_FIELDS = ("batch_size", "dtype", "repeat", "seed", "engine")


@functools.lru_cache(maxsize=64)
def seed_spec(network: Network) -> ModelSpec | None:
    """The seed-style spec with the network's tensors and layout, when it has that form
    (one recurrent layer and at most one dense layer with a bias, whatever their
    activations and steps); else None.  (Cached: a run asks several times.)
    """
    from ..model.network import Dense, Recurrent

    stage, *more = network.stages
    if more or len(stage.layers) > 2 or not isinstance(stage.layers[0], Recurrent):
        return None  # (a second dense layer could not be placed on the last step below)
    plain = tuple(
        layer.replace(activation="tanh")
        if isinstance(layer, Recurrent)
        else layer.replace(activation="identity", steps="last")
        if isinstance(layer, Dense)
        else layer
        for layer in stage.layers
    )
    return ModelSpec.from_network(network.replace(stages=(stage.replace(layers=plain),)))


@dataclass
class RunResult:
    """The arrays of one run: inputs, weights by name, the top recurrent layer's outputs,
    y, and the decoder's inputs in an encoder-decoder.
    """

    x: Array
    weights: dict[str, Array]
    h: Array
    y: Array | None
    x_decoder: Array | None = None

    def __repr__(self) -> str:
        y = "none" if self.y is None else str(self.y.shape)
        return f"RunResult(x {self.x.shape}, h {self.h.shape}, y {y}, {len(self.weights)} weights)"

    def arrays(self) -> dict[str, Array]:
        """Everything by name, as ``forward --save`` writes it: weights, x, x_decoder, h, y."""
        named = {**self.weights, "x": self.x}
        if self.x_decoder is not None:
            named["x_decoder"] = self.x_decoder
        named["h"] = self.h
        if self.y is not None:
            named["y"] = self.y
        return named


class PassFailed(Exception):
    """The forward pass could not run; ``report`` says why, as its one failed check."""

    def __init__(self, report: ForwardReport) -> None:
        super().__init__(report.checks[0].actual)
        self.report = report


class Progress(Protocol):
    """What a run tells of its progress: each phase with its steps, then steps done."""

    def phase(self, name: str, total: int) -> None: ...

    def advance(self, done: int) -> None: ...
