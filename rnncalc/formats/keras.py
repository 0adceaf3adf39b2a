"""Keras files, read with h5py from their metadata: Keras itself is never imported.

Three layouts (learned from keras 3.15: ``keras/src/saving/saving_lib.py`` and
``keras/src/legacy/saving/legacy_h5_format.py``):

* a ``.keras`` archive is a zip of ``config.json`` (the model's layers, JSON),
  ``metadata.json`` and ``model.weights.h5``;
* that HDF5 file, or a ``.weights.h5`` file saved alone, keeps each layer of a Sequential or
  functional model under ``layers/<class in snake case, numbered: lstm, lstm_1>``, its
  variables as ``vars/0``, ``vars/1``, ...; a recurrent layer's under ``cell/vars``, a
  Bidirectional's under ``forward_layer/`` and ``backward_layer/``, a TimeDistributed's
  under ``layer/``; an optimizer's state under ``optimizer/vars``;
* Keras 2 ``.h5`` model files (``model.save("m.h5")``) keep ``model_weights/<layer name>/
  .../<kernel, recurrent_kernel, bias, embeddings>[:0]``, the layers' order in the
  ``layer_names`` and ``weight_names`` attributes and the config in ``model_config``.

A listing reads names, shapes, data types and places only, never tensor data.  The
archive's HDF5 member is not extracted when it is stored uncompressed, as Keras writes it:
h5py reads it in place through a window on the archive (so a dataset's offset is its
place in the ``.keras`` file, and a 2 GB archive lists as fast as a 2 KB one).  A member
someone compressed is extracted alone to a temporary file, after its declared size was
checked against :data:`MAX_EXTRACTED_BYTES` and against :data:`MAX_RATIO` times what the
archive stores (zipfile then reads no more than the declared size); a zip member stream
cannot seek, which h5py needs, and memory is for tensors only.  Configs are JSON data:
the class names they give (a Lambda's code, a custom layer) are read as strings, nothing
in them is run or unpickled.  Every failure is one :class:`~.tensors.FormatError` line
that starts with the path.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..files import cannot, open_regular
from .isolate import isolated
from .tensors import DTYPE_BITS, FormatError, Listing, Stored

if TYPE_CHECKING:
    import h5py
    import numpy as np

#: The members of a ``.keras`` archive rnncalc reads.
WEIGHTS_MEMBER = "model.weights.h5"
CONFIG_MEMBER = "config.json"
METADATA_MEMBER = "metadata.json"
#: The largest config.json or metadata.json read (a model's config is some KB).
MAX_CONFIG_BYTES = 64 << 20
#: The largest compressed weights member extracted to a temporary file.
MAX_EXTRACTED_BYTES = 8 << 30
#: A compressed member that declares more than this many times what the archive stores
#: (and over a MiB) is refused as a decompression bomb; Keras refuses beyond 100 too.
MAX_RATIO = 100
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: What h5py raises for a damaged file: HDF5's errors as OSError, RuntimeError (a damaged
#: link table), KeyError and ValueError; TypeError for a type NumPy has no equivalent of.
_HDF5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError)
_ZIP_LOCAL_HEADER = 30


def read_keras(path: str) -> Listing:
    """Every dataset of a Keras file as a :class:`Stored` named by its HDF5 path, from the
    metadata alone; format ``keras`` (a ``.keras`` archive or a Keras 3 ``.weights.h5``) or
    ``keras-h5`` (the Keras 2 layout).  Read in a child process (:mod:`.isolate`), as every
    call into the HDF5 library here is.
    """
    return isolated(path, "HDF5", _read_keras, path)


def _read_keras(path: str) -> Listing:
    with _open(path) as (h5, base, metadata):
        kind = "keras-h5" if _legacy(h5) else "keras"
        tensors = _walk(path, h5, base)
        order = _layer_order(h5, kind, _config_of(path, h5))
        for key in ("keras_version", "backend"):
            value = _attribute(h5, key)
            if value:
                metadata.setdefault(key, value)
    tensors.sort(key=lambda t: _sort_key(t.name, order))
    return Listing(path, kind, tuple(tensors), metadata)


def read_keras_config(path: str) -> dict[str, Any] | None:
    """The model config a Keras file holds (``config.json`` of an archive, ``model_config``
    of a Keras 2 ``.h5``), as JSON data; None for weights saved alone.
    """
    return isolated(path, "HDF5", _read_keras_config, path)


def _read_keras_config(path: str) -> dict[str, Any] | None:
    with _open(path) as (h5, _, _metadata):
        return _config_of(path, h5)


def read_keras_array(path: str, name: str, max_bytes: int) -> np.ndarray:
    """The dataset ``name`` of a Keras file, read after its size was checked against
    ``max_bytes`` and its data found inside the file.
    """
    return isolated(path, "HDF5", _read_keras_array, path, name, max_bytes)


def read_keras_arrays(path: str, names: Iterable[str], max_bytes: int) -> dict[str, np.ndarray]:
    """The datasets ``names`` of a Keras file, each within what the ones before left of
    ``max_bytes``: one child process for them all.
    """
    return isolated(path, "HDF5", _read_keras_arrays, path, list(names), max_bytes)


def _read_keras_arrays(path: str, names: list[str], max_bytes: int) -> dict[str, np.ndarray]:
    arrays, left = {}, max_bytes
    for name in names:
        arrays[name] = _read_keras_array(path, name, left)
        left -= arrays[name].nbytes
    return arrays


def _read_keras_array(path: str, name: str, max_bytes: int) -> np.ndarray:
    import numpy as np

    with _open(path) as (h5, _, _metadata):
        dataset = h5.get(name)
        if not _is_dataset(dataset):
            raise FormatError(f"{path}: no dataset {name!r}")
        stored = _stored(path, name, dataset, -1, _size(h5))
        if stored.nbytes > max_bytes:
            raise FormatError(
                f"{path}: {name} needs {stored.nbytes:,} bytes, more than the {max_bytes:,} allowed"
            )
        array = np.asarray(dataset[()])
    if stored.dtype == "bfloat16":  # NumPy has no bfloat16: the upper half of a float32
        widened = array.view(np.uint16).astype(np.uint32) << 16
        return widened.view(np.float32).reshape(stored.shape)
    return array


@contextlib.contextmanager
def _open(path: str) -> Iterator[tuple[h5py.File, int, dict[str, str]]]:
    """The HDF5 file at ``path`` or in the archive at ``path``; where its bytes start in
    ``path`` (-1 when extracted); the archive's metadata.
    """
    import h5py

    with open_regular(path, FormatError) as stream, contextlib.ExitStack() as stack:
        try:
            head = stream.read(8)
        except OSError as error:
            raise FormatError(cannot(path, "read", error)) from None
        metadata: dict[str, str] = {}
        base = 0
        source: io.IOBase | str = stream
        if head.startswith(b"PK"):
            archive = _zip(path, stream)
            stack.enter_context(archive)
            metadata = _archive_metadata(path, archive)
            source, base = _member(path, stream, archive, stack)
        elif head != _HDF5_SIGNATURE:
            raise FormatError(f"{path}: not a Keras file (neither a .keras archive nor HDF5)")
        try:
            h5 = stack.enter_context(h5py.File(source, "r"))
            yield h5, base, metadata
        except FormatError:
            raise
        except _HDF5_ERRORS as error:
            raise FormatError(f"{path}: a damaged HDF5 file: {_brief(error)}") from None


def _zip(path: str, stream: io.BufferedReader) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as error:
        raise FormatError(f"{path}: a damaged zip archive: {_brief(error)}") from None


def _archive_metadata(path: str, archive: zipfile.ZipFile) -> dict[str, str]:
    """``metadata.json``'s strings (keras_version, date_saved)."""
    if METADATA_MEMBER not in archive.namelist():
        return {}
    data = _json_member(path, archive, METADATA_MEMBER)
    if not isinstance(data, dict):
        raise FormatError(f"{path}: {METADATA_MEMBER} is not a JSON object")
    return {str(k): v for k, v in data.items() if isinstance(v, str)}


