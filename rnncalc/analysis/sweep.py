"""Sweep sizes fast: totals and MACs compiled once per model structure from the shape list.

A sweep can have millions of rows, too many to build every weight list.  Yet the shape
list already writes each tensor's shape in letters (``("4·H", "I")``), so for one model
structure (cell, convention, stacked or not, directions, biases, head or not) its total is
one polynomial in the sizes, L included: Σ over tensors of the product of their symbols.
This module turns the shape list into that polynomial, multiplied out with like terms
collected, compiles it once, and evaluates it per row;
tests check it against :func:`rnncalc.analysis.counts.count_params` and
:func:`rnncalc.analysis.cost.estimate_cost`.  Standard library only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from ..model import shapes
from ..model.shapes import Term
from ..model.spec import DTYPE_BYTES, ModelSpec, Outputs, skeleton
from .ranges import Sizes

#: Sweepable sizes: ModelSpec field -> letter in the shape list's symbols.
SIZES = {
    "timesteps": "T",
    "input_size": "I",
    "hidden_size": "H",
    "output_size": "O",
    "layers": "L",
}
Evaluate = Callable[[int, int, int, int, int], tuple[int, int, int, int]]


#: What each row holds, in order: the sizes, then the counts.
COLUMNS = (
    *SIZES,
    "rnn_total",
    "dense_total",
    "ratio",
    "rnn_macs",
    "dense_macs",
    "rnn_float32_bytes",
    "dense_float32_bytes",
)
_FLOAT32 = DTYPE_BYTES["float32"]


def rows(
    template: ModelSpec, swept: Mapping[str, Sequence[int]], outputs: Outputs = "last"
) -> Iterator[tuple[int | float, ...]]:
    """Every combination of the swept sizes (the last varying fastest), lazily, as tuples
    in the order of :data:`COLUMNS`.

    ``template`` gives the model options and the sizes that are not swept.  MACs are per
    sequence for a batch of one.
    """
    position = {name: k for k, name in enumerate(SIZES)}
    slots = [position[name] for name in swept]
    sizes = [getattr(template, name) for name in SIZES]
    evaluators: dict[tuple[bool, bool], Evaluate] = {}
    for values in _product(list(swept.values())):
        for slot, value in zip(slots, values, strict=True):
            sizes[slot] = value
        key = (sizes[4] > 1, sizes[3] > 0)
        evaluate = evaluators.get(key)
        if evaluate is None:
            evaluate = evaluators[key] = compiled(structure(template, *key), outputs)
        rnn, dense, rnn_macs, dense_macs = evaluate(*sizes)
        yield (*sizes, rnn, dense, dense / rnn, rnn_macs, dense_macs, _FLOAT32 * rnn,
               _FLOAT32 * dense)  # fmt: skip


def _product(sequences: list[Sequence[int]]) -> Iterator[tuple[int, ...]]:
    """itertools.product without copying its inputs into tuples (ranges stay lazy)."""
    if not sequences:
        yield ()
        return
    first, rest = sequences[0], sequences[1:]
    for value in first:
        for tail in _product(rest):
            yield (value, *tail)


def structure(template: ModelSpec, stacked: bool, head: bool) -> ModelSpec:
    """The template with one layer or two (the second standing for layers 2 to L) and with
    or without a head: everything that decides which tensors exist, with placeholder sizes
    (names do not depend on them).
    """
    return skeleton(template, output_size=int(head), layers=2 if stacked else 1)


@functools.cache
def compiled(structure: ModelSpec, outputs: Outputs) -> Evaluate:
    """(T, I, H, O, L) -> (RNN total, dense total, RNN MACs, dense MACs) for one structure.

    The polynomial is the shape list's terms (:func:`rnncalc.model.shapes.rnn_terms`): each
    tensor's symbols multiplied out, times L-1 for the tensors layers 2 to L repeat (so
    one compilation serves every depth), and like terms collected.  MACs are per
    sequence for a batch of one: matmul multiply-accumulates plus bias additions, each
    tensor applied as :mod:`rnncalc.analysis.cost` applies it (recurrent tensors at every step,
    the output layer once or at every step, in both models, the dense hidden layers once).
    """
    from .cost import with_outputs

    network = with_outputs(structure, outputs)
    rnn = shapes.rnn_terms(network)
    dense = shapes.dense_terms(network)
    head_times = "T" if outputs == "all" else "1"
    polynomials = [
        _sum((t, "1") for t in rnn),
        _sum((t, "1") for t in dense),
        _sum((t, "T" if t.weight.part != "output" else head_times) for t in rnn),
        _sum((t, "1" if t.weight.part != "output" else head_times) for t in dense),
    ]
    expressions = ", ".join(_source(p) for p in polynomials)
    source = f"lambda T, I, H, O, L, P={structure.proj_size}: ({expressions})"
    evaluate: Evaluate = eval(compile(source, "<rnncalc.analysis.sweep>", "eval"), {})
    return evaluate


#: A polynomial with integer coefficients: sorted tuple of letters (a monomial) -> coefficient.
Polynomial = dict[tuple[str, ...], int]


def _sum(terms: Iterable[tuple[Term, str]]) -> Polynomial:
    """Σ over the terms of the product of their symbols, times ``times``, and times L-1 for
    the tensors that layers 2 to L repeat, multiplied out and like terms collected.
    """
    total: Polynomial = {}
    for t, times in terms:
        product = _polynomial(times)
        for symbol in t.weight.symbols:
            product = _times(product, _polynomial(symbol))
        if t.repeated:
            product = _times(product, {("L",): 1, (): -1})
        for monomial, coefficient in product.items():
            total[monomial] = total.get(monomial, 0) + coefficient
    return total


def _polynomial(symbol: str) -> Polynomial:
    """A shape symbol as a polynomial: ``4·H`` is {(H,): 4}, ``H+2·P`` {(H,): 1, (P,): 2}."""
    result: Polynomial = {}
    for term in symbol.split("+"):
        coefficient, letters = 1, []
        for factor in term.split("·"):
            if factor.isdigit():
                coefficient *= int(factor)
            else:
                letters.append(factor)
        monomial = tuple(sorted(letters))
        result[monomial] = result.get(monomial, 0) + coefficient
    return result


def _times(a: Polynomial, b: Polynomial) -> Polynomial:
    result: Polynomial = {}
    for left, x in a.items():
        for right, y in b.items():
            monomial = tuple(sorted(left + right))
            result[monomial] = result.get(monomial, 0) + x * y
    return result


def _source(polynomial: Polynomial) -> str:
    """Python for a polynomial: ``-4*H*H + H*O + 8*H``."""
    terms = [
        "*".join([*([str(c)] if c != 1 or not monomial else []), *monomial])
        for monomial, c in sorted(polynomial.items())
        if c
    ]
    return " + ".join(terms) or "0"


def count_rows(swept: Mapping[str, Sizes]) -> int:
    """How many rows the sweep has, exactly (ranges may be longer than len() allows)."""
    total = 1
    for values in swept.values():
        total *= values.length
    return total
