"""PyTorch ``torch.save`` files, read without PyTorch: metadata first, data on request.

The container (torch's ``serialization.py``, ``_save`` and ``_load``): a zip archive whose
members sit in one folder, ``<archive>/data.pkl`` (the pickled object), ``<archive>/data/<key>``
(each storage's raw bytes, stored uncompressed), ``<archive>/byteorder`` (``little`` or
``big``) and ``<archive>/version``.  In the pickle a tensor is a call of
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`` (or
``_rebuild_tensor_v3(..., dtype)`` for the dtypes that ``torch.storage._new_dtypes`` lists,
over an untyped storage), and a storage is a persistent id ``('storage', storage_type, key,
location, numel)`` (``persistent_id`` in ``_save``).

The pickle is read as ``torch.load(weights_only=True)`` reads it (``_weights_only_unpickler``):
only the globals a tensor needs are admitted, and each is rnncalc's own stand-in that records
what the file declares; nothing from the file is imported or called.  Before unpickling, every
opcode is checked (:func:`_check_opcodes`): the ones that build arbitrary objects are refused,
memo indices stay small (CPython's C unpickler sizes its memo from them) and nesting stays
shallow (hashing a deep tuple recurses in C).  Every size the file declares is checked against
the zip's directory, and against the memory limit before any data is read.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import pickletools
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..files import cannot, open_regular
from ..units import format_bytes
from .tensors import DTYPE_BITS, NUMPY_TYPES, FormatError, Listing, Stored, widened

if TYPE_CHECKING:
    import numpy.typing as npt

#: The pickle is metadata: torch.save writes about 100 bytes and 30 opcodes a tensor.
MAX_PICKLE_BYTES = 64 << 20
#: Each opcode makes at most one object, so this bounds the objects a pickle can make; it
#: admits some 130,000 tensors.
MAX_OPCODES = 4_000_000
#: Nesting of the pickled objects (a state_dict's is 5, a training checkpoint's with an
#: optimizer's state 8, as :func:`_check_opcodes` counts).
MAX_DEPTH = 100
MAX_DIMS = 64

#: Legacy storage classes (``torch.storage._dtype_to_storage_type_map``) -> rnncalc's dtypes.
STORAGES = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}
#: The dtypes torch names as globals (``torch.float8_e4m3fn``) for ``_rebuild_tensor_v3``.
TORCH_DTYPES = tuple(name for name in DTYPE_BITS if not name.startswith(("float4", "float6")))

#: Entries of a training checkpoint that conventionally hold the model's state_dict.
WEIGHT_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network", "weights")

#: The opcodes that make objects of a class or from the extension registry, or read
#: out-of-band buffers: torch.save writes none of them for tensors and plain containers.
_REFUSED_OPCODES = frozenset(
    {"INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4", "NEXT_BUFFER",
     "READONLY_BUFFER", "PERSID"}
)  # fmt: skip
#: Opcodes that change the container below their arguments rather than make a new object.
_IN_PLACE = frozenset({"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"})
_MEMO_PUT = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_MEMO_GET = frozenset({"GET", "BINGET", "LONG_BINGET"})
_KEY = re.compile(r"[A-Za-z0-9_]{1,64}")
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, OverflowError,
               NotImplementedError, RuntimeError)  # fmt: skip
_LOCAL_HEADER = 30  # bytes of a zip member's local header before its name
_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


class _Refused(pickle.UnpicklingError):
    """What the file asked for and rnncalc will not do; the message lacks only the path."""


@dataclass(frozen=True)
class TorchTensor:
    """Where a tensor's data lives: its storage's zip member, the storage's element type and
    length as the pickle declares them, and the view (offset and stride in elements of the
    tensor's dtype).  ``negative`` and ``conjugate`` are torch's lazy negation and
    conjugation bits (``torch._utils.get_tensor_metadata``).
    """

    stored: Stored
    member: str
    storage_dtype: str
    storage_numel: int
    offset: int
    stride: tuple[int, ...]
    negative: bool = False
    conjugate: bool = False

    @property
    def storage_bytes(self) -> int:
        """Bytes the storage member must hold."""
        return self.storage_numel * DTYPE_BITS[self.storage_dtype] // 8

    @property
    def span(self) -> tuple[int, int]:
        """The first and one-past-the-last element of the storage the view touches."""
        if self.stored.count == 0:
            return self.offset, self.offset
        last = sum(
            (dim - 1) * step for dim, step in zip(self.stored.shape, self.stride, strict=True)
        )
        return self.offset, self.offset + last + 1


@dataclass(frozen=True)
class TorchCheckpoint:
    """A ``torch.save`` file surveyed: its listing, where each tensor's data lives, and the
    file's byte order.
    """

    listing: Listing
    tensors: dict[str, TorchTensor]
    byteorder: str

    def tied(self) -> tuple[tuple[str, ...], ...]:
        """Groups of tensor names that are one tensor saved under several names (the same
        storage, offset, shape and stride), as torch.save keeps tied weights.
        """
        return _tied(self.tensors)


def _tied(tensors: dict[str, TorchTensor]) -> tuple[tuple[str, ...], ...]:
    groups: dict[tuple[object, ...], list[str]] = {}
    for name, t in tensors.items():
        view = (t.member, t.offset, t.stored.shape, t.stride, t.stored.dtype)
        groups.setdefault(view, []).append(name)
    return tuple(tuple(names) for names in groups.values() if len(names) > 1)


# Stand-ins for the admitted globals.  Each defines __setstate__ itself, so that a pickle's
# BUILD can neither set attributes on it nor on what it returned.


class _Global:
    """An admitted global: one of the functions below, or data (a dtype, a storage class)."""

    __slots__ = ("dtype", "function", "name")

    def __init__(self, name: str, function: Callable[..., Any] | None, dtype: str = "") -> None:
        self.name, self.function, self.dtype = name, function, dtype

    def __call__(self, *args: Any) -> Any:
        if self.function is None:
            raise _Refused(f"calls {self.name}, which is not a function")
        return self.function(self.name, args)

    def __setstate__(self, state: object) -> None:
        raise _Refused(f"sets the state of the global {self.name}")


class _Dict(dict[Any, Any]):
    """``collections.OrderedDict``: a plain dict (dicts keep order).  BUILD may give it
    attributes as torch gives a state_dict its ``_metadata``; they are not needed here.
    """

    def __setstate__(self, state: object) -> None:
        if not isinstance(state, dict):
            raise _Refused("sets the state of an OrderedDict to something other than a dict")


@dataclass(frozen=True, eq=False)
class _Storage:
    """A persistent id: the storage's key (its member is ``data/<key>``), element type and
    length."""

    key: str
    dtype: str
    numel: int

    def __setstate__(self, state: object) -> None:
        raise _Refused("sets the state of a storage")


@dataclass(frozen=True, eq=False)
class _Tensor:
    """A rebuilt tensor: what ``_rebuild_tensor_v2``/``_v3`` were given."""

    storage: _Storage
    dtype: str
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    negative: bool
    conjugate: bool

    def __setstate__(self, state: object) -> None:
        raise _Refused("sets the state of a tensor")


def _natural(value: object) -> bool:
    return type(value) is int and 0 <= value < 1 << 62


def _dims(value: object) -> bool:
    return type(value) is tuple and len(value) <= MAX_DIMS and all(map(_natural, value))


def _odd(name: str, args: tuple[Any, ...]) -> _Refused:
    kinds = ", ".join(type(arg).__name__.lstrip("_") for arg in args[:8])
    return _Refused(f"calls {name} with arguments ({kinds}) that do not describe a tensor")


def _rebuild_tensor(name: str, args: tuple[Any, ...]) -> _Tensor:
    """``_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])``
    and ``_rebuild_tensor_v3(..., hooks, dtype[, metadata])`` (torch ``_utils.py``).
    """
    v3 = name.endswith("v3")
    fixed = 7 if v3 else 6
    if len(args) not in (fixed, fixed + 1):
        raise _odd(name, args)
    storage, offset, size, stride, requires_grad, hooks = args[:6]
    dtype = args[6] if v3 else None
    metadata = args[fixed] if len(args) > fixed else None
    if (
        not isinstance(storage, _Storage)
        or not _natural(offset)
        or not _dims(size)
        or not _dims(stride)
        or len(size) != len(stride)
        or type(requires_grad) is not bool
        or not isinstance(hooks, dict)
        or (v3 and not (isinstance(dtype, _Global) and dtype.name in _DTYPE_NAMES))
        or (metadata is not None and not isinstance(metadata, dict))
    ):
        raise _odd(name, args)
    flags = metadata or {}
    if isinstance(dtype, _Global):
        if storage.dtype != "uint8":
            raise _Refused(f"calls {name} on a typed storage; it takes an untyped one")
        tensor_dtype = dtype.dtype
    else:
        tensor_dtype = storage.dtype
    return _Tensor(
        storage,
        tensor_dtype,
        offset,
        size,
        stride,
        flags.get("neg") is True,
        flags.get("conj") is True,
    )


def _rebuild_parameter(name: str, args: tuple[Any, ...]) -> _Tensor:
    """``_rebuild_parameter(data, requires_grad, hooks)`` and ``_rebuild_parameter_with_state``
    (``..., state``): a Parameter is its data here.
    """
    count = 4 if name.endswith("state") else 3
    if len(args) != count or not isinstance(args[0], _Tensor) or type(args[1]) is not bool:
        raise _odd(name, args)
    return args[0]


def _ordered_dict(name: str, args: tuple[Any, ...]) -> _Dict:
    """``OrderedDict()``: torch pickles one empty and fills it with SETITEMS."""
    if args:
        raise _odd(name, args)
    return _Dict()


def _size(name: str, args: tuple[Any, ...]) -> tuple[int, ...]:
    """``torch.Size(dims)``: a tuple of dimensions."""
    dims = tuple(args[0]) if len(args) == 1 and isinstance(args[0], list | tuple) else None
    if not _dims(dims):
        raise _odd(name, args)
    return tuple(args[0])


def _admitted() -> dict[str, _Global]:
    """Every global a file may name (``_get_allowed_globals`` in torch's
    ``_weights_only_unpickler.py``, less what state_dicts never hold), by its full name.
    """
    functions: dict[str, Callable[[str, tuple[Any, ...]], Any]] = {
        "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
        "torch._utils._rebuild_tensor_v3": _rebuild_tensor,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
        "collections.OrderedDict": _ordered_dict,
        "torch.Size": _size,
    }
    found = {name: _Global(name, function) for name, function in functions.items()}
    for storage, dtype in STORAGES.items():
        found[f"torch.{storage}"] = _Global(f"torch.{storage}", None, dtype)
    found["torch.storage.UntypedStorage"] = _Global("torch.storage.UntypedStorage", None, "uint8")
    for dtype in TORCH_DTYPES:
        found[f"torch.{dtype}"] = _Global(f"torch.{dtype}", None, dtype)
    return found


_ADMITTED = _admitted()
_DTYPE_NAMES = frozenset(f"torch.{dtype}" for dtype in TORCH_DTYPES)


def _refuse_global(module: str, name: str) -> _Refused:
    full = f"{module}.{name}"
    shown = full if len(full) <= 80 else full[:77] + "..."
    if module == "torch" and name.startswith("Q") and name.endswith("Storage"):
        return _Refused(f"holds a {name}, which rnncalc does not read (quantized tensors)")
    return _Refused(
        f"refuses to load the global {shown!r}: a checkpoint holds tensors, not code "
        "(save model.state_dict(), not the model)"
    )


class _Unpickler(pickle.Unpickler):
    """The restricted unpickler: globals from :data:`_ADMITTED` only, storages as records."""

    def find_class(self, module: str, name: str, /) -> Any:
        found = _ADMITTED.get(f"{module}.{name}")
        if found is None:
            raise _refuse_global(module, name)
        return found

    def persistent_load(self, pid: Any, /) -> Any:
        if (
            type(pid) is not tuple
            or len(pid) != 5
            or pid[0] != "storage"
            or not isinstance(pid[1], _Global)
            or not pid[1].name.endswith("Storage")
            or type(pid[2]) is not str
            or not _natural(pid[4])
        ):
            raise _Refused("holds a persistent id that is not a storage")
        key = pid[2]
        if not _KEY.fullmatch(key):
            raise _Refused(f"names the storage {key[:60]!r}, which is not a storage key")
        return _Storage(key, pid[1].dtype, pid[4])


@dataclass(frozen=True)
class _Opcode:
    """What :func:`_check_opcodes` needs of an opcode (from ``pickletools.opcodes``): its
    argument's length (or, negative, how the length is given), its role, and its effect on
    the stack: the objects it pops (above the last MARK, if it takes one) and pushes.
    """

    name: str
    length: int
    role: str
    pops: int = 0
    to_mark: bool = False
    pushes: int = 0


def _opcodes() -> dict[int, _Opcode]:
    roles = {"MARK": "mark", "MEMOIZE": "memoize", "STOP": "stop", "GLOBAL": "global"}
    roles.update(dict.fromkeys(_MEMO_PUT, "put") | dict.fromkeys(_MEMO_GET, "get"))
    roles.update(dict.fromkeys(_REFUSED_OPCODES, "refused"))
    table = {}
    for op in pickletools.opcodes:
        before = [kind for kind in op.stack_before if kind is not pickletools.stackslice]
        to_mark = pickletools.markobject in before
        pops, pushes = len(before) - to_mark, len(op.stack_after)
        role = roles.get(op.name, "push" if (pops, to_mark, pushes) == (0, False, 1) else "stack")
        length = op.arg.n if op.arg is not None else 0
        table[ord(op.code)] = _Opcode(op.name, length, role, pops, to_mark, pushes)
    return table


_OPCODES = _opcodes()
#: Bytes, and signedness, of the length before a counted argument (pickletools' codes).
_COUNTED = {
    pickletools.TAKEN_FROM_ARGUMENT1: (1, False),
    pickletools.TAKEN_FROM_ARGUMENT4: (4, True),
    pickletools.TAKEN_FROM_ARGUMENT4U: (4, False),
    pickletools.TAKEN_FROM_ARGUMENT8U: (8, False),
}


def _check_opcodes(data: bytes) -> None:
    """Refuse a pickle before the C unpickler sees it: opcodes a checkpoint does not need,
    globals not admitted, more than :data:`MAX_OPCODES` opcodes (each makes at most one
    object), memo indices beyond the number of opcodes (the C unpickler would allocate a memo
    that large), nesting deeper than :data:`MAX_DEPTH` (hashing a deep tuple recurses in C),
    bytes after STOP.

    The nesting is followed on a model of the stack that holds each object's depth: one more
    than the deepest object it was made from; a container filled in place keeps its own.
    """
    stack: list[int] = []
    marks: list[int] = []  # where each MARK stands in the stack
    memo: dict[int, int] = {}
    position = 0
    for count in range(MAX_OPCODES):
        op = _OPCODES.get(data[position]) if position < len(data) else None
        if op is None:
            found = f"unknown opcode {data[position]:#04x}" if position < len(data) else "its end"
            raise ValueError(f"{found} at byte {position}, before STOP")
        at, start = position, position + 1
        position = start + op.length if op.length >= 0 else _argument_end(data, start, op)
        if position > len(data):
            raise ValueError(f"it ends inside an argument of {op.name}")
        if op.role == "push":
            stack.append(0)
        elif op.role == "mark":
            marks.append(len(stack))
        elif op.role in ("put", "memoize", "get"):
            _memo(op, data[start:position], stack, marks, memo, count, at)
        else:
            if op.role in ("global", "refused"):
                _check_opcode(op.name, data[start:position])
            _apply(stack, marks, op, at)
            if op.role == "stop":
                if position != len(data):
                    raise ValueError(f"{len(data) - position} bytes after the pickle's end")
                return
    raise _Refused(f"holds more than {MAX_OPCODES:,} pickle opcodes")


def _argument_end(data: bytes, start: int, op: _Opcode) -> int:
    """Where an argument of variable length ends: after its newline (two, for GLOBAL and
    INST), or after the length it starts with and that many bytes.
    """
    if op.length == pickletools.UP_TO_NEWLINE:
        end = data.index(b"\n", start) + 1  # ValueError when there is none
        return data.index(b"\n", end) + 1 if op.name in ("GLOBAL", "INST") else end
    width, signed = _COUNTED[op.length]
    size = int.from_bytes(data[start : start + width], "little", signed=signed)
    if size < 0:
        raise ValueError(f"{op.name} declares {size} bytes")
    return start + width + size


def _check_opcode(name: str, argument: bytes) -> None:
    """Refuse a global that is not admitted (GLOBAL, INST), and the refused opcodes."""
    if name in ("GLOBAL", "INST"):
        module, attribute, _ = argument.decode("utf-8").split("\n")
        if f"{module}.{attribute}" not in _ADMITTED:
            raise _refuse_global(module, attribute)
    if name in _REFUSED_OPCODES:
        raise _Refused(f"uses the pickle opcode {name}, which a checkpoint does not need")


def _memo(
    op: _Opcode,
    argument: bytes,
    stack: list[int],
    marks: list[int],
    memo: dict[int, int],
    count: int,
    at: int,
) -> None:
    """Remember the top of the stack (PUT, MEMOIZE) or recall a memo entry (GET).  Indices
    are a decimal line (PUT, GET) or a little-endian unsigned integer.
    """
    if op.role == "memoize":
        index = len(memo)
    elif op.length == pickletools.UP_TO_NEWLINE:
        index = int(argument)
    else:
        index = int.from_bytes(argument, "little")
    if op.role == "get":
        if index not in memo:
            raise ValueError(f"no memo entry {index} at byte {at}")
        stack.append(memo[index])
        return
    if index > count or len(stack) <= (marks[-1] if marks else 0):
        raise ValueError(f"memo index {index} out of range at byte {at}")
    memo[index] = stack[-1]


def _apply(stack: list[int], marks: list[int], op: _Opcode, at: int) -> None:
    """Pop what ``op`` takes and push what it makes, each with its depth."""
    popped: list[int] = []
    if op.to_mark:
        if not marks:
            raise ValueError(f"{op.name} without a MARK at byte {at}")
        popped = stack[marks[-1] :]
        del stack[marks.pop() :]
    if len(stack) - (marks[-1] if marks else 0) < op.pops:
        raise ValueError(f"{op.name} on too short a stack at byte {at}")
    if op.pops:
        popped = stack[-op.pops :] + popped
        del stack[-op.pops :]
    if op.name in _IN_PLACE:
        depth = max(popped[0], 1 + max(popped[1:], default=0))
    else:
        depth = 1 + max(popped, default=-1)
    if depth > MAX_DEPTH:
        raise _Refused(f"nests objects more than {MAX_DEPTH} deep")
    stack.extend([depth] * op.pushes)


def survey_torch(path: str) -> TorchCheckpoint:
    """The tensors a ``torch.save`` file declares and where their data lives, read from the
    pickle and the zip directory alone; FormatError (one line, naming the file) otherwise.
    """
    with _archive(path) as (archive, size):
        return _survey(path, archive, size)


@contextlib.contextmanager
def _archive(path: str) -> Iterator[tuple[zipfile.ZipFile, int]]:
    """The file opened as a zip archive, and its size; errors of the zip or of reading as
    FormatError.
    """
    with open_regular(path, FormatError) as stream:
        try:
            _check_start(path, stream.read(len(_LEGACY_MAGIC)))
            with zipfile.ZipFile(stream) as archive:
                yield archive, os.fstat(stream.fileno()).st_size
        except FormatError:
            raise
        except OSError as error:
            raise FormatError(cannot(path, "read", error)) from None
        except _ZIP_ERRORS as error:
            raise FormatError(f"{path}: damaged zip archive ({_brief(str(error))})") from None


def _survey(path: str, archive: zipfile.ZipFile, size: int) -> TorchCheckpoint:
    folder, members = _members(path, archive, size)
    byteorder = _byteorder(path, archive, members.get(f"{folder}/byteorder"))
    raw = _read_member(path, archive, members[f"{folder}/data.pkl"], MAX_PICKLE_BYTES)
    state, notes = _state_dict(path, _unpickle(path, raw))
    tensors: dict[str, TorchTensor] = {}
    storages: dict[str, _Storage] = {}
    for name, value in state.items():
        first = storages.setdefault(value.storage.key, value.storage)
        if (first.dtype, first.numel) != (value.storage.dtype, value.storage.numel):
            raise FormatError(
                f"{path}: the storage {first.key!r} is declared twice, as {first.numel:,} "
                f"{first.dtype} and as {value.storage.numel:,} {value.storage.dtype} elements"
            )
        tensors[name] = _placed(path, name, value, folder, members)
    groups = _tied(tensors)
    tied = tuple(f"one tensor saved as {' and '.join(names)} (tied weights)" for names in groups)
    shares = {name: names[0] for names in groups for name in names[1:]}
    listing = Listing(
        path, "pytorch", tuple(t.stored for t in tensors.values()), notes=notes + tied,
        shares=shares,
    )  # fmt: skip
    return TorchCheckpoint(listing, tensors, byteorder)


def read_torch(path: str) -> Listing:
    """The tensors of a ``torch.save`` file's state_dict, in the file's order, read from its
    metadata alone (no tensor data is read); see :func:`survey_torch`.
    """
    return survey_torch(path).listing


def _check_start(path: str, head: bytes) -> None:
    if head.startswith(b"PK\x03\x04"):
        return
    if head.startswith(_LEGACY_MAGIC[:4]):
        raise FormatError(
            f"{path}: a legacy (pre-1.6) PyTorch file; re-save it with torch.save(obj, path) "
            "from PyTorch 1.6 or later"
        )
    reason = "it is empty" if not head else "it is not a zip archive, as torch.save writes"
    raise FormatError(f"{path}: not a PyTorch file ({reason})")


def _members(
    path: str, archive: zipfile.ZipFile, size: int
) -> tuple[str, dict[str, zipfile.ZipInfo]]:
    """The archive's folder and its members by name, refusing names that leave it and
    members whose directory entry places data beyond the file's end.
    """
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = info.filename
        if name.startswith(("/", "\\")) or "\\" in name or ".." in name.split("/"):
            raise FormatError(f"{path}: the member {_brief(name)!r} leaves the archive")
        end = info.header_offset + _LOCAL_HEADER + len(name.encode()) + info.compress_size
        if end > size:
            raise FormatError(
                f"{path}: truncated: the member {_brief(name)!r} declares "
                f"{info.compress_size:,} bytes, which end past the file's {size:,}"
            )
        if name in members:
            raise FormatError(f"{path}: two members are named {_brief(name)!r}")
        members[name] = info
    pickles = [name for name in members if re.fullmatch(r"[^/]+/data\.pkl", name)]
    if len(pickles) != 1:
        found = "no" if not pickles else "several"
        raise FormatError(f"{path}: not a torch.save archive ({found} <archive>/data.pkl)")
    folder = pickles[0].removesuffix("/data.pkl")
    if f"{folder}/constants.pkl" in members:
        raise FormatError(
            f"{path}: a TorchScript archive (torch.jit.save), which holds code; save the "
            "model's state_dict with torch.save"
        )
    return folder, members


def _read_member(path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A small member's bytes, its declared size checked against ``limit`` first."""
    if info.flag_bits & 0x1:
        raise FormatError(f"{path}: the member {_brief(info.filename)!r} is encrypted")
    if info.file_size > limit:
        raise FormatError(
            f"{path}: the member {_brief(info.filename)!r} declares "
            f"{format_bytes(info.file_size)}, more than the {format_bytes(limit)} allowed"
        )
    with archive.open(info) as member:
        data = member.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise FormatError(
            f"{path}: damaged zip archive (the member {_brief(info.filename)!r} holds "
            f"{len(data):,} bytes, its directory entry declares {info.file_size:,})"
        )
    return data


