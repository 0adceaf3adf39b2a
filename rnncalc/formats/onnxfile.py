"""ONNX models (``.onnx``), read with the ``onnx`` library: a protobuf parsed, nothing run.

The format (``onnx/onnx.proto``): a ``ModelProto`` whose ``graph`` holds the nodes (operator,
inputs, outputs, attributes) and the ``initializer`` tensors, the weights.  Each
``TensorProto`` declares ``dims`` and ``data_type`` and holds its data in ``raw_data``
(little-endian bytes), in a typed field (``float_data``, ``int32_data``, ...), or, with
``data_location = EXTERNAL``, in another file named by its ``external_data`` entries
``location``, ``offset`` and ``length``.  The listing reads ``dims`` and ``data_type`` only
and checks that each tensor holds as much data as they declare; no array is made.

The protobuf is parsed whole (protobuf has no lazy parse), so a file costs its size twice in
memory while it is read: the file is held to protobuf's own 2 GB limit on a message (larger
models keep their weights in external files, which are checked, by their size, to lie in
the model's folder and to hold the declared bytes, never read for the listing).  Subgraphs
(the bodies of ``If``, ``Loop``, ``Scan``) are not listed.  ``onnx.checker`` is not run: it
reads every tensor's data (0.4 s for 200 MB, against 0.25 s for the parse) and refuses
operator sets newer than the installed ``onnx`` knows, which the listing does not need.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..files import cannot, open_regular
from ..units import format_bytes
from .tensors import DTYPE_BITS, FormatError, Listing, Stored

if TYPE_CHECKING:
    import numpy.typing as npt
    from onnx import ModelProto, NodeProto, TensorProto

#: Protobuf refuses messages of 2 GB or more.
MAX_BYTES = (2 << 30) - 1
MAX_DIMS = 64

#: ONNX's data types (``TensorProto.DataType``) -> rnncalc's names.  ONNX's 2- and 4-bit
#: integers have no rnncalc name: a tensor of them is refused.
DTYPES = {
    "FLOAT": "float32",
    "UINT8": "uint8",
    "INT8": "int8",
    "UINT16": "uint16",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "BOOL": "bool",
    "FLOAT16": "float16",
    "DOUBLE": "float64",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "COMPLEX64": "complex64",
    "COMPLEX128": "complex128",
    "BFLOAT16": "bfloat16",
    "FLOAT8E4M3FN": "float8_e4m3fn",
    "FLOAT8E4M3FNUZ": "float8_e4m3fnuz",
    "FLOAT8E5M2": "float8_e5m2",
    "FLOAT8E5M2FNUZ": "float8_e5m2fnuz",
    "FLOAT8E8M0": "float8_e8m0fnu",
    "FLOAT4E2M1": "float4_e2m1fn",
    "FLOAT6E2M3": "float6_e2m3fn",
    "FLOAT6E3M2": "float6_e3m2fn",
}
#: The dtypes ``read_onnx_array`` reads; 16-bit floats are returned as float32.
READABLE = frozenset(
    {"bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
     "float16", "bfloat16", "float32", "float64", "complex64", "complex128"}
)  # fmt: skip

Attribute = int | float | str | tuple[int, ...] | tuple[float, ...] | tuple[str, ...]


@dataclass(frozen=True)
class OnnxNode:
    """One node of the graph: its operator, name, inputs and outputs (``""`` for an optional
    input left out) and the attributes that are numbers, strings or lists of them.
    """

    op: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: dict[str, Attribute]


@dataclass(frozen=True)
class OnnxModel:
    """An ONNX file surveyed: its listing (the initializers) and its graph's nodes."""

    listing: Listing
    nodes: tuple[OnnxNode, ...]


def read_onnx(path: str) -> Listing:
    """The initializers an ONNX file declares: names, dtypes and shapes in the file's order."""
    return survey_onnx(path).listing


