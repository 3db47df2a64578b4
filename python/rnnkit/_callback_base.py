"""The callback base class and the monitoring rules the monitoring callbacks share (which way a
figure improves, reading it from the logs). :mod:`rnnkit.callbacks` is the public module; this
one exists so that the callbacks can live in small modules without importing each other."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from . import _checks

if TYPE_CHECKING:  # annotations only: the Trainer calls callbacks, never the reverse
    from .network import Network
    from .training import Trainer

__all__ = ["Callback", "Logs", "is_improvement", "monitor_mode", "monitored", "worst"]

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


def monitor_mode(monitor: str, mode: str) -> str:
    """'min' or 'max' for ``monitor``: accuracy-like figures grow, everything else falls."""
    _checks.choice(mode, "mode", ("auto", "min", "max"))
    if mode != "auto":
        return mode
    return "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"


def monitored(logs: Logs, monitor: str, who: str) -> float:
    """The monitored value from ``logs``; KeyError naming the figures there if it is missing."""
    if logs is None or monitor not in logs:
        available = ", ".join(sorted(logs or {})) or "none"
        raise KeyError(
            f"{who} monitors {monitor!r}, which is not in the epoch logs (available: {available}); "
            "pass validation data to fit() for val_* figures, or monitor='loss'"
        )
    return float(logs[monitor])


def is_improvement(value: float, best: float, mode: str, min_delta: float = 0.0) -> bool:
    """Keras's ``MonitorCallback._is_improvement``: ``value`` beats ``best`` by more than
    ``min_delta`` (``min_delta`` >= 0) in the direction of ``mode`` ('min' or 'max')."""
    if mode == "min":
        return value < best - min_delta
    return value > best + min_delta


def worst(mode: str) -> float:
    """The starting ``best`` of a monitor: anything finite improves on it."""
    return math.inf if mode == "min" else -math.inf