def _byteorder(path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo | None) -> str:
    """``little`` or ``big``; files without the record are little-endian (torch ``_load``)."""
    if info is None:
        return "little"
    order = _read_member(path, archive, info, 16)
    if order not in (b"little", b"big"):
        raise FormatError(f"{path}: the byteorder record says {order[:16]!r}, not little or big")
    return order.decode()


def _unpickle(path: str, raw: bytes) -> Any:
    try:
        _check_opcodes(raw)
        return _Unpickler(io.BytesIO(raw)).load()
    except _Refused as refusal:
        raise FormatError(f"{path}: {refusal}") from None
    except Exception as error:  # the C unpickler raises many kinds on damaged input
        reason = _brief(" ".join(str(error).split()) or type(error).__name__)
        raise FormatError(f"{path}: damaged pickle in data.pkl ({reason})") from None


def _state_dict(path: str, top: Any) -> tuple[dict[str, _Tensor], tuple[str, ...]]:
    """The state_dict in the file: the object itself when it maps names to tensors, else the
    entry of a training checkpoint that does (by :data:`WEIGHT_KEYS` where several do); with
    notes on which entry was used, the other entries and the values left aside.
    """
    if not isinstance(top, dict):
        raise FormatError(f"{path}: holds {_kind(top)}, not a state_dict of tensors")
    notes: list[str] = []
    if not _holds_tensors(top):
        candidates = [key for key, value in top.items() if _holds_tensors(value)]
        if not candidates:
            keys = ", ".join(_label(key) for key in list(top)[:8])
            raise FormatError(f"{path}: holds no tensors (a dict of {keys or 'nothing'})")
        chosen = next((key for key in WEIGHT_KEYS if key in candidates), candidates[0])
        others = [_label(key) for key in top if key != chosen]
        note = f"the weights are the entry '{_label(chosen)}'"
        if others:
            note += f"; also in the file: {', '.join(others)}"
        notes.append(note)
        if len(candidates) > 1:
            rest = ", ".join(_label(key) for key in candidates if key != chosen)
            notes.append(f"other entries that hold tensors: {rest}")
        top = top[chosen]
    state = {key: value for key, value in top.items() if isinstance(value, _Tensor)}
    aside = [f"{_label(key)} ({_kind(v)})" for key, v in top.items() if key not in state]
    if aside:
        notes.append(f"left aside, not tensors: {', '.join(aside)}")
    if not all(type(key) is str for key in state):
        raise FormatError(f"{path}: the state_dict names a tensor by something other than a str")
    return state, tuple(notes)


