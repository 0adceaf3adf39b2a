"""Which checkpoint format a file is, told by its first bytes, and its listing.

* safetensors: an 8-byte header length, then ``{`` (:mod:`.safetensors`);
* a zip archive: PyTorch's ``torch.save`` (a ``data.pkl`` member), NumPy's ``.npz`` (``.npy``
  members), or a Keras 3 ``.keras`` archive (``config.json``);
* HDF5 (``\\x89HDF``): Keras ``.weights.h5`` and Keras 2 ``.h5`` files;
* a bare pickle (``\\x80``): PyTorch's legacy (pre-1.6) format;
* ONNX: a protobuf, which has no signature: told by the ``.onnx`` suffix.

"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..files import cannot, open_regular
from .tensors import DTYPE_BITS, FormatError, Listing, Stored

if TYPE_CHECKING:
    import numpy.typing as npt

#: What a zip archive is, by the members it holds.
_ZIP_KINDS = (("data.pkl", "pytorch"), ("config.json", "keras"), (".npy", "npz"))


def detect(path: str) -> str:
    """The format of the file at ``path``: safetensors, pytorch, npz, keras, hdf5, onnx,
    legacy-pytorch; FormatError when it is none of them.
    """
    from .safetensors import is_safetensors

    with open_regular(path, FormatError) as stream:
        try:
            size = os.fstat(stream.fileno()).st_size
            head = stream.read(16)
            if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
                return _zip_kind(path, stream)
        except OSError as error:
            raise FormatError(cannot(path, "read", error)) from None
    if is_safetensors(head, size):
        return "safetensors"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"\x80") and len(head) > 1 and head[1] <= 5:
        return "legacy-pytorch"
    if path.endswith(".onnx"):
        return "onnx"
    raise FormatError(
        f"{path}: not a checkpoint rnncalc reads (safetensors, PyTorch .pt, NumPy .npz, "
        "Keras, ONNX)"
    )


def _zip_kind(path: str, stream: io.BufferedReader) -> str:
    try:
        with zipfile.ZipFile(stream) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise FormatError(f"{path}: a damaged zip archive: {error}") from None
    for suffix, kind in _ZIP_KINDS:
        if any(name.endswith(suffix) for name in names):
            return kind
    raise FormatError(
        f"{path}: a zip archive that is no checkpoint (no data.pkl, .npy or config.json)"
    )


def read_listing(path: str) -> Listing:
    """The tensors the checkpoint at ``path`` declares, from its metadata alone."""
    kind = detect(path)
    if kind == "safetensors":
        from .safetensors import read_safetensors

        return read_safetensors(path)
    if kind == "npz":
        return _npz_listing(path)
    if kind == "pytorch":
        from .torchfile import read_torch

        return read_torch(path)
    if kind in ("keras", "hdf5"):
        from .keras import read_keras

        return read_keras(path)
    if kind == "onnx":
        from .onnxfile import read_onnx

        return read_onnx(path)
    assert kind == "legacy-pytorch", kind  # detect() names only these formats
    raise FormatError(
        f"{path}: a legacy (pre-1.6) PyTorch file; re-save it with torch.save(obj, path) "
        "from PyTorch 1.6 or later"
    )


def read_arrays(
    path: str, kind: str, names: Iterable[str], max_bytes: int
) -> dict[str, npt.NDArray[Any]]:
    """The data of the tensors ``names`` of the checkpoint at ``path`` in format ``kind``
    (as :func:`detect` tells it), 16-bit floats as float32; each reader checks what it
    will read and make against ``max_bytes`` first (a Keras file's, tensor by tensor,
    against what the ones before left of it).
    """
    if kind == "safetensors":
        from .safetensors import read_safetensors_arrays

        return read_safetensors_arrays(path, names, max_bytes)
    if kind == "pytorch":
        from .torch_arrays import read_torch_arrays

        return read_torch_arrays(path, names, max_bytes)
    if kind == "onnx":
        from .onnxfile import read_onnx_arrays

        return read_onnx_arrays(path, names, max_bytes)
    if kind in ("keras", "keras-h5", "hdf5"):
        from .keras import read_keras_arrays

        return read_keras_arrays(path, names, max_bytes)
    raise FormatError(f"{path}: reading tensor data from {kind} files is not supported")


def _npz_listing(path: str) -> Listing:
    from pathlib import Path

    from .npy import ArrayFileError, open_npz

    try:
        with open_npz(Path(path), 1 << 62) as archive:  # headers only: no data is read
            declared = archive.declared
    except ArrayFileError as error:
        raise FormatError(str(error)) from None
    for key, array in declared.items():
        if array.dtype.name not in DTYPE_BITS:
            raise FormatError(f"{path}: {key}: arrays of {array.dtype.name} hold no weights")
    tensors = tuple(Stored(key, array.dtype.name, array.shape) for key, array in declared.items())
    return Listing(path, "npz", tensors)
