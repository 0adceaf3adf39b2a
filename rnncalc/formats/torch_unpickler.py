"""The restricted unpickler of a ``torch.save`` file's ``data.pkl``, for
:mod:`rnncalc.formats.torchfile`: the globals a file may name, each one of rnncalc's own
stand-ins that records what the file declares; nothing from the file is imported or called.
The opcodes are checked before this unpickler runs (:mod:`.torch_opcode_check`).
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .tensors import DTYPE_BITS

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
_KEY = re.compile(r"[A-Za-z0-9_]{1,64}")


class _Refused(pickle.UnpicklingError):
    """What the file asked for and rnncalc will not do; the message lacks only the path."""


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
