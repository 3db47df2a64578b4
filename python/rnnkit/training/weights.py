"""``fit``'s sample and class weights, Keras's way: ``sample_weight`` ``(N,)`` (or ``(N, T)``
per step for sequence outputs) multiplies each sample's loss; ``class_weight={class: weight}``
is turned into the same per-sample weights from the targets, exactly as Keras 3 does (class ids
``(N,)``/``(N, 1)`` rounded, one-hot ``(N, C)`` by argmax; a class not in the dict weighs 1).
The loss divides by the number of items, not by the sum of the weights (Keras's
``"sum_over_batch_size"``), so a weight of 2 counts a sample twice and 0 removes it."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .. import _checks
from ..network import num_samples

__all__ = ["class_sample_weights", "fit_sample_weights", "per_sample_only", "sample_weights"]


def sample_weights(value: Any, n: int, what: str = "sample_weight") -> np.ndarray | None:
    """``value`` as a float64 ``(n,)`` or ``(n, T)`` array of finite weights, or None; the
    error names ``what``."""
    if value is None:
        return None
    weights = _checks.real_array(value, what).astype(np.float64)
    if weights.ndim not in (1, 2) or len(weights) != n:
        raise ValueError(
            f"{what} must have shape ({n},) (one weight per sample) or ({n}, T) (one per "
            f"step of a sequence output), got {weights.shape}"
        )
    if not np.isfinite(weights).all():
        raise ValueError(f"{what} must hold finite numbers, got NaN or inf")
    return weights


def class_sample_weights(y: np.ndarray, class_weight: Any) -> np.ndarray:
    """Keras 3's ``class_weight_to_sample_weights``: one weight per sample from its class."""
    if not isinstance(class_weight, dict):
        raise TypeError(
            f"class_weight must be a dict {{class id: weight}}, got {type(class_weight).__name__}"
        )
    table: dict[int, float] = {}
    for key, weight in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral):
            raise TypeError(f"class_weight keys must be int class ids, got {key!r}")
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
            raise TypeError(f"class_weight[{key}] must be a number, got {weight!r}")
        if not math.isfinite(float(weight)):
            raise ValueError(f"class_weight[{key}] must be finite, got {weight}")
        table[int(key)] = float(weight)
    if y.ndim > 2:
        raise ValueError(
            f"class_weight needs one class per sample, targets (N,), (N, 1) or one-hot (N, C); "
            f"y has shape {y.shape}: for per-step targets pass sample_weight of shape (N, T)"
        )
    classes = y
    if y.ndim == 2:
        classes = np.argmax(y, axis=-1) if y.shape[-1] != 1 else y[:, 0]
    ids = np.round(classes).astype(np.int64)
    return np.array([table.get(int(c), 1.0) for c in ids], dtype=np.float64)


def fit_sample_weights(y: np.ndarray, sample_weight: Any, class_weight: Any) -> np.ndarray | None:
    """The per-sample weights of ``fit``/``train_on_batch``: ``sample_weight`` checked, or
    ``class_weight`` turned into weights; both at once is an error, as in Keras."""
    if class_weight is not None and sample_weight is not None:
        raise ValueError(
            "sample_weight and class_weight cannot be given together (as in Keras): fold the "
            "class weights into sample_weight"
        )
    if not isinstance(y, np.ndarray):
        if class_weight is not None:
            raise ValueError(
                "class_weight needs a model of one output (Keras refuses it for several too): "
                "give sample_weight instead"
            )
        return sample_weights(sample_weight, num_samples(y))
    if class_weight is not None:
        return class_sample_weights(y, class_weight)
    return sample_weights(sample_weight, len(y))


def per_sample_only(weights: np.ndarray | None) -> None:
    """TBPTT windows cut the time axis; per-step weights would need cutting with it, which
    rnnkit does not do: refuse them clearly (per-sample weights apply to every window)."""
    if weights is not None and weights.ndim != 1:
        raise ValueError(
            f"with tbptt, sample_weight must be one weight per sample (N,), got shape "
            f"{weights.shape}"
        )