def _json_member(path: str, archive: zipfile.ZipFile, name: str) -> Any:
    info = archive.getinfo(name)
    _check_member(path, info, MAX_CONFIG_BYTES)
    try:
        return json.loads(archive.read(info).decode("utf-8"))
    except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError) as error:
        raise FormatError(f"{path}: {name} is damaged: {_brief(error)}") from None
    except ValueError as error:
        raise FormatError(f"{path}: {name} is no JSON: {_brief(error)}") from None


def _check_member(path: str, info: zipfile.ZipInfo, limit: int) -> None:
    """Refuse, before reading it, an encrypted member, one larger than ``limit``, or one
    that declares far more than the archive stores (a decompression bomb).
    """
    if info.flag_bits & 1:
        raise FormatError(f"{path}: {info.filename} is encrypted")
    if info.file_size > limit:
        raise FormatError(
            f"{path}: {info.filename} declares {info.file_size:,} bytes, more than the "
            f"{limit:,} rnncalc reads"
        )
    if info.file_size > max(MAX_RATIO * info.compress_size, 1 << 20):
        raise FormatError(
            f"{path}: {info.filename} declares {info.file_size:,} bytes from "
            f"{info.compress_size:,} compressed: refused as a decompression bomb"
        )


def _member(
    path: str, stream: io.BufferedReader, archive: zipfile.ZipFile, stack: contextlib.ExitStack
) -> tuple[io.IOBase | str, int]:
    """The weights member as h5py can open it: a window on the archive when stored, else
    extracted alone to a temporary file; and its data's offset in the archive (or -1).
    """
    names = archive.namelist()
    if WEIGHTS_MEMBER not in names:
        other = " (its weights are .npz, which rnncalc does not read here)" if (
            "model.weights.npz" in names) else ""  # fmt: skip
        raise FormatError(f"{path}: a zip archive without {WEIGHTS_MEMBER}{other}")
    info = archive.getinfo(WEIGHTS_MEMBER)
    if info.compress_type == zipfile.ZIP_STORED:
        if info.flag_bits & 1:
            raise FormatError(f"{path}: {WEIGHTS_MEMBER} is encrypted")
        start = _data_start(path, stream, info)
        size = os.fstat(stream.fileno()).st_size
        if info.compress_size != info.file_size or start + info.file_size > size:
            raise FormatError(
                f"{path}: truncated: {WEIGHTS_MEMBER} declares {info.file_size:,} bytes "
                f"from byte {start:,}, the archive holds {size:,}"
            )
        return _Window(stream, start, info.file_size), start
    _check_member(path, info, MAX_EXTRACTED_BYTES)
    import shutil
    import tempfile

    folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="rnncalc-keras-"))
    target = os.path.join(folder, "weights.h5")
    try:
        with archive.open(info) as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)  # zipfile stops at the declared size
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise FormatError(f"{path}: {WEIGHTS_MEMBER} is damaged: {_brief(error)}") from None
    return target, -1


