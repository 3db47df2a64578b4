"""Losses: ``forward(y_pred, y_true, lengths=None) -> float`` and ``backward() -> dy_pred``.

Every loss returns the *mean* (as Keras does with its default reduction): over all elements for
the regression losses, over samples (and time steps) for the cross-entropies. ``backward``
returns the gradient of that mean with respect to ``y_pred``, in ``y_pred``'s dtype.

Sequence masks: when ``y_pred`` has a time axis (``(N, T, ...)``, 3 axes or more), ``lengths``
``(N,)`` marks the valid leading steps of each sample; padded steps contribute nothing (zero
loss, zero gradient) and the mean is taken over the valid steps only. ``lengths`` with a
``y_pred`` of fewer than 3 axes is an error (there is no time axis to mask).

Cross-entropies take logits by default (``from_logits=True``): rnnkit models end in a linear
Dense and the stable log-softmax / log-sigmoid live here. **Keras's default is
from_logits=False**: with a sigmoid/softmax output layer, pass ``from_logits=False``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _checks
from ._registry import Configurable, Registry, class_and_config
from .activations import log_softmax, sigmoid, softmax

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "SparseCategoricalCrossentropy",
    "get",
    "step_mask",
]

_EPSILON = 1e-7  # Keras's backend epsilon: probability clipping when from_logits=False


def _float(a: Any) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    return a


def step_mask(lengths: np.ndarray | None, n: int, t: int) -> np.ndarray | None:
    """Boolean ``(N, T)`` mask of valid steps (``t < lengths[i]``), or None without lengths."""
    lens = _checks.lengths(lengths, n, t)
    return None if lens is None else np.arange(t) < lens[:, None]


def _weighted(
    per_item: np.ndarray, grad: np.ndarray, sample_weight: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``per_item`` and ``grad`` times the weights, broadcast over their trailing axes; the
    weights' shape must be a leading part of ``per_item``'s (a trailing axis of 1 may be
    extra, as Keras squeezes it)."""
    w = _float(sample_weight)
    while w.ndim > 1 and w.shape[-1] == 1 and w.ndim > per_item.ndim - 1:
        w = w[..., 0]
    if w.ndim == 0 or w.ndim > per_item.ndim or w.shape != per_item.shape[: w.ndim]:
        raise ValueError(
            f"sample_weight has shape {w.shape}, which does not fit losses of shape "
            f"{per_item.shape}: give one weight per sample (N,) or, for sequence outputs, "
            "per step (N, T)"
        )
    return (
        per_item * w.reshape(w.shape + (1,) * (per_item.ndim - w.ndim)),
        grad * w.reshape(w.shape + (1,) * (grad.ndim - w.ndim)),
    )


