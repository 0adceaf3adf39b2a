"""A checkpoint's weights for ``rnncalc forward``: the network :func:`.inspect.inspect_file`
recovers (or a model file's, held to the file's shapes), its tensors read once each and
named and laid out as rnncalc's PyTorch convention names them.

The recovery's :attr:`~rnncalc.model.recover.Recovered.names` maps each of rnncalc's tensor
names to the file's.  A state_dict (``.pt``, ``.safetensors``) holds PyTorch's tensors as
they are; an ONNX file packs them per recurrent node, which is undone here as the ONNX
operators define the packing (``onnx.defs.get_schema("LSTM").doc``, likewise ``GRU`` and
``RNN``, opset 22):

* ``W`` (num_directions, G·hidden_size, input_size) holds ``W[iofc]`` (LSTM) or ``W[zrh]``
  (GRU) for the forward direction, then ``WB[...]`` for the backward one; ``R`` likewise
  (G·hidden_size, hidden_size).  The LSTM's c (cell) block is PyTorch's g and the GRU's h
  block its n, so the blocks are reordered to PyTorch's i, f, g, o and r, z, n.
* ``B`` (num_directions, 2·G·hidden_size) is ``[Wb[...], Rb[...]]``: PyTorch's ``bias_ih``,
  then ``bias_hh`` (the GRU's ``Rbh`` inside the reset gate, as with linear_before_reset = 1,
  the only GRU recovered).
* A dense layer's ``MatMul`` weight is stored (in, out), PyTorch's (out, in) transposed
  (:attr:`~rnncalc.model.recover_onnx.OnnxRecovered.transposed`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..formats.tensors import FormatError
from ..model import shapes
from ..model.recover_onnx import ONNX_GATES, OnnxRecovered, proof_onnx
from ..model.spec import GATES
from .inspect import InspectReport, inspect_file

if TYPE_CHECKING:
    import numpy.typing as npt

    from ..engine.results import DType
    from ..model.network import Network
    from ..model.recover import Recovered, Row

#: ONNX's gate letters that name PyTorch's blocks by other letters: the LSTM's cell
#: candidate c is PyTorch's g, the GRU's hidden candidate h its n.
_PYTORCH_LETTERS = str.maketrans({"c": "g", "h": "n"})


@dataclass(frozen=True)
class CheckpointWeights:
    """A checkpoint ready to run: the inspection, the network to run (the recovered one,
    or the model's) and its tensors' names in the file, by rnncalc's names.
    """

    report: InspectReport
    network: Network
    names: dict[str, str]

    @property
    def dtype(self) -> DType:
        """float64 when a tensor the network uses is float64, else float32 (16-bit floats
        widen to float32).
        """
        used = set(self.names.values())
        wide = any(t.dtype == "float64" for t in self.report.listing.tensors if t.name in used)
        return "float64" if wide else "float32"

    def file_names(self) -> list[str]:
        """The file's tensors the network reads, once each (a tied weight is its table)."""
        listed = shapes.rnn_weights(self.network)
        return list(dict.fromkeys(self.names[w.name] for w in listed if not w.tied))


def open_checkpoint(
    path: str,
    timesteps: int = 3,
    steps: str | None = None,
    model: Network | None = None,
    max_bytes: int | None = None,
) -> CheckpointWeights:
    """Recover the network the checkpoint at ``path`` holds, from its metadata alone (T
    ``timesteps``; ``steps`` places its dense layers; ``max_bytes`` bounds an ONNX file's
    parse: see :func:`.inspect.inspect_file`), or match ``model`` to it: the model's
    tensors, in order, must be the recovered network's, of the file's shapes.  FormatError
    (or RecoveryError) names what differs.
    """
    report = inspect_file(path, timesteps, steps, max_bytes)
    for row in report.rows:
        if not row.ok:
            raise FormatError(f"{path}: {_difference(row, 'the network')}")
    recovered = report.recovered
    if model is None:
        return CheckpointWeights(report, recovered.network, recovered.names)
    names = _paired(path, model, recovered)
    shapes_in_file = {t.name: t.shape for t in report.listing.tensors}
    for row in proof_onnx(replace(recovered, network=model, names=names), shapes_in_file):
        if not row.ok:
            raise FormatError(f"{path}: the model's {_difference(row, 'the model')}")
    return CheckpointWeights(report, model, names)


def _difference(row: Row, whose: str) -> str:
    """A proof row that failed, in words."""
    expected = f"{whose} needs {row.predicted}"
    if row.found is None:
        return f"{row.name} is not in the file (as {row.file_name!r}); {expected}"
    return f"{row.name} is {row.found} in the file (as {row.file_name!r}); {expected}"


def _paired(path: str, model: Network, recovered: Recovered) -> dict[str, str]:
    """The model's tensor names -> the file's, pairing the model's shape list with the
    recovered network's in order: each pair one role, direction and tie.
    """
    theirs = shapes.rnn_weights(recovered.network)
    ours = shapes.rnn_weights(model)
    if model.convention != recovered.network.convention:
        raise FormatError(
            f"{path}: holds the {recovered.network.convention} convention's tensors; the "
            f"model uses the {model.convention} convention"
        )
    names = {}
    for k, w in enumerate(ours):
        found = theirs[k] if k < len(theirs) else None
        if found is None or (found.role, found.direction, bool(found.tied)) != (
            w.role, w.direction, bool(w.tied)):  # fmt: skip
            what = f"holds {found.name}" if found else "holds no more tensors"
            raise FormatError(
                f"{path}: the model's {w.name} ({shapes.ROLE_DESCRIPTIONS[w.role]}) has no "
                f"counterpart in the file, which there {what}: the model is another network"
            )
        names[w.name] = recovered.names[found.name]
    if len(theirs) > len(ours):
        extra = theirs[len(ours)]
        raise FormatError(
            f"{path}: holds {recovered.names[extra.name]!r} ({extra.name}), which the model "
            "has no tensor for: the model is another network"
        )
    return names


def read_weights(checkpoint: CheckpointWeights, max_bytes: int) -> dict[str, npt.NDArray[Any]]:
    """The network's weights by rnncalc's names, in the PyTorch convention's layout (a tied
    weight once, under its embedding's name), each file tensor read once; what they need
    is checked against ``max_bytes`` before anything is read.
    """
    from ..formats.checkpoint import read_arrays

    listing = checkpoint.report.listing
    raw = read_arrays(listing.path, listing.format, checkpoint.file_names(), max_bytes)
    recovered = checkpoint.report.recovered
    arrays = {}
    for w in shapes.rnn_weights(checkpoint.network):
        if w.tied:
            continue
        array = raw[checkpoint.names[w.name]]
        if isinstance(recovered, OnnxRecovered):
            array = _from_onnx(w, array, checkpoint.names[w.name] in recovered.transposed)
        arrays[w.name] = array
    return arrays


def _from_onnx(w: shapes.Weight, packed: npt.NDArray[Any], transposed: bool) -> npt.NDArray[Any]:
    """PyTorch's tensor ``w`` out of the ONNX initializer that packs it (see the module's
    docstring): its direction of W, R or B, B's half, its gate blocks in PyTorch's order.
    """
    import numpy as np

    if w.part != "recurrent":
        return np.ascontiguousarray(packed.T) if transposed else packed
    block = packed[0 if w.direction == "forward" else 1]
    if w.role in ("input_bias", "recurrent_bias"):
        half = block.shape[0] // 2
        block = block[:half] if w.role == "input_bias" else block[half:]
    cell = next(c for c, order in GATES.items() if order == w.gates)
    onnx = ONNX_GATES[cell] if cell == "rnn" else ONNX_GATES[cell].translate(_PYTORCH_LETTERS)
    size = block.shape[0] // len(onnx)
    blocks = [block[k * size : (k + 1) * size] for k in map(onnx.index, w.gates)]
    return np.concatenate(blocks)
