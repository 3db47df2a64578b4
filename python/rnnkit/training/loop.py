"""The loops: the epochs of ``fit`` (mini-batches of whole sequences, optionally walked in
TBPTT windows) and ``fit_stream`` (windows of parallel streams), each driven by a plan (the
settings of the run, fixed before its first epoch), and the evaluation passes of ``evaluate``
and ``evaluate_stream``."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..layers import RecurrentLayer
from ..metrics import Metric
from ..network import Inputs, num_samples, take
from .arguments import Validation
from .dispatch import CallbackList
from .progress import ProgressBar
from .streams import States, StreamViews, get_states, set_states, span_start, window
from .tbptt import carried_state, windows

if TYPE_CHECKING:  # annotations only
    from .trainer import Trainer
    from .update import UpdateSteps

__all__ = [
    "EpochPlan",
    "StreamPlan",
    "batch_logs",
    "evaluate_batch",
    "evaluate_batches",
    "evaluate_windows",
    "fit_epoch",
    "running_logs",
    "shuffled_batches",
    "stream_epoch",
]


@dataclasses.dataclass(frozen=True)
class EpochPlan:
    """What every epoch of one ``fit`` run does: the data and the settings, checked."""

    x: Inputs
    y: Any  # an array, or a list/dict of arrays (several outputs)
    lengths: np.ndarray | None
    n: int  # training samples
    epochs: int
    batch_size: int
    shuffle: bool
    seed: int | None
    tbptt: int | None
    per_step: bool  # TBPTT only: the model scores every step (see tbptt.per_step_model)
    verbose: int
    validation: Validation | None
    validation_batch_size: int | None
    sample_weight: np.ndarray | None = None  # (n,) or (n, T), Keras's weights


@dataclasses.dataclass(frozen=True)
class StreamPlan:
    """What every epoch of one ``fit_stream`` run does."""

    views: StreamViews
    k1: int
    k2: int
    ends: list[int]  # where each update's scored steps end (streams.window_ends)
    batch_size: int
    epochs: int
    verbose: int
    validation: tuple[np.ndarray, np.ndarray | None] | None  # (sequence, targets)


def running_logs(metrics: Sequence[Metric], loss_sum: float, weight_sum: float) -> dict[str, float]:
    """The epoch's logs so far: the weighted mean loss and every metric's running result."""
    logs = {"loss": loss_sum / weight_sum if weight_sum else float("nan")}
    for metric in metrics:
        logs[metric.name] = metric.result()
    return logs


def batch_logs(
    trainer: UpdateSteps, loss: float, y_pred: Any, y: Any, mask: Any
) -> dict[str, float]:
    """One update's logs; the metrics' running states take the batch in as well."""
    logs = {"loss": loss}
    for metric in trainer.metrics:
        metric.update_state(y_pred, y, mask)
        logs[metric.name] = metric(y_pred, y, mask)
    return logs


def shuffled_batches(
    trainer: UpdateSteps, plan: EpochPlan, epoch: int
) -> Iterator[tuple[Any, int]]:
    """The batches of one epoch of ``fit``: ``batch_size`` consecutive samples of the epoch's
    order (shuffled with ``(seed, epoch)`` when ``plan.shuffle``), each as the rows this
    process computes (``trainer._local_rows``) and the batch's size."""
    order = None
    if plan.shuffle:
        rng = np.random.default_rng(None if plan.seed is None else [int(plan.seed), epoch])
        order = rng.permutation(plan.n)
    for start in range(0, plan.n, plan.batch_size):
        stop = min(start + plan.batch_size, plan.n)
        rows: Any = slice(start, stop) if order is None else order[start:stop]
        yield trainer._local_rows(rows), stop - start


