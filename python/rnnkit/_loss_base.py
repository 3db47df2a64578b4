"""The base every loss shares (:class:`Loss`: masks, sample weights, the mean) and its helpers.

:mod:`rnnkit.losses` builds the concrete losses, Keras's loss functions and the name table on
it; this module holds what they all rest on, so that module stays one concern: which losses
there are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _steps
from ._registry import Configurable

__all__ = ["EPSILON", "Loss", "as_float", "item_count", "item_weights", "step_mask", "valid_items"]

EPSILON = 1e-7  # Keras's backend epsilon: probability clipping when from_logits=False


def as_float(a: Any) -> np.ndarray:
    """``a`` as an array of floats (float64 unless it already holds floats)."""
    a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    return a


def step_mask(lengths: np.ndarray | None, n: int, t: int) -> np.ndarray | None:
    """Boolean ``(N, T)`` mask of valid steps, or None without a mask: ``lengths`` are
    lengths ``(N,)`` (``t < lengths[i]``) or already a step mask ``(N, T)`` (see
    :mod:`rnnkit._steps`)."""
    return _steps.to_mask(lengths, n, t)


def item_weights(sample_weight: Any, item_shape: tuple[int, ...]) -> np.ndarray:
    """``sample_weight`` as float weights broadcastable over losses of ``item_shape`` (trailing
    axes of 1 added); the weights' shape must be a leading part of ``item_shape`` (a trailing
    axis of 1 may be extra, as Keras squeezes it)."""
    w = as_float(sample_weight)
    while w.ndim > 1 and w.shape[-1] == 1 and w.ndim > len(item_shape) - 1:
        w = w[..., 0]
    if w.ndim == 0 or w.ndim > len(item_shape) or w.shape != item_shape[: w.ndim]:
        raise ValueError(
            f"sample_weight has shape {w.shape}, which does not fit losses of shape "
            f"{item_shape}: give one weight per sample (N,) or, for sequence outputs, "
            "per step (N, T)"
        )
    return w.reshape(w.shape + (1,) * (len(item_shape) - w.ndim))


def _weighted(
    per_item: np.ndarray, grad: np.ndarray, sample_weight: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``per_item`` and ``grad`` times the weights (:func:`item_weights`), broadcast over their
    trailing axes."""
    w = item_weights(sample_weight, per_item.shape)
    return per_item * w, grad * w.reshape(w.shape + (1,) * (grad.ndim - w.ndim))


def valid_items(lengths: np.ndarray | None, y_shape: tuple[int, ...]) -> np.ndarray | None:
    """The ``(N, T)`` bool mask of valid steps of a ``(N, T, ...)`` prediction, or None
    without ``lengths``; ValueError when ``y_shape`` has no time axis to mask."""
    if lengths is None:
        return None
    if len(y_shape) < 3:
        raise ValueError(
            f"lengths mask the time axis of a (N, T, ...) y_pred, but y_pred "
            f"has shape {y_shape} (no time axis)"
        )
    return step_mask(lengths, y_shape[0], y_shape[1])


def item_count(mask: np.ndarray | None, item_shape: tuple[int, ...]) -> int:
    """How many items a mean over losses of ``item_shape`` covers: all of them, or with a
    ``(N, T)`` step ``mask`` the valid steps' items (0 when every step is masked)."""
    if mask is None:
        return int(np.prod(item_shape, dtype=np.int64))
    return int(mask.sum()) * int(np.prod(item_shape[2:], dtype=np.int64))


class Loss(Configurable):
    """Base class. Subclasses implement :meth:`_compute` returning the per-element or per-step
    loss and its gradient, both unreduced; the base class applies the mask and the mean.

    A custom loss is a subclass: ``_compute(y_pred, y_true)`` returns ``(loss, grad)``, the
    loss of every element (``y_pred``'s shape; set ``elementwise = False`` when it is one
    value per sample or step, without the last axis) and its derivative with respect to
    ``y_pred`` (``y_pred``'s shape). Check the gradient with :mod:`rnnkit.gradcheck`."""

    name: str = ""
    #: The unreduced loss has one value per element of ``y_pred`` (the regression losses and
    #: binary cross-entropy), not one per sample/step (the categorical cross-entropies):
    #: Keras's loss functions average it over the last axis.
    elementwise: bool = True

    def __init__(self) -> None:
        self._grad: np.ndarray | None = None
        #: How many items the last :meth:`forward` averaged over (valid steps times elements;
        #: 0 when every step was masked): its mean is ``sum / max(count, 1)``. A data-parallel
        #: run weighs each process's gradient by it (see :mod:`rnnkit.distributed`).
        self.count = 0

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
        y_pred = as_float(y_pred)
        y_true = self._check_targets(y_pred, np.asarray(y_true))
        # per_item: unreduced loss per element (regression, BCE) or per sample/step (the
        # cross-entropies sum their class axis away); grad: its gradient, y_pred's shape.
        per_item, grad = self._compute(y_pred, y_true)
        if sample_weight is not None:
            per_item, grad = _weighted(per_item, grad, sample_weight)
        mask = valid_items(lengths, y_pred.shape)
        if mask is not None:
            # Broadcast the (N, T) step mask over the remaining axes of per_item / grad.
            m_items = mask.reshape(mask.shape + (1,) * (per_item.ndim - 2))
            total = float(np.sum(per_item, where=np.broadcast_to(m_items, per_item.shape)))
            # np.where, not a product: a non-finite value at a padded step must not leak in.
            grad = np.where(mask.reshape(mask.shape + (1,) * (grad.ndim - 2)), grad, 0.0)
        else:
            total = float(np.sum(per_item))
        count = self.count = item_count(mask, per_item.shape)
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
