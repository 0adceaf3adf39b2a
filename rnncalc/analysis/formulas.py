"""Formulas written out the seed's way, from the weight list, for ``--explain``.

Every formula is built from the weights' shapes (in numbers) and symbols (in letters), so
it cannot drift from the counts; tests evaluate both forms and compare with the totals.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..model.network import Embedding, Recurrent
from ..model.shapes import BIAS_ROLES, Weight, by_group, layer_inputs
from ..model.spec import ModelSpec
from .counts import ParamsReport


@dataclass(frozen=True)
class Formula:
    """A total written out the seed's way: in letters, in numbers, and its value."""

    symbolic: str
    numeric: str
    total: int


@dataclass(frozen=True)
class GroupFormula:
    """The closed form of one layer and direction (or the output layer), with its total."""

    group: str
    symbolic: str
    numeric: str
    total: int


@dataclass(frozen=True)
class Explanation:
    """Both models' formulas, each layer's closed form, the conventions' differences, and
    why the two models scale differently with T.
    """

    rnn: Formula
    dense: Formula
    groups: tuple[GroupFormula, ...]
    notes: tuple[str, ...]
    dense_definition: str
    scaling: str


def formula(weights: tuple[Weight, ...]) -> Formula:
    """Write the sum of ``weights`` as the seed does: ``((4×3) + (3×3 + 3)) + (3×1 + 1)``.

    A bias joins the group of the matrix before it; each group is parenthesised, and a part
    (recurrent or hidden layer, output layer) with several groups is parenthesised again.
    A tied weight is left out: its elements are the embedding's, counted there.
    """
    symbolic: list[str] = []
    numeric: list[str] = []
    for members in by_group(weights).values():
        groups = _groups(tuple(w for w in members if not w.tied))  # tied: counted once
        if not groups:
            continue
        symbolic.append(_join(groups, _symbolic_term))
        numeric.append(_join(groups, _numeric_term))
    return Formula(" + ".join(symbolic), " + ".join(numeric), sum(w.count for w in weights))


def explain(report: ParamsReport) -> Explanation:
    """Formulas for both models, per-layer closed forms, notes, and how they grow with T."""
    spec = report.spec
    if spec is None:
        return _explain_network(report)
    t, d = spec.timesteps, spec.directions
    first = report.dense.weights[0]
    width = "T·H" if d == 1 else "T·D·H"
    scaling = (
        f"The RNN reuses the same weights at each of its T = {t} steps, so T appears nowhere "
        f"in its count; the dense network reads all T·I inputs at once into {width} hidden "
        f"units, so its first matrix alone holds T²·I·{'D·' if d > 1 else ''}H = "
        f"{first.count:,} weights and its count grows with T²."
    )
    hidden = t * d * spec.hidden_size
    dense_definition = (
        f"The dense equivalent is an MLP over the flattened input (T·I = "
        f"{t * spec.input_size:,} units) with {spec.layers} hidden layer"
        f"{'s' if spec.layers > 1 else ''} of {width} = {hidden:,} units (one unit per RNN "
        f"hidden unit per step{' and direction' if d > 1 else ''}), "
        + (f"then O = {spec.output_size} outputs." if spec.output_size else "and no output layer.")
    )
    return Explanation(
        formula(report.rnn.weights),
        formula(report.dense.weights),
        group_formulas(report),
        notes(spec),
        dense_definition,
        scaling,
    )


def _explain_network(report: ParamsReport) -> Explanation:
    """The explanation of a whole network: the same formulas, the general dense rule."""
    network = report.network
    first = next(w for w in report.dense.weights if w.part == "hidden")
    scaling = (
        "The RNN reuses each layer's weights at every step, so T appears nowhere in its "
        "count; each hidden layer of the dense equivalent reads a whole flattened sequence, "
        f"so its first alone holds {first.symbols[0]} x {first.symbols[1]} = {first.count:,} "
        "weights, and its count grows with T²."
    )
    dense_definition = (
        "The dense equivalent replaces each stacked recurrent layer by a fully connected "
        "layer over the whole flattened sequence: T·in inputs to T·D·H units, one per RNN "
        "hidden unit per step and direction"
        + (", a decoder's layers also reading their encoder layer's outputs in place of the "
           "final state they start from" if network.encoder_decoder else "")
        + ". Embeddings stay the same table, a dense layer on every step reads each step's "
        "D·H units, and the first dense layer on the last step reads all T·D·H of them, as "
        "the seed's output layer does."
    )  # fmt: skip
    return Explanation(
        formula(report.rnn.weights),
        formula(report.dense.weights),
        group_formulas(report),
        network_notes(report),
        dense_definition,
        scaling,
    )