def survey_onnx(path: str, max_bytes: int | None = None) -> OnnxModel:
    """The file's initializers, checked against the data they hold, and its nodes; with
    ``max_bytes``, a file whose parse would need more is refused before it is read.
    """
    if max_bytes is None:
        model, _ = _load(path, MAX_BYTES, "an ONNX file can hold in one protobuf")
    else:
        model, _ = _load(path, min(max_bytes // 2, MAX_BYTES), _HALF)
    return _survey(path, model)


#: Why a parse may take half the memory limit.
_HALF = "half the memory limit (--max-memory): a parse holds it twice"


def _load(path: str, limit: int, what: str) -> tuple[ModelProto, int]:
    """The parsed ModelProto and the file's size: a regular file of at most ``limit`` bytes
    (``what`` says why the limit), read once.
    """
    import onnx
    from google.protobuf.message import DecodeError

    with open_regular(path, FormatError) as stream:
        try:
            size = os.fstat(stream.fileno()).st_size
            if size > limit:
                raise FormatError(
                    f"{path}: {format_bytes(size)}, more than the {format_bytes(limit)} {what}"
                )
            raw = stream.read(size + 1)
        except OSError as error:
            raise FormatError(cannot(path, "read", error)) from None
    try:
        model = onnx.load_model_from_string(raw)
    except (DecodeError, RuntimeError, ValueError):
        raise FormatError(
            f"{path}: not an ONNX model, or a damaged one: its protobuf does not parse"
        ) from None
    finally:
        del raw
    if not model.HasField("graph"):
        raise FormatError(f"{path}: not an ONNX model: no graph")
    return model, size


def _survey(path: str, model: ModelProto) -> OnnxModel:
    graph = model.graph
    if len(graph.sparse_initializer):
        raise FormatError(f"{path}: holds sparse initializers, which rnncalc does not read")
    folder = os.path.dirname(os.path.abspath(path))
    tensors: list[Stored] = []
    seen: set[str] = set()
    for t in graph.initializer:
        stored = _stored(path, t, folder)
        if stored.name in seen:
            raise FormatError(f"{path}: two initializers are named {_brief(stored.name)!r}")
        seen.add(stored.name)
        tensors.append(stored)
    nodes = tuple(_node(n) for n in graph.node)
    notes = []
    if any(a.type in (a.GRAPH, a.GRAPHS) for n in graph.node for a in n.attribute):
        notes.append("the graph has subgraphs (If, Loop, Scan): their tensors are not listed")
    metadata = {_text(p.key): _text(p.value) for p in model.metadata_props}
    if model.producer_name:
        producer = f"{_text(model.producer_name)} {_text(model.producer_version)}"
        metadata["producer"] = producer.strip()
    opsets = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if opsets:
        metadata["opset"] = str(opsets[0])
    listing = Listing(path, "onnx", tuple(tensors), metadata, tuple(notes))
    return OnnxModel(listing, nodes)


def _stored(path: str, t: TensorProto, folder: str) -> Stored:
    """The tensor's declaration, checked: a known dtype, sizes that fit, and as much data
    as it declares (in the file, or in its external file by that file's size).
    """
    from onnx import TensorProto

    name = _text(t.name)
    where = f"{path}: initializer {_brief(name)!r}"
    if not name:
        raise FormatError(f"{path}: an initializer has no name")
    try:
        kind = TensorProto.DataType.Name(t.data_type)
    except ValueError:
        kind = f"data type {t.data_type}"
    dtype = DTYPES.get(kind)
    if dtype is None:
        raise FormatError(f"{where}: holds {kind} values, which rnncalc has no size for")
    dims = tuple(t.dims)
    if len(dims) > MAX_DIMS or any(d < 0 or d >= 1 << 62 for d in dims):
        raise FormatError(f"{where}: the dims {_brief(str(dims))} are no shape")
    stored = Stored(name, dtype, dims)
    if t.data_location == TensorProto.EXTERNAL:
        _check_external(where, t, folder, stored.nbytes)
        return stored
    if t.HasField("raw_data"):
        held, needed, unit = len(t.raw_data), stored.nbytes, "bytes"
    elif DTYPE_BITS[dtype] < 8:  # packed into the typed fields: their layout is not checked
        return stored
    else:
        held = sum(len(f) for f in (t.float_data, t.int32_data, t.int64_data, t.double_data,
                                    t.uint64_data))  # fmt: skip
        needed, unit = stored.count * (2 if dtype.startswith("complex") else 1), "values"
    if held != needed:
        raise FormatError(
            f"{where}: {kind} of shape {dims} needs {needed:,} {unit} of data, it holds {held:,}"
        )
    return stored


def _check_external(where: str, t: TensorProto, folder: str, nbytes: int) -> str:
    """The external file's path, checked by its size: inside the model's folder, a regular
    file, with the declared bytes at the declared offset.
    """
    entries = {_text(e.key): _text(e.value) for e in t.external_data}
    location = entries.get("location", "")
    parts = location.replace("\\", "/").split("/")
    if not location or os.path.isabs(location) or ".." in parts:
        raise FormatError(
            f"{where}: its external data {_brief(location)!r} is not in the model's folder"
        )
    target = os.path.realpath(os.path.join(folder, location))
    if os.path.commonpath([target, os.path.realpath(folder)]) != os.path.realpath(folder):
        raise FormatError(
            f"{where}: its external data {_brief(location)!r} leads out of the model's folder"
        )
    try:
        offset = int(entries.get("offset", "0"))
        length = int(entries.get("length", str(nbytes)))
        info = os.stat(target)
    except ValueError:
        raise FormatError(f"{where}: its external data's offset or length is no number") from None
    except OSError as error:
        raise FormatError(
            cannot(f"{where}: external data {_brief(location)!r}", "read", error)
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise FormatError(f"{where}: its external data {_brief(location)!r} is not a regular file")
    if length != nbytes or offset < 0 or offset + nbytes > info.st_size:
        raise FormatError(
            f"{where}: declares {nbytes:,} bytes at offset {offset:,} of {_brief(location)!r} "
            f"(length {length:,}), which holds {info.st_size:,}"
        )
    return target


def _node(n: NodeProto) -> OnnxNode:
    """A NodeProto's operator, wiring and plain attributes (tensors and graphs left out)."""
    attributes: dict[str, Attribute] = {}
    for a in n.attribute:
        key = _text(a.name)
        if a.type == a.INT:
            attributes[key] = a.i
        elif a.type == a.FLOAT:
            attributes[key] = a.f
        elif a.type == a.STRING:
            attributes[key] = _text(a.s)
        elif a.type == a.INTS:
            attributes[key] = tuple(a.ints)
        elif a.type == a.FLOATS:
            attributes[key] = tuple(a.floats)
        elif a.type == a.STRINGS:
            attributes[key] = tuple(_text(s) for s in a.strings)
    inputs, outputs = tuple(map(_text, n.input)), tuple(map(_text, n.output))
    return OnnxNode(_text(n.op_type), _text(n.name), inputs, outputs, attributes)


def _text(value: object) -> str:
    """A string field: protobuf hands over bytes where a damaged file's are not UTF-8."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def read_onnx_arrays(
    path: str, names: Iterable[str], max_bytes: int
) -> dict[str, npt.NDArray[Any]]:
    """The data of the initializers ``names`` as NumPy arrays (float16 and bfloat16 as
    float32), from one parse.  The file (held twice while parsed) and then the file with
    the arrays are checked against ``max_bytes`` before each is read or made; external data
    is read from its own file.
    """
    from onnx import TensorProto

    limit = min(max_bytes // 2, MAX_BYTES)
    model, size = _load(path, limit, _HALF)
    wanted = list(dict.fromkeys(names))
    found = {_text(t.name): t for t in model.graph.initializer}
    missing = [name for name in wanted if name not in found]
    if missing:
        raise FormatError(f"{path}: holds no initializer {_brief(missing[0])!r}")
    folder = os.path.dirname(os.path.abspath(path))
    need = size
    for name in wanted:
        stored = _stored(path, found[name], folder)
        if stored.dtype not in READABLE:
            raise FormatError(
                f"{path}: initializer {_brief(name)!r}: reading {stored.dtype} values is not "
                "supported (listing is)"
            )
        need += stored.nbytes + stored.count * 8
    if need > max_bytes:
        what = repr(_brief(wanted[0])) if len(wanted) == 1 else f"{len(wanted)} initializers"
        raise FormatError(
            f"{path}: reading {what} needs {format_bytes(need)}, more than the memory "
            f"limit of {format_bytes(max_bytes)} (--max-memory)"
        )
    arrays = {}
    for name in wanted:
        t = found[name]
        if t.data_location == TensorProto.EXTERNAL:
            t = _external(path, t, folder)
        arrays[name] = _numpy(t)
    return arrays


def read_onnx_array(path: str, name: str, max_bytes: int) -> npt.NDArray[Any]:
    """One initializer's data; see :func:`read_onnx_arrays`."""
    return read_onnx_arrays(path, [name], max_bytes)[name]


def _external(path: str, t: TensorProto, folder: str) -> TensorProto:
    """The tensor with its external data read into ``raw_data``."""
    from onnx import TensorProto

    where = f"{path}: initializer {_brief(_text(t.name))!r}"
    nbytes = _stored(path, t, folder).nbytes
    target = _check_external(where, t, folder, nbytes)
    offset = int({_text(e.key): _text(e.value) for e in t.external_data}.get("offset", "0"))
    with open_regular(target, FormatError) as stream:
        stream.seek(offset)
        data = stream.read(nbytes)
    return TensorProto(name=t.name, dims=t.dims, data_type=t.data_type, raw_data=data)


def _numpy(t: TensorProto) -> npt.NDArray[Any]:
    """The tensor's data as ``onnx.numpy_helper`` reads it, 16-bit floats as float32."""
    import numpy as np
    from onnx import TensorProto, numpy_helper

    array = numpy_helper.to_array(t)
    if t.data_type in (TensorProto.FLOAT16, TensorProto.BFLOAT16):
        return array.astype(np.float32)
    return np.asarray(array)


def _brief(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
