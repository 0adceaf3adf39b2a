"""safetensors files, read from their header alone.

The format (huggingface/safetensors, ``safetensors/src/tensor.rs``): 8 bytes, a
little-endian unsigned header length N; N bytes of UTF-8 JSON, an object mapping each
tensor's name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets into the
data that follows the header), and an optional ``"__metadata__"`` of strings; then the
data, every byte of it belonging to exactly one tensor.  This reader holds a file to the
same rules as the reference implementation (which refuses gaps, overlaps, trailing bytes,
a header over 100 MB and sub-byte tensors that end inside a byte) and checks every size
against the file's own before anything else is read.  Standard library only, but for
:func:`read_safetensors_arrays`, which reads tensor data into NumPy arrays.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..files import cannot, open_regular
from ..units import format_bytes
from .tensors import DTYPE_BITS, NUMPY_TYPES, FormatError, Listing, Stored, widened

if TYPE_CHECKING:
    import numpy.typing as npt

#: The reference implementation's largest header.
MAX_HEADER_BYTES = 100_000_000

#: safetensors' dtype names -> rnncalc's (PyTorch's, where PyTorch has the type).
DTYPES = {
    "BOOL": "bool",
    "U8": "uint8",
    "I8": "int8",
    "U16": "uint16",
    "I16": "int16",
    "U32": "uint32",
    "I32": "int32",
    "U64": "uint64",
    "I64": "int64",
    "F4": "float4_e2m1fn",
    "F6_E2M3": "float6_e2m3fn",
    "F6_E3M2": "float6_e3m2fn",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "F8_E8M0": "float8_e8m0fnu",
    "F8_E4M3FNUZ": "float8_e4m3fnuz",
    "F8_E5M2FNUZ": "float8_e5m2fnuz",
    "F16": "float16",
    "BF16": "bfloat16",
    "F32": "float32",
    "F64": "float64",
    "C64": "complex64",
}

#: The first bytes of a safetensors file: a header length, then the JSON object's brace.
HEADER_START = 8


def is_safetensors(head: bytes, size: int) -> bool:
    """Whether a file that starts with ``head`` (at least 9 bytes) and holds ``size``
    bytes looks like safetensors: a plausible header length followed by ``{``.
    """
    if len(head) < HEADER_START + 1:
        return False
    length = int.from_bytes(head[:HEADER_START], "little")
    return 2 <= length <= size - HEADER_START and head[HEADER_START : HEADER_START + 1] == b"{"


def read_safetensors(path: str) -> Listing:
    """The tensors a safetensors file declares, checked against its size; FormatError
    (one line, naming the file) for anything the reference reader would refuse.
    """
    with open_regular(path, FormatError) as stream:
        size = os.fstat(stream.fileno()).st_size
        prefix = stream.read(HEADER_START)
        if len(prefix) < HEADER_START:
            raise FormatError(
                f"{path}: not a safetensors file: {size} bytes, shorter than a header"
            )
        length = int.from_bytes(prefix, "little")
        if length > MAX_HEADER_BYTES:
            raise FormatError(
                f"{path}: the header declares {length:,} bytes, more than the "
                f"{MAX_HEADER_BYTES:,} safetensors allows"
            )
        if length > size - HEADER_START:
            raise FormatError(
                f"{path}: truncated: the header declares {length:,} bytes, the file holds "
                f"{size - HEADER_START:,} after the length"
            )
        raw = stream.read(length)
    header = _parse(path, raw)
    data_size = size - HEADER_START - length
    metadata = _metadata(path, header.pop("__metadata__", None))
    tensors = [_tensor(path, name, entry) for name, entry in header.items()]
    _check_layout(path, tensors, data_size)
    start = HEADER_START + length
    return Listing(
        path,
        "safetensors",
        tuple(
            Stored(name, dtype, shape, start + begin) for name, dtype, shape, begin, _ in tensors
        ),
        metadata,
    )


def read_safetensors_arrays(
    path: str, names: Iterable[str], max_bytes: int
) -> dict[str, npt.NDArray[Any]]:
    """The data of the tensors ``names`` as NumPy arrays (bfloat16 and float16 as float32),
    each read from its place in the file; the header is checked as :func:`read_safetensors`
    checks it, and the bytes read with the arrays made, together, against ``max_bytes``
    before anything is read.
    """
    import numpy as np

    stored = {t.name: t for t in read_safetensors(path).tensors}
    wanted = list(dict.fromkeys(names))
    missing = [name for name in wanted if name not in stored]
    if missing:
        raise FormatError(f"{path}: holds no tensor {_brief(missing[0])!r}")
    plans = [stored[name] for name in wanted]
    for t in plans:
        if t.dtype not in NUMPY_TYPES:
            raise FormatError(
                f"{path}: tensor {_brief(t.name)!r}: reading {t.dtype} values is not supported "
                "(listing is)"
            )
    need = sum(t.read_bytes for t in plans)
    if need > max_bytes:
        raise FormatError(
            f"{path}: reading {len(plans)} tensor(s) needs {format_bytes(need)}, more than the "
            f"memory limit of {format_bytes(max_bytes)} (--max-memory)"
        )
    arrays = {}
    with open_regular(path, FormatError) as stream:
        for t in plans:
            try:
                stream.seek(t.offset)
                raw = stream.read(t.nbytes)
            except OSError as error:
                raise FormatError(cannot(path, "read", error)) from None
            if len(raw) != t.nbytes:
                raise FormatError(f"{path}: tensor {_brief(t.name)!r}: the file ends early")
            view = np.frombuffer(raw, NUMPY_TYPES[t.dtype]).reshape(t.shape)
            arrays[t.name] = widened(view, t.dtype)
    return arrays


def _parse(path: str, raw: bytes) -> dict[str, Any]:
    import json

    if not raw.startswith(b"{"):
        raise FormatError(f"{path}: not a safetensors file: the header is not a JSON object")
    try:
        text = raw.decode("utf-8")
        header = json.loads(text, object_pairs_hook=_unique)
    except UnicodeDecodeError:
        raise FormatError(f"{path}: damaged safetensors header: not UTF-8") from None
    except ValueError as error:
        raise FormatError(f"{path}: damaged safetensors header: {_brief(str(error))}") from None
    if not isinstance(header, dict):
        raise FormatError(f"{path}: not a safetensors file: the header is not a JSON object")
    return header


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (which of two tensors would be meant?)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {_brief(key)!r} appears twice")
        found[key] = value
    return found


def _metadata(path: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise FormatError(f"{path}: __metadata__ must map strings to strings")
    return value


Entry = tuple[str, str, tuple[int, ...], int, int]


def _tensor(path: str, name: str, entry: Any) -> Entry:
    where = f"{path}: tensor {_brief(name)!r}"
    if not isinstance(entry, dict):
        raise FormatError(f"{where}: expected an object with dtype, shape and data_offsets")
    missing = [key for key in ("dtype", "shape", "data_offsets") if key not in entry]
    if missing:
        raise FormatError(f"{where}: no {', '.join(missing)}")
    dtype = entry["dtype"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        known = ", ".join(DTYPES)
        raise FormatError(
            f"{where}: unknown dtype {_brief(str(dtype))!r} (safetensors has {known})"
        )
    shape, offsets = entry["shape"], entry["data_offsets"]
    if not _naturals(shape):
        raise FormatError(
            f"{where}: the shape must be a list of whole numbers, got {_brief(str(shape))}"
        )
    if not _naturals(offsets) or len(offsets) != 2 or offsets[0] > offsets[1]:
        raise FormatError(f"{where}: data_offsets must be [begin, end], got {_brief(str(offsets))}")
    ours = DTYPES[dtype]
    bits = DTYPE_BITS[ours]
    count = 1
    for dim in shape:
        count *= dim
    if count * bits % 8:
        raise FormatError(f"{where}: {count:,} elements of {bits} bits do not end on a byte")
    begin, end = offsets
    if end - begin != count * bits // 8:
        raise FormatError(
            f"{where}: shape {tuple(shape)} of {dtype} needs {count * bits // 8:,} bytes, "
            f"data_offsets give {end - begin:,}"
        )
    return name, ours, tuple(shape), begin, end


def _naturals(value: Any) -> bool:
    return isinstance(value, list) and all(type(v) is int and 0 <= v < 1 << 64 for v in value)


def _check_layout(path: str, tensors: list[Entry], data_size: int) -> None:
    """Tensors tile the data: sorted by offset, each begins where the last ended, and the
    last ends at the end of the file.
    """
    position = 0
    for name, _, _, begin, end in sorted(tensors, key=lambda t: (t[3], t[4])):
        if begin != position:
            what = "overlaps the tensor before it" if begin < position else "leaves a gap before it"
            raise FormatError(f"{path}: tensor {_brief(name)!r} at byte {begin:,} {what}")
        position = end
    if position != data_size:
        if position > data_size:
            raise FormatError(
                f"{path}: truncated: the tensors need {position:,} bytes of data, the file "
                f"holds {data_size:,}"
            )
        raise FormatError(
            f"{path}: {data_size - position:,} bytes after the last tensor belong to none"
        )


def _brief(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
