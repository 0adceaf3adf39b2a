"""``rnncalc inspect`` reads metadata, not data: a 2 GB checkpoint against a 2 KB one.

Writes, in a temporary folder, the same network (an embedding, a 2-layer LSTM, a tied
decoder) four times: as safetensors and as a ``torch.save`` zip, each once small and once
with an embedding that makes it 2 GiB (the safetensors file sparse: its header written and
the file extended; the zip's storage written out, as zip members must be).  Runs
``rnncalc inspect FILE -q`` on each ``--rounds`` times, interleaved, and prints the medians
and the ratio of each format's large file to its small one.  Target: at most 1.10 (the
same time, within the machine's noise).

Run from a regular install: ``python tests/benchmarks/inspect_large.py``.
"""

from __future__ import annotations

import argparse
import json
import struct
import tempfile
import zipfile
from pathlib import Path

from timing import installed_script, interleaved_medians

TARGET = 1.10


def language_model(vocab: int, width: int) -> list[tuple[str, tuple[int, ...]]]:
    """The tensors of the benchmark's model, its decoder's weight saved as the embedding's."""
    tensors: list[tuple[str, tuple[int, ...]]] = [("embedding.weight", (vocab, width))]
    for k in range(2):
        tensors += [
            (f"lstm.weight_ih_l{k}", (4 * width, width)),
            (f"lstm.weight_hh_l{k}", (4 * width, width)),
            (f"lstm.bias_ih_l{k}", (4 * width,)),
            (f"lstm.bias_hh_l{k}", (4 * width,)),
        ]
    return [*tensors, ("linear.bias", (vocab,))]


def write_safetensors(path: Path, vocab: int, width: int) -> int:
    """A language model's header with zero data, extended to its declared size; its bytes."""
    header, offset = {}, 0
    for name, shape in language_model(vocab, width):
        size = 4
        for dim in shape:
            size *= dim
        header[name] = {
            "dtype": "F32",
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = json.dumps(header).encode()
    with path.open("wb") as stream:
        stream.write(struct.pack("<Q", len(raw)) + raw)
        stream.truncate(8 + len(raw) + offset)
    return 8 + len(raw) + offset


def write_torch(path: Path, vocab: int, width: int) -> int:
    """The same model as ``torch.save`` writes it (protocol 2, one storage per tensor, a
    zip of stored members), its data zeros; its bytes.
    """

    def glob(module: str, name: str) -> bytes:
        return f"c{module}\n{name}\n".encode()

    def text(value: str) -> bytes:
        return b"X" + struct.pack("<I", len(value)) + value.encode()

    def ints(*values: int) -> bytes:
        return b"".join(b"J" + struct.pack("<i", v) for v in values)

    entries, sizes = b"", {}
    for key, (name, shape) in enumerate(language_model(vocab, width)):
        numel = 1
        for dim in shape:
            numel *= dim
        sizes[str(key)] = 4 * numel
        stride = (shape[1], 1) if len(shape) == 2 else (1,)
        storage = b"((" + text("storage") + glob("torch", "FloatStorage") + text(str(key))
        storage += text("cpu") + ints(numel) + b"tQ"
        entries += text(name) + glob("torch._utils", "_rebuild_tensor_v2") + storage + ints(0)
        entries += b"(" + ints(*shape) + b"t(" + ints(*stride) + b"t\x89"
        entries += glob("collections", "OrderedDict") + b")RtR"
    pickled = b"\x80\x02" + glob("collections", "OrderedDict") + b")R(" + entries + b"u."
    chunk = bytes(1 << 24)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        out.writestr("archive/data.pkl", pickled)
        out.writestr("archive/byteorder", b"little")
        for storage_key, size in sizes.items():
            with out.open(f"archive/data/{storage_key}", "w", force_zip64=True) as member:
                for start in range(0, size, len(chunk)):
                    member.write(chunk[: min(len(chunk), size - start)])
        out.writestr("archive/version", b"3\n")
    return path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    script = installed_script()
    with tempfile.TemporaryDirectory() as folder:
        files, sizes = {}, {}
        for kind, write in (("safetensors", write_safetensors), ("pt", write_torch)):
            for label, vocab in (("2 KB", 11), ("2 GB", 1_000_000)):
                path = Path(folder) / f"{label.replace(' ', '')}.{kind}"
                sizes[f"{label} {kind}"] = write(path, vocab, 512 if vocab > 11 else 6)
                files[f"{label} {kind}"] = path
        commands = {name: [script, "inspect", str(path), "-q"] for name, path in files.items()}
        median = interleaved_medians(commands, args.rounds)
    for name, seconds in median.items():
        print(f"{name:16} {sizes[name]:>13,} bytes, median {seconds * 1000:6.1f} ms")
    ok = True
    for kind in ("safetensors", "pt"):
        ratio = median[f"2 GB {kind}"] / median[f"2 KB {kind}"]
        ok &= ratio <= TARGET
        verdict = "ok" if ratio <= TARGET else f"over target {TARGET}"
        print(f"ratio 2 GB / 2 KB ({kind}): {ratio:.3f} ({verdict})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
