"""Losses: ``forward(y_pred, y_true, lengths=None) -> float`` and ``backward() -> dy_pred``.

Every loss returns the *mean* (as Keras does with its default reduction): over all elements for
the regression losses, over samples (and time steps) for the cross-entropies. ``backward``
returns the gradient of that mean with respect to ``y_pred``, in ``y_pred``'s dtype.

Sequence masks: when ``y_pred`` has a time axis (``(N, T, ...)``, 3 axes or more), ``lengths``
``(N,)`` marks the valid leading steps of each sample, or an ``(N, T)`` bool step mask marks any
valid steps (:mod:`rnnkit._steps`); masked steps contribute nothing (zero loss, zero gradient)
and the mean is taken over the valid steps only. ``lengths`` with a
``y_pred`` of fewer than 3 axes is an error (there is no time axis to mask).

Cross-entropies take logits by default (``from_logits=True``): rnnkit models end in a linear
Dense and the stable log-softmax / log-sigmoid live here. **Keras's default is
from_logits=False**: with a sigmoid/softmax output layer, pass ``from_logits=False``.

Keras's loss *functions* are here too, with Keras's argument order and results:
``mean_squared_error(y_true, y_pred)`` (and ``mse``, ``mae``, ``mape``, ``msle``, ``huber``,
the three cross-entropies, which take probabilities as Keras's do) return the per-sample loss,
the mean over the last axis. ``compile(loss=rnnkit.losses.mse)`` uses the matching Loss. Any
other function is refused: rnnkit has no automatic differentiation, so a custom loss is a
:class:`Loss` subclass whose ``_compute`` returns the loss and its gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _checks
from ._loss_base import EPSILON as _EPSILON
from ._loss_base import Loss, item_count, item_weights, step_mask, valid_items
from ._loss_base import as_float as _float
from ._registry import Registry, class_and_config
from .activations import log_softmax, sigmoid, softmax
from .ops import layer_math
from .ops._arguments import FLOAT_DTYPES

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "Huber",
    "Loss",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "SparseCategoricalCrossentropy",
    "binary_crossentropy",
    "categorical_crossentropy",
    "get",
    "huber",
    "mae",
    "mape",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "mse",
    "msle",
    "sparse_categorical_crossentropy",
    "step_mask",
]


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


class MeanAbsolutePercentageError(Loss):
    """Keras's ``100 |y_true - y_pred| / max(|y_true|, 1e-7)``, mean over all elements;
    gradient ``100 sign(y_pred - y_true) / max(|y_true|, 1e-7)`` (0 where equal)."""

    name = "mean_absolute_percentage_error"

    def _compute(self, y_pred: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = _float(y_true)
        scale = 100.0 / np.maximum(np.abs(y), _EPSILON)
        diff = y_pred - y
        return np.abs(diff) * scale, np.sign(diff) * scale


class MeanSquaredLogarithmicError(Loss):
    """Keras's ``(log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1))²``, mean over all
    elements; no gradient where ``y_pred`` is clipped (``y_pred <= 1e-7``)."""

    name = "mean_squared_logarithmic_error"

    def _compute(self, y_pred: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = np.maximum(y_pred, _EPSILON)
        diff = np.log1p(p) - np.log1p(np.maximum(_float(y_true), _EPSILON))
        return diff * diff, np.where(y_pred > _EPSILON, 2 * diff / (1 + p), 0.0)


class Huber(Loss):
    """Keras's Huber loss: ``0.5 e²`` where ``|e| <= delta``, else ``delta |e| - 0.5 delta²``
    (``e = y_pred - y_true``), mean over all elements; gradient ``e`` clipped to
    ``[-delta, delta]``. Quadratic near the target, linear (robust to outliers) beyond."""

    name = "huber_loss"

    def __init__(self, delta: float = 1.0) -> None:
        super().__init__()
        self.delta = _checks.positive_real(delta, "delta", where="Huber: ")

    def _compute(self, y_pred: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e = y_pred - _float(y_true)
        inside = np.abs(e) <= self.delta
        loss = np.where(inside, 0.5 * e * e, self.delta * np.abs(e) - 0.5 * self.delta**2)
        return loss, np.clip(e, -self.delta, self.delta)

    def get_config(self) -> dict[str, Any]:
        return {"delta": self.delta}


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
    elementwise = False

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

    def forward(
        self,
        y_pred: np.ndarray,
        y_true: np.ndarray,
        lengths: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> float:
        """As :meth:`Loss.forward`; float32 and float64 predictions take one pass of the C++
        core (loss, weights, mask and gradient together: docs/performance.md, "One BLAS
        pool"), other dtypes the NumPy formulation."""
        y_pred = _float(y_pred)
        if y_pred.dtype not in FLOAT_DTYPES:
            return super().forward(y_pred, y_true, lengths, sample_weight)
        ids = self._check_targets(y_pred, np.asarray(y_true))
        items = y_pred.shape[:-1]
        weights = None
        if sample_weight is not None:
            weights = np.broadcast_to(item_weights(sample_weight, items), items).ravel()
        mask = valid_items(lengths, y_pred.shape)
        valid = None
        if mask is not None:
            steps = mask.reshape(mask.shape + (1,) * (len(items) - 2))
            valid = np.broadcast_to(steps, items).ravel()
        self.count = item_count(mask, items)  # what a data-parallel run weighs this mean by
        count = max(self.count, 1)  # all steps padded: loss 0, gradient 0
        total, grad = layer_math.sparse_softmax_cross_entropy(
            y_pred.reshape(-1, y_pred.shape[-1]),
            ids.ravel(),
            weights,
            valid,
            from_logits=self.from_logits,
            scale=1.0 / count,
        )
        self._grad = grad.reshape(y_pred.shape)
        return total / count

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
    elementwise = False

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


# -- Keras's loss functions: per-sample values, Keras's argument order -------------------------


def _per_sample(loss: Loss, y_true: Any, y_pred: Any) -> np.ndarray:
    """Keras's reduction of a loss function: the unreduced loss, averaged over the last axis
    when it has one value per element."""
    y_pred = _float(y_pred)
    per_item, _ = loss._compute(y_pred, loss._check_targets(y_pred, np.asarray(y_true)))
    return np.mean(per_item, axis=-1) if loss.elementwise else per_item


def mean_squared_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Keras's ``mean(square(y_pred - y_true), axis=-1)``: one value per sample (or step)."""
    return _per_sample(MeanSquaredError(), y_true, y_pred)


def mean_absolute_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Keras's ``mean(abs(y_pred - y_true), axis=-1)``."""
    return _per_sample(MeanAbsoluteError(), y_true, y_pred)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Keras's ``100 mean(abs(y_true - y_pred) / max(abs(y_true), 1e-7), axis=-1)``."""
    return _per_sample(MeanAbsolutePercentageError(), y_true, y_pred)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Keras's ``mean(square(log1p(max(y_pred, 1e-7)) - log1p(max(y_true, 1e-7))), axis=-1)``."""
    return _per_sample(MeanSquaredLogarithmicError(), y_true, y_pred)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> np.ndarray:
    """Keras's Huber loss per sample (see :class:`Huber`), the mean over the last axis."""
    return _per_sample(Huber(delta), y_true, y_pred)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> np.ndarray:
    """Keras's binary cross-entropy per sample (mean over the last axis); probabilities by
    default, as Keras's function."""
    return _per_sample(BinaryCrossentropy(from_logits), y_true, y_pred)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> np.ndarray:
    """Keras's categorical cross-entropy per sample, one-hot ``y_true``; probabilities by
    default, as Keras's function."""
    return _per_sample(CategoricalCrossentropy(from_logits), y_true, y_pred)


def sparse_categorical_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False
) -> np.ndarray:
    """Keras's sparse categorical cross-entropy per sample, class ids ``y_true``;
    probabilities by default, as Keras's function."""
    return _per_sample(SparseCategoricalCrossentropy(from_logits), y_true, y_pred)


