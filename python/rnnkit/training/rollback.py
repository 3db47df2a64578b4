"""NaN safety: a loss, gradient, weight or optimizer state that becomes NaN or infinite stops
training with :class:`NonFiniteLossError`, and an update that broke anything is undone.

Before every update the weights are copied into reused buffers and the optimizer takes a
:meth:`~rnnkit.optimizers.Optimizer.snapshot` (into reused buffers too), so the rollback costs a
copy per update and no allocation once warm; after a bad update both are restored in place
and training can go on, e.g. with a lower learning rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .._buffers import copy_into
from ..optimizers import Optimizer, OptimizerSnapshot

__all__ = ["NonFiniteLossError", "UpdateGuard", "check_finite_gradients", "check_finite_loss"]

Where = tuple[int, int]  # (epoch, step) of an update, 0-based


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss, gradient or weight.

    Attributes:
        epoch: 0-based epoch.
        step: 0-based optimizer update within the epoch.
        loss: the offending loss value (may be finite when a gradient or update broke).
        what: ``"loss"``, ``"gradient"``, ``"weights"`` or ``"optimizer state"``.
    """

    def __init__(self, message: str, epoch: int, step: int, loss: float, what: str) -> None:
        super().__init__(message)
        self.epoch, self.step, self.loss, self.what = epoch, step, loss, what


def first_non_finite(arrays: Mapping[str, np.ndarray]) -> str | None:
    """The first key whose array holds a NaN or infinity, or None."""
    for key, value in arrays.items():
        if not np.isfinite(value).all():
            return key
    return None


def check_finite_loss(loss: float, where: Where) -> None:
    """NonFiniteLossError (``what="loss"``) unless ``loss`` is finite."""
    if math.isfinite(loss):
        return
    epoch, step = where
    raise NonFiniteLossError(
        f"loss became {loss} at epoch {epoch + 1}, step {step + 1} (1-based); training "
        "stopped before this update, so the model keeps its last finite weights. "
        "Try a lower learning rate or gradient clipping (clip_norm=...).",
        epoch,
        step,
        loss,
        "loss",
    )


def check_finite_gradients(grads: Mapping[str, np.ndarray], where: Where, loss: float) -> None:
    """NonFiniteLossError (``what="gradient"``) naming the first non-finite gradient."""
    bad = first_non_finite(grads)
    if bad is None:
        return
    epoch, step = where
    raise NonFiniteLossError(
        f"gradient of {bad!r} became non-finite at epoch {epoch + 1}, step {step + 1} "
        f"(loss {loss:.6g}); training stopped before this update, so the model keeps "
        "its last finite weights. Try gradient clipping (clip_norm=...).",
        epoch,
        step,
        loss,
        "gradient",
    )


class UpdateGuard:
    """Runs optimizer updates that can be undone: :meth:`step` snapshots the weights and the
    optimizer state, updates, and restores both when the update raised or left a weight or a
    state array non-finite. The snapshot buffers live here and are reused update to update."""

    def __init__(self) -> None:
        self._weights: dict[str, np.ndarray] = {}
        self._optimizer: OptimizerSnapshot | None = None

    def _take(self, optimizer: Optimizer, params: Mapping[str, np.ndarray]) -> None:
        copy_into(self._weights, params)
        self._optimizer = optimizer.snapshot(reuse=self._optimizer)

    def _undo(self, optimizer: Optimizer, params: Mapping[str, np.ndarray]) -> None:
        for key, value in params.items():
            np.copyto(value, self._weights[key])  # in place: layers and wrappers hold these
        if self._optimizer is not None:
            optimizer.restore(self._optimizer)

    def step(
        self,
        optimizer: Optimizer,
        params: Mapping[str, np.ndarray],
        grads: Mapping[str, np.ndarray],
        where: Where,
        loss: float,
    ) -> None:
        """``optimizer.step(params, grads)``, undone (and NonFiniteLossError raised, with
        ``what`` ``"weights"`` or ``"optimizer state"``) if it made anything non-finite."""
        self._take(optimizer, params)
        try:
            optimizer.step(params, grads)
        except BaseException:
            self._undo(optimizer, params)  # a half-applied update must not stay
            raise
        bad, what = first_non_finite(params), "weights"
        if bad is None:
            bad, what = optimizer.first_non_finite_state(), "optimizer state"
        if bad is None:
            return
        self._undo(optimizer, params)
        epoch, step = where
        kind = "weight" if what == "weights" else "optimizer state"
        raise NonFiniteLossError(
            f"the update at epoch {epoch + 1}, step {step + 1} made {kind} {bad!r} "
            f"non-finite (loss {loss:.6g}); it was undone, so the model keeps its last "
            "finite weights and the optimizer its state before the update. Try a lower "
            "learning rate or gradient clipping.",
            epoch,
            step,
            loss,
            what,
        )
