"""Callback dispatch: every hook called on every callback, in order, with the trainer bound."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..callbacks import Callback, History, Logs

if TYPE_CHECKING:  # annotations only
    from .trainer import Trainer

__all__ = ["CallbackList", "begin_training"]


class CallbackList:
    """The callbacks of one run, called in order. Each is bound to the trainer
    (``set_trainer``) when the list is made; TypeError for anything but a Callback."""

    def __init__(self, callbacks: Sequence[Callback], trainer: Trainer) -> None:
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be rnnkit.callbacks.Callback objects, got {type(cb).__name__}"
                )
            cb.set_trainer(trainer)

    def on_train_begin(self, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_batch_begin(self, batch: int, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_batch_begin(batch, logs)

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_batch_end(batch, logs)


def begin_training(
    trainer: Trainer, params: dict[str, Any], callbacks: Sequence[Callback]
) -> tuple[History, CallbackList]:
    """Start a ``fit`` or ``fit_stream`` run: a new History with ``params`` (also
    ``model.history``), the callbacks bound to the trainer, ``stop_training`` cleared and
    ``on_train_begin`` called."""
    history = History()
    history.params = params
    # History last, as in Keras: it records what the other callbacks added to the epoch logs
    # (the learning rate that ReduceLROnPlateau and LearningRateScheduler log).
    cbs = CallbackList([*callbacks, history], trainer)
    trainer.model.stop_training = False
    trainer.model.history = history
    cbs.on_train_begin({})
    return history, cbs
