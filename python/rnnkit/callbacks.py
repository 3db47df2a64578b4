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
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from . import _checks
from ._buffers import copy_into

if TYPE_CHECKING:  # annotations only: the Trainer calls callbacks, never the reverse
    from .network import Network
    from .training import Trainer

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "JSONLogger",
    "ModelCheckpoint",
]

Logs = dict[str, float] | None


class Callback:
    """Base class: override the hooks you need; all of them do nothing by default."""

    def __init__(self) -> None:
        self.trainer: Trainer | None = None
        self.model: Network | None = None

    def set_trainer(self, trainer: Trainer) -> None:
        """Called by the Trainer before ``on_train_begin``."""
        self.trainer = trainer
        self.model = trainer.model

    def attached_trainer(self) -> Trainer:
        """The Trainer running this callback (RuntimeError outside training: the Trainer calls
        :meth:`set_trainer` first)."""
        if self.trainer is None:
            raise RuntimeError(f"{type(self).__name__} is not attached to a Trainer")
        return self.trainer

    def attached_model(self) -> Network:
        """The model being trained (RuntimeError outside training)."""
        if self.model is None:
            raise RuntimeError(f"{type(self).__name__} is not attached to a model")
        return self.model

    def on_train_begin(self, logs: Logs = None) -> None:
        """Start of ``fit``."""

    def on_train_end(self, logs: Logs = None) -> None:
        """End of ``fit``: also after an early stop, and when training ends with an error (so that
        loggers close their files)."""

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        """Start of epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """End of epoch ``epoch``; ``logs`` hold the epoch's training means and the ``val_*``
        figures."""

    def on_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Before optimizer update number ``batch`` (0-based within the epoch)."""

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        """After optimizer update ``batch``; ``logs`` hold that batch's ``loss`` (and metrics)."""


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


def _monitor_mode(monitor: str, mode: str) -> str:
    """'min' or 'max' for ``monitor``: accuracy-like figures grow, everything else falls."""
    _checks.choice(mode, "mode", ("auto", "min", "max"))
    if mode != "auto":
        return mode
    return "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"


def _monitored(logs: Logs, monitor: str, who: str) -> float:
    """The monitored value from ``logs``; KeyError naming the figures there if it is missing."""
    if logs is None or monitor not in logs:
        available = ", ".join(sorted(logs or {})) or "none"
        raise KeyError(
            f"{who} monitors {monitor!r}, which is not in the epoch logs (available: {available}); "
            "pass validation data to fit() for val_* figures, or monitor='loss'"
        )
    return float(logs[monitor])


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
        self.mode = _monitor_mode(monitor, mode)
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
        value = _monitored(logs, self.monitor, "EarlyStopping")
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


@runtime_checkable
class SavesItself(Protocol):
    """A model with a ``save(filepath)`` method, as :class:`rnnkit.models.Model` has."""

    def save(self, filepath: str | os.PathLike) -> str: ...


def _saveable(model: Network) -> SavesItself:
    if not isinstance(model, SavesItself):
        raise TypeError(
            f"ModelCheckpoint saves through model.save, which {type(model).__name__} lacks: "
            "train an rnnkit Model, or pass save_trainer=True"
        )
    return model


class ModelCheckpoint(Callback):
    """Save the model (``model.save``, one ``.npz``) at the end of epochs.

    Args:
        filepath: target path; may contain ``{epoch}`` (1-based, as Keras prints it) and any key
            of the epoch logs, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.npz"``.
        monitor: figure compared when ``save_best_only``.
        save_best_only: save only when ``monitor`` improved on the best so far.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        save_trainer: save the trainer checkpoint (model + optimizer state, see
            :meth:`Trainer.save`) instead of the model alone, so training can be resumed.

    Writes are atomic (see :mod:`rnnkit.saving`): an interrupted save never leaves a half file.
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        mode: str = "auto",
        save_trainer: bool = False,
    ) -> None:
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.mode = _monitor_mode(monitor, mode)
        self.save_trainer = save_trainer
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved: list[str] = []  # paths written, in order

    def on_train_begin(self, logs: Logs = None) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = dict(logs or {})
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            better = value < self.best if self.mode == "min" else value > self.best
            if not better:
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_trainer:
            self.attached_trainer().save(path)
        else:
            _saveable(self.attached_model()).save(path)
        self.saved.append(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}")


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
