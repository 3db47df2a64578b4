"""The training engine: :class:`Trainer` runs the loop that ``Sequential.fit`` (and every other
model's ``fit``) delegates to.

One optimizer update is: ``model.forward(training=True)`` -> loss -> ``model.backward`` ->
optional clipping -> ``optimizer.step(model.trainable_params, model.trainable_grads)``.

Three ways to walk the data:

* :meth:`Trainer.fit` - mini-batches of whole sequences, shuffled each epoch (Keras's ``fit``);
  full backpropagation through time over each sequence.
* ``Trainer.fit(..., tbptt=k)`` - the same batches, each walked in windows of ``k`` steps:
  the recurrent layers carry their state from one window to the next (forward links kept),
  the gradient stops at window boundaries (backward links cut). A model with one prediction
  per step (many-to-many) gets one update per window; a model with one prediction per
  sequence (many-to-one) one update per batch, whose gradient reaches back to the start of the
  window holding each sample's last valid step (the kernel's ``truncate=k``). The state starts
  from zeros at every batch. ``tbptt=T`` is exactly full BPTT.
* :meth:`Trainer.fit_stream` - one long series or token stream, language-model style: the
  stream is cut into ``batch_size`` parallel streams and walked window by window with the state
  carried across windows for the whole epoch; memory stays proportional to the window.

Safety: a loss (or gradient, or updated weight or optimizer state) that is NaN or infinite
stops training with :class:`NonFiniteLossError` naming the epoch and step; the model keeps the
last finite weights and the optimizer the state that goes with them (the weights, the
optimizer's slots and its step count are snapshotted, into reused buffers, before every update
and restored if an update breaks them), so training can go on, e.g. with a lower learning rate.

Reproducibility: ``fit(seed=s)`` derives epoch ``e``'s shuffle from ``(s, e)`` alone, so the same
seed gives bit-for-bit the same run, and a run resumed at ``initial_epoch=e`` from a checkpoint
(:meth:`Trainer.save` / :meth:`Trainer.load`) continues exactly as the uninterrupted one. Layer
weights and dropout masks come from the layers' own seeds.
"""

from __future__ import annotations

import contextlib
import math
import operator
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO

import numpy as np

from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .callbacks import Callback, History
from .layers.base import walk_layers
from .layers.recurrent import RecurrentLayer, scoped_states
from .models import Inputs, Model, num_samples, take
from .threads import in_one_thread_pool

__all__ = ["NonFiniteLossError", "ProgressBar", "Trainer"]


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


# -- progress display -------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


class ProgressBar:
    """One epoch's progress line.

    ``verbose=1`` on a terminal redraws one line in place (``\\r``, at most every 0.1 s) with a
    bar, the running loss/metrics and the throughput; ``verbose=1`` elsewhere (a pipe, a log
    file, pytest's capture) and ``verbose=2`` print one line per epoch; ``verbose=0`` prints
    nothing. The stream is looked up when the bar is made (``sys.stdout`` by default).
    """

    width = 30

    def __init__(
        self,
        total: int,
        epoch: int,
        epochs: int,
        verbose: int,
        unit: str = "samples",
        stream: TextIO | None = None,
    ) -> None:
        self.total, self.epoch, self.epochs = total, epoch, epochs
        self.verbose, self.unit = verbose, unit
        self.stream = stream if stream is not None else sys.stdout
        isatty = getattr(self.stream, "isatty", None)
        self.live = verbose == 1 and bool(isatty and isatty())
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._last_len = 0

    def _line(self, done: int, logs: Mapping[str, float], final: bool) -> str:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        filled = int(self.width * done / self.total) if self.total else self.width
        arrow = ">" if 0 < filled < self.width else ""
        bar = "=" * max(filled - len(arrow), 0) + arrow + "." * (self.width - filled)
        digits = len(str(self.total))
        parts = [f"Epoch {self.epoch + 1}/{self.epochs} [{bar}] {done:>{digits}}/{self.total}"]
        if final:
            parts.append(f"{elapsed:.1f}s")
        parts += [f"{key}: {_fmt(value)}" for key, value in logs.items()]
        parts.append(f"{done / elapsed:,.0f} {self.unit}/s")
        return " - ".join(parts)

    def update(self, done: int, logs: Mapping[str, float]) -> None:
        """Redraw (terminal only, throttled)."""
        if not self.live:
            return
        now = time.perf_counter()
        if now - self._last_draw < 0.1:
            return
        self._last_draw = now
        line = self._line(done, logs, final=False)
        # Pad with spaces so a shorter line fully covers the previous one.
        self.stream.write("\r" + line + " " * max(self._last_len - len(line), 0))
        self.stream.flush()
        self._last_len = len(line)

    def finish(self, logs: Mapping[str, float]) -> None:
        """The epoch's final line (with validation figures)."""
        if self.verbose == 0:
            return
        line = self._line(self.total, logs, final=True)
        prefix = "\r" if self.live else ""
        self.stream.write(prefix + line + " " * max(self._last_len - len(line), 0) + "\n")
        self.stream.flush()


