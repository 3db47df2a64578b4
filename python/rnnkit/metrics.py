"""Metrics: accuracy, perplexity and the regression errors, by Keras name or class, and any
function ``fn(y_true, y_pred) -> per-sample values`` (Keras's custom metrics).

A metric object is callable on one batch, ``metric(y_pred, y_true, lengths=None) -> float``, and
also accumulates over batches Keras-style (``update_state`` / ``result`` / ``reset_state``): it
keeps a running sum and count, so an epoch's value weights every sample (or valid time step)
equally whatever the batch sizes and masks.

Names: ``metric.name`` is what ``fit`` logs. As in Keras, a metric chosen by string is logged
under that string (``metrics=["acc"]`` gives ``history["acc"]``), a function under its
``__name__``, a metric object under its own ``name`` (``RootMeanSquaredError()``:
``"root_mean_squared_error"``; every class takes ``name=``).

Masks: with ``lengths`` (or an ``(N, T)`` step mask) and a ``y_pred`` that has a time axis (3
axes or more), only valid steps count, as in :mod:`rnnkit.losses`.

Keras's metric functions are here as in Keras: the loss functions of :mod:`rnnkit.losses`
(``mean_squared_error``, ``mae``, ...) and ``binary_accuracy``, ``categorical_accuracy``,
``sparse_categorical_accuracy``, returning per-sample (binary: per-element) values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import losses
from ._registry import Registry
from .losses import (
    mae,
    mape,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    mse,
    msle,
    step_mask,
)

__all__ = [
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "FunctionMetric",
    "MeanAbsoluteError",
    "MeanAbsoluteErrorMetric",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredErrorMetric",
    "MeanSquaredLogarithmicError",
    "Metric",
    "Perplexity",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "get",
    "mae",
    "mape",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "mse",
    "msle",
    "sparse_categorical_accuracy",
]


class Metric:
    """Base class: subclasses implement :meth:`_sum_count` for one batch. ``name``: what
    ``fit`` logs it as (None: the class's name)."""

    name: str = ""

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            if not isinstance(name, str) or not name:
                raise TypeError(f"metric name must be a non-empty str, got {name!r}")
            self.name = name
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
        return f"{type(self).__name__}(name={self.name!r})"


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

    def __init__(self, threshold: float = 0.0, name: str | None = None) -> None:
        self.threshold = float(threshold)
        super().__init__(name)

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

    def __init__(self, from_logits: bool = True, name: str | None = None) -> None:
        self.from_logits = bool(from_logits)
        self._ce = losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        super().__init__(name)

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

    def __init__(self, name: str | None = None) -> None:
        self._loss = self.loss_class()
        super().__init__(name)

    def _sum_count(
        self, y_pred: np.ndarray, y_true: np.ndarray, lengths: np.ndarray | None
    ) -> tuple[float, int]:
        mean = self._loss.forward(y_pred, y_true, lengths)
        valid = _valid(y_pred, lengths)
        per_step = int(np.prod(y_pred.shape[2:])) if y_pred.ndim >= 2 else 1
        count = int(valid.sum()) * per_step if valid is not None else int(y_pred.size)
        return mean * count, count


class MeanSquaredError(_LossMetric):
    """Keras's ``MeanSquaredError`` metric: the mean of ``(y_pred - y_true)²``."""

    name = "mean_squared_error"
    loss_class = losses.MeanSquaredError


class MeanAbsoluteError(_LossMetric):
    """Keras's ``MeanAbsoluteError`` metric: the mean of ``|y_pred - y_true|``."""

    name = "mean_absolute_error"
    loss_class = losses.MeanAbsoluteError


class MeanAbsolutePercentageError(_LossMetric):
    """Keras's ``MeanAbsolutePercentageError``: ``100 |y_true - y_pred| / max(|y_true|, 1e-7)``
    averaged."""

    name = "mean_absolute_percentage_error"
    loss_class = losses.MeanAbsolutePercentageError


class MeanSquaredLogarithmicError(_LossMetric):
    """Keras's ``MeanSquaredLogarithmicError`` metric (see :mod:`rnnkit.losses`)."""

    name = "mean_squared_logarithmic_error"
    loss_class = losses.MeanSquaredLogarithmicError


class RootMeanSquaredError(_LossMetric):
    """Keras's ``RootMeanSquaredError``: the square root of the mean squared error over every
    (valid) element seen since the last reset (not a mean of batch roots)."""

    name = "root_mean_squared_error"
    loss_class = losses.MeanSquaredError

    def _finish(self, total: float, count: int) -> float:
        return float(np.sqrt(total / count)) if count else 0.0


class MeanAbsoluteErrorMetric(MeanAbsoluteError):
    """Mean absolute error as a metric, logged as ``"mae"`` (rnnkit's earlier name)."""

    name = "mae"


class MeanSquaredErrorMetric(MeanSquaredError):
    """Mean squared error as a metric, logged as ``"mse"`` (rnnkit's earlier name)."""

    name = "mse"


# -- metrics from functions ---------------------------------------------------------------------


class FunctionMetric(Metric):
    """Keras's ``MeanMetricWrapper``: the mean of ``fn(y_true, y_pred, **kwargs)`` (Keras's
    argument order), a function returning one value per sample (or per sample and step), over
    every sample since the last reset; a scalar counts as one value. With a sequence mask the
    values of padded steps are left out, so ``fn`` must then keep the ``(N, T)`` axes.

    Args:
        fn: the function (plain NumPy on arrays).
        name: what ``fit`` logs (None: ``fn.__name__``).
        kwargs: more arguments of ``fn`` (``threshold=0.5``).
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None, **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"FunctionMetric needs a function, got {type(fn).__name__}")
        self.fn = fn
        self.kwargs = kwargs
        if name is None and not self.name:
            try:
                name = str(fn.__name__)
            except AttributeError:  # a callable object: Keras names it after its class
                name = type(fn).__name__
        super().__init__(name)

    def _sum_count(
        self, y_pred: np.ndarray, y_true: np.ndarray, lengths: np.ndarray | None
    ) -> tuple[float, int]:
        values = np.asarray(self.fn(y_true, y_pred, **self.kwargs), dtype=np.float64)
        valid = _valid(y_pred, lengths)
        if valid is None:
            return float(values.sum()), int(values.size)
        if values.shape[:2] != valid.shape:
            raise ValueError(
                f"metric {self.name!r}: with a sequence mask its function must return one value "
                f"per sample and step, shape {valid.shape}, got {values.shape}"
            )
        where = np.broadcast_to(valid.reshape(valid.shape + (1,) * (values.ndim - 2)), values.shape)
        per_step = int(np.prod(values.shape[2:], dtype=np.int64))
        return float(np.sum(values, where=where)), int(valid.sum()) * per_step

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.fn!r}, name={self.name!r})"


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """Keras 3's ``binary_accuracy``: ``y_true == (y_pred > threshold)`` as 0/1, element-wise
    (Keras 3 no longer averages the last axis); ``y_pred`` are probabilities (use
    ``threshold=0`` for logits)."""
    y_pred, y_true = np.asarray(y_pred), np.asarray(y_true)
    if y_true.shape != y_pred.shape and y_pred.shape[-1:] == (1,):
        y_true = y_true.reshape(y_pred.shape)
    return (y_true == (y_pred > threshold).astype(y_true.dtype)).astype(np.float64)


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """Keras's ``categorical_accuracy``: ``argmax(y_true) == argmax(y_pred)`` per sample
    (one-hot targets)."""
    equal = np.argmax(np.asarray(y_true), axis=-1) == np.argmax(np.asarray(y_pred), axis=-1)
    return equal.astype(np.float64)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """Keras's ``sparse_categorical_accuracy``: ``y_true == argmax(y_pred)`` per sample (class
    ids, shaped ``(N,)`` or ``(N, 1)``)."""
    y_pred, y_true = np.asarray(y_pred), np.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1:] == (1,):
        y_true = y_true[..., 0]
    return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float64)


class BinaryAccuracy(FunctionMetric):
    """Keras's ``BinaryAccuracy(threshold=0.5)`` (probabilities; ``threshold=0`` for logits)."""

    name = "binary_accuracy"

    def __init__(self, threshold: float = 0.5, name: str | None = None) -> None:
        super().__init__(binary_accuracy, name, threshold=float(threshold))