def fit_epoch(trainer: Trainer, plan: EpochPlan, epoch: int, cbs: CallbackList) -> dict[str, float]:
    """One epoch of ``fit``: shuffled batches, one update each (one per window with TBPTT),
    then the validation pass. Returns the epoch's logs."""
    cbs.on_epoch_begin(epoch, {})
    for metric in trainer.metrics:
        metric.reset_state()
    samples, _ = trainer._epoch_size(plan.n, plan.batch_size)
    progress = ProgressBar(samples, epoch, plan.epochs, plan.verbose)
    loss_sum, weight_sum, step, done = 0.0, 0.0, 0, 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # NaN/inf are detected explicitly and raised as NonFiniteLossError.
        # nb: the batch's samples (over all processes, when data-parallel).
        for rows, nb in trainer._batches(plan, epoch):
            xb, yb = take(plan.x, rows), take(plan.y, rows)
            lb = None if plan.lengths is None else plan.lengths[rows]
            wb = None if plan.sample_weight is None else plan.sample_weight[rows]
            updates: Sequence[tuple[Inputs, Any, np.ndarray | None]]
            if plan.tbptt is None:
                updates = [(xb, yb, lb)]
                context: Any = contextlib.nullcontext()
            else:
                updates, truncate = windows(xb, yb, lb, plan.tbptt, plan.per_step)
                context = carried_state(trainer.model, truncate)
            with context:
                for xw, yw, lw in updates:
                    trainer._where = (epoch, step)
                    cbs.on_batch_begin(step, {})
                    loss, y_pred, mask = trainer._forward_loss(xw, yw, lw, sample_weight=wb)
                    loss, step_logs = trainer._reduce_update(loss, y_pred, yw, mask)
                    trainer._apply_update(loss)
                    weight = nb * (1 if plan.tbptt is None else np.shape(xw)[1])
                    loss_sum += loss * weight
                    weight_sum += weight
                    cbs.on_batch_end(step, step_logs)
                    step += 1
                    if trainer.model.stop_training:
                        break  # a callback asked to stop: end the epoch after this update
            done += nb
            progress.update(done, running_logs(trainer.metrics, loss_sum, weight_sum))
            if trainer.model.stop_training:
                break
    logs = running_logs(trainer.metrics, loss_sum, weight_sum)
    if plan.validation is not None:
        val = plan.validation
        val_logs = trainer.evaluate(
            val.x,
            val.y,
            batch_size=plan.validation_batch_size or plan.batch_size,
            verbose=0,
            lengths=val.lengths,
            sample_weight=val.sample_weight,
            steps=val.steps,
        )
        logs.update({f"val_{key}": value for key, value in val_logs.items()})
    progress.finish(logs)
    return logs


def stream_epoch(
    trainer: Trainer,
    plan: StreamPlan,
    epoch: int,
    cbs: CallbackList,
    rnns: list[RecurrentLayer],
) -> dict[str, float]:
    """One epoch of ``fit_stream`` over the streams, the state of ``rnns`` (made stateful by
    the caller) carried from window to window and reset to zeros at the start; see
    :meth:`Trainer.fit_stream` for the TBPTT(k1, k2) spans. Returns the epoch's logs."""
    X, Y, steps, add_axis = trainer._local_streams(plan.views)
    k1, k2, ends = plan.k1, plan.k2, plan.ends
    cbs.on_epoch_begin(epoch, {})
    for metric in trainer.metrics:
        metric.reset_state()
    zeros: States = [None] * len(rnns)
    set_states(rnns, zeros)
    streams = plan.batch_size  # all of them, also when this process carries a share
    progress = ProgressBar(steps * streams, epoch, plan.epochs, plan.verbose, unit="steps")
    loss_sum, weight_sum = 0.0, 0.0
    carry: States = [None] * len(rnns)  # the carried states at step carry_at
    carry_at = 0
    prev_end = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for step, end in enumerate(ends):
            trainer._where = (epoch, step)
            start = span_start(prev_end, k1, k2)
            cbs.on_batch_begin(step, {})
            if k2 > k1:
                set_states(rnns, carry)  # the state at `start`
            xw = window(X, start, end, add_axis)
            yw = window(Y, prev_end, end, add_axis)
            loss, y_pred, mask = trainer._forward_loss(xw, yw, None, loss_from=prev_end - start)
            if k2 > k1 and step + 1 < len(ends):
                # The next span starts inside this one: advance the carried state to it with a
                # forward-only pass, before the update (the weights this span's forward used).
                # With k2 == k1 the stateful layers already hold the state at `end`, the next
                # start.
                next_start = span_start(end, k1, k2)
                if next_start > carry_at:
                    set_states(rnns, carry)
                    trainer.model.forward(window(X, carry_at, next_start, add_axis), training=False)
                    carry, carry_at = get_states(rnns), next_start
            loss, step_logs = trainer._reduce_update(loss, y_pred, yw, mask)
            trainer._apply_update(loss)
            weight = end - prev_end
            loss_sum += loss * weight
            weight_sum += weight
            prev_end = end
            cbs.on_batch_end(step, step_logs)
            progress.update(end * streams, running_logs(trainer.metrics, loss_sum, weight_sum))
            if trainer.model.stop_training:
                break  # a callback asked to stop: this epoch ends here
    logs = running_logs(trainer.metrics, loss_sum, weight_sum)
    if plan.validation is not None:
        states = get_states(rnns)
        sequence, targets = plan.validation
        val_logs = trainer.evaluate_stream(sequence, targets, batch_size=plan.batch_size, bptt=k1)
        set_states(rnns, states)
        logs.update({f"val_{k}": v for k, v in val_logs.items()})
    progress.finish(logs)
    return logs


