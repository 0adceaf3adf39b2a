"""What ``rnncalc inspect`` reports of a checkpoint: its tensors with their roles, totals,
bytes, the network they form and the proof, from the file's metadata alone.

The listing comes from :mod:`rnncalc.formats`, the network from
:mod:`rnncalc.model.recover`; every role and count here is read off the recovered
network's shape list, the file's own tensors set beside it.  Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..formats.tensors import Listing, Stored
from ..model import shapes
from ..model.recover import Recovered, Row, Tensor, proof, recover_pytorch
from ..model.spec import DTYPE_BYTES
from .cost_memory import PARAMETER_DTYPES


@dataclass(frozen=True)
class Entry:
    """One tensor of the file: what it is in the recovered network (``weight``, rnncalc's
    name, and its ``role``; none for the tensors that form no layer), the parameters it
    adds (0 for a second copy of a tied weight), and ``also`` the tied weight it serves
    too when the file saved that weight once, in this tensor.
    """

    stored: Stored
    weight: str
    role: str
    gates: str
    parameters: int
    also: str = ""


@dataclass(frozen=True)
class InspectReport:
    """A checkpoint, its network and the proof."""

    listing: Listing
    recovered: Recovered
    entries: tuple[Entry, ...]
    rows: tuple[Row, ...]

    @property
    def total(self) -> int:
        """Parameters in the file: every tensor, a tied weight once."""
        return sum(e.parameters for e in self.entries)

    @property
    def network_total(self) -> int:
        """Parameters of the recovered network (``params --model`` gives the same)."""
        return sum(w.count for w in shapes.rnn_weights(self.recovered.network))

    @property
    def other_total(self) -> int:
        """Parameters of the tensors that form no layer."""
        return sum(e.parameters for e in self.entries if not e.weight)

    @property
    def ok(self) -> bool:
        """Whether every predicted tensor is in the file with the predicted shape."""
        return all(row.ok for row in self.rows)

    def memory(self) -> dict[str, int]:
        """Bytes of all the parameters held in each data type rnncalc sizes."""
        return {name: self.total * DTYPE_BYTES[name] for name in PARAMETER_DTYPES}

    def to_dict(self, command: str | None) -> dict[str, Any]:
        """``rnncalc inspect --format json``: see the README's schema."""
        from ..model.modelfile import to_dict

        listing = self.listing
        return {
            "file": listing.path,
            "format": listing.format,
            "convention": self.recovered.network.convention,
            "metadata": listing.metadata,
            "tensors": [
                {
                    "name": e.stored.name,
                    "dtype": e.stored.dtype,
                    "shape": list(e.stored.shape),
                    "count": e.stored.count,
                    "bytes": e.stored.nbytes,
                    "role": e.role,
                    "rnncalc_name": e.weight or None,
                    "also": e.also or None,
                    "parameters": e.parameters,
                }
                for e in self.entries
            ],
            "totals": {
                "parameters": self.total,
                "network": self.network_total,
                "other": self.other_total,
                "tensors": len(self.entries),
                "bytes_on_disk": listing.bytes_by_dtype(),
                "memory": self.memory(),
            },
            "model": to_dict(self.recovered.network),
            "proof": [
                {
                    "name": row.name,
                    "file_name": row.file_name,
                    "predicted": list(row.predicted),
                    "found": None if row.found is None else list(row.found),
                    "ok": row.ok,
                }
                for row in self.rows
            ],
            "ok": self.ok,
            "notes": [*listing.notes, *self.recovered.notes],
            "command": command,
        }


def inspect_file(
    path: str, timesteps: int = 3, steps: str | None = None, max_bytes: int | None = None
) -> InspectReport:
    """Read the checkpoint at ``path`` and inspect it: an ONNX file by its graph, any other
    by its tensors' names (FormatError, RecoveryError).  ``max_bytes`` bounds the memory
    an ONNX file's parse may take (it holds the whole file, data and all).
    """
    from ..formats.checkpoint import detect, read_listing

    if detect(path) == "onnx":
        from ..formats.onnxfile import survey_onnx
        from ..model.recover_onnx import proof_onnx, recover_onnx

        model = survey_onnx(path, max_bytes)
        return _report(model.listing, recover_onnx(model, timesteps, steps), proof_onnx)
    return inspect_listing(read_listing(path), timesteps, steps)


def inspect_listing(
    listing: Listing, timesteps: int = 3, steps: str | None = None
) -> InspectReport:
    """Recover the network ``listing``'s tensors form (by a Keras file's config or
    groups, else by PyTorch names) and prove it (RecoveryError when they form none).
    """
    if listing.format in ("keras", "keras-h5"):
        from ..model.recover_keras import recover_keras

        recovered = recover_keras(listing, listing.path, timesteps, steps)
    else:
        recovered = recover_pytorch(
            [Tensor(t.name, t.shape, listing.shares.get(t.name, "")) for t in listing.tensors],
            timesteps,
            steps,
        )
    return _report(listing, recovered, proof)


#: ONNX keeps the gate blocks in its own order (the LSTM and GRU operators' W, R and B).
_ONNX_ORDER = {"ifgo": "iofc", "rzn": "zrh"}

Prove = Callable[[Recovered, dict[str, tuple[int, ...]]], tuple[Row, ...]]


def _report(listing: Listing, recovered: Recovered, prove: Prove) -> InspectReport:
    """Each file tensor's role in ``recovered``, and the proof ``prove`` gives."""
    weights = {w.name: w for w in shapes.rnn_weights(recovered.network)}
    by_file: dict[str, shapes.Weight] = {}
    also: dict[str, list[str]] = {}
    for name, file_name in recovered.names.items():  # a tied weight saved once; ONNX packing
        if file_name in by_file:
            also.setdefault(file_name, []).append(name)
        by_file.setdefault(file_name, weights[name])
    entries = []
    for stored in listing.tensors:
        w = by_file.get(stored.name)
        copy = bool(listing.shares.get(stored.name))
        if w is None:
            entries.append(Entry(stored, "", "other", "", 0 if copy else stored.count))
            continue
        role = shapes.ROLE_DESCRIPTIONS[w.role]
        parameters = 0 if copy else stored.count
        together = ", ".join(also.get(stored.name, []))
        gates = _ONNX_ORDER.get(w.gates, w.gates) if listing.format == "onnx" else w.gates
        entries.append(Entry(stored, w.name, role, gates, parameters, together))
    rows = prove(recovered, {t.name: t.shape for t in listing.tensors})
    return InspectReport(listing, recovered, tuple(entries), rows)
