"""rnncalc's JSON writer against the standard library's, on generated documents."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnncalc.render.jsontext import to_json

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)
#: rnncalc writes objects: a report is a dict.
DOCUMENTS = st.dictionaries(st.text(), VALUES, max_size=5)


def standard(data: Any) -> str:
    """json.dumps's indented form, with each list of non-negative integers on one line."""
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
    one_line = re.compile(r"\[\n\s+(\d+(?:,\n\s+\d+)*)\n\s+\]")
    return one_line.sub(lambda m: "[" + re.sub(r",\n\s+", ", ", m[1]) + "]", text) + "\n"


@given(DOCUMENTS)
def test_the_same_text_as_json_dumps(data: Any) -> None:
    assert to_json(data) == standard(data)
    assert json.loads(to_json(data)) == data


def test_shapes_stay_on_one_line() -> None:
    assert to_json({"shape": [3, 4], "empty": [], "mixed": [1, -2]}) == (
        '{\n  "shape": [3, 4],\n  "empty": [],\n  "mixed": [\n    1,\n    -2\n  ]\n}\n'
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        to_json({"x": value})


@pytest.mark.parametrize("value", [{1: 2}, {"x": {1, 2}}, {"x": b"bytes"}])
def test_what_json_cannot_hold_is_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        to_json(value)
