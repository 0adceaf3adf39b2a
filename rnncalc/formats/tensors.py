"""What a checkpoint file declares: its tensors' names, data types, shapes and places.

Every reader (safetensors, PyTorch, Keras, ONNX, NumPy) returns a :class:`Listing` read
from the file's metadata alone, so listing a 2 GB checkpoint costs what listing a 2 KB one
does; tensor data is read later, one tensor at a time, and only for ``forward``.

Data types carry rnncalc's names, which are PyTorch's where PyTorch has the type
(``float32``, ``bfloat16``, ``float8_e4m3fn``, ...), with their sizes in bits: the 4- and
6-bit microscaling floats pack several elements to a byte.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..files import FileError

if TYPE_CHECKING:
    import numpy.typing as npt

#: Bits per element of every data type a checkpoint may hold.
DTYPE_BITS: dict[str, int] = {
    "bool": 8,
    "uint8": 8,
    "int8": 8,
    "uint16": 16,
    "int16": 16,
    "uint32": 32,
    "int32": 32,
    "uint64": 64,
    "int64": 64,
    "float4_e2m1fn": 4,
    "float6_e2m3fn": 6,
    "float6_e3m2fn": 6,
    "float8_e4m3fn": 8,
    "float8_e5m2": 8,
    "float8_e8m0fnu": 8,
    "float8_e4m3fnuz": 8,
    "float8_e5m2fnuz": 8,
    "float16": 16,
    "bfloat16": 16,
    "float32": 32,
    "float64": 64,
    "complex64": 64,
    "complex128": 128,
}


#: The dtypes whose data the readers return as arrays -> the NumPy type their bytes are
#: read as, little-endian (bfloat16's as its 16 bits, which :func:`widened` turns to float32).
NUMPY_TYPES = {
    "bool": "?",
    "uint8": "u1",
    "int8": "i1",
    "uint16": "<u2",
    "int16": "<i2",
    "uint32": "<u4",
    "int32": "<i4",
    "uint64": "<u8",
    "int64": "<i8",
    "float16": "<f2",
    "bfloat16": "<u2",
    "float32": "<f4",
    "float64": "<f8",
    "complex64": "<c8",
    "complex128": "<c16",
}


def widened(view: npt.NDArray[Any], dtype: str) -> npt.NDArray[Any]:
    """A native-order copy of ``view``, the bytes of a ``dtype`` tensor read as
    :data:`NUMPY_TYPES` says; float16 and bfloat16 widen to float32 (exactly: bfloat16 is
    float32's upper 16 bits, and NumPy has no bfloat16).
    """
    import numpy as np

    if dtype == "bfloat16":
        return (view.astype(np.uint32) << 16).view(np.float32)
    return view.astype(np.float32 if dtype == "float16" else view.dtype.newbyteorder("="))


class FormatError(FileError):
    """A checkpoint that cannot be read as what it claims to be; the message starts with
    the path.
    """


@dataclass(frozen=True)
class Stored:
    """One tensor as the file declares it.  ``offset`` is where its bytes start in the file
    (-1 when the format keeps them elsewhere, as in a zip member).
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    offset: int = -1

    @property
    def count(self) -> int:
        """Elements, an exact Python int."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of its data: elements times bits, rounded up to whole bytes."""
        return -(-self.count * DTYPE_BITS[self.dtype] // 8)

    @property
    def read_bytes(self) -> int:
        """Memory reading its data takes: its bytes, and the array made of them (16-bit
        floats widened to 4 bytes an element).
        """
        return self.nbytes + self.count * max(DTYPE_BITS[self.dtype] // 8, 4)


@dataclass(frozen=True)
class Listing:
    """A checkpoint's tensors in the file's order, with what else the file says.

    ``format`` names the reader (``safetensors``, ``pytorch``, ...); ``metadata`` holds
    the file's own key-value notes (safetensors' ``__metadata__``); ``notes`` are what a
    user should be told about how it was read (which entry of a training checkpoint held
    the weights, the entries left aside); ``shares`` maps a tensor saved as a view of
    another's storage (a tied weight, as ``torch.save`` keeps it) to that tensor's name.
    """

    path: str
    format: str
    tensors: tuple[Stored, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    shares: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Elements of every tensor."""
        return sum(t.count for t in self.tensors)

    def bytes_by_dtype(self) -> dict[str, int]:
        """Bytes of the tensors of each data type, in order of first appearance; a tensor
        that shares another's storage adds none.
        """
        found: dict[str, int] = {}
        for t in self.tensors:
            found[t.dtype] = found.get(t.dtype, 0) + (0 if t.name in self.shares else t.nbytes)
        return found
