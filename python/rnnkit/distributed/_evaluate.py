"""The evaluation passes split over ranks: ``evaluate`` (each batch's rows shared out, or in
shard mode each rank's share of every batch taken from its own samples) and
``evaluate_stream`` (the streams shared out), with one ``Allreduce`` at the end.

The single-process figures are means of batch (window) losses weighted by batch size (window
length), each batch loss a mean over its items: so each rank keeps, per batch, its item count
``c`` and loss sum ``c * L``, and after the sum each batch's loss is ``sum(c L) / sum(c)``,
exactly the batch loss one process computes. Metrics add their sums and counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..network import Inputs
from ..training.loop import evaluate_batch, running_logs
from ..training.streams import StreamViews, window
from . import _mpi
from ._reduce import metric_sums, reported_count, take_metric_sums

if TYPE_CHECKING:  # annotations only
    from ._trainer import DistributedTrainer

__all__ = ["evaluate_shared", "evaluate_streams_shared"]


def _finish(
    trainer: DistributedTrainer,
    per_batch: list[tuple[float, float]],
    metrics: Any,
    weights: list[int],
) -> dict[str, float]:
    """Reduce ``[(c L, c), ...]`` per batch and the metric sums; the logs."""
    MPI = _mpi.load()
    k = len(per_batch)
    buf = np.zeros(2 * k + len(metrics))
    if k:
        buf[: 2 * k] = np.asarray(per_batch, dtype=np.float64).reshape(-1)
    buf[2 * k :] = metrics
    trainer.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
    total = 0.0
    for b in range(k):
        total += float(buf[2 * b]) / max(float(buf[2 * b + 1]), 1.0) * weights[b]
    for metric in trainer.metrics:
        metric.reset_state()
    take_metric_sums(trainer, buf[2 * k :])
    return running_logs(trainer.metrics, total, sum(weights))


def _add(into: np.ndarray, sums: list[float]) -> np.ndarray:
    return into + np.asarray(sums) if sums else into


def evaluate_shared(
    trainer: DistributedTrainer,
    x: Inputs,
    y: Any,
    lengths: np.ndarray | None,
    sample_weight: np.ndarray | None,
    batches: Iterable[tuple[Any, int]],
) -> dict[str, float]:
    """``evaluate``'s pass: ``batches`` gives this rank's rows of each batch and the batch's
    size over all ranks (the same number of batches on every rank)."""
    per_batch, sizes = [], []
    metrics = np.zeros(2 * len(trainer.metrics))
    for rows, size in batches:
        loss, y_pred, yb, mask = evaluate_batch(trainer, (x, y, lengths, sample_weight), rows)
        count = reported_count(trainer)
        per_batch.append((loss * count, float(count)))
        sizes.append(size)
        metrics = _add(metrics, metric_sums(trainer, y_pred, yb, mask))
    return _finish(trainer, per_batch, metrics, sizes)


def evaluate_streams_shared(
    trainer: DistributedTrainer, views: StreamViews, k: int
) -> dict[str, float]:
    """``evaluate_stream``'s pass over windows of ``k`` steps, each rank carrying its share of
    the streams (the caller makes the recurrent layers carry their state)."""
    X, Y, steps, add_axis = trainer._local_streams(views)
    per_window, lengths = [], []
    metrics = np.zeros(2 * len(trainer.metrics))
    for start in range(0, steps, k):
        stop = min(start + k, steps)
        y_pred = trainer.model.forward(window(X, start, stop, add_axis), training=False)
        y_true = window(Y, start, stop, add_axis)
        loss = float(trainer.loss.forward(y_pred, y_true))
        count = reported_count(trainer)
        per_window.append((loss * count, float(count)))
        lengths.append(stop - start)
        metrics = _add(metrics, metric_sums(trainer, y_pred, y_true, None))
    return _finish(trainer, per_window, metrics, lengths)