def _data_start(path: str, stream: io.BufferedReader, info: zipfile.ZipInfo) -> int:
    """Where a member's data begins: after its local header, whose name and extra field
    lengths may differ from the central directory's.
    """
    try:
        stream.seek(info.header_offset)
        header = stream.read(_ZIP_LOCAL_HEADER)
    except OSError as error:
        raise FormatError(cannot(path, "read", error)) from None
    if len(header) < _ZIP_LOCAL_HEADER or not header.startswith(b"PK\x03\x04"):
        raise FormatError(f"{path}: a damaged zip archive: no local header for {info.filename}")
    name_length = int.from_bytes(header[26:28], "little")
    extra_length = int.from_bytes(header[28:30], "little")
    return info.header_offset + _ZIP_LOCAL_HEADER + name_length + extra_length


class _Window(io.RawIOBase):
    """``size`` bytes of ``stream`` from ``start``, as a seekable read-only file."""

    def __init__(self, stream: io.BufferedReader, start: int, size: int) -> None:
        super().__init__()
        self.stream, self.start, self.size, self.position = stream, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        origin = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, origin + offset)
        return self.position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = max(0, min(len(view), self.size - self.position))
        self.stream.seek(self.start + self.position)
        got = self.stream.readinto(view[:wanted])
        self.position += got
        return got


def _legacy(h5: h5py.File) -> bool:
    """Whether the file has the Keras 2 layout (``model_weights`` or ``layer_names``)."""
    return "model_weights" in h5 or "layer_names" in h5.attrs


def _walk(path: str, h5: h5py.File, base: int) -> list[Stored]:
    """Every dataset reachable by hard links, from its metadata."""
    size = _size(h5)
    found: list[Stored] = []

    def visit(name: str | bytes, item: Any) -> None:
        if isinstance(name, bytes):  # h5py's way of giving a name that is not UTF-8
            raise FormatError(f"{path}: an HDF5 name that is not UTF-8: {_brief(name)}")
        if _is_dataset(item):
            found.append(_stored(path, name, item, base, size))

    h5.visititems(visit)
    return found


def _is_dataset(item: Any) -> bool:
    import h5py

    return isinstance(item, h5py.Dataset)


def _size(h5: h5py.File) -> int:
    """Bytes of the HDF5 file (of the archive member, when in one)."""
    return int(h5.id.get_filesize())


