"""Sizes for people: parse ``512MiB`` or ``1GB`` and counts like ``1.5M``; print ``1.5 GiB``.

Standard library only.
"""

from __future__ import annotations

import re

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "pb": 1000**5,
    "eb": 1000**6,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
    "pib": 1024**5,
    "eib": 1024**6,
}

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


#: Suffixes of counts (``--budget 1.5M``): powers of 1000.
_COUNT_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}


def parse_bytes(text: str) -> int:
    """``"512MiB"`` -> 536870912.  Units: B, kB/MB/GB/TB/PB/EB (powers of 1000; k, M, G, T
    alone too), KiB ... EiB (powers of 1024), case-insensitive; a bare number is bytes.
    Raises ValueError.
    """
    value = _scaled(text, _UNITS, "a size such as 512MiB, 1GiB or 2GB")
    if value <= 0:
        raise ValueError(f"{text!r} must be more than 0 bytes")
    return value


def parse_count(text: str) -> int:
    """``"1.5M"`` -> 1500000: a number with an optional k, M, G or T (powers of 1000)."""
    value = _scaled(text, _COUNT_UNITS, "a count such as 50000, 500k, 1.5M or 2G")
    if value < 1:
        raise ValueError(f"{text!r} must be at least 1")
    return value


def _scaled(text: str, units: dict[str, int], example: str) -> int:
    """A decimal number times its unit, exactly (1.5GB is 1,500,000,000, not a float)."""
    match = _SIZE.fullmatch(text)
    if match is None or match[2].lower() not in units:
        raise ValueError(f"{text!r} is not {example}")
    number: str = match[1]
    whole, _, fraction = number.partition(".")
    value: int = int(whole + fraction) * units[match[2].lower()] // 10 ** len(fraction)
    return value


def format_bytes(count: int) -> str:
    """1536 -> ``"1.50 KiB"``; exact below 1 KiB (``"28 B"``)."""
    if count < 1024:
        return f"{count} B"
    value = float(count)
    for unit in _BINARY[1:]:
        value /= 1024
        if value < 1024 or unit == _BINARY[-1]:
            break
    return f"{value:.2f} {unit}"
