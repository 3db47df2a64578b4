"""Training callbacks, Keras-style: hooks the :class:`~rnnkit.training.Trainer` calls during
``fit``.

Every callback gets ``set_trainer(trainer)`` before training, so ``self.trainer`` and
``self.model`` are available in the hooks. Hooks receive ``logs``: a dict of floats such as
``{"loss": 0.12, "accuracy": 0.9, "val_loss": 0.15}``. Setting ``self.model.stop_training = True``
(or ``self.trainer.stop_training = True``) ends training: set in ``on_epoch_end`` after that
epoch, set in ``on_batch_end`` after that update (the epoch then ends early, with its logs).

Order of the hooks::

    on_train_begin(logs)
      on_epoch_begin(epoch, logs)
        on_batch_begin(batch, logs) / on_batch_end(batch, logs)   # once per optimizer update
      on_epoch_end(epoch, logs)          # logs hold the epoch's means and the validation figures
    on_train_end(logs)

``epoch`` is 0-based, as in Keras.
"""

from __future__ import annotations

import csv
import json
import math
import os
from typing import Any

import numpy as np

from ._buffers import copy_into
from ._callback_base import Callback, Logs, monitor_mode, monitored
from ._checkpoint_callback import ModelCheckpoint
from ._lr_callbacks import LearningRateScheduler, ReduceLROnPlateau

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "JSONLogger",
    "LearningRateScheduler",
    "Logs",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
]


class History(Callback):
    """Records the epoch logs: ``history["loss"][e]`` is epoch ``e``'s mean training loss.

    ``fit`` returns it (and sets ``model.history``). ``epoch`` lists the epoch numbers seen and
    ``params`` what ``fit`` was called with (epochs, batch size, number of samples).
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict[str, Any] = {}

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History(epochs={len(self.epoch)}, keys=[{keys}])"


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving (Keras 3's rule, epoch for epoch).

    Args:
        monitor: figure from the epoch logs, e.g. ``"val_loss"``, ``"loss"``, ``"val_accuracy"``.
        min_delta: an improvement smaller than this does not count.
        patience: number of epochs without improvement after which training stops: with
            ``patience=p`` training stops at the ``p``-th consecutive epoch that does not
            improve on the best (0 behaves like 1, except that it also applies with a
            ``baseline``). Epoch 0 never stops training.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy-like names).
        restore_best_weights: at the end of training (stopped early or not), copy back the
            weights of the best epoch (the first monitored epoch's if none improved).
        baseline: the counter of epochs without improvement is reset only by an epoch that
            beats both the best so far and this value, so training stops after ``patience``
            epochs if the figure does not beat it.
        start_from_epoch: epochs before this one are not monitored (warm-up).

    The rule, as Keras 3's ``EarlyStopping.on_epoch_end``: every monitored epoch increments
    ``wait``; an improvement on the best records it (and its weights) and resets ``wait`` to 0
    (with a baseline, only when the baseline is beaten too); otherwise training stops once
    ``wait >= patience`` and ``epoch > 0``. E.g. losses ``1.0, 0.5, 0.6, 0.7, ...`` stop after
    epoch 2 with ``patience=1`` and after epoch 3 with ``patience=2`` (0-based).

    After training, ``stopped_epoch`` is the epoch at which training stopped (0 if it did not)
    and ``best_epoch``/``best`` the best epoch and value.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = monitor_mode(monitor, mode)
        self.baseline = None if baseline is None else float(baseline)
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights: dict[str, np.ndarray] | None = None

    def _is_improvement(self, value: float, reference: float) -> bool:
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def _improved(self, value: float) -> bool:
        return self._is_improvement(value, self.best)

    def _save_weights(self) -> None:
        # Copies into reused buffers: the live arrays keep changing under the optimizer.
        if self.best_weights is None:
            self.best_weights = {}
        copy_into(self.best_weights, self.attached_model().params)

    def on_train_begin(self, logs: Logs = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        value = monitored(logs, self.monitor, "EarlyStopping")
        if epoch < self.start_from_epoch:
            return  # warm-up: not monitored
        if self.restore_best_weights and self.best_weights is None:
            # Nothing recorded yet: the current weights are the best so far.
            self._save_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._improved(value):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self._save_weights()
            # Only an epoch that also beats the baseline restarts the count.
            if self.baseline is None or self._is_improvement(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.attached_model().stop_training = True
            if self.verbose:
                print(
                    f"Epoch {epoch + 1}: early stopping (best {self.monitor} "
                    f"{self.best:.6g} at epoch {self.best_epoch + 1})"
                )

    def on_train_end(self, logs: Logs = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(
                    f"Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            params = self.attached_model().params
            for key, value in self.best_weights.items():
                np.copyto(params[key], value)  # in place: optimizers hold these arrays


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` then the log keys (sorted, fixed at the first row).

    Args:
        filename: CSV path.
        separator: field separator.
        append: append to an existing file (no second header) instead of overwriting it.
    """

    def __init__(
        self, filename: str | os.PathLike, separator: str = ",", append: bool = False
    ) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self._keys: list[str] | None = None
        self._file: Any = None
        self._writer: Any = None

    def on_train_begin(self, logs: Logs = None) -> None:
        has_rows = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename)
        self._file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")
        self._keys = None
        self._write_header = not has_rows

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.writer(self._file, delimiter=self.separator)
            if self._write_header:
                self._writer.writerow(["epoch", *self._keys])
        values = [repr(float(logs[k])) if k in logs else "" for k in self._keys]
        self._writer.writerow([epoch, *values])
        self._file.flush()  # a crash later in training still leaves the rows so far

    def on_train_end(self, logs: Logs = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class JSONLogger(Callback):
    """Write one JSON object per line and epoch (JSON Lines): ``{"epoch": 0, "loss": ..., ...}``.

    Non-finite values are written as ``null`` so that every line is strict JSON.
    """

    def __init__(self, filename: str | os.PathLike, append: bool = False) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.append = append
        self._file: Any = None

    def on_train_begin(self, logs: Logs = None) -> None:
        self._file = open(self.filename, "a" if self.append else "w", encoding="utf-8")

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        record: dict[str, Any] = {"epoch": epoch}
        for key, value in (logs or {}).items():
            value = float(value)
            record[key] = value if math.isfinite(value) else None
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def on_train_end(self, logs: Logs = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
