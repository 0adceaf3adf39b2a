"""Totals and subtotals: folds over the weight list from shapes.py.

Standard library only.  Nothing here multiplies sizes on its own: every number is a
``Weight.count`` or a sum of them.  Totals fold the shape list's terms, so they cost the
same for one layer or a billion; the tensors themselves are listed only on demand.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from ..model import shapes
from ..model.shapes import Term, Weight, as_network
from ..model.spec import DTYPE_BYTES, ModelSpec

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ..model.network import Network
    from .formulas import Explanation

ModelName = Literal["rnn", "dense"]


class ModelCount:
    """The weights of one model (the RNN or its dense equivalent) with their totals.

    (A plain class, as :class:`ParamsReport`: a dataclass costs a millisecond of start-up,
    and ``params --format json`` runs in shell loops.)
    """

    def __init__(self, model: ModelName, network: Network) -> None:
        self.model, self.network = model, network

    @cached_property
    def terms(self) -> tuple[Term, ...]:
        """The weights as terms (see :class:`rnncalc.model.shapes.Term`), for any depth."""
        return (shapes.rnn_terms if self.model == "rnn" else shapes.dense_terms)(self.network)

    @cached_property
    def weights(self) -> tuple[Weight, ...]:
        """Every weight tensor, in order; raises SpecError beyond
        :data:`rnncalc.model.shapes.MAX_LISTED_LAYERS` stacked layers.
        """
        build = shapes.rnn_weights if self.model == "rnn" else shapes.dense_weights
        return build(self.network)

    @property
    def total(self) -> int:
        """Sum of the element counts of all weights."""
        return sum(count for _, count in self._counted())

    def _counted(self) -> Iterator[tuple[Weight, int]]:
        """Each weight (or term) and the parameters it adds: from the listed weights when
        they are already built (as JSON and tables build them: no second walk), else from
        the terms, which fold a stack of any depth.
        """
        if "weights" in self.__dict__:
            return ((w, w.count) for w in self.weights)
        return ((t.weight, t.count) for t in self.terms)

    def bytes(self, dtype: str = "float32") -> int:
        """Bytes of all weights stored as ``dtype`` (float32, float16, bfloat16, int8, ...)."""
        return self.total * DTYPE_BYTES[dtype]

    def __repr__(self) -> str:
        return f"ModelCount({self.model!r}, total={self.total:,})"

    def to_dict(self) -> dict[str, Any]:
        """``total``, ``float32_bytes``, ``subtotals``, ``layers`` (see :meth:`layers`) and
        every weight's ``name``, ``shape``, ``count``, ``layer`` and ``direction`` (see
        :func:`place`), and ``tied`` for a weight that shares another's.
        """
        weights = self.weights  # first: the totals below then fold over these
        return {
            "total": self.total,
            "float32_bytes": self.bytes(),
            "subtotals": self.subtotals,
            "layers": self.layers(),
            "weights": [
                {
                    "name": w.name,
                    "shape": list(w.shape),
                    "count": w.count,
                    **place(w),
                    **({"tied": w.tied} if w.tied else {}),
                }
                for w in weights
            ],
        }

    def layers(self) -> list[dict[str, Any]]:
        """Each layer of the network (as the model file lists them) and its parameters:
        ``stage`` (``encoder``/``decoder``, or None), ``index`` in its stage, ``kind`` and
        ``params`` (for the dense equivalent: the layers it has in their place).
        """
        params: dict[tuple[int, int], int] = {}
        for w, count in self._counted():
            place = (w.stage, w.module)
            params[place] = params.get(place, 0) + count
        encoder_decoder = self.network.encoder_decoder
        return [
            {
                "stage": ("encoder", "decoder")[s] if encoder_decoder else None,
                "index": k,
                "kind": layer.kind,
                "params": params.get((s, k), 0),
            }
            for s, stage in enumerate(self.network.stages)
            for k, layer in enumerate(stage.layers)
        ]

    @property
    def subtotals(self) -> dict[str, int]:
        """Element counts per group, in weight order: "recurrent" (or "layer 0 forward" and
        so on for stacked and bidirectional networks), "hidden" (or "hidden layer 1" ...) and
        "output".
        """
        return {
            group: sum(w.count for w in members)
            for group, members in shapes.by_group(self.weights).items()
        }


class ParamsReport:
    """What ``rnncalc params`` reports: the RNN against its dense equivalent."""

    def __init__(self, network: Network, rnn: ModelCount, dense: ModelCount) -> None:
        self.network, self.rnn, self.dense = network, rnn, dense

    @property
    def spec(self) -> ModelSpec | None:
        """The seed-style spec of the network, when it has that form (else None)."""
        return ModelSpec.from_network(self.network)

    def __repr__(self) -> str:
        return (
            f"ParamsReport(rnn={self.rnn.total:,}, dense={self.dense.total:,}, "
            f"ratio={self.ratio:.3g})"
        )

    def to_dict(self, explanation: Explanation | None = None) -> dict[str, Any]:
        """What ``rnncalc params --format json`` prints: ``model`` (the model file's
        contents, :func:`rnncalc.model.modelfile.to_dict`), ``rnn``, ``dense``, ``ratio``, and
        ``explanation`` when given (:func:`rnncalc.analysis.formulas.explain`).
        """
        from ..model.modelfile import to_dict

        data: dict[str, Any] = {
            "model": to_dict(self.network),
            "rnn": self.rnn.to_dict(),
            "dense": self.dense.to_dict(),
            "ratio": self.ratio,
        }
        if explanation is not None:
            from dataclasses import asdict  # only with --explain: not on the start-up path

            data["explanation"] = asdict(explanation)
        return data

    @property
    def ratio(self) -> float:
        """Dense total divided by RNN total (never beyond float range: with every size at
        most 10^100 the ratio stays below about T², 10^200).
        """
        return self.dense.total / self.rnn.total


def place(w: Weight) -> dict[str, Any]:
    """``layer`` (the stacked recurrent layer, 0-based; None for embeddings and dense
    layers) and ``direction`` (recurrent tensors only), as JSON and CSV list them.
    """
    return {
        "layer": None if w.part in ("output", "embedding") else w.layer,
        "direction": w.direction if w.part == "recurrent" else None,
    }


def count_params(model: ModelSpec | Network) -> ParamsReport:
    """Count the parameters of a network (or the seed-style spec's) and of its dense
    equivalent.

    >>> report = count_params(ModelSpec())
    >>> report.rnn.total, report.dense.total
    (28, 127)
    """
    network = as_network(model)
    return ParamsReport(network, ModelCount("rnn", network), ModelCount("dense", network))