def _holds_tensors(value: object) -> bool:
    return isinstance(value, dict) and any(isinstance(v, _Tensor) for v in value.values())


def _label(key: object) -> str:
    """A key for a message: a str shortened, anything else by its type."""
    return _brief(key, 30) if isinstance(key, str) else f"<{type(key).__name__}>"


def _kind(value: object) -> str:
    if isinstance(value, _Tensor):
        return "a tensor"
    if isinstance(value, dict):
        return "a dict"
    name = type(value).__name__
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _placed(
    path: str, name: str, tensor: _Tensor, folder: str, members: dict[str, zipfile.ZipInfo]
) -> TorchTensor:
    """The tensor with its storage's member, checked: the member exists, is stored whole,
    holds what the pickle declares, and the view lies inside it.
    """
    where = f"{path}: tensor {_brief(name)!r}"
    storage = tensor.storage
    member = f"{folder}/data/{storage.key}"
    info = members.get(member)
    if info is None:
        raise FormatError(f"{where}: its storage {storage.key!r} is not in the archive")
    placed = TorchTensor(
        Stored(name, tensor.dtype, tensor.shape),
        member,
        storage.dtype,
        storage.numel,
        tensor.offset,
        tensor.stride,
        tensor.negative,
        tensor.conjugate,
    )
    if info.file_size != placed.storage_bytes:
        raise FormatError(
            f"{where}: its storage {storage.key!r} declares {storage.numel:,} {storage.dtype} "
            f"elements ({placed.storage_bytes:,} bytes); the archive's member holds "
            f"{info.file_size:,}"
        )
    if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
        raise FormatError(
            f"{where}: its storage {storage.key!r} is compressed; torch.save stores them whole"
        )
    elements = placed.storage_bytes * 8 // DTYPE_BITS[tensor.dtype]
    begin, end = placed.span
    if end > elements:
        raise FormatError(
            f"{where}: shape {tensor.shape} with stride {tensor.stride} from element {begin:,} "
            f"reaches element {end:,} of a storage of {elements:,}"
        )
    return placed


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


def _brief(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
