"""The activations f_h and f_y, applied in place."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .types import Array


def _tanh(a: Array) -> None:
    np.tanh(a, out=a)


def _relu(a: Array) -> None:
    np.maximum(a, 0, out=a)


def _sigmoid(a: Array) -> None:
    # 1 / (1 + e^-a) for a >= 0 and e^a / (1 + e^a) below: e^-|a| never overflows, and
    # tiny results keep their relative precision.
    e = np.exp(-np.abs(a))
    np.divide(np.where(a >= 0, 1.0, e), 1.0 + e, out=a)


def _identity(a: Array) -> None:
    return None


def _softmax(a: Array) -> None:
    a -= a.max(axis=-1, keepdims=True)
    np.exp(a, out=a)
    a /= a.sum(axis=-1, keepdims=True)


#: Activations applied in place; softmax acts along the last axis (the O outputs).
HIDDEN_ACTIVATIONS: dict[str, Callable[[Array], None]] = {
    "tanh": _tanh,
    "relu": _relu,
    "sigmoid": _sigmoid,
    "identity": _identity,
}

OUTPUT_ACTIVATIONS: dict[str, Callable[[Array], None]] = {
    "identity": _identity,
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "softmax": _softmax,
}

#: Every dense layer's choices: the output activations and relu (a hidden layer's default).
DENSE_ACTIVATIONS = {**OUTPUT_ACTIVATIONS, "relu": _relu}
