from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from networks import networks

from rnncalc import ModelSpec, count_params, explain
from rnncalc.analysis.formulas import formula
from rnncalc.model.network import Network
from rnncalc.model.shapes import Weight

sizes = st.integers(min_value=1, max_value=10**9)
outputs = st.integers(min_value=0, max_value=10**9)
notations = st.sampled_from(["separate", "concat"])


def evaluate(expression: str, letters: dict[str, int] | None = None) -> int:
    """Evaluate a formula as printed: × and · are products, letters are sizes."""
    python = expression.replace("×", "*").replace("·", "*")
    assert re.fullmatch(r"[0-9A-Za-z()+* ]+", python), python
    return int(eval(python, {"__builtins__": {}}, letters or {}))


def test_seed_totals() -> None:
    report = count_params(ModelSpec())
    assert report.rnn.total == 28
    assert report.dense.total == 127
    assert report.ratio == 127 / 28


def test_seed_breakdowns_are_written_as_the_seed_writes_them() -> None:
    explanation = explain(count_params(ModelSpec()))
    assert explanation.rnn.numeric == "((4×3) + (3×3 + 3)) + (3×1 + 1)"
    assert explanation.rnn.total == 28
    assert explanation.dense.numeric == "(12×9 + 9) + (9×1 + 1)"
    assert explanation.dense.total == 127
    assert explanation.rnn.symbolic == "((I×H) + (H×H + H)) + (H×O + O)"
    assert explanation.dense.symbolic == "(T·I×T·H + T·H) + (T·H×O + O)"


def test_concat_formula() -> None:
    explanation = explain(count_params(ModelSpec(notation="concat")))
    assert explanation.rnn.symbolic == "((H+I)×H + H) + (H×O + O)"
    assert explanation.rnn.numeric == "(7×3 + 3) + (3×1 + 1)"


def test_scaling_sentence_names_the_t_squared_term() -> None:
    explanation = explain(count_params(ModelSpec()))
    assert "T²·I·H = 108" in explanation.scaling  # 3·3·4·3
    assert "T = 3" in explanation.scaling


def test_subtotals() -> None:
    report = count_params(ModelSpec())
    assert report.rnn.subtotals == {"recurrent": 24, "output": 4}
    assert report.dense.subtotals == {"hidden": 117, "output": 10}


def test_no_output_layer_is_the_bare_recurrent_layer() -> None:
    report = count_params(ModelSpec(output_size=0))
    assert report.rnn.total == 4 * 3 + 3 * 3 + 3
    assert report.dense.total == 12 * 9 + 9
    assert report.rnn.subtotals == {"recurrent": 24}


def test_huge_sizes_are_exact() -> None:
    report = count_params(ModelSpec(10**6, 10**6, 10**6, 1))
    # Dense: (T·I)(T·H) + T·H + T·H·O + O with T = I = H = 10**6, O = 1.
    assert report.dense.total == 10**24 + 2 * 10**12 + 1
    assert len(str(report.dense.total)) == 25
    assert report.rnn.total == 2 * 10**12 + 2 * 10**6 + 1


@given(sizes, sizes, sizes, outputs, notations)
def test_total_is_the_sum_of_the_listed_tensors(
    t: int, i: int, h: int, o: int, notation: str
) -> None:
    # The total folds the terms (a stack of at most two layers); the listing and the
    # subtotals walk every tensor: two computations that must agree.
    report = count_params(ModelSpec(t, i, h, o, notation))  # type: ignore[arg-type]
    for model in (report.rnn, report.dense):
        assert model.total == sum(w.count for w in model.weights)
        assert model.total == sum(model.subtotals.values())


@given(sizes, sizes, sizes, outputs)
def test_rnn_total_does_not_depend_on_timesteps(t: int, i: int, h: int, o: int) -> None:
    assert (
        count_params(ModelSpec(t, i, h, o)).rnn.total
        == count_params(ModelSpec(1, i, h, o)).rnn.total
    )


@given(
    st.integers(min_value=1, max_value=10**6),
    sizes,
    sizes,
    outputs,
)
def test_dense_total_grows_with_t_squared(t: int, i: int, h: int, o: int) -> None:
    # A quadratic in T has a constant second difference: 2 * (coefficient of T²) = 2·I·H.
    d0, d1, d2 = (count_params(ModelSpec(t + k, i, h, o)).dense.total for k in range(3))
    assert d2 - 2 * d1 + d0 == 2 * i * h


@given(sizes, sizes, sizes, outputs)
def test_concat_and_separate_totals_agree(t: int, i: int, h: int, o: int) -> None:
    separate = count_params(ModelSpec(t, i, h, o, "separate"))
    concat = count_params(ModelSpec(t, i, h, o, "concat"))
    assert separate.rnn.total == concat.rnn.total
    assert separate.dense.weights == concat.dense.weights


