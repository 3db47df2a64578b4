"""``ModelCheckpoint``: Keras 3's options (``save_best_only``, ``save_weights_only``,
``save_freq`` in epochs or batches, ``initial_value_threshold``, the filepath filled from
``{epoch}``, ``{batch}`` and the log keys) plus rnnkit's ``save_trainer`` (a resumable
checkpoint with the optimizer state). Every file is written atomically by the saving functions
it calls, so an interrupted save never leaves a half file."""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from . import _checks
from ._callback_base import Callback, Logs, monitor_mode, monitored, worst
from ._weights_file import check_weights_path

if TYPE_CHECKING:  # annotations only
    from .network import Network

__all__ = ["ModelCheckpoint"]


@runtime_checkable
class SavesItself(Protocol):
    """A model with ``save(filepath)`` and ``save_weights(filepath)``, as
    :class:`rnnkit.models.Model` has."""

    def save(self, filepath: str | os.PathLike) -> str: ...

    def save_weights(self, filepath: str | os.PathLike) -> str: ...


def _saveable(model: Network) -> SavesItself:
    if not isinstance(model, SavesItself):
        raise TypeError(
            f"ModelCheckpoint saves through model.save, which {type(model).__name__} lacks: "
            "train an rnnkit Model, or pass save_trainer=True"
        )
    return model


def _save_freq(value: Any) -> str | int:
    if value == "epoch" and isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"ModelCheckpoint: save_freq must be 'epoch' or a positive int (a number of "
            f"batches), got {value!r}"
        )
    return value


class ModelCheckpoint(Callback):
    """Save the model (or its weights) during training, as Keras 3's ``ModelCheckpoint``.

    Args:
        filepath: target path; may contain ``{epoch}`` (1-based, as Keras prints it), ``{batch}``
            (1-based, with an int ``save_freq``) and any key of the logs, e.g.
            ``"ckpt-{epoch:02d}-{val_loss:.3f}.npz"``. A placeholder that the logs cannot fill
            raises KeyError naming the filepath. Missing directories are created. Any suffix
            works for whole models (``"best.keras"`` holds rnnkit's ``.npz``, which
            :func:`rnnkit.load_model` reads back); weights need ``.weights.npz``.
        monitor: figure compared when ``save_best_only``.
        verbose: 1 prints a line per save (and per skipped save with ``save_best_only``).
        save_best_only: save only when ``monitor`` beats the best so far (strictly, no
            ``min_delta``, as Keras). The best carries over from one ``fit`` to the next with
            the same callback, as in Keras.
        save_weights_only: save with ``model.save_weights`` (the filepath must end in
            ``.weights.npz``: rnnkit's counterpart of Keras's ``.weights.h5``).
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        save_freq: ``"epoch"`` saves at the end of each epoch; an int ``n`` saves after every
            ``n`` optimizer updates (counted across epochs, from the batch logs), as Keras.
        initial_value_threshold: with ``save_best_only``, the value the first save must beat.
        save_trainer: save the trainer checkpoint (model + optimizer state, see
            :meth:`Trainer.save`) instead of the model alone, so training can be resumed.

    With ``save_best_only``, a monitored figure missing from the epoch logs raises KeyError (as
    :class:`EarlyStopping` does); at batch saves, where ``val_*`` figures never appear, it
    warns and saves without comparing, as Keras 3 does.

    Attributes:
        saved: the paths written, in order.
        best: the best monitored value so far.
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
        save_trainer: bool = False,
    ) -> None:
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = monitor_mode(monitor, mode)
        self.save_freq = _save_freq(save_freq)
        self.save_trainer = bool(save_trainer)
        if self.save_trainer and self.save_weights_only:
            raise ValueError(
                "ModelCheckpoint: save_trainer=True saves the model and the optimizer state, "
                "save_weights_only=True the weights alone: choose one"
            )
        if self.save_weights_only:
            check_weights_path(self.filepath, "ModelCheckpoint filepath")
        if initial_value_threshold is None:
            self.best = worst(self.mode)
        else:
            self.best = _checks.real_number(initial_value_threshold, "initial_value_threshold")
        self.saved: list[str] = []
        self._epoch = 0
        self._batches_since_save = 0
        self._last_batch = -1  # Keras's bookkeeping: batch indices restart every epoch

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._epoch = epoch

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        if self.save_freq == "epoch":
            return
        # As Keras: an index at or below the last one seen means a new epoch began.
        self._batches_since_save += (
            batch + 1 if batch <= self._last_batch else batch - self._last_batch
        )
        self._last_batch = batch
        if self._batches_since_save >= int(self.save_freq):
            self._batches_since_save = 0
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _path(self, epoch: int, batch: int | None, logs: dict[str, float]) -> str:
        fields: dict[str, Any] = {**logs, "epoch": epoch + 1}
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as exc:
            raise KeyError(
                f'ModelCheckpoint: failed to format the filepath "{self.filepath}": the logs '
                f"have no {exc} (they have: {', '.join(sorted(fields))})"
            ) from exc

    def _improved(self, epoch: int, batch: int | None, logs: dict[str, float]) -> bool:
        if batch is None:
            value = monitored(logs, self.monitor, "ModelCheckpoint")
        elif self.monitor in logs:
            value = float(logs[self.monitor])
        else:
            # Keras 3 warns and saves anyway (it used to skip): batch logs never hold val_*.
            warnings.warn(
                f"ModelCheckpoint can save the best model only with {self.monitor} available "
                "in the batch logs; saving without comparing",
                stacklevel=2,
            )
            return True
        better = value < self.best if self.mode == "min" else value > self.best
        if better:
            if self.verbose:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                    f"{value:.5f}, saving model"
                )
            self.best = value
        elif self.verbose:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
        return better

    def _save(self, epoch: int, batch: int | None, logs: Logs) -> None:
        logs = dict(logs or {})
        path = self._path(epoch, batch, logs)
        if self.save_best_only and not self._improved(epoch, batch, logs):
            return
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_trainer:
            self.attached_trainer().save(path)
        elif self.save_weights_only:
            _saveable(self.attached_model()).save_weights(path)
        else:
            _saveable(self.attached_model()).save(path)
        self.saved.append(path)
        if self.verbose and not self.save_best_only:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
