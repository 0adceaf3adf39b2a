"""Numbers for people: parse ``64``, ``1_000``, ``1.5M`` or ``512MiB`` exactly; print
``1.50 GiB`` and big counts without floats.

Every number rnncalc reads goes through :func:`parse_count` or :func:`parse_bytes`, which
refuse text that is too long before converting it, so no input can reach Python's limit on
integer digits, and echo long input shortened.  Standard library only.
"""

from __future__ import annotations

import math
import re

#: The largest number rnncalc takes for a size, a count or a budget: 10^100, a googol.  Far
#: beyond any real model, and small enough that every count derived from such sizes prints
#: in a few hundred digits.
MAX_NUMBER = 10**100
MAX_NUMBER_TEXT = "10^100"

#: A number as typed: an optional sign, digits with optional single underscores between them
#: (``1_000``), an optional decimal fraction and an optional unit.
NUMBER = r"[-+]?[0-9](?:_?[0-9])*(?:\.[0-9](?:_?[0-9])*)?"
#: (A pattern, not compiled here: re compiles and caches it on first use, and a command
#: given only default sizes never needs it.)
_NUMBER = rf"\s*({NUMBER})\s*([a-zA-Z]*)\s*"

#: Suffixes of counts (``--budget 1.5M``, ``-H 1k``): powers of 1000, case-insensitive.
COUNT_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}

BYTE_UNITS = {
    **COUNT_UNITS,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "pb": 1000**5,
    "eb": 1000**6,
    "zb": 1000**7,
    "yb": 1000**8,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
    "pib": 1024**5,
    "eib": 1024**6,
    "zib": 1024**7,
    "yib": 1024**8,
}

_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
#: Longer input cannot be a number within MAX_NUMBER, whatever its underscores and unit.
_LONGEST = 2 * len(str(MAX_NUMBER)) + 8


def parse_count(text: str, minimum: int = 1, maximum: int = MAX_NUMBER) -> int:
    """``"1.5M"`` -> 1500000: a whole number with an optional k, M, G or T (powers of 1000).

    Raises ValueError for anything else, for fractions that do not come out whole
    (``1.2345k``) and for numbers outside ``minimum`` .. ``maximum``.
    """
    value = _scaled(text, COUNT_UNITS, "a whole number such as 64, 1_000, 500k or 1.5M", True)
    return check_range(text, value, minimum, maximum)


def parse_bytes(text: str, maximum: int = MAX_NUMBER) -> int:
    """``"512MiB"`` -> 536870912.  Units: B, kB/MB/GB/TB/PB/EB/ZB/YB (powers of 1000; k, M,
    G, T alone too), KiB ... YiB (powers of 1024), case-insensitive; a bare number is bytes, and
    a fraction of a byte is dropped (``1.01KiB`` is 1034 bytes).  Raises ValueError.
    """
    value = _scaled(text, BYTE_UNITS, "a size such as 512MiB, 1GiB or 2GB", False)
    return check_range(text, value, 1, maximum)


def check_range(text: str, value: int, minimum: int, maximum: int) -> int:
    """``value`` if within ``minimum`` .. ``maximum``; else a ValueError quoting ``text``."""
    if value < minimum:
        raise ValueError(f"must be at least {minimum}, got {quote(text)}")
    if value > maximum:
        limit = MAX_NUMBER_TEXT if maximum == MAX_NUMBER else f"{maximum:,}"
        raise ValueError(f"must be at most {limit}, got {quote(text)}")
    return value


def _scaled(text: str, units: dict[str, int], example: str, exact: bool) -> int:
    """A decimal number times its unit, exactly (1.5GB is 1,500,000,000, not a float);
    with ``exact``, a result with a fraction is refused, else the fraction is dropped.
    """
    if len(text) > _LONGEST:
        raise ValueError(f"{quote(text)} is too long for a number (at most {MAX_NUMBER_TEXT})")
    match = re.fullmatch(_NUMBER, text)
    if match is None or match[2].lower() not in units:
        raise ValueError(f"{quote(text)} is not {example}")
    whole, _, fraction = match[1].replace("_", "").partition(".")
    numerator = int(whole + fraction) * units[match[2].lower()]
    scale: int = 10 ** len(fraction)
    value, remainder = divmod(numerator, scale)
    if remainder and exact:
        raise ValueError(f"{quote(text)} is not a whole number")
    return value


def quote(text: str, longest: int = 40) -> str:
    """``text`` in quotes for a message, shortened when long: no message echoes a page."""
    if len(text) <= longest:
        return repr(text)
    return f"{text[: longest // 2]!r}...{text[-8:]!r} ({len(text):,} characters)"


def format_bytes(count: int) -> str:
    """1536 -> ``"1.50 KiB"``; exact below 1 KiB (``"28 B"``); beyond YiB in powers of ten.

    Integer arithmetic throughout (rounding half to even, as formatting a float does), so a
    byte count of any size prints.
    """
    if count < 1024:
        return f"{count} B"
    exponent = min(len(_BINARY) - 1, (count.bit_length() - 1) // 10)
    hundredths = _rounded(count * 100, 1024**exponent)
    if hundredths >= 102400 and exponent < len(_BINARY) - 1:  # 1023.999 KiB prints as MiB
        exponent += 1
        hundredths = _rounded(count * 100, 1024**exponent)
    if hundredths >= 100_000_000:  # beyond a million YiB: plain powers of ten
        return f"{scientific(count)} B"
    return f"{hundredths // 100}.{hundredths % 100:02d} {_BINARY[exponent]}"


def _rounded(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, ties to even."""
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
        quotient += 1
    return quotient


def scientific(value: int, digits: int = 3) -> str:
    """A positive integer in scientific notation with ``digits`` significant digits,
    computed without floats: ``scientific(12345 * 10**400)`` is ``"1.23e+404"``.
    """
    exponent = int(math.log10(value))
    # log10 of a huge int is a float: correct an exponent off by one either way.
    if 10**exponent > value:
        exponent -= 1
    elif 10 ** (exponent + 1) <= value:
        exponent += 1
    shift = exponent - (digits - 1)
    mantissa = value // 10**shift if shift >= 0 else value * 10**-shift
    if shift > 0 and (value % 10**shift) * 2 >= 10**shift:
        mantissa += 1
    if mantissa >= 10**digits:
        mantissa, exponent = mantissa // 10, exponent + 1
    text = str(mantissa)
    return f"{text[0]}.{text[1:]}e+{exponent:02d}" if digits > 1 else f"{text}e+{exponent:02d}"


def format_duration(seconds: float) -> str:
    """``0.000178`` -> ``"0.178 ms"``, ``20.07`` -> ``"20.07 s"``, ``125`` -> ``"2 min 5 s"``."""
    if seconds < 1:
        return f"{seconds * 1000:.3f} ms"
    if round(seconds, 2) < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"
