"""Training: :class:`Trainer` runs the loop that ``Sequential.fit`` (and every other model's
``fit``) delegates to.

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

Modules: ``trainer`` (the Trainer: one update, fit/evaluate/predict, streams, checkpoints),
``loop`` (the epoch loops and their plans), ``tbptt`` (windows of batches), ``streams``
(parallel streams and TBPTT(k1, k2) spans), ``rollback`` (NaN safety), ``progress`` (the
progress line), ``dispatch`` (callbacks), ``arguments`` (argument checks), ``checkpoints``
(rebuilding a trainer from a file).
"""

from __future__ import annotations

from .feeds import PyDataset, Sequence
from .progress import ProgressBar
from .rollback import NonFiniteLossError
from .trainer import Trainer

__all__ = ["NonFiniteLossError", "ProgressBar", "PyDataset", "Sequence", "Trainer"]
