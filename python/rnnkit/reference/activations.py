"""The activation functions of the cells and their derivatives, in plain NumPy: Keras's names and
definitions (``hard_sigmoid`` is Keras 3's, ``clip(a/6 + 1/2, 0, 1)``). Derivatives are taken at
the pre-activation ``a``, the textbook way (the C++ kernels read them off the outputs instead)."""

from __future__ import annotations

import numpy as np

from .. import _checks
from ..ops.rnn import ACTIVATIONS  # the kernels' list: the twin accepts exactly the same names

__all__ = ["activate", "check_activation", "derivative"]


def check_activation(name: str, value: object) -> str:
    """``value`` when it names one of the kernels' activations (ValueError naming ``name``)."""
    return str(_checks.choice(value, name, ACTIVATIONS))


def activate(a: np.ndarray, name: str) -> np.ndarray:
    if name == "tanh":
        return np.tanh(a)
    if name == "relu":
        return np.maximum(a, 0)  # np.maximum propagates NaN
    if name == "sigmoid":
        return 1 / (1 + np.exp(-a))
    if name == "hard_sigmoid":
        return np.clip(a / 6 + 0.5, 0, 1)
    return a  # linear


def derivative(a: np.ndarray, name: str) -> np.ndarray:
    """f'(a); 0 at the kinks of relu and hard_sigmoid."""
    if name == "tanh":
        return 1 - np.tanh(a) ** 2
    if name == "relu":
        return (a > 0).astype(a.dtype)
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-a))
        return s * (1 - s)
    if name == "hard_sigmoid":
        return ((a > -3) & (a < 3)).astype(a.dtype) / 6
    return np.ones_like(a)  # linear