@given(sizes, sizes, sizes, outputs, notations)
def test_explained_formulas_evaluate_to_the_totals(
    t: int, i: int, h: int, o: int, notation: str
) -> None:
    report = count_params(ModelSpec(t, i, h, o, notation))  # type: ignore[arg-type]
    letters = {"T": t, "I": i, "H": h, "O": o}
    for model in (report.rnn, report.dense):
        f = formula(model.weights)
        assert evaluate(f.numeric) == model.total == f.total
        assert evaluate(f.symbolic, letters) == model.total


@given(
    cell=st.sampled_from(["rnn", "lstm", "gru"]),
    convention=st.sampled_from(["seed", "pytorch", "keras"]),
    layers=st.integers(1, 3),
    bidirectional=st.booleans(),
    bias=st.booleans(),
    variant=st.booleans(),
    sizes=st.tuples(st.integers(1, 50), st.integers(3, 50), st.integers(0, 9)),
)
def test_closed_forms_per_layer_equal_the_listed_tensors(
    cell: str,
    convention: str,
    layers: int,
    bidirectional: bool,
    bias: bool,
    variant: bool,
    sizes: tuple[int, int, int],
) -> None:
    from rnncalc.analysis.formulas import group_formulas

    i, h, o = sizes
    extra: dict[str, object] = {}
    if cell == "lstm" and convention == "pytorch" and variant:
        extra["proj_size"] = 2
    if cell == "gru" and convention == "keras":
        extra["reset_after"] = variant
    spec = ModelSpec(3, i, h, o, cell=cell, layers=layers, bidirectional=bidirectional,  # type: ignore[arg-type]
                     convention=convention, bias=bias, **extra)  # type: ignore[arg-type]  # fmt: skip
    report = count_params(spec)
    groups = group_formulas(report)
    assert [g.group for g in groups] == list(report.rnn.subtotals)
    letters = {"I": i, "H": h, "O": o, "P": spec.proj_size}
    for g in groups:
        assert g.total == report.rnn.subtotals[g.group]
        assert evaluate(g.numeric) == g.total
        assert int(eval(g.symbolic.replace("·", "*"), {}, letters)) == g.total


def _letters(weights: tuple[Weight, ...], known: dict[str, int]) -> dict[str, int]:
    """Each size letter (H2, Vd, P, ...) solved from the tensors' axes (``4·H``, ``H+I``):
    an axis with one unknown letter is linear in it, so two evaluations give its value.
    """
    letters = dict(known)
    axes = {
        (s.replace("·", "*"), n) for w in weights for s, n in zip(w.symbols, w.shape, strict=True)
    }
    while True:
        solved = False
        for axis, size in axes:
            unknown = set(re.findall(r"[A-Z][0-9]*d?", axis)) - letters.keys()
            if len(unknown) == 1:
                (letter,) = unknown
                at = [eval(axis, {}, {**letters, letter: x}) for x in (0, 1)]
                letters[letter] = (size - at[0]) // (at[1] - at[0])
                solved = True
        if not solved:
            return letters


@settings(max_examples=150, deadline=None)
@given(networks())
def test_network_formulas_evaluate_to_the_totals(network: Network) -> None:
    """Whole networks: every written form, in numbers and in letters, gives the count (a
    tied weight is counted once: the formula leaves it out, as the total does).
    """
    report = count_params(network)
    explanation = explain(report)
    steps = dict(zip(("T", "Td"), (stage.timesteps for stage in network.stages), strict=False))
    letters = _letters(report.rnn.weights + report.dense.weights, steps)
    for f, model in ((explanation.rnn, report.rnn), (explanation.dense, report.dense)):
        assert f.total == model.total == evaluate(f.numeric)
        assert evaluate(f.symbolic, letters) == model.total
    assert [g.group for g in explanation.groups] == list(report.rnn.subtotals)
    for g in explanation.groups:
        assert g.total == report.rnn.subtotals[g.group] == evaluate(g.numeric)
        assert evaluate(g.symbolic, letters) == g.total


@settings(max_examples=100, deadline=None)
@given(networks())
def test_totals_and_layers_are_the_same_from_terms_and_from_listed_weights(
    network: Network,
) -> None:
    """A report folds over its terms until the weights are listed, then over those (JSON
    lists them first): both folds give the same totals and per-layer counts.
    """
    from_terms = count_params(network)
    folded = [(m.total, m.layers()) for m in (from_terms.rnn, from_terms.dense)]
    assert "weights" not in vars(from_terms.rnn)  # the fold above used the terms
    listed = count_params(network)
    for model in (listed.rnn, listed.dense):
        assert sum(w.count for w in model.weights) == model.total
    assert [(m.total, m.layers()) for m in (listed.rnn, listed.dense)] == folded
    assert listed.to_dict()["rnn"]["total"] == folded[0][0]
