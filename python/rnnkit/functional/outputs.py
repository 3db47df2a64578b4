"""Several outputs, Keras's way: one loss per output (``loss=[...]`` or a dict by output name),
``loss_weights``, and the per-output logs Keras writes (``<output>_loss``,
``<output>_<metric>``).

The Trainer knows one loss and flat metrics; :class:`MultiOutputLoss` is that one loss (the
weighted sum of the outputs' losses, its gradient one array per output) and
:class:`OutputMetric` / :class:`OutputLoss` are flat metrics that look at one output each, so a
model of several outputs trains through the same loops as any other.

Limits (documented in the README): the loss of a model with several outputs sees no sequence
mask (``lengths``), and ``Functional.save`` leaves out the trainer checkpoint of such a model
(its loss is not one of :mod:`rnnkit.losses`'s registered classes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import losses as losses_module
from ..metrics import Metric

__all__ = ["MultiOutputLoss", "OutputLoss", "OutputMetric", "per_output"]


def per_output(value: Any, names: Sequence[str], what: str) -> list[Any]:
    """``value`` spread over the outputs ``names``: a dict by name (missing names get None), a
    list/tuple with one entry per output, or one value for every output."""
    if isinstance(value, dict):
        unknown = sorted(set(map(str, value)) - set(names))
        if unknown:
            raise ValueError(f"{what} names unknown outputs {unknown}; the outputs are {names}")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(
                f"{what} must have one entry per output {names} (or be a dict by output "
                f"name), got {len(value)} entries"
            )
        return list(value)
    return [value] * len(names)


def _targets(y_true: Any, names: Sequence[str]) -> list[Any]:
    if isinstance(y_true, dict):
        return [y_true[name] for name in names]
    if not isinstance(y_true, (list, tuple)) or len(y_true) != len(names):
        raise ValueError(
            f"a model with outputs {names} needs y as a list of {len(names)} target arrays "
            "(or a dict by output name)"
        )
    return list(y_true)


class MultiOutputLoss(losses_module.Loss):
    """The weighted sum of one loss per output; ``backward`` returns one gradient per output.

    Args:
        output_losses: one :class:`~rnnkit.losses.Loss` (or None: the output is not trained)
            per output.
        weights: one weight per output (Keras's ``loss_weights``).
        names: the output names (a dict of targets is read by them).
    """

    def __init__(
        self,
        output_losses: Sequence[losses_module.Loss | None],
        weights: Sequence[float],
        names: Sequence[str],
    ) -> None:
        super().__init__()
        self.output_losses = list(output_losses)
        self.weights = [float(w) for w in weights]
        self.names = list(names)
        self._grads: list[Any] = []

    def forward(
        self,
        y_pred: Any,
        y_true: Any,
        lengths: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> float:
        total = 0.0
        self._grads = []
        for loss, weight, pred, true in zip(
            self.output_losses, self.weights, y_pred, _targets(y_true, self.names)
        ):
            if loss is None:
                self._grads.append(None)
                continue
            total += weight * float(loss.forward(pred, true, None, sample_weight))
            self._grads.append(loss.backward() * np.asarray(weight, dtype=pred.dtype))
        return total

    def backward(self) -> Any:
        return list(self._grads)

    def get_config(self) -> dict[str, Any]:
        return {
            "output_losses": [
                None if loss is None else losses_module.serialize(loss)
                for loss in self.output_losses
            ],
            "weights": self.weights,
            "names": self.names,
        }


class OutputMetric(Metric):
    """A metric of one output, logged as ``<output>_<metric>`` (Keras's name)."""

    def __init__(self, metric: Metric, index: int, names: Sequence[str]) -> None:
        self.metric = metric
        self.index = index
        self.names = list(names)
        self.name = f"{self.names[index]}_{metric.name}"
        super().__init__()

    def reset_state(self) -> None:
        self.metric.reset_state()

    def _pair(self, y_pred: Any, y_true: Any) -> tuple[Any, Any]:
        return y_pred[self.index], _targets(y_true, self.names)[self.index]

    def update_state(self, y_pred: Any, y_true: Any, lengths: np.ndarray | None = None) -> None:
        self.metric.update_state(*self._pair(y_pred, y_true))

    def result(self) -> float:
        return self.metric.result()

    def __call__(self, y_pred: Any, y_true: Any, lengths: np.ndarray | None = None) -> float:
        return self.metric(*self._pair(y_pred, y_true))


class OutputLoss(Metric):
    """One output's loss (unweighted, as Keras logs ``<output>_loss``), averaged over the
    samples seen since the last reset."""

    def __init__(self, loss: losses_module.Loss, index: int, names: Sequence[str]) -> None:
        # A twin of the loss: the trained one keeps its gradient for the backward pass.
        self.loss: Callable[..., float] = type(loss)(**loss.get_config())
        self.index = index
        self.names = list(names)
        self.name = f"{self.names[index]}_loss"
        super().__init__()

    def _sum_count(self, y_pred: Any, y_true: Any, lengths: np.ndarray | None) -> tuple[float, int]:
        pred = y_pred[self.index]
        true = _targets(y_true, self.names)[self.index]
        return float(self.loss(pred, true)) * len(pred), len(pred)

    def update_state(self, y_pred: Any, y_true: Any, lengths: np.ndarray | None = None) -> None:
        s, c = self._sum_count(y_pred, y_true, None)
        self._sum += s
        self._count += c

    def __call__(self, y_pred: Any, y_true: Any, lengths: np.ndarray | None = None) -> float:
        return self._finish(*self._sum_count(y_pred, y_true, None))
