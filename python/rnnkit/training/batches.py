"""One batch at a time, Keras 3's ``train_on_batch`` and ``test_on_batch``: one update (or one
evaluation) on the batch given, reporting that batch's loss and metrics alone (Keras resets
its metrics at the start of each call, so nothing accumulates from call to call)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..network import Inputs, input_lengths, num_samples
from ..threads import in_one_thread_pool
from .arguments import check_numeric, targets
from .weights import fit_sample_weights

if TYPE_CHECKING:  # annotations only
    from .trainer import Trainer

__all__ = ["BatchData", "test_batch", "train_batch"]


class BatchData:
    """One batch after the checks: inputs, targets, lengths and sample weights."""

    def __init__(self, x: Inputs, y: Any, lengths: Any, sample_weight: Any, class_weight: Any):
        check_numeric(x, "x")
        self.x = x
        n = num_samples(x)
        self.y = targets(y, n)
        if n == 0:
            raise ValueError("a batch needs at least one sample, got x with 0 samples")
        self.lengths = input_lengths(lengths, x)
        self.sample_weight = fit_sample_weights(self.y, sample_weight, class_weight)


def _logs(
    trainer: Trainer, loss: float, y_pred: Any, data: BatchData, mask: Any
) -> dict[str, float]:
    logs = {"loss": loss}
    for metric in trainer.metrics:
        metric.reset_state()
        metric.update_state(y_pred, data.y, mask)
        logs[metric.name] = metric.result()
    return logs


@in_one_thread_pool
def train_batch(trainer: Trainer, data: BatchData) -> dict[str, float]:
    """One optimizer update on ``data`` (``training=True``); the batch's loss (before the
    update, as Keras reports it) and metrics."""
    trainer._where = (trainer.epoch, 0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # A non-finite loss raises NonFiniteLossError and leaves the weights as they were.
        loss, y_pred, mask = trainer._forward_loss(
            data.x, data.y, data.lengths, sample_weight=data.sample_weight
        )
        trainer._apply_update(loss)
    return _logs(trainer, loss, y_pred, data, mask)


@in_one_thread_pool
def test_batch(trainer: Trainer, data: BatchData) -> dict[str, float]:
    """Loss and metrics of ``data`` with ``training=False``; nothing is updated."""
    y_pred = trainer.model.forward(data.x, training=False, lengths=data.lengths)
    mask = trainer._loss_lengths(y_pred, data.lengths)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        loss = float(trainer.loss.forward(y_pred, data.y, mask, data.sample_weight))
    return _logs(trainer, loss, y_pred, data, mask)
