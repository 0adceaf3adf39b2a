from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rnncalc import ModelSpec, dense_weights, rnn_weights

sizes = st.integers(min_value=1, max_value=10**6)


def shapes(weights: tuple) -> dict[str, tuple[int, ...]]:  # type: ignore[type-arg]
    return {w.name: w.shape for w in weights}


def test_seed_rnn_shapes() -> None:
    # The seed: W_x is 4x3, W_h is 3x3, W_y is 3x1, one bias for hidden and one for output.
    assert shapes(rnn_weights(ModelSpec())) == {
        "W_xh": (4, 3),
        "W_hh": (3, 3),
        "b_h": (3,),
        "W_yh": (3, 1),
        "b_y": (1,),
    }


def test_seed_dense_shapes() -> None:
    # The seed: input layer 12, hidden layer 9, output 1.
    assert shapes(dense_weights(ModelSpec())) == {
        "W_1": (12, 9),
        "b_1": (9,),
        "W_2": (9, 1),
        "b_2": (1,),
    }


def test_concat_notation_stacks_w_hh_over_w_xh() -> None:
    assert shapes(rnn_weights(ModelSpec(notation="concat"))) == {
        "W_h": (7, 3),
        "b_h": (3,),
        "W_yh": (3, 1),
        "b_y": (1,),
    }


def test_output_size_zero_drops_both_output_layers() -> None:
    spec = ModelSpec(output_size=0)
    assert [w.name for w in rnn_weights(spec)] == ["W_xh", "W_hh", "b_h"]
    assert [w.name for w in dense_weights(spec)] == ["W_1", "b_1"]


@given(sizes, sizes, sizes, st.integers(min_value=0, max_value=10**6))
def test_symbols_name_every_dimension(t: int, i: int, h: int, o: int) -> None:
    spec = ModelSpec(t, i, h, o)
    letters = {"T": t, "I": i, "H": h, "O": o}
    for w in rnn_weights(spec) + dense_weights(spec):
        assert len(w.symbols) == len(w.shape)
        for symbol, size in zip(w.symbols, w.shape, strict=True):
            expression = symbol.replace("·", "*")
            assert eval(expression, {}, letters) == size  # letters and operators only


def test_counts_are_exact_python_ints() -> None:
    spec = ModelSpec(10**6, 10**6, 10**6, 1)
    (w1, *_) = dense_weights(spec)
    assert w1.count == 10**24
    assert type(w1.count) is int
