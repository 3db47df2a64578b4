"""The callbacks that set the optimizer's learning rate between epochs, Keras 3's
``ReduceLROnPlateau`` and ``LearningRateScheduler``. Both write the learning rate in use into
the epoch logs as ``learning_rate`` (so ``history.history["learning_rate"]`` has it, as in
Keras).

The learning rate they read and set is ``model.trainer.optimizer.learning_rate`` (Keras's
``model.optimizer.learning_rate``; ``model.optimizer`` is the same object). An optimizer made
with a schedule (:mod:`rnnkit.schedules` or a callable) has no settable rate: a TypeError says
so, as Keras raises for a ``LearningRateSchedule``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from . import _checks
from ._callback_base import Callback, Logs, is_improvement, monitor_mode, monitored, worst

if TYPE_CHECKING:  # annotations only
    from .optimizers import Optimizer

__all__ = ["LearningRateScheduler", "ReduceLROnPlateau"]


def _optimizer(callback: Callback) -> Optimizer:
    return callback.attached_trainer().optimizer


def current_learning_rate(optimizer: Optimizer, who: str) -> float:
    """The optimizer's learning rate as a float; TypeError when it is a schedule (not
    settable, so a callback that sets it cannot work)."""
    rate = optimizer.learning_rate
    if callable(rate):
        raise TypeError(
            f"{who} sets the optimizer's learning rate, but {type(optimizer).__name__} was "
            f"created with a schedule ({rate!r}) as its learning_rate, so its learning rate is "
            "not settable (Keras refuses this too): give the optimizer a float learning_rate"
        )
    return float(rate)


def _log_rate(callback: Callback, logs: Logs, who: str) -> None:
    if logs is not None:
        logs["learning_rate"] = current_learning_rate(_optimizer(callback), who)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for
    ``patience`` epochs (Keras 3's rule, epoch for epoch).

    Args:
        monitor: figure from the epoch logs, e.g. ``"val_loss"``.
        factor: the new rate is ``max(rate * factor, min_lr)``; must be below 1.
        patience: epochs without improvement after which the rate is reduced.
        verbose: 1 prints a line at each reduction.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy-like names).
        min_delta: an improvement smaller than this does not count.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the rate never goes below this (and is not reduced once at or below it).

    The rule, as Keras's ``on_epoch_end``: during a cooldown the counter decrements and
    ``wait`` stays 0; an improvement on the best records it and resets ``wait``; otherwise,
    outside a cooldown, ``wait`` grows and at ``patience`` the rate is reduced (if above
    ``min_lr``), the cooldown starts and ``wait`` restarts. A figure missing from the logs
    raises KeyError (Keras warns and skips; rnnkit's monitors all refuse, as
    :class:`EarlyStopping` does).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__()
        where = "ReduceLROnPlateau: "
        self.factor = _checks.non_negative_real(factor, "factor", where=where)
        if self.factor >= 1.0:
            raise ValueError(f"{where}factor must be below 1.0 (it reduces), got {factor}")
        self.monitor = monitor
        self.patience = _checks.non_negative_int(patience, "patience")
        self.verbose = verbose
        self.mode = monitor_mode(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.cooldown = _checks.non_negative_int(cooldown, "cooldown")
        self.min_lr = _checks.non_negative_real(min_lr, "min_lr", where=where)
        self.best = worst(self.mode)
        self.wait = 0
        self.cooldown_counter = 0

    def in_cooldown(self) -> bool:
        """True while epochs of the cooldown after a reduction remain."""
        return self.cooldown_counter > 0

    def on_train_begin(self, logs: Logs = None) -> None:
        self.best = worst(self.mode)
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        _log_rate(self, logs, "ReduceLROnPlateau")
        value = monitored(logs, self.monitor, "ReduceLROnPlateau")
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if is_improvement(value, self.best, self.mode, self.min_delta):
            self.best = value
            self.wait = 0
            return
        if self.in_cooldown():
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        optimizer = _optimizer(self)
        old = current_learning_rate(optimizer, "ReduceLROnPlateau")
        # Keras compares in float32: a rate that rounds to min_lr is not reduced again.
        if old > float(np.float32(self.min_lr)):
            new = max(old * self.factor, self.min_lr)
            optimizer.learning_rate = new
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
            self.cooldown_counter = self.cooldown
            self.wait = 0


def _takes_rate(schedule: Callable[..., float]) -> bool:
    """Whether ``schedule`` accepts ``(epoch, lr)``, Keras's signature; the older
    ``schedule(epoch)`` still works, as in Keras. Decided from the signature rather than by
    catching a TypeError, which would also swallow one raised inside the schedule."""
    try:
        inspect.signature(schedule).bind(0, 0.0)
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): try Keras's form
        return True
    return True


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch to ``schedule(epoch, lr)`` (Keras's
    signature: the 0-based epoch and the current rate; ``schedule(epoch)`` works too).

    Args:
        schedule: a function returning the new rate as a float (a Python or NumPy float; an int
            or another type raises ValueError, as in Keras; so does a negative or non-finite
            rate).
        verbose: 1 prints the rate set at each epoch.
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                f"LearningRateScheduler: schedule must be a function (epoch, lr) -> lr, got "
                f"{type(schedule).__name__}"
            )
        self.schedule = schedule
        self.verbose = verbose
        self._with_rate = _takes_rate(schedule)

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        optimizer = _optimizer(self)
        rate = current_learning_rate(optimizer, "LearningRateScheduler")
        new = self.schedule(epoch, rate) if self._with_rate else self.schedule(epoch)
        if not isinstance(new, (float, np.floating)):
            raise ValueError(
                f"LearningRateScheduler: the output of the schedule function should be a "
                f"float, got {new!r} ({type(new).__name__}) at epoch {epoch}"
            )
        if not math.isfinite(new) or new < 0:
            raise ValueError(
                f"LearningRateScheduler: the schedule returned the learning rate {new} at "
                f"epoch {epoch}; it must be finite and >= 0"
            )
        optimizer.learning_rate = float(new)
        if self.verbose:
            print(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new)}."
            )

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        _log_rate(self, logs, "LearningRateScheduler")