class Loss(Configurable):
    """Base class. Subclasses implement :meth:`_compute` returning the per-element or per-step
    loss and its gradient, both unreduced; the base class applies the mask and the mean."""

    name: str = ""

    def __init__(self) -> None:
        self._grad: np.ndarray | None = None

    def __call__(
        self,
        y_pred: np.ndarray,
        y_true: np.ndarray,
        lengths: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> float:
        return self.forward(y_pred, y_true, lengths, sample_weight)

    def forward(
        self,
        y_pred: np.ndarray,
        y_true: np.ndarray,
        lengths: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> float:
        """Mean loss; keeps what :meth:`backward` needs.

        ``sample_weight`` (Keras's): ``(N,)`` weights per sample, or ``(N, T)`` per step for a
        ``(N, T, ...)`` output; each multiplies its sample's (step's) loss. The divisor stays
        the number of (valid) items, not the sum of the weights: Keras's
        ``"sum_over_batch_size"`` reduction. A per-sample weight multiplies every valid step
        of its sequence.
        """
        y_pred = _float(y_pred)
        y_true = self._check_targets(y_pred, np.asarray(y_true))
        # per_item: unreduced loss per element (regression, BCE) or per sample/step (the
        # cross-entropies sum their class axis away); grad: its gradient, y_pred's shape.
        per_item, grad = self._compute(y_pred, y_true)
        if sample_weight is not None:
            per_item, grad = _weighted(per_item, grad, sample_weight)
        mask = None
        if lengths is not None:
            if y_pred.ndim < 3:
                raise ValueError(
                    f"lengths mask the time axis of a (N, T, ...) y_pred, but y_pred "
                    f"has shape {y_pred.shape} (no time axis)"
                )
            mask = step_mask(lengths, y_pred.shape[0], y_pred.shape[1])
        if mask is not None:
            # Broadcast the (N, T) step mask over the remaining axes of per_item / grad.
            m_items = mask.reshape(mask.shape + (1,) * (per_item.ndim - 2))
            count = int(mask.sum()) * int(np.prod(per_item.shape[2:], dtype=np.int64))
            total = float(np.sum(per_item, where=np.broadcast_to(m_items, per_item.shape)))
            # np.where, not a product: a non-finite value at a padded step must not leak in.
            grad = np.where(mask.reshape(mask.shape + (1,) * (grad.ndim - 2)), grad, 0.0)
        else:
            count = per_item.size
            total = float(np.sum(per_item))
        count = max(count, 1)  # all steps padded: loss 0, gradient 0
        self._grad = (grad / count).astype(y_pred.dtype, copy=False)
        return total / count

    def backward(self) -> np.ndarray:
        """Gradient of the mean loss of the last :meth:`forward` with respect to ``y_pred``."""
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._grad

    def _check_targets(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        """Default: same shape (a trailing size-1 axis of y_pred may be missing in y_true)."""
        if y_true.shape != y_pred.shape:
            if y_pred.shape[-1:] == (1,) and y_true.shape == y_pred.shape[:-1]:
                return y_true.reshape(y_pred.shape)
            raise ValueError(
                f"{type(self).__name__}: y_pred has shape {y_pred.shape} but "
                f"y_true has shape {y_true.shape}; they must match"
            )
        return y_true

    def _compute(self, y_pred: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class MeanSquaredError(Loss):
    """``mean((y_pred - y_true)²)`` over all (valid) elements."""

    name = "mean_squared_error"

    def _compute(self, y_pred: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        diff = y_pred - _float(y_true)
        return diff * diff, 2 * diff


class MeanAbsoluteError(Loss):
    """``mean(|y_pred - y_true|)``; gradient ``sign(diff)`` (0 where equal)."""

    name = "mean_absolute_error"

    def _compute(self, y_pred: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        diff = y_pred - _float(y_true)
        return np.abs(diff), np.sign(diff)


class BinaryCrossentropy(Loss):
    """Binary cross-entropy with targets in [0, 1], element-wise, mean over elements.

    ``from_logits=True`` (default): ``max(z, 0) - z y + log(1 + exp(-|z|))``, gradient
    ``sigmoid(z) - y``; no overflow for any finite ``z``. ``from_logits=False``: ``y_pred`` are
    probabilities, clipped to ``[1e-7, 1 - 1e-7]`` like Keras (no gradient where clipped).
    """

    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = True) -> None:
        super().__init__()
        self.from_logits = bool(from_logits)

    def _compute(self, y_pred: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = _float(y_true)
        if self.from_logits:
            z = y_pred
            loss = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
            return loss, sigmoid(z) - y
        p = np.clip(y_pred, _EPSILON, 1 - _EPSILON)
        inside = (y_pred > _EPSILON) & (y_pred < 1 - _EPSILON)
        loss = -(y * np.log(p) + (1 - y) * np.log1p(-p))
        return loss, np.where(inside, (p - y) / (p * (1 - p)), 0.0)

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits}


def _class_ids(y_pred: np.ndarray, y_true: np.ndarray, owner: str) -> np.ndarray:
    """Validate integer class targets of shape ``y_pred.shape[:-1]`` (or with a trailing 1)."""
    if y_true.shape == (*y_pred.shape[:-1], 1) and y_pred.ndim >= 2:
        y_true = y_true.reshape(y_pred.shape[:-1])
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"{owner}: y_pred has shape {y_pred.shape} (…, classes) so y_true must "
            f"have shape {y_pred.shape[:-1]} (class ids), got {y_true.shape}"
        )
    if y_true.dtype.kind == "f":
        if np.any(y_true != np.round(y_true)):
            raise ValueError(f"{owner}: y_true must hold integer class ids, got fractions")
    elif y_true.dtype.kind not in "iu":
        raise TypeError(f"{owner}: y_true must hold integer class ids, got dtype {y_true.dtype}")
    ids = y_true.astype(np.int64)
    c = y_pred.shape[-1]
    if ids.size and (ids.min() < 0 or ids.max() >= c):
        raise ValueError(
            f"{owner}: class ids must lie in [0, {c}) for {c} classes, got values in "
            f"[{ids.min()}, {ids.max()}]"
        )
    return ids


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy with integer class targets.

    ``y_pred`` ``(N, C)`` with ``y_true`` ``(N,)``, or per time step ``(N, T, C)`` with
    ``(N, T)`` (``lengths`` mask steps); the mean is over samples (and valid steps). Targets at
    padded steps must still be valid ids (pad with 0).
    ``from_logits=True`` (default) uses a max-shifted log-softmax; gradient
    ``softmax(z) - onehot(y)``. ``from_logits=False`` takes probabilities (normalised over the
    last axis and clipped to ``[1e-7, 1 - 1e-7]``, as Keras).
    """

    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = True) -> None:
        super().__init__()
        self.from_logits = bool(from_logits)

    def _check_targets(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        if y_pred.ndim < 2:
            raise ValueError(
                f"{type(self).__name__}: y_pred must have a class axis, (N, C) or "
                f"(N, T, C), got shape {y_pred.shape}"
            )
        return _class_ids(y_pred, y_true, type(self).__name__)

    def _compute(self, y_pred: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        onehot = np.zeros_like(y_pred)
        np.put_along_axis(onehot, y_true[..., None], 1.0, axis=-1)
        if self.from_logits:
            logp = log_softmax(y_pred, axis=-1)
            loss = -np.take_along_axis(logp, y_true[..., None], axis=-1)[..., 0]
            return loss, np.exp(logp) - onehot
        return _probability_ce(y_pred, onehot)

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits}


class CategoricalCrossentropy(Loss):
    """Cross-entropy with one-hot (or soft) targets of ``y_pred``'s shape, ``(N, C)`` or
    ``(N, T, C)``; loss per sample/step ``-sum(y * log_softmax(z))``, gradient
    ``softmax(z) * sum(y) - y``. ``from_logits=False`` as in
    :class:`SparseCategoricalCrossentropy`."""

    name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = True) -> None:
        super().__init__()
        self.from_logits = bool(from_logits)

    def _check_targets(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        if y_pred.ndim < 2 or y_true.shape != y_pred.shape:
            raise ValueError(
                f"{type(self).__name__}: y_pred has shape {y_pred.shape} and y_true "
                f"has shape {y_true.shape}; both must be (N, C) or (N, T, C) "
                "(one-hot targets; use SparseCategoricalCrossentropy for class ids)"
            )
        return y_true

    def _compute(self, y_pred: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = _float(y_true)
        if self.from_logits:
            logp = log_softmax(y_pred, axis=-1)
            loss = -np.sum(y * logp, axis=-1)
            return loss, softmax(y_pred, axis=-1) * np.sum(y, axis=-1, keepdims=True) - y
        return _probability_ce(y_pred, y)


def _probability_ce(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keras's probability cross-entropy: ``q = clip(p / sum(p), eps, 1 - eps)``,
    ``loss = -sum(y log q)``; the gradient flows through the normalisation and is zero through
    clipped entries."""
    s = np.sum(p, axis=-1, keepdims=True)
    q_raw = p / s
    q = np.clip(q_raw, _EPSILON, 1 - _EPSILON)
    inside = (q_raw > _EPSILON) & (q_raw < 1 - _EPSILON)
    loss = -np.sum(y * np.log(q), axis=-1)
    g_q = np.where(inside, -y / q, 0.0)  # dL/dq (zero through the clip)
    # q_j = p_j / s: dL/dp_k = (g_q_k - sum_j g_q_j q_j) / s
    grad = (g_q - np.sum(g_q * q_raw, axis=-1, keepdims=True)) / s
    return loss, grad


_BY_NAME: dict[str, Any] = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
}
_REGISTRY = Registry("loss", Loss, _BY_NAME, expected="a name or a Loss")


def get(identifier: str | Loss | type | dict) -> Loss:
    """A loss from a Keras name (``"mse"``, ``"mean_squared_error"``, ``"mae"``,
    ``"mean_absolute_error"``, ``"binary_crossentropy"``, ``"sparse_categorical_crossentropy"``,
    ``"categorical_crossentropy"``), a class name (``"MeanSquaredError"``), a
    ``{"class_name", "config"}`` dict, a Loss class, or a Loss instance (returned as is).
    Cross-entropies made from a name take logits (``from_logits=True``)."""
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    return _REGISTRY.get(identifier)


def serialize(loss: Loss) -> dict[str, Any]:
    """``{"class_name", "config"}`` that :func:`get` accepts back."""
    return class_and_config(loss)
