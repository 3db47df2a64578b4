"""The Trainer: the public entry points (``fit``, ``fit_stream``,
``evaluate``, ``evaluate_stream``, ``predict``, ``compute_gradients``, checkpoints) that plan a
run and hand it to the loops of :mod:`.loop`. See :mod:`rnnkit.training` for what each way of
walking the data does.

One update (forward, loss, backward, the checked optimizer step) and the seam a data-parallel
run plugs into live in :mod:`.update`; the loops in :mod:`.loop`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _checks, _seeding, saving
from .. import losses as losses_module
from .. import optimizers as optimizers_module
from ..callbacks import Callback, History
from ..network import Inputs, Network, input_lengths, num_samples
from ..threads import in_one_thread_pool
from . import checkpoints
from .arguments import FitOptions, prepare_fit_data, targets, unpack_validation
from .dispatch import CallbackList, begin_training
from .feeds import FeedPlan, check_feed_arguments, evaluate_feed, feed_epoch
from .loop import (
    EpochPlan,
    StreamPlan,
    evaluate_batches,
    evaluate_windows,
    fit_epoch,
    stream_epoch,
)
from .progress import format_value
from .sources import is_feed
from .streams import bptt_pair, stream_views, window_ends
from .tbptt import carried_state, check_tbptt_input, per_step_model
from .update import UpdateSteps
from .weights import per_sample_only, sample_weights

__all__ = ["Trainer"]


class Trainer(UpdateSteps):
    """Trains a :class:`~rnnkit.models.Model` (any :class:`~rnnkit.network.Network`) with a
    loss and an optimizer.

    Args:
        model: any Model (Sequential or a subclass listing its layers).
        loss: a :class:`rnnkit.losses.Loss` or a Keras name (``"mse"``,
            ``"sparse_categorical_crossentropy"``, ...).
        optimizer: an :class:`rnnkit.optimizers.Optimizer` or a Keras name (``"sgd"``,
            ``"adam"``, ...: Keras defaults).
        metrics: names or :class:`rnnkit.metrics.Metric` objects (``"accuracy"``,
            ``"perplexity"``, ``"mae"``, ``"mse"``), reported per epoch and in ``evaluate``.
        clip_norm: clip the global gradient norm to this before each update.
        clip_value: clip each gradient entry to ``[-clip_value, clip_value]``.

    Attributes:
        epoch: number of epochs completed (pass it as ``initial_epoch`` to resume).
        stop_training: alias of ``model.stop_training`` (set by callbacks).
    """

    # -- fit ----------------------------------------------------------------------------------
    @in_one_thread_pool
    def fit(
        self,
        x: Inputs,
        y: Any,
        epochs: int = 1,
        batch_size: int = 32,
        shuffle: bool = True,
        validation_data: tuple | None = None,
        validation_split: float = 0.0,
        callbacks: Sequence[Callback] = (),
        verbose: int = 1,
        seed: int | None = None,
        lengths: np.ndarray | None = None,
        tbptt: int | None = None,
        initial_epoch: int = 0,
        validation_batch_size: int | None = None,
        sample_weight: np.ndarray | None = None,
        class_weight: dict[int, float] | None = None,
        validation_lengths: np.ndarray | None = None,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
    ) -> History:
        """Train for epochs ``initial_epoch .. epochs-1`` (Keras's numbering).

        Args:
            x: inputs ``(N, ...)`` (or a list/tuple of such arrays for multi-input models).
            y: targets ``(N, ...)``.
            epochs: index of the last epoch + 1 (with ``initial_epoch=0``: how many epochs).
            batch_size: samples per batch (the last batch may be smaller).
            shuffle: reshuffle the samples every epoch.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, val_sample_weight)`` (Keras's
                meaning), evaluated at the end of each epoch (``val_loss``,
                ``val_<metric>``); its lengths go in ``validation_lengths``.
            validation_split: fraction of the samples held out for validation, taken from the
                end of the data before shuffling (as Keras); ignored if ``validation_data``.
            callbacks: :class:`~rnnkit.callbacks.Callback` objects.
            verbose: 0 silent, 1 progress bar (one line per epoch when not on a terminal),
                2 one line per epoch.
            seed: seed of the shuffling; epoch ``e`` uses ``(seed, e)``, so a seeded run is
                reproducible and resumable. None: fresh entropy.
            lengths: ``(N,)`` valid leading steps per sample, or an ``(N, T)`` bool step mask
                (any steps masked; not with ``tbptt``): the sequence mask.
            tbptt: walk each batch in windows of this many steps, carrying the recurrent state
                and cutting the gradient between windows, one update per window (see
                :mod:`rnnkit.training`). A model with one prediction per step (output
                ``(N, T, ...)``: many-to-many, targets ``(N, T, ...)``) is scored per window,
                one update each; a model with one prediction per sequence (many-to-one) gets
                one update per batch on its last state, the gradient cut every ``tbptt`` steps
                (with ``lengths``, each sample's loss reaches back through the window holding
                its last valid step, also when padding fills the last window). Which kind the
                model is comes from its output, not from ``y``'s shape.
            initial_epoch: epoch to start from (resume with ``trainer.epoch``).
            validation_batch_size: batch size of the validation pass (None: ``batch_size``).
            sample_weight: ``(N,)`` weight per sample, or ``(N, T)`` per step for sequence
                outputs: multiplies that sample's (step's) loss; the loss stays divided by the
                number of samples (valid steps), not by the weights' sum (Keras's
                ``"sum_over_batch_size"``). Metrics are not weighted (Keras weighs only
                ``weighted_metrics``). With ``tbptt``, per sample only.
            class_weight: ``{class id: weight}``, turned into per-sample weights from ``y``
                as Keras does (see :mod:`rnnkit.training.weights`); not with ``sample_weight``.
            validation_lengths: ``(N_val,)`` valid steps of the ``validation_data`` samples.
            steps_per_epoch: batches per epoch when ``x`` is a generator or a Sequence (see
                :mod:`rnnkit.training.feeds`: ``x`` may yield ``(x, y)`` or ``(x, y, w)``
                batches, ``y`` is then None); ignored for arrays, as in Keras.
            validation_steps: batches to evaluate each epoch when ``validation_data`` is a
                generator (required then) or a Sequence (default: all of it).

        Returns:
            The :class:`~rnnkit.callbacks.History` (also ``model.history``).

        Raises:
            TypeError: ``batch_size``, ``epochs``, ``initial_epoch``, ``tbptt`` or
                ``validation_batch_size`` is not an int (a bool or a float is refused, not
                rounded), or ``x``/``y`` do not hold numbers.
            ValueError: no samples, mismatched sample counts, or a bad argument value.
            NonFiniteLossError: the loss, a gradient or an update became NaN/inf.
        """
        batch_size = _checks.positive_int(batch_size, "batch_size")
        epochs = _checks.non_negative_int(epochs, "epochs")
        initial_epoch = _checks.non_negative_int(initial_epoch, "initial_epoch")
        verbose = _checks.verbosity(verbose)
        tbptt = _checks.optional_positive_int(tbptt, "tbptt")
        if tbptt is not None:
            check_tbptt_input(x)
        validation_batch_size = _checks.optional_positive_int(
            validation_batch_size, "validation_batch_size"
        )
        steps_per_epoch = _checks.optional_positive_int(steps_per_epoch, "steps_per_epoch")
        validation_steps = _checks.optional_positive_int(validation_steps, "validation_steps")
        seed = _seeding.next_seed(seed)  # one per fit: rnnkit.utils.set_random_seed reaches here
        if is_feed(x):
            check_feed_arguments(y, lengths, sample_weight, validation_split)
            if tbptt is not None:
                raise ValueError("tbptt needs array data, not a generator or a Sequence")
            feed = FeedPlan(
                source=x,
                steps_per_epoch=steps_per_epoch,
                epochs=epochs,
                shuffle=shuffle,
                seed=seed,
                verbose=verbose,
                class_weight=class_weight,
                validation=None
                if validation_data is None
                else unpack_validation(
                    validation_data, validation_lengths, False, validation_steps
                ),
                validation_batch_size=validation_batch_size or batch_size,
            )
            return self._fit_feed(feed, initial_epoch, callbacks)
        data = prepare_fit_data(
            x,
            y,
            lengths,
            validation_data,
            validation_split,
            FitOptions(sample_weight, class_weight, validation_lengths, validation_steps),
        )
        if tbptt is not None:
            per_sample_only(data.sample_weight)
        per_step = False
        if tbptt is not None:
            with carried_state(self.model):  # also refuses backward-reading layers, first
                per_step = per_step_model(self.model, data.x, data.y, data.lengths, tbptt)
        plan = EpochPlan(
            x=data.x,
            y=data.y,
            lengths=data.lengths,
            n=data.n,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            tbptt=tbptt,
            per_step=per_step,
            verbose=verbose,
            validation=data.validation,
            validation_batch_size=validation_batch_size,
            sample_weight=data.sample_weight,
        )
        samples, steps = self._epoch_size(data.n, batch_size)
        history, cbs = begin_training(
            self,
            {
                "epochs": epochs,
                "batch_size": batch_size,
                "samples": samples,
                "steps": steps,
                "verbose": verbose,
            },
            callbacks,
        )
        try:
            for epoch in range(initial_epoch, epochs):
                if self._end_epoch(epoch, fit_epoch(self, plan, epoch, cbs), cbs):
                    break
        finally:
            cbs.on_train_end({})
        return history

    def _fit_feed(
        self, feed: FeedPlan, initial_epoch: int, callbacks: Sequence[Callback]
    ) -> History:
        """``fit`` over a generator or a Sequence (see :mod:`.feeds`)."""
        params = {"epochs": feed.epochs, "steps": feed.steps(), "verbose": feed.verbose}
        history, cbs = begin_training(self, params, callbacks)
        try:
            for epoch in range(initial_epoch, feed.epochs):
                logs = feed_epoch(self, feed, epoch, cbs)
                if logs is None or self._end_epoch(epoch, logs, cbs):
                    break
        finally:
            cbs.on_train_end({})
        return history

    def _end_epoch(self, epoch: int, logs: dict[str, float], cbs: CallbackList) -> bool:
        """Count ``epoch`` as done and call ``on_epoch_end``; True when a callback asked to stop
        (``model.stop_training``)."""
        self.epoch = epoch + 1
        cbs.on_epoch_end(epoch, logs)
        return bool(self.model.stop_training)

    # -- evaluate / predict -------------------------------------------------------------------
    @in_one_thread_pool
    def evaluate(
        self,
        x: Inputs,
        y: Any,
        batch_size: int = 32,
        verbose: int = 0,
        lengths: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        steps: int | None = None,
    ) -> dict[str, float]:
        """Mean loss and metrics over ``(x, y)`` with ``training=False``:
        ``{"loss": ..., "<metric>": ...}``. The loss is the mean of the batch losses weighted
        by batch size (Keras's reduction), each weighted by ``sample_weight`` as in ``fit``;
        metrics accumulate over all samples/steps. ``x`` may be a generator or a Sequence of
        ``(x, y)``/``(x, y, w)`` batches (``y`` None), ``steps`` of them (default: all)."""
        batch_size = _checks.positive_int(batch_size, "batch_size")
        verbose = _checks.verbosity(verbose)
        steps = _checks.optional_positive_int(steps, "steps")
        if is_feed(x):
            check_feed_arguments(y, lengths, sample_weight, 0.0)
            logs = evaluate_feed(self, x, steps)
        else:
            n = num_samples(x)
            y = targets(y, n)
            lengths = input_lengths(lengths, x)
            weights = sample_weights(sample_weight, n)
            logs = evaluate_batches(self, x, y, lengths, batch_size, weights)
        if verbose:
            print("evaluate - " + " - ".join(f"{k}: {format_value(v)}" for k, v in logs.items()))
        return logs

    @in_one_thread_pool
    def predict(
        self, x: Inputs, batch_size: int = 32, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """``model.predict``: outputs with ``training=False``, in batches."""
        return self.model.predict(x, batch_size=batch_size, lengths=lengths)

    # -- streams ------------------------------------------------------------------------------
    @in_one_thread_pool
    def fit_stream(
        self,
        sequence: np.ndarray,
        targets: np.ndarray | None = None,
        batch_size: int = 32,
        bptt: int | tuple[int, int] = 35,
        epochs: int = 1,
        callbacks: Sequence[Callback] = (),
        verbose: int = 1,
        validation_sequence: np.ndarray | None = None,
        validation_targets: np.ndarray | None = None,
        initial_epoch: int = 0,
    ) -> History:
        """Train on one long series or token stream, the way language models are trained.

        Layout: the (input, target) pairs are cut into ``batch_size`` parallel streams of
        ``S = len // batch_size`` steps, stream ``b`` starting at offset ``b * S`` (the tail that
        does not fill a row is dropped). With ``targets=None`` the task is next-step prediction:
        inputs ``sequence[:-1]``, targets ``sequence[1:]``. A 1-D float series is fed as
        ``(N, T, 1)`` (targets too); 1-D integer ids as ``(N, T)`` (for an Embedding). The
        model must output one prediction per step (``return_sequences=True``).

        ``bptt=k``: windows ``[0, k), [k, 2k), ...`` of every stream; each window is one update
        whose gradient stops at the window start, while the recurrent state runs on from window
        to window (and is reset to zeros at each epoch start). This is TBPTT(k, k).

        ``bptt=(k1, k2)`` with ``k2 >= k1`` (Sutskever's TBPTT(k1, k2)): update ``n`` scores
        the steps ``[e_{n-1}, e_n)`` with ``e_n = min(n k1, S)`` (``e_0 = 0``: every step is
        scored exactly once per epoch). Its forward pass runs over the span
        ``[s_n, e_n)``, ``s_n = max(0, e_{n-1} - (k2 - k1))``, from the carried state at
        ``s_n``: the last ``k2`` steps ending at ``e_n`` (fewer at the start of the stream, and
        for the last, shorter window). The loss is the mean over the scored steps only; the
        backward pass covers the whole span (the gradient stops at ``s_n``). The state at the
        next span's start ``s_{n+1}`` is computed before the update with the same weights: by a
        forward-only pass (``training=False``) from ``s_n`` when ``k2 > k1``; when ``k2 == k1``
        it is simply the span's final state, so ``(k, k)`` is exactly ``bptt=k``.

        Memory is proportional to ``batch_size * k2``: windows are sliced from views of the
        input, and only running sums are kept. Logs per epoch: ``loss`` (mean over windows),
        metrics, and ``val_*`` from :meth:`evaluate_stream` on ``validation_sequence``.
        """
        k1, k2 = bptt_pair(bptt)
        batch_size = _checks.positive_int(batch_size, "batch_size")
        epochs = _checks.non_negative_int(epochs, "epochs")
        initial_epoch = _checks.non_negative_int(initial_epoch, "initial_epoch")
        verbose = _checks.verbosity(verbose)
        views = self._stream_views(sequence, targets, batch_size)
        plan = StreamPlan(
            views=views,
            k1=k1,
            k2=k2,
            ends=window_ends(views.steps, k1),
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            validation=(
                None if validation_sequence is None else (validation_sequence, validation_targets)
            ),
        )
        history, cbs = begin_training(
            self,
            {
                "epochs": epochs,
                "batch_size": batch_size,
                "steps": len(plan.ends),
                "bptt": (k1, k2),
                "verbose": verbose,
            },
            callbacks,
        )
        try:
            with carried_state(self.model) as rnns:
                for epoch in range(initial_epoch, epochs):
                    logs = stream_epoch(self, plan, epoch, cbs, rnns)
                    if self._end_epoch(epoch, logs, cbs):
                        break
        finally:
            cbs.on_train_end({})
        return history

    @in_one_thread_pool
    def evaluate_stream(
        self,
        sequence: np.ndarray,
        targets: np.ndarray | None = None,
        batch_size: int = 32,
        bptt: int = 35,
    ) -> dict[str, float]:
        """Loss and metrics over a stream laid out as in :meth:`fit_stream` (state carried
        across windows of ``bptt`` steps, from zeros, ``training=False``); the loss is the
        mean over all scored steps. Recurrent layers' states are restored afterwards."""
        views = stream_views(sequence, targets, _checks.positive_int(batch_size, "batch_size"))
        k = _checks.positive_int(bptt, "bptt")
        with carried_state(self.model):
            return evaluate_windows(self, views, k)

    # -- checkpoints --------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable description (loss, optimizer, metric names, clipping, epoch)."""
        return {
            "loss": losses_module.serialize(self.loss),
            "optimizer": optimizers_module.serialize(self.optimizer),
            "metrics": [m.name for m in self.metrics],
            "clip_norm": self.clip_norm,
            "clip_value": self.clip_value,
            "epoch": self.epoch,
        }

    def save(self, filepath: str | os.PathLike) -> str:
        """Write a checkpoint: the model (config + weights) plus this trainer's configuration
        and optimizer state (moments, step count) and the dropout layers' random streams, in
        one ``.npz`` (atomically). Resume with :meth:`Trainer.load` and
        ``fit(..., initial_epoch=trainer.epoch, seed=<same seed>)``: the result is the same as
        an uninterrupted run. Stateful layers' carried states are not saved."""
        return saving.save_model(self.model, filepath, trainer=self)

    save_checkpoint = save

    @classmethod
    def from_checkpoint(cls, model: Network, checkpoint: saving.TrainerCheckpoint) -> Trainer:
        """The trainer a checkpoint file describes, for ``model`` (read from the same file
        with :func:`rnnkit.saving.read_model`): loss, optimizer and its state, metrics, clipping,
        epoch count. It becomes ``model.trainer``. ModelFileError naming the file when the
        checkpoint does not fit."""
        with checkpoints.file_errors(checkpoint):
            trainer = cls(model, **checkpoints.trainer_arguments(checkpoint))
        checkpoints.restore_progress(trainer, checkpoint)
        return trainer

    @classmethod
    def load(
        cls, filepath: str | os.PathLike, custom_objects: dict[str, type] | None = None
    ) -> Trainer:
        """Rebuild a Trainer (and its model) from :meth:`save`'s file."""
        model, checkpoint = saving.read_model(filepath, custom_objects=custom_objects)
        if checkpoint is None:
            raise saving.ModelFileError(
                f"{os.fspath(filepath)}: holds a model without a trainer "
                "checkpoint (saved by model.save on an uncompiled model)"
            )
        return cls.from_checkpoint(model, checkpoint)

    @classmethod
    def load_checkpoint(
        cls, filepath: str | os.PathLike, custom_objects: dict[str, type] | None = None
    ) -> Trainer:
        """Alias of :meth:`load`."""
        return cls.load(filepath, custom_objects)

    def __repr__(self) -> str:
        return (
            f"Trainer(model={self.model.name!r}, loss={type(self.loss).__name__}, "
            f"optimizer={type(self.optimizer).__name__})"
        )
