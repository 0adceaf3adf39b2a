"""The data of a ``torch.save`` file's tensors as NumPy arrays, each read from its storage
member, after :mod:`rnncalc.formats.torchfile` has surveyed and checked the file.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..units import format_bytes
from .tensors import DTYPE_BITS, NUMPY_TYPES, FormatError, widened
from .torchfile import TorchTensor, _archive, _brief, _survey

if TYPE_CHECKING:
    import numpy.typing as npt


def read_torch_arrays(
    path: str, names: Iterable[str], max_bytes: int
) -> dict[str, npt.NDArray[Any]]:
    """The data of the tensors ``names`` as NumPy arrays (bfloat16 and float16 as float32),
    each read from its storage member; the bytes read and the arrays made, together, are
    checked against ``max_bytes`` before anything is read or allocated.
    """
    with _archive(path) as (archive, size):
        checkpoint = _survey(path, archive, size)
        wanted = list(dict.fromkeys(names))
        missing = [name for name in wanted if name not in checkpoint.tensors]
        if missing:
            raise FormatError(f"{path}: holds no tensor {_brief(missing[0])!r}")
        plans = [checkpoint.tensors[name] for name in wanted]
        need = 0
        for t in plans:
            where = f"{path}: tensor {_brief(t.stored.name)!r}"
            if t.stored.dtype not in NUMPY_TYPES:
                raise FormatError(
                    f"{where}: reading {t.stored.dtype} values is not supported (listing is)"
                )
            begin, end = t.span
            bits = DTYPE_BITS[t.stored.dtype]
            need += (end - begin) * bits // 8 + t.stored.count * max(bits // 8, 4)
        if need > max_bytes:
            raise FormatError(
                f"{path}: reading {len(plans)} tensor(s) needs {format_bytes(need)}, more than the "
                f"memory limit of {format_bytes(max_bytes)} (--max-memory)"
            )
        return {t.stored.name: _array(path, archive, t, checkpoint.byteorder) for t in plans}


def read_torch_array(path: str, name: str, max_bytes: int) -> npt.NDArray[Any]:
    """One tensor's data; see :func:`read_torch_arrays`."""
    return read_torch_arrays(path, [name], max_bytes)[name]


def _array(path: str, archive: zipfile.ZipFile, t: TorchTensor, byteorder: str) -> npt.NDArray[Any]:
    """Read the bytes of the view's span, and view, copy and widen them."""
    import numpy as np

    dtype = np.dtype(NUMPY_TYPES[t.stored.dtype])
    if byteorder == "big":
        dtype = dtype.newbyteorder(">")
    begin, end = t.span
    with archive.open(archive.getinfo(t.member)) as member:
        member.seek(begin * dtype.itemsize)
        raw = member.read((end - begin) * dtype.itemsize)
    if len(raw) != (end - begin) * dtype.itemsize:
        raise FormatError(f"{path}: tensor {_brief(t.stored.name)!r}: its storage ends early")
    flat = np.frombuffer(raw, dtype)
    steps = tuple(step * dtype.itemsize for step in t.stride)
    view = np.lib.stride_tricks.as_strided(flat, t.stored.shape, steps, writeable=False)
    array = widened(view, t.stored.dtype)
    if t.negative:
        array = -array
    if t.conjugate:
        array = np.conj(array)
    return array