def group_formulas(report: ParamsReport) -> tuple[GroupFormula, ...]:
    """Each layer and direction in closed form, e.g. PyTorch's LSTM: 4·H·(I + H) + 2·4·H.

    The sizes come from the layer and its tensors in the shape list (the letters too, so
    a stage's second layer reads H2), and the number of bias vectors (none, one, or
    PyTorch's and Keras reset_after's two) from the group's tensors; the total is summed
    over them, and a test evaluates the numbers against it.
    """
    formulas = []
    for group, members in by_group(report.rnn.weights).items():
        total = sum(w.count for w in members)
        first = members[0]
        layer = report.network.stages[first.stage].layers[first.module]
        if isinstance(layer, Recurrent):
            symbolic, numeric = _recurrent_form(layer, members)
        elif first.part == "embedding":
            symbolic, numeric = "·".join(first.symbols), "·".join(map(str, first.shape))
        else:
            symbolic, numeric = _dense_form(members)
        formulas.append(GroupFormula(group, symbolic, numeric, total))
    return tuple(formulas)


def _recurrent_form(layer: Recurrent, members: list[Weight]) -> tuple[str, str]:
    g, h, p = layer.gates, layer.hidden_size, layer.proj_size
    inputs, letter = _inputs(members, h)
    h_letter = _last_factor(next(w for w in members if w.role in ("input", "input_recurrent")))
    p_letter = "P" + h_letter[1:]
    state = (p_letter, p) if p else (h_letter, h)
    biases = sum(w.count for w in members if w.role in BIAS_ROLES) // (g * h)
    gates = f"{g}·" if g > 1 else ""
    symbolic = f"{gates}{h_letter}·({letter} + {state[0]})"
    numeric = f"{gates}{h}·({inputs} + {state[1]})"
    if biases:
        times = f"{biases}·" if biases > 1 else ""
        symbolic += f" + {times}{gates}{h_letter}"
        numeric += f" + {times}{gates}{h}"
    if p:
        symbolic += f" + {p_letter}·{h_letter}"
        numeric += f" + {p}·{h}"
    return symbolic, numeric


def _inputs(members: list[Weight], h: int) -> tuple[int, str]:
    """Features into a recurrent layer and their letters, read off its input tensor."""
    w = next(w for w in members if w.role in ("input", "input_recurrent"))
    if w.role == "input_recurrent":  # (H + in) x G·H: [h_{t-1}, x_t] W_h
        return w.shape[0] - h, w.symbols[0].split("+", 1)[1]
    if w.transposed:
        return w.shape[1], w.symbols[1]
    return w.shape[0], w.symbols[0]


def _last_factor(w: Weight) -> str:
    """The hidden size's letter in a tensor's gate axis: ``H`` in ``4·H``."""
    axis = w.symbols[0] if w.transposed else w.symbols[1]
    return axis.rpartition("·")[2]


def _dense_form(members: list[Weight]) -> tuple[str, str]:
    matrix = members[0]
    features = matrix.symbols[1] if matrix.transposed else matrix.symbols[0]
    size = matrix.shape[1] if matrix.transposed else matrix.shape[0]
    units, unit = (matrix.shape[0], matrix.symbols[0]) if matrix.transposed else (
        matrix.shape[1], matrix.symbols[1])  # fmt: skip
    has_bias = len(members) > 1
    if matrix.tied:
        return (unit, str(units)) if has_bias else ("0", "0")
    symbolic, numeric = f"{features}·{unit}", f"{size}·{units}"
    if has_bias:
        symbolic, numeric = f"{symbolic} + {unit}", f"{numeric} + {units}"
    return symbolic, numeric


