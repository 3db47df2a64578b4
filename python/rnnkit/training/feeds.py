"""``fit`` fed batch by batch, the array-free way Keras code feeds data: a Python generator
(or any iterator) yielding ``(x, y)`` or ``(x, y, sample_weight)`` batches, or a Keras
``Sequence``/``PyDataset``-style object (``__len__`` batches, ``__getitem__(i)`` the i-th,
optional ``on_epoch_end()``), as Keras 3 reads them:

* a generator runs ``steps_per_epoch`` batches per epoch, continuing where the last epoch
  stopped; without ``steps_per_epoch`` the first epoch runs until the generator is exhausted
  (so an infinite generator needs ``steps_per_epoch``). When it runs out of data, training
  stops with a warning, as Keras does.
* a Sequence gives ``len(seq)`` batches per epoch (at most ``steps_per_epoch``), in an order
  reshuffled every epoch when ``shuffle`` (seeded like ``fit``'s shuffling), then
  ``on_epoch_end()`` is called.

``class_weight`` weighs each batch from its targets; ``sample_weight=``, ``validation_split``,
``lengths`` and ``tbptt`` do not combine with a feed (Keras refuses the first two as well):
weights come as the third element of a batch.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..network import num_samples
from .arguments import Validation, check_numeric
from .dispatch import CallbackList
from .loop import running_logs
from .progress import ProgressBar
from .sources import BatchSequence, EpochAware, is_feed
from .weights import class_sample_weights, sample_weights

if TYPE_CHECKING:  # annotations only
    from .trainer import Trainer

__all__ = [
    "BatchSequence",
    "EpochAware",
    "FeedPlan",
    "PyDataset",
    "Sequence",
    "check_feed_arguments",
    "evaluate_feed",
    "feed_epoch",
    "is_feed",
]


class Sequence:
    """Base class for a Keras-style ``Sequence``/``PyDataset``: implement ``__len__`` (the
    number of batches) and ``__getitem__(index)`` (one ``(x, y)`` or ``(x, y, w)`` batch);
    ``on_epoch_end`` runs after every epoch (e.g. to reshuffle). Any object with those methods
    works too; subclassing is not required."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError

    def on_epoch_end(self) -> None:
        """Called after every epoch; does nothing by default."""


PyDataset = Sequence  # Keras 3's name for the same idea


def check_feed_arguments(y: Any, lengths: Any, sample_weight: Any, validation_split: float) -> None:
    """ValueError naming the argument that a feed cannot take."""
    for name, value in (("y", y), ("sample_weight", sample_weight), ("lengths", lengths)):
        if value is not None:
            raise ValueError(
                f"fit was given a generator/Sequence as x, so {name} must be None: each batch "
                "carries its targets and weights, (x, y) or (x, y, sample_weight)"
            )
    if validation_split:
        raise ValueError(
            "validation_split is not supported when x is a generator or a Sequence (as in "
            "Keras): pass validation_data"
        )


@dataclasses.dataclass
class FeedPlan:
    """One run of ``fit`` over a feed. ``batches`` is the generator being consumed across
    epochs (None for a Sequence)."""

    source: Any
    steps_per_epoch: int | None
    epochs: int
    shuffle: bool
    seed: int | None
    verbose: int
    class_weight: dict[int, float] | None
    validation: Validation | None
    validation_batch_size: int | None
    batches: Iterator[Any] | None = None
    exhausted: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.source, BatchSequence):
            self.batches = iter(self.source)

    def steps(self) -> int | None:
        """Batches per epoch when known."""
        if isinstance(self.source, BatchSequence):
            n = len(self.source)
            return n if self.steps_per_epoch is None else min(n, self.steps_per_epoch)
        return self.steps_per_epoch

    def epoch_batches(self, epoch: int) -> Iterator[Any]:
        """This epoch's batches, in order."""
        if self.batches is not None:
            if self.steps_per_epoch is None:
                return self.batches  # until exhausted
            return itertools.islice(self.batches, self.steps_per_epoch)
        order = np.arange(len(self.source))
        if self.shuffle:
            rng = np.random.default_rng(None if self.seed is None else [int(self.seed), epoch])
            order = rng.permutation(len(self.source))
        steps = self.steps()
        return (self.source[int(i)] for i in order[:steps])