# Keras's short spellings are the same functions.
mse = mean_squared_error
mae = mean_absolute_error
mape = mean_absolute_percentage_error
msle = mean_squared_logarithmic_error

# compile(loss=<one of these functions>) trains with the matching Loss; the cross-entropy
# functions take probabilities, so their Loss does too (Keras's meaning of the function).
_FUNCTIONS: dict[Any, Any] = {
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
    huber: Huber,
    binary_crossentropy: lambda: BinaryCrossentropy(from_logits=False),
    categorical_crossentropy: lambda: CategoricalCrossentropy(from_logits=False),
    sparse_categorical_crossentropy: lambda: SparseCategoricalCrossentropy(from_logits=False),
}

_BY_NAME: dict[str, Any] = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "huber": Huber,
    "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
}
_REGISTRY = Registry("loss", Loss, _BY_NAME, expected="a name or a Loss")


def get(identifier: Any) -> Loss:
    """A loss from a Keras name (``"mse"``, ``"mean_squared_error"``, ``"mae"``, ``"mape"``,
    ``"msle"``, ``"huber"``, ``"binary_crossentropy"``, ``"sparse_categorical_crossentropy"``,
    ``"categorical_crossentropy"`` and their long forms), a class name (``"MeanSquaredError"``),
    a ``{"class_name", "config"}`` dict, a Loss class, a Loss instance (returned as is), or one
    of this module's Keras functions (``rnnkit.losses.mse``). Cross-entropies made from a name
    take logits (``from_logits=True``); from a function, probabilities (Keras's meaning).

    Raises:
        TypeError: any other function (a custom loss function: rnnkit cannot differentiate
            it; the message says how to write it as a Loss subclass) or object.
        ValueError: an unknown name.
    """
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier) and not isinstance(identifier, (Loss, type)):
        try:
            make = _FUNCTIONS.get(identifier)
        except TypeError:  # unhashable callable: not one of ours
            make = None
        if make is None:
            raise TypeError(_CUSTOM_LOSS_HELP.format(name=_callable_name(identifier)))
        return make()
    return _REGISTRY.get(identifier)


def _callable_name(fn: Any) -> str:
    try:
        return str(fn.__name__)
    except AttributeError:
        return type(fn).__name__


_CUSTOM_LOSS_HELP = (
    "loss={name} is a function, and rnnkit cannot train on a custom loss function: it has no "
    "automatic differentiation, so every loss supplies its own gradient. Write it as a "
    "subclass of rnnkit.losses.Loss whose _compute(y_pred, y_true) returns (loss, grad), the "
    "loss of every element (y_pred's shape) and its derivative with respect to y_pred, e.g.\n\n"
    "    class QuarticLoss(rnnkit.losses.Loss):\n"
    "        def _compute(self, y_pred, y_true):\n"
    "            return (y_pred - y_true) ** 4, 4 * (y_pred - y_true) ** 3\n\n"
    "and pass loss=QuarticLoss() (rnnkit.gradcheck checks the gradient). Keras's own "
    "functions (rnnkit.losses.mse, ...) and names (loss='mse') work as they are."
)


def serialize(loss: Loss) -> dict[str, Any]:
    """``{"class_name", "config"}`` that :func:`get` accepts back."""
    return class_and_config(loss)
