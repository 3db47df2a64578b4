"""Metrics: ``accuracy``, ``perplexity``, ``mae``, ``mse``.

A metric object is callable on one batch, ``metric(y_pred, y_true, lengths=None) -> float``, and
also accumulates over batches Keras-style (``update_state`` / ``result`` / ``reset_state``): it
keeps a running sum and count, so an epoch's value weights every sample (or valid time step)
equally whatever the batch sizes and masks.

Masks: with ``lengths`` and a ``y_pred`` that has a time axis (3 axes or more), only valid steps
count, as in :mod:`rnnkit.losses`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import Registry
from .losses import MeanAbsoluteError, MeanSquaredError, SparseCategoricalCrossentropy, step_mask

__all__ = [
    "Accuracy",
    "MeanAbsoluteErrorMetric",
    "MeanSquaredErrorMetric",
    "Metric",
    "Perplexity",
    "get",
]


class Metric:
    """Base class: subclasses implement :meth:`_sum_count` for one batch."""

    name: str = ""

    def __init__(self) -> None:
        self.reset_state()

    def reset_state(self) -> None:
        """Forget the accumulated batches."""
        self._sum = 0.0
        self._count = 0

    def update_state(
        self, y_pred: np.ndarray, y_true: np.ndarray, lengths: np.ndarray | None = None
    ) -> None:
        """Add one batch."""
        s, c = self._sum_count(np.asarray(y_pred), np.asarray(y_true), lengths)
        self._sum += s
        self._count += c

    def result(self) -> float:
        """The metric over every batch since the last reset (0.0 before any)."""
        return self._finish(self._sum, self._count)

    def __call__(
        self, y_pred: np.ndarray, y_true: np.ndarray, lengths: np.ndarray | None = None
    ) -> float:
        """The metric of one batch (does not touch the accumulated state)."""
        return self._finish(*self._sum_count(np.asarray(y_pred), np.asarray(y_true), lengths))

    def _finish(self, total: float, count: int) -> float:
        return total / count if count else 0.0

    def _sum_count(
        self, y_pred: np.ndarray, y_true: np.ndarray, lengths: np.ndarray | None
    ) -> tuple[float, int]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _valid(y_pred: np.ndarray, lengths: np.ndarray | None) -> np.ndarray | None:
    if lengths is None:
        return None
    if y_pred.ndim < 3:
        raise ValueError(
            f"lengths mask the time axis of a (N, T, ...) y_pred, but y_pred has "
            f"shape {y_pred.shape} (no time axis)"
        )
    return step_mask(lengths, y_pred.shape[0], y_pred.shape[1])


class Accuracy(Metric):
    """Fraction of correct predictions, deciding the task from the shapes:

    * multi-class logits/probabilities ``(..., C)``, ``C > 1``, with integer targets of shape
      ``(...)`` (or ``(..., 1)``): ``argmax(y_pred) == y_true``;
    * the same with one-hot targets of ``y_pred``'s shape: ``argmax == argmax``;
    * binary ``(N,)`` or ``(..., 1)`` (or targets of ``y_pred``'s shape with ``C == 1``): ``y_pred >
      threshold`` against ``y_true > 0.5``; the threshold is 0 for logits (rnnkit's default
      output) — use ``Accuracy(threshold=0.5)`` for probabilities.
    """

    name = "accuracy"

    def __init__(self, threshold: float = 0.0) -> None:
        self.threshold = float(threshold)
        super().__init__()

    def _sum_count(
        self, y_pred: np.ndarray, y_true: np.ndarray, lengths: np.ndarray | None
    ) -> tuple[float, int]:
        valid = _valid(y_pred, lengths)
        multi_class = y_pred.ndim >= 2 and y_pred.shape[-1] > 1  # a 1-D y_pred is binary
        if multi_class and y_true.shape != y_pred.shape:
            if y_true.shape == (*y_pred.shape[:-1], 1):
                y_true = y_true.reshape(y_pred.shape[:-1])
            if y_true.shape != y_pred.shape[:-1]:
                raise ValueError(
                    f"accuracy: y_pred has shape {y_pred.shape} but y_true has "
                    f"shape {y_true.shape}; expected class ids of shape "
                    f"{y_pred.shape[:-1]} or one-hot of shape {y_pred.shape}"
                )
            correct = np.argmax(y_pred, axis=-1) == y_true
        elif multi_class:
            correct = np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)
        else:
            if y_true.shape != y_pred.shape:
                if y_pred.shape[-1:] == (1,) and y_true.shape == y_pred.shape[:-1]:
                    y_true = y_true.reshape(y_pred.shape)
                else:
                    raise ValueError(
                        f"accuracy: y_pred has shape {y_pred.shape} but y_true "
                        f"has shape {y_true.shape}"
                    )
            correct = (y_pred > self.threshold) == (y_true > 0.5)
        if valid is not None:
            if correct.ndim > 2:  # e.g. (N, T, 1) binary: one decision per step
                correct = correct.reshape((*correct.shape[:2], -1)).all(axis=-1)
            return float(np.sum(correct & valid)), int(valid.sum())
        return float(np.sum(correct)), int(correct.size)


class Perplexity(Metric):
    """``exp`` of the mean sparse categorical cross-entropy (per token), from logits by
    default; accumulates total cross-entropy and token count, so the epoch value is the
    perplexity of all tokens together (not a mean of batch perplexities)."""

    name = "perplexity"

    def __init__(self, from_logits: bool = True) -> None:
        self.from_logits = bool(from_logits)
        self._ce = SparseCategoricalCrossentropy(from_logits=from_logits)
        super().__init__()

    def _sum_count(
        self, y_pred: np.ndarray, y_true: np.ndarray, lengths: np.ndarray | None
    ) -> tuple[float, int]:
        mean = self._ce.forward(y_pred, y_true, lengths)
        valid = _valid(y_pred, lengths)
        count = int(valid.sum()) if valid is not None else int(np.prod(y_pred.shape[:-1]))
        return mean * count, count

    def _finish(self, total: float, count: int) -> float:
        return float(np.exp(total / count)) if count else 0.0


class _LossMetric(Metric):
    """A regression loss used as a metric (same masking and mean)."""

    loss_class: Any = None

    def __init__(self) -> None:
        self._loss = self.loss_class()
        super().__init__()

    def _sum_count(
        self, y_pred: np.ndarray, y_true: np.ndarray, lengths: np.ndarray | None
    ) -> tuple[float, int]:
        mean = self._loss.forward(y_pred, y_true, lengths)
        valid = _valid(y_pred, lengths)
        per_step = int(np.prod(y_pred.shape[2:])) if y_pred.ndim >= 2 else 1
        count = int(valid.sum()) * per_step if valid is not None else int(y_pred.size)
        return mean * count, count


class MeanAbsoluteErrorMetric(_LossMetric):
    """Mean absolute error as a metric."""

    name = "mae"
    loss_class = MeanAbsoluteError


class MeanSquaredErrorMetric(_LossMetric):
    """Mean squared error as a metric."""

    name = "mse"
    loss_class = MeanSquaredError


_BY_NAME: dict[str, Any] = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "perplexity": Perplexity,
    "ppl": Perplexity,
    "mae": MeanAbsoluteErrorMetric,
    "mean_absolute_error": MeanAbsoluteErrorMetric,
    "mse": MeanSquaredErrorMetric,
    "mean_squared_error": MeanSquaredErrorMetric,
}

# Metrics are chosen by name only (compile(metrics=[...])): no class names, no dicts.
_REGISTRY = Registry("metric", Metric, _BY_NAME, expected="a name or a Metric", by_class_name=False)


def get(identifier: str | Metric) -> Metric:
    """A fresh metric from ``"accuracy"``/``"acc"``, ``"perplexity"``/``"ppl"``,
    ``"mae"``/``"mean_absolute_error"``, ``"mse"``/``"mean_squared_error"``, or a Metric
    (returned as is)."""
    return _REGISTRY.get(identifier)
