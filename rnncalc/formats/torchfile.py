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

The unpickler and its stand-ins are in :mod:`.torch_unpickler`, the opcode check in
:mod:`.torch_opcode_check`, the reading of tensor data in :mod:`.torch_arrays`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..files import cannot, open_regular
from ..units import format_bytes
from .tensors import DTYPE_BITS, FormatError, Listing, Stored
from .torch_opcode_check import _check_opcodes
from .torch_unpickler import _Refused, _Storage, _Tensor, _Unpickler

#: The pickle is metadata: torch.save writes about 100 bytes and 30 opcodes a tensor.
MAX_PICKLE_BYTES = 64 << 20

#: Entries of a training checkpoint that conventionally hold the model's state_dict.
WEIGHT_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network", "weights")
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, OverflowError,
               NotImplementedError, RuntimeError)  # fmt: skip
_LOCAL_HEADER = 30  # bytes of a zip member's local header before its name
_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


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


def _brief(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