def unpack_batch(batch: Any, class_weight: dict[int, float] | None) -> tuple[Any, Any, Any]:
    """``(x, y, weights)`` of one yielded batch, checked."""
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise ValueError(
            "a generator/Sequence must yield (x, y) or (x, y, sample_weight) batches, got "
            f"{type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        )
    x, y = batch[0], np.asarray(batch[1])
    check_numeric(x, "x of a generated batch")
    check_numeric(y, "y of a generated batch")
    n = num_samples(x)
    if y.ndim == 0 or len(y) != n:
        raise ValueError(f"a generated batch has {n} samples in x but y has shape {y.shape}")
    given = batch[2] if len(batch) == 3 else None
    if given is not None and class_weight is not None:
        raise ValueError("a batch carries sample weights, so fit cannot take class_weight too")
    if class_weight is not None:
        return x, y, class_sample_weights(y, class_weight)
    return x, y, sample_weights(given, n, "sample_weight of a generated batch")


def feed_epoch(
    trainer: Trainer, plan: FeedPlan, epoch: int, cbs: CallbackList
) -> dict[str, float] | None:
    """One epoch over the feed: one update per batch, then the validation pass. Sets
    ``model.stop_training`` (with a warning) when a generator runs out of data; None when it
    had no batch left at all (the epoch did not happen)."""
    cbs.on_epoch_begin(epoch, {})
    for metric in trainer.metrics:
        metric.reset_state()
    total = plan.steps()
    progress = ProgressBar(total or 0, epoch, plan.epochs, plan.verbose, unit="steps")
    loss_sum, weight_sum, step = 0.0, 0.0, 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for batch in plan.epoch_batches(epoch):
            x, y, w = unpack_batch(batch, plan.class_weight)
            trainer._where = (epoch, step)
            cbs.on_batch_begin(step, {})
            loss, y_pred, mask = trainer._forward_loss(x, y, None, sample_weight=w)
            trainer._apply_update(loss)
            logs = {"loss": loss}
            for metric in trainer.metrics:
                metric.update_state(y_pred, y, mask)
                logs[metric.name] = metric(y_pred, y, mask)
            nb = num_samples(x)
            loss_sum, weight_sum = loss_sum + loss * nb, weight_sum + nb
            cbs.on_batch_end(step, logs)
            step += 1
            progress.update(step, running_logs(trainer.metrics, loss_sum, weight_sum))
            if trainer.model.stop_training:
                break
    ran_out = step == 0 or (total is not None and step < total)
    if plan.batches is not None and ran_out and not trainer.model.stop_training:
        warnings.warn(
            "your input ran out of data; interrupting training: make sure the generator "
            "can yield steps_per_epoch * epochs batches",
            stacklevel=2,
        )
        trainer.model.stop_training = True
    if step == 0:
        return None
    logs = running_logs(trainer.metrics, loss_sum, weight_sum)
    if plan.validation is not None:
        val = plan.validation
        val_logs = trainer.evaluate(
            val.x,
            val.y,
            batch_size=plan.validation_batch_size or 32,
            verbose=0,
            lengths=val.lengths,
            sample_weight=val.sample_weight,
            steps=val.steps,
        )
        logs.update({f"val_{key}": value for key, value in val_logs.items()})
    if plan.batches is None and isinstance(plan.source, EpochAware):
        plan.source.on_epoch_end()
    progress.finish(logs)
    return logs


def _evaluation_batches(source: Any, steps: int | None) -> Iterator[Any]:
    if isinstance(source, BatchSequence):
        count = len(source) if steps is None else min(len(source), steps)
        return (source[i] for i in range(count))
    return source if steps is None else itertools.islice(source, steps)


def evaluate_feed(trainer: Trainer, source: Any, steps: int | None) -> dict[str, float]:
    """``evaluate`` over a generator or a Sequence (``training=False``): ``steps`` batches (a
    Sequence's all by default, a generator's until exhausted), the loss the mean of the batch
    losses weighted by batch size, metrics accumulated, as for arrays."""
    for metric in trainer.metrics:
        metric.reset_state()
    total, n = 0.0, 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for batch in _evaluation_batches(source, steps):
            x, y, w = unpack_batch(batch, None)
            y_pred = trainer.model.forward(x, training=False)
            mask = trainer._loss_lengths(y_pred, None)
            nb = num_samples(x)
            total += float(trainer.loss.forward(y_pred, y, mask, w)) * nb
            n += nb
            for metric in trainer.metrics:
                metric.update_state(y_pred, y, mask)
    if n == 0:
        raise ValueError("the generator/Sequence given to evaluate yielded no batch")
    return running_logs(trainer.metrics, total, n)
