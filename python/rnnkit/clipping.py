"""Gradient clipping, in place, on a dict (or list) of gradient arrays.

Two conventions live here, each where users expect it:

* :func:`clip_by_global_norm` is PyTorch's ``clip_grad_norm_`` (a scale of
  ``max_norm / (norm + 1e-6)``): the Trainer's ``clip_norm=`` and min-char-rnn's recipes.
* :func:`clip_by_norm` (each array by its own norm) and :func:`scale_to_global_norm` (all
  together, scale ``min(1, max_norm / norm)``) are Keras's, behind every optimizer's
  ``clipnorm=`` and ``global_clipnorm=``.

:func:`clip_by_value` is the same in both. Norms are computed in float64 whatever the
gradients' dtype, so float32 gradients of large models do not lose the sum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from . import _checks
from .ops import layer_math
from .ops._arguments import FLOAT_DTYPES, kernel_ready

__all__ = [
    "clip_by_global_norm",
    "clip_by_norm",
    "clip_by_value",
    "global_norm",
    "scale_to_global_norm",
]

Grads = Mapping[str, np.ndarray] | Iterable[np.ndarray]


def _arrays(grads: Grads) -> list[np.ndarray]:
    return list(grads.values()) if isinstance(grads, Mapping) else list(grads)


def _sum_of_squares(g: np.ndarray) -> float:
    """Σ g² in float64: one pass of the C++ core for float32/float64 arrays, NumPy otherwise."""
    g = np.asarray(g)
    if g.dtype in FLOAT_DTYPES and kernel_ready(g):
        return layer_math.sum_of_squares(g)
    return float(np.sum(np.square(g, dtype=np.float64)))


def global_norm(grads: Grads) -> float:
    """The L2 norm of all the gradients together (float64)."""
    return math.sqrt(sum(_sum_of_squares(g) for g in _arrays(grads)))


def clip_by_global_norm(grads: Grads, max_norm: float) -> float:
    """Scale every gradient in place by ``max_norm / (norm + 1e-6)`` when that is below 1,
    where ``norm`` is the L2 norm of all gradients together (PyTorch's ``clip_grad_norm_``,
    DLFS2's ``clip_grads``). Returns ``norm`` (before clipping)."""
    max_norm = _checks.positive_real(max_norm, "max_norm")
    arrays = _arrays(grads)
    norm = global_norm(arrays)
    scale = max_norm / (norm + 1e-6)
    if scale < 1:
        for g in arrays:
            g *= scale
    return norm


def scale_to_global_norm(grads: Grads, max_norm: float) -> float:
    """Keras's ``global_clipnorm``: scale every gradient in place by ``max_norm / norm`` when
    the global norm exceeds ``max_norm`` (no epsilon). Returns ``norm`` (before clipping)."""
    max_norm = _checks.positive_real(max_norm, "max_norm")
    arrays = _arrays(grads)
    norm = global_norm(arrays)
    if norm > max_norm:
        for g in arrays:
            g *= max_norm / norm
    return norm


def clip_by_norm(grads: Grads, max_norm: float) -> None:
    """Keras's ``clipnorm``: each gradient array in place by its own L2 norm,
    ``g * max_norm / max(norm(g), max_norm)`` (arrays within the norm are left as they are)."""
    max_norm = _checks.positive_real(max_norm, "max_norm")
    for g in _arrays(grads):
        norm = math.sqrt(_sum_of_squares(g))
        if norm > max_norm:
            g *= max_norm / norm


def clip_by_value(grads: Grads, clip_value: float) -> None:
    """Clip every gradient in place to ``[-clip_value, clip_value]`` (min-char-rnn uses 5)."""
    clip_value = _checks.positive_real(clip_value, "clip_value")
    for g in _arrays(grads):
        np.clip(g, -clip_value, clip_value, out=g)