class _Callbacks:
    """Calls one hook on every callback in order."""

    def __init__(self, callbacks: Sequence[Callback], trainer: Trainer) -> None:
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be rnnkit.callbacks.Callback objects, got {type(cb).__name__}"
                )
            cb.set_trainer(trainer)

    def __getattr__(self, hook: str) -> Any:
        def call(*args: Any) -> None:
            for cb in self.callbacks:
                getattr(cb, hook)(*args)

        return call


# -- helpers ----------------------------------------------------------------------------------


def _int_arg(value: Any, what: str, minimum: int = 1) -> int:
    """``value`` as an int (any integer type, not a bool): TypeError naming ``what`` for a
    bool, a float or anything else that is not an integer; ValueError below ``minimum``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an int, got the bool {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}") from None
    if number < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {number}")
    return number


def _check_numeric(value: Any, what: str) -> None:
    """TypeError naming ``what`` unless ``value`` (an array, or a list/tuple of arrays for
    several inputs) holds numbers: bool, integer or float dtype."""
    parts = value if isinstance(value, (list, tuple)) else [value]
    for part in parts:
        dtype = np.asarray(part).dtype
        if dtype.kind not in "biuf":
            raise TypeError(
                f"{what} must hold numbers (a bool, int or float array), got an "
                f"array of dtype {dtype}"
            )


def _check_lengths(lengths: Any, n: int) -> np.ndarray | None:
    if lengths is None:
        return None
    lens = np.asarray(lengths)
    if lens.dtype.kind not in "iu" or lens.shape != (n,):
        raise ValueError(
            f"lengths must be an integer array of shape (N,) = ({n},), got "
            f"dtype {lens.dtype} and shape {lens.shape}"
        )
    return lens.astype(np.int64, copy=False)


def _unpack_validation(data: Any) -> tuple[Any, Any, np.ndarray | None]:
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError(
            "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, lengths_val)"
        )
    return data[0], data[1], (data[2] if len(data) == 3 else None)


def _all_finite(arrays: Mapping[str, np.ndarray]) -> str | None:
    """The first key whose array holds a NaN or infinity, or None."""
    for key, value in arrays.items():
        if not np.isfinite(value).all():
            return key
    return None


class Trainer:
    """Trains a :class:`~rnnkit.models.Model` with a loss and an optimizer.

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

    def __init__(
        self,
        model: Model,
        loss: Any,
        optimizer: Any,
        metrics: Sequence[Any] = (),
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None:
        if not isinstance(model, Model):
            raise TypeError(f"Trainer trains an rnnkit Model, got {type(model).__name__}")
        self.model = model
        self.loss = losses_module.get(loss)
        self.optimizer = optimizers_module.get(optimizer)
        self.metrics = [metrics_module.get(m) for m in metrics]
        if clip_norm is not None and not clip_norm > 0:
            raise ValueError(f"clip_norm must be positive, got {clip_norm!r}")
        if clip_value is not None and not clip_value > 0:
            raise ValueError(f"clip_value must be positive, got {clip_value!r}")
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.epoch = 0
        # Reused buffers of the pre-update snapshot (see _apply_update).
        self._snapshot: dict[str, np.ndarray] = {}
        self._optimizer_snapshot: optimizers_module.OptimizerSnapshot | None = None
        # Where the current update sits, for error messages (epoch, step).
        self._where = (0, 0)
        model.trainer = self

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
        self, x: Inputs, y: Any, lengths: np.ndarray | None, loss_from: int | None = None
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
        scored = y_pred[:, loss_from:] if loss_from else y_pred
        loss = float(self.loss.forward(scored, y, mask))
        if not math.isfinite(loss):
            epoch, step = self._where
            raise NonFiniteLossError(
                f"loss became {loss} at epoch {epoch + 1}, step {step + 1} (1-based); training "
                "stopped before this update, so the model keeps its last finite weights. "
                "Try a lower learning rate or gradient clipping (clip_norm=...).",
                epoch,
                step,
                loss,
                "loss",
            )
        dy = self.loss.backward()
        if loss_from:
            full = np.zeros_like(y_pred)
            full[:, loss_from:] = dy
            dy = full
        self.model.backward(dy)
        return loss, scored, mask

    @staticmethod
    def _copy_into(buffers: dict[str, np.ndarray], arrays: Mapping[str, np.ndarray]) -> None:
        """Copy ``arrays`` into ``buffers`` (same keys), reusing buffers of the right shape."""
        if buffers.keys() - arrays.keys():
            for key in buffers.keys() - arrays.keys():
                del buffers[key]
        for key, value in arrays.items():
            buf = buffers.get(key)
            if buf is None or buf.shape != value.shape or buf.dtype != value.dtype:
                buf = buffers[key] = np.empty_like(value)
            np.copyto(buf, value)

    def _take_snapshot(self, params: Mapping[str, np.ndarray]) -> None:
        """Copy the weights and the optimizer state (slots, step count) into reused buffers."""
        self._copy_into(self._snapshot, params)
        self._optimizer_snapshot = self.optimizer.snapshot(reuse=self._optimizer_snapshot)

    def _restore_snapshot(self, params: Mapping[str, np.ndarray]) -> None:
        """Undo the update: weights and optimizer state as :meth:`_take_snapshot` left them;
        the live arrays are written in place."""
        for key, value in params.items():
            np.copyto(value, self._snapshot[key])
        if self._optimizer_snapshot is not None:
            self.optimizer.restore(self._optimizer_snapshot)

    def _apply_update(self, loss: float) -> None:
        """Clip, snapshot, step, and roll back if the update produced non-finite weights or
        optimizer state (the snapshot covers both, so the trainer can go on afterwards)."""
        params = self.model.trainable_params
        grads = self.model.trainable_grads
        epoch, step = self._where
        bad = _all_finite(grads)
        if bad is not None:
            raise NonFiniteLossError(
                f"gradient of {bad!r} became non-finite at epoch {epoch + 1}, step {step + 1} "
                f"(loss {loss:.6g}); training stopped before this update, so the model keeps "
                "its last finite weights. Try gradient clipping (clip_norm=...).",
                epoch,
                step,
                loss,
                "gradient",
            )
        if self.clip_value is not None:
            optimizers_module.clip_by_value(grads, self.clip_value)
        if self.clip_norm is not None:
            optimizers_module.clip_by_global_norm(grads, self.clip_norm)
        self._take_snapshot(params)
        try:
            self.optimizer.step(params, grads)
        except BaseException:
            self._restore_snapshot(params)  # a half-applied update must not stay
            raise
        bad, what = _all_finite(params), "weights"
        if bad is None:
            bad, what = self.optimizer.first_non_finite_state(), "optimizer state"
        if bad is not None:
            self._restore_snapshot(params)
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

    # -- truncated BPTT -----------------------------------------------------------------------
    def _recurrent_layers(self) -> list[RecurrentLayer]:
        rnns = [
            layer for layer in walk_layers(self.model.layers) if isinstance(layer, RecurrentLayer)
        ]
        for layer in rnns:
            if layer.go_backwards:
                raise ValueError(
                    f"truncated BPTT walks time forwards in windows, but layer {layer.name!r} "
                    "reads sequences backwards (Bidirectional / go_backwards): train it on whole "
                    "sequences (tbptt=None)"
                )
        return rnns

    @contextlib.contextmanager
    def _carried_state(self, truncate: int | None = None) -> Iterator[list[RecurrentLayer]]:
        """Make every recurrent layer stateful (state starts at zeros) for the duration, then
        restore each layer's own ``stateful`` flag and state. ``truncate``: also set the
        layers' ``truncate`` (the kernel's gradient cut every ``k`` steps), restored after."""
        rnns = self._recurrent_layers()
        with (
            scoped_states(rnns, stateful=True)
            if truncate is None
            else scoped_states(rnns, stateful=True, truncate=truncate)
        ):
            yield rnns

    @staticmethod
    def _check_tbptt_input(x: Inputs) -> int:
        """The number of steps T of a TBPTT input (one array with a time axis)."""
        if isinstance(x, (list, tuple)) or np.ndim(x) < 2:
            raise ValueError("tbptt needs one input array with a time axis, (N, T, ...)")
        return int(np.shape(x)[1])

    def _tbptt_per_step(
        self, x: np.ndarray, y: np.ndarray, lengths: np.ndarray | None, k: int
    ) -> bool:
        """Whether the model gives one prediction per input step (many-to-many: every window
        is scored against its own steps of ``y``) rather than one per sequence (many-to-one).

        Decided from the model, not from ``y``'s shape (an output width may equal ``T``): a
        forward-only probe of one sample on windows of ``k`` and ``k + 1`` steps; the output is
        per step when its axis 1 follows the window length in both. With ``k >= T`` there is
        one window, scored against the whole ``y`` either way (False). Call inside
        :meth:`_carried_state`; the recurrent states are reset to zeros afterwards."""
        t = self._check_tbptt_input(x)
        if k >= t:
            return False
        first = np.asarray(x)[:1]
        per_step = True
        for width in (k, k + 1):
            lw = None if lengths is None else np.clip(lengths[:1], 0, width)
            out = self.model.forward(first[:, :width], training=False, lengths=lw)
            if not (isinstance(out, np.ndarray) and out.ndim >= 2 and out.shape[1] == width):
                per_step = False
        for layer in self._recurrent_layers():
            layer.reset_state()
        if per_step and not (y.ndim >= 2 and y.shape[1] == t):
            raise ValueError(
                f"the model gives one prediction per input step (output (N, T, ...)), so "
                f"tbptt={k} scores each window against its own steps of y, which needs targets "
                f"of shape (N, {t}, ...) aligned with the input steps; got y of shape {y.shape}"
            )
        return per_step

    def _windows(
        self, x: np.ndarray, y: Any, lengths: np.ndarray | None, k: int, per_step: bool
    ) -> tuple[list[tuple[np.ndarray, Any, np.ndarray | None]], int | None]:
        """The TBPTT updates of one batch, ``([(x_w, y_w, lengths_w), ...], truncate)``, to run
        inside ``_carried_state(truncate)``; ``per_step`` from :meth:`_tbptt_per_step`.

        Many-to-many (``per_step``): one update per window of ``k`` steps, the state carried
        from window to window, each window scored against its own steps; a window in which
        every sample is padding is skipped (nothing to score; the state passes through it
        unchanged anyway).

        Many-to-one: one update, on the last state. Its forward runs over the whole sequence
        (the same states as windows carrying the state), its backward cuts the gradient through
        the state every ``k`` steps (the kernel's ``truncate=k``: the window boundaries). So the
        gradient reaches back to the start of the window holding each sample's *own* last
        valid step: a sample whose padding fills the last window still trains the recurrent
        layers, exactly as ``ops.rnn_backward(..., truncate=k)``."""
        t = self._check_tbptt_input(x)
        if not per_step:
            return [(x, y, lengths)], k
        y = np.asarray(y)
        updates = []
        for start in range(0, t, k):
            stop = min(start + k, t)
            lw = None if lengths is None else np.clip(lengths - start, 0, stop - start)
            if lw is None or lw.any():
                updates.append((x[:, start:stop], y[:, start:stop], lw))
        return updates, None

    @in_one_thread_pool
    def compute_gradients(
        self,
        x: Inputs,
        y: Any,
        lengths: np.ndarray | None = None,
        tbptt: int | None = None,
        training: bool = True,
    ) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and gradients of one batch without updating anything.

        With ``tbptt=k`` the batch is walked exactly as ``fit`` does (state carried, gradient
        cut between windows of ``k`` steps): for a many-to-many model the returned gradients
        are the **sum** of the window gradients, the loss the mean of the window losses (each
        window's loss its own mean); for a many-to-one model they are those of the one update.
        Returns ``(loss, {"layer/key": gradient copy})`` over all params.
        """
        lengths = _check_lengths(lengths, num_samples(x))
        if tbptt is None:
            y_pred = self.model.forward(x, training=training, lengths=lengths)
            loss = float(self.loss.forward(y_pred, y, self._loss_lengths(y_pred, lengths)))
            self.model.backward(self.loss.backward())
            return loss, {k: g.copy() for k, g in self.model.grads.items()}
        k = _int_arg(tbptt, "tbptt")
        y = np.asarray(y)
        total = {key: np.zeros_like(g) for key, g in self.model.grads.items()}
        window_losses = []
        with self._carried_state():
            per_step = self._tbptt_per_step(x, y, lengths, k)
        updates, truncate = self._windows(x, y, lengths, k, per_step)
        with self._carried_state(truncate):
            for xw, yw, lw in updates:
                y_pred = self.model.forward(xw, training=training, lengths=lw)
                window_losses.append(
                    float(self.loss.forward(y_pred, yw, self._loss_lengths(y_pred, lw)))
                )
                self.model.backward(self.loss.backward())
                for key, g in self.model.grads.items():
                    total[key] += g
        return float(np.mean(window_losses)) if window_losses else 0.0, total

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
    ) -> History:
        """Train for epochs ``initial_epoch .. epochs-1`` (Keras's numbering).

        Args:
            x: inputs ``(N, ...)`` (or a list/tuple of such arrays for multi-input models).
            y: targets ``(N, ...)``.
            epochs: index of the last epoch + 1 (with ``initial_epoch=0``: how many epochs).
            batch_size: samples per batch (the last batch may be smaller).
            shuffle: reshuffle the samples every epoch.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, lengths_val)``, evaluated
                at the end of each epoch (``val_loss``, ``val_<metric>``).
            validation_split: fraction of the samples held out for validation, taken from the
                end of the data before shuffling (as Keras); ignored if ``validation_data``.
            callbacks: :class:`~rnnkit.callbacks.Callback` objects.
            verbose: 0 silent, 1 progress bar (one line per epoch when not on a terminal),
                2 one line per epoch.
            seed: seed of the shuffling; epoch ``e`` uses ``(seed, e)``, so a seeded run is
                reproducible and resumable. None: fresh entropy.
            lengths: ``(N,)`` valid steps per sample (sequence mask).
            tbptt: walk each batch in windows of this many steps, carrying the recurrent state
                and cutting the gradient between windows, one update per window (see the
                module docstring). A model with one prediction per step (output
                ``(N, T, ...)``: many-to-many, targets ``(N, T, ...)``) is scored per window,
                one update each; a model with one prediction per sequence (many-to-one) gets
                one update per batch on its last state, the gradient cut every ``tbptt`` steps
                (with ``lengths``, each sample's loss reaches back through the window holding
                its last valid step, also when padding fills the last window). Which kind the
                model is comes from its output, not from ``y``'s shape.
            initial_epoch: epoch to start from (resume with ``trainer.epoch``).
            validation_batch_size: batch size of the validation pass (None: ``batch_size``).

        Returns:
            The :class:`~rnnkit.callbacks.History` (also ``model.history``).

        Raises:
            TypeError: ``batch_size``, ``epochs``, ``initial_epoch``, ``tbptt`` or
                ``validation_batch_size`` is not an int (a bool or a float is refused, not
                rounded), or ``x``/``y`` do not hold numbers.
            ValueError: no samples, mismatched sample counts, or a bad argument value.
            NonFiniteLossError: the loss, a gradient or an update became NaN/inf.
        """
        batch_size = _int_arg(batch_size, "batch_size")
        epochs = _int_arg(epochs, "epochs", minimum=0)
        initial_epoch = _int_arg(initial_epoch, "initial_epoch", minimum=0)
        if tbptt is not None:
            tbptt = _int_arg(tbptt, "tbptt")
            self._check_tbptt_input(x)
        if validation_batch_size is not None:
            validation_batch_size = _int_arg(validation_batch_size, "validation_batch_size")
        _check_numeric(x, "x")
        n = num_samples(x)
        y = np.asarray(y)
        _check_numeric(y, "y")
        if y.ndim == 0 or len(y) != n:
            raise ValueError(
                f"x has {n} samples but y has {'no sample axis' if y.ndim == 0 else len(y)}"
            )
        if n == 0:
            raise ValueError("fit needs at least one sample, got x with 0 samples")
        lengths = _check_lengths(lengths, n)
        val = None
        if validation_data is not None:
            val = _unpack_validation(validation_data)
            _check_numeric(val[0], "validation x")
            _check_numeric(val[1], "validation y")
        elif validation_split:
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"validation_split must lie in [0, 1), got {validation_split}")
            split = int(n * (1.0 - validation_split))
            if split < 1 or split >= n:
                raise ValueError(
                    f"validation_split={validation_split} leaves no training or no "
                    f"validation samples out of {n}"
                )
            rows_val = slice(split, None)
            val = (
                take(x, rows_val),
                np.asarray(y)[rows_val],
                None if lengths is None else lengths[rows_val],
            )
            rows = slice(0, split)
            x, y = take(x, rows), np.asarray(y)[rows]
            lengths = None if lengths is None else lengths[rows]
            n = split

        per_step = False
        if tbptt is not None:
            with self._carried_state():  # also refuses backward-reading layers, before training
                per_step = self._tbptt_per_step(x, y, lengths, tbptt)
        history, cbs = self._begin_training(
            {
                "epochs": epochs,
                "batch_size": batch_size,
                "samples": n,
                "steps": math.ceil(n / batch_size),
                "verbose": verbose,
            },
            callbacks,
        )
        try:
            for epoch in range(initial_epoch, epochs):
                logs = self._fit_epoch(
                    x,
                    y,
                    lengths,
                    n,
                    epoch,
                    epochs,
                    batch_size,
                    shuffle,
                    seed,
                    tbptt,
                    verbose,
                    val,
                    validation_batch_size,
                    cbs,
                    per_step,
                )
                if self._end_epoch(epoch, logs, cbs):
                    break
        finally:
            cbs.on_train_end({})
        return history

    def _begin_training(
        self, params: dict[str, Any], callbacks: Sequence[Callback]
    ) -> tuple[History, _Callbacks]:
        """Start a :meth:`fit` or :meth:`fit_stream` run: a new History with ``params`` (also
        ``model.history``), the callbacks bound to this trainer, ``stop_training`` cleared and
        ``on_train_begin`` called."""
        history = History()
        history.params = params
        cbs = _Callbacks([history, *callbacks], self)
        self.model.stop_training = False
        self.model.history = history
        cbs.on_train_begin({})
        return history, cbs

    def _end_epoch(self, epoch: int, logs: dict[str, float], cbs: _Callbacks) -> bool:
        """Count ``epoch`` as done and call ``on_epoch_end``; True when a callback asked to stop
        (``model.stop_training``)."""
        self.epoch = epoch + 1
        cbs.on_epoch_end(epoch, logs)
        return bool(self.model.stop_training)

    def _fit_epoch(
        self,
        x: Inputs,
        y: Any,
        lengths: np.ndarray | None,
        n: int,
        epoch: int,
        epochs: int,
        batch_size: int,
        shuffle: bool,
        seed: int | None,
        tbptt: int | None,
        verbose: int,
        val: tuple | None,
        validation_batch_size: int | None,
        cbs: _Callbacks,
        per_step: bool = False,
    ) -> dict[str, float]:
        cbs.on_epoch_begin(epoch, {})
        if shuffle:
            rng = np.random.default_rng(None if seed is None else [int(seed), epoch])
            order = rng.permutation(n)
        else:
            order = None
        for metric in self.metrics:
            metric.reset_state()
        progress = ProgressBar(n, epoch, epochs, verbose)
        loss_sum, weight_sum, step, done = 0.0, 0.0, 0, 0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # NaN/inf are detected explicitly below and raised as NonFiniteLossError.
            for start in range(0, n, batch_size):
                rows: Any = (
                    slice(start, start + batch_size)
                    if order is None
                    else order[start : start + batch_size]
                )
                xb, yb = take(x, rows), np.asarray(y)[rows]
                lb = None if lengths is None else lengths[rows]
                nb = num_samples(xb)
                if tbptt is None:
                    updates = [(xb, yb, lb)]
                    context: Any = contextlib.nullcontext()
                else:
                    updates, truncate = self._windows(xb, yb, lb, tbptt, per_step)
                    context = self._carried_state(truncate)
                with context:
                    for xw, yw, lw in updates:
                        self._where = (epoch, step)
                        cbs.on_batch_begin(step, {})
                        loss, y_pred, mask = self._forward_loss(xw, yw, lw)
                        self._apply_update(loss)
                        batch_logs = {"loss": loss}
                        for metric in self.metrics:
                            metric.update_state(y_pred, yw, mask)
                            batch_logs[metric.name] = metric(y_pred, yw, mask)
                        weight = nb * (1 if tbptt is None else np.shape(xw)[1])
                        loss_sum += loss * weight
                        weight_sum += weight
                        cbs.on_batch_end(step, batch_logs)
                        step += 1
                        if self.model.stop_training:
                            break  # a callback asked to stop: end the epoch after this update
                done += nb
                progress.update(done, self._running_logs(loss_sum, weight_sum))
                if self.model.stop_training:
                    break
        logs = self._running_logs(loss_sum, weight_sum)
        if val is not None:
            xv, yv, lv = val
            val_logs = self.evaluate(
                xv, yv, batch_size=validation_batch_size or batch_size, verbose=0, lengths=lv
            )
            logs.update({f"val_{key}": value for key, value in val_logs.items()})
        progress.finish(logs)
        return logs

    def _running_logs(self, loss_sum: float, weight_sum: float) -> dict[str, float]:
        logs = {"loss": loss_sum / weight_sum if weight_sum else float("nan")}
        for metric in self.metrics:
            logs[metric.name] = metric.result()
        return logs

    # -- evaluate / predict -------------------------------------------------------------------
    @in_one_thread_pool
    def evaluate(
        self,
        x: Inputs,
        y: Any,
        batch_size: int = 32,
        verbose: int = 0,
        lengths: np.ndarray | None = None,
    ) -> dict[str, float]:
        """Mean loss and metrics over ``(x, y)`` with ``training=False``:
        ``{"loss": ..., "<metric>": ...}``. The loss is the mean of the batch losses weighted
        by batch size (Keras's reduction); metrics accumulate over all samples/steps."""
        n = num_samples(x)
        if len(y) != n:
            raise ValueError(f"x has {n} samples but y has {len(y)}")
        lengths = _check_lengths(lengths, n)
        for metric in self.metrics:
            metric.reset_state()
        total = 0.0
        batch_size = _int_arg(batch_size, "batch_size")
        for start in range(0, n, batch_size):
            rows = slice(start, start + batch_size)
            xb, yb = take(x, rows), np.asarray(y)[rows]
            lb = None if lengths is None else lengths[rows]
            y_pred = self.model.forward(xb, training=False, lengths=lb)
            mask = self._loss_lengths(y_pred, lb)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                total += float(self.loss.forward(y_pred, yb, mask)) * num_samples(xb)
            for metric in self.metrics:
                metric.update_state(y_pred, yb, mask)
        logs = {"loss": total / n if n else float("nan")}
        for metric in self.metrics:
            logs[metric.name] = metric.result()
        if verbose:
            print("evaluate - " + " - ".join(f"{k}: {_fmt(v)}" for k, v in logs.items()))
        return logs

    @in_one_thread_pool
    def predict(
        self, x: Inputs, batch_size: int = 32, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """``model.predict``: outputs with ``training=False``, in batches."""
        return self.model.predict(x, batch_size=batch_size, lengths=lengths)

    # -- streams ------------------------------------------------------------------------------
    @staticmethod
    def _stream_views(
        sequence: np.ndarray, targets: np.ndarray | None, batch_size: int
    ) -> tuple[np.ndarray, np.ndarray, int, bool]:
        """``(X, Y, steps, add_axis)``: ``batch_size`` parallel streams as *views* of the input
        (no copy of the long sequence), each ``steps`` long; row ``b`` starts at ``b * steps``."""
        seq = np.asarray(sequence)
        if seq.ndim < 1:
            raise ValueError("sequence must have a time axis, (L,) or (L, D)")
        if targets is None:
            inputs, outs = seq[:-1], seq[1:]  # next-step prediction
        else:
            outs = np.asarray(targets)
            if len(outs) != len(seq):
                raise ValueError(
                    f"targets must have one entry per step of sequence: {len(outs)} != {len(seq)}"
                )
            inputs = seq
        steps = len(inputs) // batch_size
        if steps < 1:
            raise ValueError(
                f"a stream of {len(inputs)} steps is too short for batch_size {batch_size}"
            )
        used = steps * batch_size
        # Slicing then reshaping a contiguous array is a view: memory stays O(window).
        X = inputs[:used].reshape((batch_size, steps, *inputs.shape[1:]))
        Y = outs[:used].reshape((batch_size, steps, *outs.shape[1:]))
        # A 1-D float series feeds a (N, T, 1) model; 1-D integer ids feed an Embedding.
        add_axis = seq.ndim == 1 and seq.dtype.kind == "f"
        return X, Y, steps, add_axis

    @staticmethod
    def _bptt(bptt: int | tuple[int, int]) -> tuple[int, int]:
        k1, k2 = (bptt, bptt) if np.isscalar(bptt) else tuple(bptt)  # type: ignore[misc]
        k1, k2 = _int_arg(k1, "bptt"), _int_arg(k2, "bptt")
        if k2 < k1:
            raise ValueError(f"bptt must be k >= 1 or (k1, k2) with k2 >= k1 >= 1, got {bptt}")
        return k1, k2

    def _stream_states(self, rnns: list[RecurrentLayer]) -> list[list[np.ndarray] | None]:
        return [layer.states for layer in rnns]

    @staticmethod
    def _set_stream_states(
        rnns: list[RecurrentLayer], states: list[list[np.ndarray] | None]
    ) -> None:
        for layer, state in zip(rnns, states):
            layer.states = state

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
        k1, k2 = self._bptt(bptt)
        batch_size = _int_arg(batch_size, "batch_size")
        epochs = _int_arg(epochs, "epochs", minimum=0)
        initial_epoch = _int_arg(initial_epoch, "initial_epoch", minimum=0)
        X, Y, steps, add_axis = self._stream_views(sequence, targets, batch_size)
        ends = [*list(range(k1, steps, k1)), steps]
        history, cbs = self._begin_training(
            {
                "epochs": epochs,
                "batch_size": batch_size,
                "steps": len(ends),
                "bptt": (k1, k2),
                "verbose": verbose,
            },
            callbacks,
        )
        try:
            with self._carried_state() as rnns:
                for epoch in range(initial_epoch, epochs):
                    cbs.on_epoch_begin(epoch, {})
                    for metric in self.metrics:
                        metric.reset_state()
                    self._set_stream_states(rnns, [None] * len(rnns))
                    progress = ProgressBar(steps * X.shape[0], epoch, epochs, verbose, unit="steps")
                    loss_sum, weight_sum = 0.0, 0.0
                    carry_at, carry = 0, [None] * len(rnns)  # state at step carry_at
                    prev_end = 0
                    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                        for step, end in enumerate(ends):
                            self._where = (epoch, step)
                            start = max(0, prev_end - (k2 - k1))
                            cbs.on_batch_begin(step, {})
                            if k2 > k1:
                                self._set_stream_states(rnns, carry)  # the state at `start`
                            xw = self._window(X, start, end, add_axis)
                            yw = self._window(Y, prev_end, end, add_axis)
                            loss, y_pred, mask = self._forward_loss(
                                xw, yw, None, loss_from=prev_end - start
                            )
                            if k2 > k1 and step + 1 < len(ends):
                                # The next span starts inside this one: advance the carried
                                # state to it with a forward-only pass, before the update (the
                                # weights this span's forward used). With k2 == k1 the stateful
                                # layers already hold the state at `end`, the next start.
                                next_start = max(0, end - (k2 - k1))
                                if next_start > carry_at:
                                    self._set_stream_states(rnns, carry)
                                    self.model.forward(
                                        self._window(X, carry_at, next_start, add_axis),
                                        training=False,
                                    )
                                    carry, carry_at = self._stream_states(rnns), next_start
                            self._apply_update(loss)
                            batch_logs = {"loss": loss}
                            for metric in self.metrics:
                                metric.update_state(y_pred, yw, mask)
                                batch_logs[metric.name] = metric(y_pred, yw, mask)
                            weight = end - prev_end
                            loss_sum += loss * weight
                            weight_sum += weight
                            prev_end = end
                            cbs.on_batch_end(step, batch_logs)
                            progress.update(
                                end * X.shape[0], self._running_logs(loss_sum, weight_sum)
                            )
                            if self.model.stop_training:
                                break  # a callback asked to stop: this epoch ends here
                    logs = self._running_logs(loss_sum, weight_sum)
                    if validation_sequence is not None:
                        states = self._stream_states(rnns)
                        val_logs = self.evaluate_stream(
                            validation_sequence, validation_targets, batch_size=batch_size, bptt=k1
                        )
                        self._set_stream_states(rnns, states)
                        logs.update({f"val_{k}": v for k, v in val_logs.items()})
                    progress.finish(logs)
                    if self._end_epoch(epoch, logs, cbs):
                        break
        finally:
            cbs.on_train_end({})
        return history

    @staticmethod
    def _window(A: np.ndarray, start: int, stop: int, add_axis: bool) -> np.ndarray:
        w = np.ascontiguousarray(A[:, start:stop])  # a small copy: the window only
        return w[..., None] if add_axis else w

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
        X, Y, steps, add_axis = self._stream_views(
            sequence, targets, _int_arg(batch_size, "batch_size")
        )
        k = _int_arg(bptt, "bptt")
        for metric in self.metrics:
            metric.reset_state()
        total = 0.0
        with self._carried_state():
            for start in range(0, steps, k):
                stop = min(start + k, steps)
                y_pred = self.model.forward(self._window(X, start, stop, add_axis), training=False)
                total += float(
                    self.loss.forward(y_pred, self._window(Y, start, stop, add_axis))
                ) * (stop - start)
                for metric in self.metrics:
                    metric.update_state(y_pred, self._window(Y, start, stop, add_axis))
        logs = {"loss": total / steps}
        for metric in self.metrics:
            logs[metric.name] = metric.result()
        return logs

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
        from . import io

        return io.save_model(self.model, filepath, trainer=self)

    @classmethod
    def load(
        cls, filepath: str | os.PathLike, custom_objects: dict[str, type] | None = None
    ) -> Trainer:
        """Rebuild a Trainer (and its model) from :meth:`save`'s file."""
        from . import io

        model = io.load_model(filepath, custom_objects=custom_objects)
        if model.trainer is None:
            raise io.ModelFileError(
                f"{os.fspath(filepath)}: holds a model without a trainer "
                "checkpoint (saved by model.save on an uncompiled model)"
            )
        return model.trainer

    save_checkpoint = save

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