class CategoricalAccuracy(FunctionMetric):
    """Keras's ``CategoricalAccuracy`` (one-hot targets)."""

    name = "categorical_accuracy"

    def __init__(self, name: str | None = None) -> None:
        super().__init__(categorical_accuracy, name)


class SparseCategoricalAccuracy(FunctionMetric):
    """Keras's ``SparseCategoricalAccuracy`` (class-id targets)."""

    name = "sparse_categorical_accuracy"

    def __init__(self, name: str | None = None) -> None:
        super().__init__(sparse_categorical_accuracy, name)


_BY_NAME: dict[str, Any] = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "perplexity": Perplexity,
    "ppl": Perplexity,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "rmse": RootMeanSquaredError,
    "root_mean_squared_error": RootMeanSquaredError,
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
}

# Metrics are chosen by name, object or function (compile(metrics=[...])): no dicts.
_REGISTRY = Registry("metric", Metric, _BY_NAME, expected="a name or a Metric", by_class_name=False)


def get(identifier: str | Metric | type | Callable[..., Any]) -> Metric:
    """A metric as Keras's ``compile`` makes one:

    * a name (above: ``"accuracy"``/``"acc"``, ``"perplexity"``/``"ppl"``, ``"mae"``, ``"mse"``,
      ``"mape"``, ``"msle"``, ``"rmse"``, their long forms, ``"binary_accuracy"``,
      ``"categorical_accuracy"``, ``"sparse_categorical_accuracy"``): a fresh metric named
      exactly as written, so ``"acc"`` is logged as ``"acc"``;
    * a Metric (returned as is) or a Metric class (made with its defaults);
    * any other callable ``fn(y_true, y_pred)``: a :class:`FunctionMetric` named
      ``fn.__name__``.

    Raises:
        ValueError: an unknown name.  TypeError: anything else.
    """
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        metric: Metric = _REGISTRY.get(identifier)
        metric.name = identifier
        return metric
    if callable(identifier) and not isinstance(identifier, (Metric, type)):
        return FunctionMetric(identifier)
    return _REGISTRY.get(identifier)