def _stored(path: str, name: str, dataset: Any, base: int, size: int) -> Stored:
    """A dataset's declaration, checked: a numeric type, data in this file, inside it."""
    where = f"{path}: dataset {_brief(name)!r}"
    if dataset.is_virtual or dataset.external:
        raise FormatError(f"{where} keeps its data in other files")
    dtype = dataset.dtype
    if dtype.kind not in "biufc" or dtype.fields is not None:
        raise FormatError(f"{where} holds {dtype}, which is no weight")
    ours = dtype.name
    if dtype.itemsize == 2 and "dtype" in dataset.attrs and dataset.attrs["dtype"] == "bfloat16":
        ours = "bfloat16"  # how Keras saves bfloat16 variables (saving_lib.H5IOStore)
    if ours not in DTYPE_BITS:
        raise FormatError(f"{where} holds {dtype}, which is no weight")
    shape = tuple(int(d) for d in dataset.shape or ())
    stored = Stored(name, ours, shape, -1)
    offset = dataset.id.get_offset()
    if offset is None:
        return stored
    if offset + stored.nbytes > size:
        raise FormatError(
            f"{path}: truncated: {name} declares {stored.nbytes:,} bytes from byte "
            f"{offset:,}, the HDF5 file holds {size:,}"
        )
    return Stored(name, ours, shape, offset + base if base >= 0 else -1)


def _attribute(h5: h5py.File, key: str) -> str:
    value = h5.attrs.get(key) if key in h5.attrs else None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def _config_of(path: str, h5: h5py.File) -> dict[str, Any] | None:
    """The model config: the archive's (read again here: a small member) or the Keras 2
    ``model_config`` attribute.
    """
    if _is_archive(path):
        with open_regular(path, FormatError) as stream, _zip(path, stream) as archive:
            if CONFIG_MEMBER not in archive.namelist():
                raise FormatError(f"{path}: a .keras archive without {CONFIG_MEMBER}")
            config = _json_member(path, archive, CONFIG_MEMBER)
    else:
        text = _attribute(h5, "model_config")
        if not text:
            return None
        try:
            config = json.loads(text)
        except ValueError as error:
            raise FormatError(f"{path}: model_config is no JSON: {_brief(error)}") from None
    if not isinstance(config, dict):
        raise FormatError(f"{path}: the model config is not a JSON object")
    return config


def _is_archive(path: str) -> bool:
    """Whether the file at ``path`` starts as a zip archive does."""
    with open_regular(path, FormatError) as stream:
        try:
            return stream.read(2) == b"PK"
        except OSError as error:
            raise FormatError(cannot(path, "read", error)) from None


def _layer_order(h5: h5py.File, kind: str, config: dict[str, Any] | None) -> dict[str, int]:
    """The place in the model of each layer group and (Keras 2) each weight, where the
    file says it: the config's layer list, or a Keras 2 file's ``layer_names`` and each
    layer's ``weight_names``.
    """
    if kind == "keras":
        groups = keras3_groups(config) if config else []
        return {f"layers/{name}": k for k, (name, _) in enumerate(groups)}
    group = h5.get("model_weights", h5)
    prefix = "model_weights/" if "model_weights" in h5 else ""
    order: dict[str, int] = {}
    for k, layer in enumerate(_texts(group.attrs.get("layer_names"))):
        order[prefix + layer] = k
        item = group.get(layer)
        weights = item.attrs.get("weight_names") if item is not None else None
        for j, weight in enumerate(_texts(weights)):
            order[f"{prefix}{layer}/{weight}"] = j
    return order


def _texts(values: Any) -> list[str]:
    """An HDF5 attribute's array of names as strings (none when it is no array)."""
    if values is None or not hasattr(values, "__iter__") or isinstance(values, (str, bytes)):
        return []
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]


def keras3_groups(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The config's layers with the HDF5 group Keras 3 saves each in: the class in snake
    case, numbered among layers of that class (saving_lib._save_container_state).
    """
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else None
    used: dict[str, int] = {}
    groups = []
    for layer in layers if isinstance(layers, list) else []:
        if not isinstance(layer, dict):
            continue
        base = snake_case(str(layer.get("class_name", "")))
        count = used.get(base, -1) + 1
        used[base] = count
        groups.append((base if count == 0 else f"{base}_{count}", layer))
    return groups


def snake_case(name: str) -> str:
    """A class name as Keras writes it in paths: ``SimpleRNN`` -> ``simple_rnn``
    (keras/src/utils/naming.py).
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _sort_key(name: str, order: dict[str, int]) -> tuple[int, int, list[tuple[int, str]]]:
    """Layers (and a Keras 2 layer's weights) in the model's order where the file says it,
    then names with numbers compared as numbers (HDF5 keeps names sorted as text:
    vars/10 before vars/2).
    """
    parts = name.split("/")
    group = next((g for g in ("/".join(parts[:2]), parts[0]) if g in order), "")
    place = order.get(group, len(order))
    weight = order.get(name, len(order)) if group else len(order)
    natural = [(int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"(\d+)", name)]
    return place, weight, natural


def _brief(error: object, limit: int = 120) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
