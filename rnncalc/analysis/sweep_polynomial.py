"""A network structure's totals and MACs as polynomials in its size letters, compiled once.

:func:`compiled` multiplies out the shape list's terms (:func:`rnncalc.model.shapes.rnn_terms`,
:func:`~rnncalc.model.shapes.dense_terms`), collects like terms and compiles the result
into one Python function per structure, which :mod:`rnncalc.analysis.sweep` evaluates per
row.  Standard library only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from ..model import shapes
from ..model.naming import Letters
from ..model.network import Dense, Network
from ..model.shapes import Term
from ..model.spec import Outputs

Evaluate = Callable[..., tuple[int, int, int, int]]


@functools.cache
def compiled(
    structure: Network,
    letters: tuple[str, ...],
    stacked: int | None,
    renames: tuple[tuple[str, str], ...],
    constants: tuple[tuple[str, int], ...],
    outputs: Outputs,
) -> Evaluate:
    """(values of ``letters``) -> (RNN total, dense total, RNN MACs, dense MACs) for one
    structure.

    The polynomial is the shape list's terms: each tensor's symbols multiplied out (a tied
    tensor counts in MACs, not in totals), times L-1 for the tensors the stacked layer
    ``stacked`` repeats in layers 2 to L (so one compilation serves every depth), and like
    terms collected; ``renames`` replace letters (a tied layer's units by V), ``constants``
    are fixed sizes (P).  MACs are per sequence for a batch of one: matmul
    multiply-accumulates plus bias additions, each tensor applied as
    :mod:`rnncalc.analysis.cost` applies it (recurrent tensors at every step of their
    stage, a dense layer once or at every step, the embedding not at all, the dense
    equivalent's layers once unless they run at every step).
    """
    rename = dict(renames)
    if outputs == "all":  # the dense layers at every step, in both models (as cost has them)
        structure = _every_step(structure)
    timesteps = [Letters(structure, s).size("T") for s in range(len(structure.stages))]

    def steps(term: Term) -> str:
        part = term.weight.part
        if part == "embedding":
            return "0"
        t = timesteps[term.weight.stage]
        if part == "recurrent":
            return t
        if part == "output":
            layer = structure.stages[term.weight.stage].layers[term.weight.module]
            assert isinstance(layer, Dense)
            return t if layer.steps == "all" else "1"
        return "1"

    def polynomial(terms: Iterable[Term], macs: bool) -> Polynomial:
        chosen = ((t, steps(t) if macs else "1") for t in terms if macs or not t.weight.tied)
        return _sum(chosen, (0, stacked) if stacked is not None else None, rename)

    rnn = shapes.rnn_terms(structure)
    dense = shapes.dense_terms(structure)
    polynomials = [
        polynomial(rnn, False),
        polynomial(dense, False),
        polynomial(rnn, True),
        polynomial(dense, True),
    ]
    expressions = ", ".join(_source(p) for p in polynomials)
    fixed = "".join(f", {letter}={value}" for letter, value in constants)
    source = f"lambda {', '.join(letters)}, _=1{fixed}: ({expressions})"
    evaluate: Evaluate = eval(compile(source, "<rnncalc.analysis.sweep>", "eval"), {})
    return evaluate


def _every_step(network: Network) -> Network:
    """``network`` with every dense layer applied at every step."""
    stages = tuple(
        stage.replace(layers=tuple(
            layer.replace(steps="all") if isinstance(layer, Dense) else layer
            for layer in stage.layers
        ))
        for stage in network.stages
    )  # fmt: skip
    return network.replace(stages=stages)


#: A polynomial with integer coefficients: sorted tuple of letters (a monomial) -> coefficient.
Polynomial = dict[tuple[str, ...], int]


def _sum(
    terms: Iterable[tuple[Term, str]], stacked: tuple[int, int] | None, rename: dict[str, str]
) -> Polynomial:
    """Σ over the terms of the product of their symbols, times ``times``, and for tensors
    that layers 2 to s repeat times s-1: L-1 in the ``stacked`` layer (stage, index), the
    stack's own s-1 elsewhere; multiplied out and like terms collected.
    """
    total: Polynomial = {}
    for t, times in terms:
        product = _polynomial(times, rename)
        for symbol in t.weight.symbols:
            product = _times(product, _polynomial(symbol, rename))
        if t.repeated:
            here = (t.weight.stage, t.weight.module) == stacked
            product = _times(product, {("L",): 1, (): -1} if here else {(): t.times})
        for monomial, coefficient in product.items():
            total[monomial] = total.get(monomial, 0) + coefficient
    return total


def _polynomial(symbol: str, rename: dict[str, str]) -> Polynomial:
    """A shape symbol as a polynomial: ``4·H`` is {(H,): 4}, ``H+2·P`` {(H,): 1, (P,): 2}."""
    result: Polynomial = {}
    for term in symbol.split("+"):
        coefficient, letters = 1, []
        for factor in term.split("·"):
            if factor.isdigit():
                coefficient *= int(factor)
            else:
                letters.append(rename.get(factor, factor))
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
    """Python for a polynomial: ``-4*H*H + H*O + 8*H``, bracketed in a balanced tree when
    long (a chain of thousands of additions is too deep for Python's compiler).
    """
    terms = [
        "*".join([*([str(c)] if c != 1 or not monomial else []), *monomial])
        for monomial, c in sorted(polynomial.items())
        if c
    ]
    return _balanced(terms) or "0"


def _balanced(terms: list[str]) -> str:
    if len(terms) <= 64:
        return " + ".join(terms)
    half = len(terms) // 2
    return f"({_balanced(terms[:half])}) + ({_balanced(terms[half:])})"
