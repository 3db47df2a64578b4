"""The gradient reducer: one ``Allreduce`` of one preallocated float64 buffer per update.

The buffer holds, for rank ``r`` with ``c_r`` loss items (see :mod:`rnnkit.distributed` for
why this weighting gives the single-process update): ``c_r * g_r`` for every trainable
gradient, flattened in :attr:`~rnnkit.network.Network.trainable_grads` order, then
``c_r * L_r`` and ``c_r``, then every metric's batch sum and count. After the sum, every rank
holds the same figures and divides by ``C = sum_r c_r``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _mpi

if TYPE_CHECKING:  # annotations only
    from ..training import Trainer

__all__ = ["UpdateReducer", "metric_sums", "reported_count"]


def metric_sums(trainer: Trainer, y_pred: Any, y: Any, mask: Any) -> list[float]:
    """Every metric's ``(sum, count)`` of one batch, flattened: what adds up across ranks."""
    sums: list[float] = []
    for metric in trainer.metrics:
        total, count = metric._sum_count(np.asarray(y_pred), np.asarray(y), mask)
        sums += [float(total), float(count)]
    return sums


def take_metric_sums(trainer: Trainer, sums: np.ndarray) -> dict[str, float]:
    """Add the reduced ``(sum, count)`` pairs to the metrics' running states; the batch's
    metric values."""
    logs = {}
    for i, metric in enumerate(trainer.metrics):
        total, count = float(sums[2 * i]), int(sums[2 * i + 1])
        metric._sum += total
        metric._count += count
        logs[metric.name] = metric._finish(total, count)
    return logs


def reported_count(trainer: Trainer) -> int:
    """How many items the loss's last mean covered (``Loss.count``), which every data-parallel
    sum weighs by; TypeError for a loss that did not report it. The count is then marked as
    read (-1), so that a loss which skips ``Loss.forward`` next time shows up, not a stale one."""
    count = trainer.loss.count
    if count < 0:
        raise TypeError(
            f"{type(trainer.loss).__name__} did not report how many items its mean covers "
            "(Loss.count): a data-parallel loss must use rnnkit.losses.Loss.forward"
        )
    trainer.loss.count = -1
    return count


class UpdateReducer:
    """Combines the ranks' gradients, loss and metrics of one update (see the module text).

    Attributes:
        seconds: time spent in ``Allreduce`` (waiting for the slowest rank included).
        updates: updates reduced.
    """

    def __init__(self, comm: Any) -> None:
        self.comm = comm
        self.buffer = np.empty(0)
        self.seconds = 0.0
        self.updates = 0

    def reduce(
        self, trainer: Trainer, loss: float, y_pred: Any, y: Any, mask: Any
    ) -> tuple[float, dict[str, float]]:
        """Replace the layers' gradients by the global batch's, in place; the global loss and
        batch logs."""
        MPI = _mpi.load()
        count = reported_count(trainer)
        grads = list(trainer.model.trainable_grads.values())
        sums = metric_sums(trainer, y_pred, y, mask)
        size = sum(g.size for g in grads) + 2 + len(sums)
        if self.buffer.size != size:
            self.buffer = np.empty(size)
        buf = self.buffer
        at = 0
        for g in grads:
            np.multiply(g.reshape(-1), count, out=buf[at : at + g.size])
            at += g.size
        buf[at], buf[at + 1] = loss * count, count
        buf[at + 2 :] = sums
        start = time.perf_counter()
        self.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        self.seconds += time.perf_counter() - start
        self.updates += 1
        scale = 1.0 / max(buf[at + 1], 1.0)  # Loss.forward's max(count, 1): all masked
        at = 0
        for g in grads:
            np.multiply(buf[at : at + g.size].reshape(g.shape), scale, out=g, casting="same_kind")
            at += g.size
        logs = {"loss": float(buf[at] * scale)}
        logs.update(take_metric_sums(trainer, buf[at + 2 :]))
        return logs["loss"], logs
