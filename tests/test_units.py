from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnncalc.units import format_bytes, parse_bytes


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("1", 1),
        ("100B", 100),
        ("1kB", 1000),
        ("1KiB", 1024),
        ("512MiB", 512 * 1024**2),
        ("1GiB", 1024**3),
        ("1.5GB", 1_500_000_000),
        ("0.5KiB", 512),
        ("2 tib", 2 * 1024**4),
        ("3M", 3_000_000),
    ],
)
def test_parse_bytes(text: str, count: int) -> None:
    assert parse_bytes(text) == count


@pytest.mark.parametrize("text", ["", "abc", "1XB", "-5", "1e9", "0", "0.0001B"])
def test_parse_bytes_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a size|at least 1"):
        parse_bytes(text)


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (28, "28 B"),
        (1023, "1023 B"),
        (1024, "1.00 KiB"),
        (1536, "1.50 KiB"),
        (1024**3, "1.00 GiB"),
        (5 * 1024**6, "5.00 EiB"),
    ],
)
def test_format_bytes(count: int, text: str) -> None:
    assert format_bytes(count) == text


@given(st.integers(min_value=1, max_value=2**70))
def test_formatted_sizes_parse_back_within_rounding(count: int) -> None:
    text = format_bytes(count).replace(" ", "")
    # Two decimals of a unit no larger than the count, then floored to whole bytes.
    assert abs(parse_bytes(text) - count) <= count / 200 + 1
