from __future__ import annotations

import pytest

from rnncalc import ModelSpec, SpecError


def test_defaults_are_the_seed_example() -> None:
    spec = ModelSpec()
    assert (spec.timesteps, spec.input_size, spec.hidden_size, spec.output_size) == (3, 4, 3, 1)
    assert spec.notation == "separate"
    assert spec.has_output_layer


def test_output_size_zero_means_no_output_layer() -> None:
    assert not ModelSpec(output_size=0).has_output_layer


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timesteps", 0, "at least 1"),
        ("input_size", -4, "at least 1"),
        ("hidden_size", 0, "at least 1"),
        ("output_size", -1, "at least 0"),
        ("hidden_size", 3.0, "integer"),
        ("timesteps", True, "integer"),
        ("input_size", "4", "integer"),
    ],
)
def test_invalid_sizes_name_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        ModelSpec(**{field: value})  # type: ignore[arg-type]
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


def test_unknown_notation_is_rejected() -> None:
    with pytest.raises(SpecError, match="separate, concat") as info:
        ModelSpec(notation="stacked")  # type: ignore[arg-type]
    assert info.value.field == "notation"


def test_spec_is_frozen() -> None:
    spec = ModelSpec()
    with pytest.raises(AttributeError):
        spec.timesteps = 5


def test_public_names_load_lazily_and_completely() -> None:
    import subprocess
    import sys

    code = (
        "import sys, rnncalc\n"
        "assert 'rnncalc.analysis.counts' not in sys.modules\n"
        "assert all(getattr(rnncalc, n) is not None for n in rnncalc.__all__)\n"
        "assert sorted(rnncalc.__all__) == sorted([*rnncalc._EXPORTS, '__version__'])\n"
        "assert not any(m.split('.')[0] in ('numpy', 'rich') for m in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_name_is_an_attribute_error() -> None:
    import rnncalc

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = rnncalc.nothing