def network_notes(report: ParamsReport) -> tuple[str, ...]:
    """What sets a whole network's count apart, named once each."""
    network = report.network
    found = []
    layers = [layer for stage in network.stages for layer in stage.layers]
    recurrent = [layer for layer in layers if isinstance(layer, Recurrent)]
    if any(isinstance(layer, Embedding) for layer in layers):
        found.append(
            "An embedding is a lookup table, V·E parameters: each token id picks one row, "
            "which is the step's input; there is nothing to multiply."
        )
    tied = [w for w in report.rnn.weights if w.tied]
    for w in tied:
        found.append(
            f"{w.name} is {w.tied}, shared (tied): its {w.elements:,} parameters are counted "
            "once, at the embedding; the layer adds its bias only."
        )
    if network.convention == "pytorch" and any(layer.bias for layer in recurrent):
        found.append(
            "PyTorch keeps two bias vectors per layer and direction, bias_ih and bias_hh, "
            "where the seed and Keras keep one."
        )
    if network.convention == "keras" and any(
        layer.cell == "gru" and layer.reset_after and layer.bias for layer in recurrent
    ):
        found.append(
            "Keras's GRU defaults to reset_after=True: its bias is (2, 3·H), an input and a "
            "recurrent bias."
        )
    if any(layer.proj_size for layer in recurrent):
        found.append(
            "With proj_size P, weight_hh is (4·H, P) and weight_hr (P, H) projects h_t down "
            "to P features, which the next layer sees."
        )
    if network.encoder_decoder:
        found.append(
            "The decoder's layers start from the encoder's final states: the hand-over "
            "carries no weights of its own."
        )
    return tuple(found)


def notes(spec: ModelSpec) -> tuple[str, ...]:
    """What sets this model's count apart: each convention's difference, named."""
    g, h = spec.gates, spec.hidden_size
    found = []
    if spec.convention == "pytorch" and spec.bias:
        found.append(
            f"PyTorch keeps two bias vectors per layer and direction, bias_ih and bias_hh, "
            f"where the seed and Keras keep one: 2·{g}·H = {2 * g * h} instead of {g * h}."
        )
    if spec.keras_reset_after and spec.bias:
        found.append(
            f"Keras's GRU defaults to reset_after=True: its bias is (2, 3·H), an input and a "
            f"recurrent bias, 3·H = {3 * h} more per layer and direction than the textbook "
            f"GRU (--no-reset-after), as PyTorch's GRU also has."
        )
    if spec.cell == "gru" and spec.convention == "seed":
        found.append(
            "The seed convention's GRU is the textbook one: one bias per gate, and the reset "
            "gate acts on h_{t-1} before W_hn."
        )
    if spec.proj_size:
        found.append(
            f"With proj_size P = {spec.proj_size}, weight_hh is (4·H, P) and weight_hr (P, H) "
            f"projects h_t down to P features, which the next layer and the head see."
        )
    if spec.layers > 1:
        features, letter = layer_inputs(spec, 1)
        found.append(
            f"Layers after the first read the {letter} = {features} features of the layer "
            f"below, not I = {spec.input_size}."
        )
    if spec.bidirectional:
        found.append(
            "A bidirectional layer holds two independent directions, forward and backward, "
            "of the same shapes; stacked, the next layer's inputs double too, so the total is "
            "more than twice a unidirectional stack."
        )
    if not spec.bias:
        found.append("--no-bias drops the recurrent biases; the output layer keeps its bias.")
    return tuple(found)


def _groups(weights: tuple[Weight, ...]) -> list[list[Weight]]:
    groups: list[list[Weight]] = []
    for w in weights:
        if w.role in BIAS_ROLES and groups:
            groups[-1].append(w)
        else:
            groups.append([w])
    return groups


def _join(groups: list[list[Weight]], term: Callable[[Weight], str]) -> str:
    inner = ["(" + " + ".join(term(w) for w in group) + ")" for group in groups]
    return inner[0] if len(inner) == 1 else "(" + " + ".join(inner) + ")"


def _symbolic_term(w: Weight) -> str:
    return "×".join(f"({s})" if "+" in s else s for s in w.symbols)


def _numeric_term(w: Weight) -> str:
    return "×".join(str(n) for n in w.shape)
