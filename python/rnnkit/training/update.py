"""One optimizer update of the :class:`~rnnkit.training.Trainer`, and the seam a data-parallel
run plugs into.

:class:`UpdateSteps` holds what an update needs (model, loss, optimizer, metrics, clipping, the
rollback guard) and does one: the training forward, the loss and the backward pass
(:meth:`~UpdateSteps._forward_loss`), then the checked, clipped optimizer step under the
rollback guard (:meth:`~UpdateSteps._apply_update`). Between the two sits the data-parallel seam:
which rows and streams this process computes, and how its gradients join the others'. Here they
are identities; :mod:`rnnkit.distributed` overrides them. :class:`~rnnkit.training.Trainer`
adds the entry points that plan whole runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .. import _checks, _steps
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..network import Inputs, Network, input_lengths, num_samples
from ..threads import in_one_thread_pool
from .loop import EpochPlan, batch_logs, shuffled_batches
from .rollback import UpdateGuard, check_finite_gradients, check_finite_loss
from .streams import StreamViews, stream_views
from .tbptt import carried_state, per_step_model, windows
from .weights import per_sample_only, sample_weights

if TYPE_CHECKING:  # annotations only
    from .trainer import Trainer

__all__ = ["UpdateSteps"]


class UpdateSteps:
    """What one update needs, and the update itself; see :class:`~rnnkit.training.Trainer`
    for the arguments."""

    def __init__(
        self,
        model: Network,
        loss: Any,
        optimizer: Any,
        metrics: Sequence[Any] = (),
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None:
        if not isinstance(model, Network):
            raise TypeError(f"Trainer trains an rnnkit Model, got {type(model).__name__}")
        self.model = model
        self.loss = losses_module.get(loss)
        self.optimizer = optimizers_module.get(optimizer)
        self.metrics = [metrics_module.get(m) for m in metrics]
        clip_norm = _checks.optional_positive_real(clip_norm, "clip_norm")
        clip_value = _checks.optional_positive_real(clip_value, "clip_value")
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.epoch = 0
        self._guard = UpdateGuard()  # the pre-update snapshot, in reused buffers
        # Where the current update sits, for error messages (epoch, step).
        self._where = (0, 0)
        model.trainer = cast("Trainer", self)  # only ever a Trainer (or a subclass)

    @property
    def stop_training(self) -> bool:
        return self.model.stop_training

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        self.model.stop_training = bool(value)

    # -- one update ---------------------------------------------------------------------------
    def _loss_lengths(self, y_pred: Any, lengths: np.ndarray | None) -> np.ndarray | None:
        """The mask the loss sees: the model's output mask, for outputs with a time axis."""
        out = self.model.output_lengths(lengths)
        if out is None or not isinstance(y_pred, np.ndarray) or y_pred.ndim < 3:
            return None
        return out

    def _forward_loss(
        self,
        x: Inputs,
        y: Any,
        lengths: np.ndarray | None,
        loss_from: int | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[float, Any, np.ndarray | None]:
        """Training forward, the loss and backward (fills the layers' grads).

        ``loss_from`` (streams only): the output must have one prediction per input step, and
        the loss covers steps ``loss_from:`` only (the TBPTT(k1, k2) spans); earlier steps get
        a zero gradient. Returns ``(loss, scored y_pred, mask)``.
        """
        y_pred = self.model.forward(x, training=True, lengths=lengths)
        if loss_from is not None and (
            not isinstance(y_pred, np.ndarray)
            or y_pred.ndim < 3
            or y_pred.shape[1] != np.shape(x)[1]
        ):
            raise ValueError(
                "fit_stream needs a model with one prediction per input step, output "
                f"(N, T, ...), but a window of shape {np.shape(x)} gave output of shape "
                f"{np.shape(y_pred)}: use return_sequences=True on the last recurrent layer"
            )
        mask = self._loss_lengths(y_pred, lengths)
        if loss_from is not None and _steps.is_mask(mask):
            raise ValueError(
                "fit_stream does not take a step mask with padding before or between valid "
                "steps yet (an Embedding(mask_zero=True) or Masking layer found masked steps "
                "inside a window): streams are unpadded, so drop the mask_zero/Masking layer"
            )
        scored = y_pred[:, loss_from:] if loss_from else y_pred
        loss = float(self.loss.forward(scored, y, mask, sample_weight))
        dy = self.loss.backward()
        if loss_from:
            full = np.zeros_like(y_pred)
            full[:, loss_from:] = dy
            dy = full
        self.model.backward(dy)
        return loss, scored, mask

    def _apply_update(self, loss: float) -> None:
        """Check the loss and the gradients, clip, then step the optimizer under the rollback
        guard: an update that produced non-finite weights or optimizer state is undone (see
        :mod:`.rollback`). The checks sit here, after :meth:`_reduce_update`, so that a
        data-parallel run decides on the reduced figures, the same on every process."""
        check_finite_loss(loss, self._where)
        params = self.model.trainable_params
        grads = self.model.trainable_grads
        check_finite_gradients(grads, self._where, loss)
        if self.clip_value is not None:
            optimizers_module.clip_by_value(grads, self.clip_value)
        if self.clip_norm is not None:
            optimizers_module.clip_by_global_norm(grads, self.clip_norm)
        self._guard.step(self.optimizer, params, grads, self._where, loss)

    # -- the data-parallel seam: identities here, rnnkit.distributed overrides them -----------
    def _local_rows(self, rows: slice | np.ndarray) -> slice | np.ndarray:
        """The rows of one batch this process computes: all of them."""
        return rows

    def _local_streams(self, views: StreamViews) -> StreamViews:
        """The parallel streams of ``fit_stream`` this process carries: all of them."""
        return views

    def _batches(self, plan: EpochPlan, epoch: int) -> Iterator[tuple[Any, int]]:
        """The batches of one epoch of ``fit``: the rows of each that this process computes,
        and the batch's size over all processes."""
        return shuffled_batches(self, plan, epoch)

    def _epoch_size(self, n: int, batch_size: int) -> tuple[int, int]:
        """The samples and the batches of one epoch of ``fit`` on ``n`` samples, over all
        processes."""
        return n, math.ceil(n / batch_size)

    def _stream_views(
        self, sequence: np.ndarray, targets: np.ndarray | None, batch_size: int
    ) -> StreamViews:
        """The ``batch_size`` parallel streams ``fit_stream`` cuts from ``sequence``."""
        return stream_views(sequence, targets, batch_size)

    def _reduce_update(
        self, loss: float, y_pred: Any, y: Any, mask: np.ndarray | None
    ) -> tuple[float, dict[str, float]]:
        """Called between the backward pass (the layers hold this batch's gradients) and
        :meth:`_apply_update`: returns the update's loss and its logs (the metrics' running
        states take the batch in). One process has nothing to combine."""
        return loss, batch_logs(self, loss, y_pred, y, mask)

    @in_one_thread_pool
    def compute_gradients(
        self,
        x: Inputs,
        y: Any,
        lengths: np.ndarray | None = None,
        tbptt: int | None = None,
        training: bool = True,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and gradients of one batch without updating anything.

        With ``tbptt=k`` the batch is walked exactly as ``fit`` does (state carried, gradient
        cut between windows of ``k`` steps): for a many-to-many model the returned gradients
        are the **sum** of the window gradients, the loss the mean of the window losses (each
        window's loss its own mean); for a many-to-one model they are those of the one update.
        ``sample_weight`` weighs the samples as in ``fit``.
        Returns ``(loss, {"layer/key": gradient copy})`` over all params.
        """
        lengths = input_lengths(lengths, x)
        weights = sample_weights(sample_weight, num_samples(x))
        if tbptt is None:
            y_pred = self.model.forward(x, training=training, lengths=lengths)
            mask = self._loss_lengths(y_pred, lengths)
            loss = float(self.loss.forward(y_pred, y, mask, weights))
            self.model.backward(self.loss.backward())
            return loss, {k: g.copy() for k, g in self.model.grads.items()}
        k = _checks.positive_int(tbptt, "tbptt")
        per_sample_only(weights)
        y = np.asarray(y)
        total = {key: np.zeros_like(g) for key, g in self.model.grads.items()}
        window_losses = []
        with carried_state(self.model):
            per_step = per_step_model(self.model, x, y, lengths, k)
        updates, truncate = windows(x, y, lengths, k, per_step)
        with carried_state(self.model, truncate):
            for xw, yw, lw in updates:
                y_pred = self.model.forward(xw, training=training, lengths=lw)
                mask = self._loss_lengths(y_pred, lw)
                window_losses.append(float(self.loss.forward(y_pred, yw, mask, weights)))
                self.model.backward(self.loss.backward())
                for key, g in self.model.grads.items():
                    total[key] += g
        return float(np.mean(window_losses)) if window_losses else 0.0, total
