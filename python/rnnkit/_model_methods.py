"""The parts of Keras's ``Model`` surface that work one batch at a time or on the weights
alone: ``train_on_batch``, ``test_on_batch``, ``predict_on_batch``, ``save_weights``,
``load_weights`` and ``model.optimizer``. A mixin of :class:`rnnkit.models.Model`, kept apart
so that ``rnnkit.models`` stays about building and fitting models."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _weights_file
from .training.batches import BatchData, test_batch, train_batch

if TYPE_CHECKING:  # annotations only
    from .network import Inputs
    from .training import Trainer

__all__ = ["BatchMethods", "keras_result"]


def keras_result(logs: dict[str, float], return_dict: bool) -> Any:
    """Logs as Keras returns them: the dict, or the loss alone when there are no metrics,
    else ``[loss, metric1, ...]`` in compile order."""
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


class BatchMethods:
    """Mixin: needs ``self.trainer`` (None before compile), ``self.forward`` and the layers."""

    trainer: Trainer | None

    def _require_trainer(self) -> Trainer:
        if self.trainer is None:
            raise RuntimeError(
                "You must compile your model before training/testing. "
                "Use `model.compile(optimizer, loss)`."
            )
        return self.trainer

    @property
    def optimizer(self) -> Any:
        """The compiled optimizer (Keras's ``model.optimizer``; None before ``compile``)."""
        return None if self.trainer is None else self.trainer.optimizer

    def train_on_batch(
        self,
        x: Inputs,
        y: Any = None,
        sample_weight: np.ndarray | None = None,
        class_weight: dict[int, float] | None = None,
        return_dict: bool = False,
        lengths: np.ndarray | None = None,
    ) -> Any:
        """One gradient update on one batch (Keras's ``train_on_batch``): returns that
        batch's loss (a float) without metrics, ``[loss, *metrics]`` with them, or the dict
        with ``return_dict``. Weights as in ``fit``; ``lengths`` (beyond Keras) masks steps."""
        data = BatchData(x, y, lengths, sample_weight, class_weight)
        return keras_result(train_batch(self._require_trainer(), data), return_dict)

    def test_on_batch(
        self,
        x: Inputs,
        y: Any = None,
        sample_weight: np.ndarray | None = None,
        return_dict: bool = False,
        lengths: np.ndarray | None = None,
    ) -> Any:
        """Loss (and metrics) of one batch with ``training=False``, returned as
        :meth:`train_on_batch` returns them; nothing is updated."""
        data = BatchData(x, y, lengths, sample_weight, None)
        return keras_result(test_batch(self._require_trainer(), data), return_dict)

    def predict_on_batch(self, x: Inputs, lengths: np.ndarray | None = None) -> Any:
        """The model's output for one batch, ``training=False`` (Keras's
        ``predict_on_batch``; no batching, no compile needed)."""
        return self.forward(x, training=False, lengths=lengths)  # type: ignore[attr-defined]

    def save_weights(self, filepath: str | os.PathLike, overwrite: bool = True) -> str:
        """Write the weights alone to ``filepath``, which must end in ``.weights.npz`` (rnnkit's
        counterpart of Keras 3's ``.weights.h5``), atomically. Returns the path."""
        return _weights_file.save_weights(self, filepath, overwrite=overwrite)  # type: ignore[arg-type]

    def load_weights(self, filepath: str | os.PathLike, skip_mismatch: bool = False) -> None:
        """Load weights saved by :meth:`save_weights` (or a whole-model ``.npz`` from
        ``save``) into this built model, layer by layer in order; each layer's class, weight
        names and shapes must match (ModelFileError naming the layer otherwise)."""
        _weights_file.load_weights(self, filepath, skip_mismatch=skip_mismatch)  # type: ignore[arg-type]