def evaluate_batches(
    trainer: Trainer,
    x: Inputs,
    y: Any,
    lengths: np.ndarray | None,
    batch_size: int,
    sample_weight: np.ndarray | None = None,
) -> dict[str, float]:
    """``evaluate``'s pass (``training=False``): the loss as the mean of the batch losses
    weighted by batch size (Keras's reduction; ``sample_weight`` weighs the samples inside
    each batch loss), metrics accumulated over all samples/steps (unweighted: Keras weighs
    only ``weighted_metrics``)."""
    n = num_samples(x)
    for metric in trainer.metrics:
        metric.reset_state()
    total = 0.0
    for start in range(0, n, batch_size):
        rows = slice(start, start + batch_size)
        loss, y_pred, yb, mask = evaluate_batch(trainer, (x, y, lengths, sample_weight), rows)
        total += loss * (min(start + batch_size, n) - start)
        for metric in trainer.metrics:
            metric.update_state(y_pred, yb, mask)
    return running_logs(trainer.metrics, total, n)  # total / n: the weighted mean


def evaluate_batch(
    trainer: Trainer, data: tuple[Inputs, Any, Any, Any], rows: Any
) -> tuple[float, Any, Any, Any]:
    """``(loss, y_pred, y, mask)`` of ``rows`` of ``data = (x, y, lengths, sample_weight)``
    with ``training=False``: one batch of an evaluation pass."""
    x, y, lengths, sample_weight = data
    xb, yb = take(x, rows), take(y, rows)
    lb = None if lengths is None else lengths[rows]
    wb = None if sample_weight is None else sample_weight[rows]
    y_pred = trainer.model.forward(xb, training=False, lengths=lb)
    mask = trainer._loss_lengths(y_pred, lb)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        loss = float(trainer.loss.forward(y_pred, yb, mask, wb))
    return loss, y_pred, yb, mask


def evaluate_windows(trainer: Trainer, views: StreamViews, k: int) -> dict[str, float]:
    """``evaluate_stream``'s pass over windows of ``k`` steps (``training=False``; the caller
    makes the recurrent layers carry their state): the mean loss over all scored steps."""
    X, Y, steps, add_axis = views
    for metric in trainer.metrics:
        metric.reset_state()
    total = 0.0
    for start in range(0, steps, k):
        stop = min(start + k, steps)
        y_pred = trainer.model.forward(window(X, start, stop, add_axis), training=False)
        y_true = window(Y, start, stop, add_axis)
        total += float(trainer.loss.forward(y_pred, y_true)) * (stop - start)
        for metric in trainer.metrics:
            metric.update_state(y_pred, y_true)
    return running_logs(trainer.metrics, total, steps)
