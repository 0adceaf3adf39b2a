"""Indented JSON, written without importing :mod:`json`.

``import json`` compiles the decoder's regular expressions, a few milliseconds of every
``--format json`` start-up for a module that only ever writes.  This writer gives what
``json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)`` gives, except that a
list of non-negative integers (a shape) stays on one line; strings are escaped by the
standard library's own C function.  A test compares the two on generated documents.
"""

from __future__ import annotations

import math
from typing import Any

try:
    from _json import encode_basestring as _quote
except ImportError:  # an interpreter without the C accelerator
    from json.encoder import py_encode_basestring as _quote

INDENT = "  "


def to_json(data: Any) -> str:
    """``data`` (dicts with string keys, lists, tuples, strings, ints, floats, bools, None)
    as indented JSON with a final newline.  Raises ValueError for NaN or infinity and
    TypeError for anything else, as ``json.dumps`` does.
    """
    out: list[str] = []
    _write(data, "\n", out)
    out.append("\n")
    return "".join(out)


def _write(value: Any, newline: str, out: list[str]) -> None:
    """Append ``value``; ``newline`` is a line break followed by the current indent."""
    if isinstance(value, str):
        out.append(_quote(value))
    elif value is None or isinstance(value, bool):
        out.append({None: "null", True: "true", False: "false"}[value])
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
        out.append(float.__repr__(value))
    elif isinstance(value, dict):
        _write_dict(value, newline, out)
    elif isinstance(value, list | tuple):
        _write_list(value, newline, out)
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _write_dict(value: dict[Any, Any], newline: str, out: list[str]) -> None:
    if not value:
        out.append("{}")
        return
    inner = newline + INDENT
    out.append("{")
    for k, (key, item) in enumerate(value.items()):
        if not isinstance(key, str):
            raise TypeError(f"keys must be str, not {type(key).__name__}")
        out.append(("," if k else "") + inner + _quote(key) + ": ")
        _write(item, inner, out)
    out.append(newline + "}")


def _write_list(value: list[Any] | tuple[Any, ...], newline: str, out: list[str]) -> None:
    if not value:
        out.append("[]")
    elif all(type(item) is int and item >= 0 for item in value):
        out.append("[" + ", ".join(map(int.__repr__, value)) + "]")
    else:
        inner = newline + INDENT
        out.append("[")
        for k, item in enumerate(value):
            out.append(("," if k else "") + inner)
            _write(item, inner, out)
        out.append(newline + "]")
