"""The fast path of :func:`rnnkit.generate`: a character model run one step at a time, and
the sampling of each character, without per-step work of the sequence-sized kind.

Feeding each new character through ``model.forward`` costs one whole-model call per character:
every layer's checks, a ``(1, 1, ...)`` array per layer, one-hot rows made from an identity
matrix, the recurrent kernel's argument checks and copies, and ``Generator.choice``'s checks of
the distribution; together ten times the arithmetic on the demo's model. :class:`StepRunner`
asks each layer for its :meth:`~rnnkit.layers.Layer.step_function` once, then runs the chain on
one row per step with the layers' own buffers and a recurrent kernel call per recurrent layer;
:class:`Sampler` draws from the softmax in preallocated buffers. Both compute exactly what the
slow path computes (the same products, the same float64 softmax, the same uniform draw), so a
seed gives the same text either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .layers import Embedding, Layer, StepFunction, step_function_of
from .models import Sequential
from .network import Network

__all__ = ["Sampler", "StepRunner"]


def _layer_steps(layers: Sequence[Layer]) -> list[StepFunction] | None:
    """Each layer's step function (:func:`~rnnkit.layers.step_function_of`), or None when
    one has none."""
    steps = []
    for layer in layers:
        step = step_function_of(layer, 1)
        if step is None:
            return None
        steps.append(step)
    return steps


class StepRunner:
    """A :class:`~rnnkit.models.Sequential` character model one step at a time: a character id
    in, the logits of the next character ``(V,)`` out (a buffer, valid until the next step).

    Make it with :meth:`for_model` after the prime went through ``model.forward``: the
    recurrent layers' steps start from the states the prime left them (stateful layers).
    """

    def __init__(self, steps: list[StepFunction], one_hot: np.ndarray | None) -> None:
        self._steps = steps
        self._one_hot = one_hot  # (1, V) row of the model's dtype, or None: ids go in
        self._ids = np.zeros(1, dtype=np.int64)
        self._hot = 0

    @classmethod
    def for_model(cls, model: Network, vocab_size: int) -> StepRunner | None:
        """The runner of ``model``, or None when some layer has no step function or the model
        is not a plain stack (a functional graph, a subclass with its own ``forward``)."""
        if not isinstance(model, Sequential) or type(model).forward is not Sequential.forward:
            return None
        steps = _layer_steps(model.layers)
        if steps is None:
            return None
        one_hot = None
        if not isinstance(model.layers[0], Embedding):
            one_hot = np.zeros((1, vocab_size), dtype=model.dtype)
        return cls(steps, one_hot)

    def step(self, token: int) -> np.ndarray:
        """Feed ``token``; the logits of the next character."""
        if self._one_hot is None:
            self._ids[0] = token
            out = self._ids
        else:
            self._one_hot[0, self._hot] = 0
            self._one_hot[0, token] = 1
            self._hot = token
            out = self._one_hot
        for step in self._steps:
            out = step(out)
        return out[0]


class Sampler:
    """:func:`rnnkit.text.sample_logits` for logits of one length, in preallocated buffers.

    It makes the same float64 softmax and takes the same uniform draw from ``rng`` as
    ``Generator.choice(V, p=p)`` (cumulative sums normalised by their last value, then the
    first one above the draw), so both give the same ids from the same generator.
    """

    def __init__(self, size: int, temperature: float, rng: np.random.Generator) -> None:
        self.temperature = temperature
        self.rng = rng
        self._p = np.empty(size, dtype=np.float64)
        self._cdf = np.empty(size, dtype=np.float64)

    def __call__(self, logits: np.ndarray) -> int:
        if self.temperature <= 1e-6:
            return int(np.argmax(logits))  # float64 conversion keeps the order and the ties
        # Each call below is one NumPy call on a short row (~0.5-1 us each, the whole cost):
        # ufuncs with out= and the reductions as ufunc methods, which skip the array
        # methods' argument handling (np.cumsum is np.add.accumulate, .sum() np.add.reduce).
        p, cdf = self._p, self._cdf
        if self.temperature == 1.0:  # x / 1.0 is x: the division is skipped, exactly
            p[...] = logits
        else:  # converted to float64 before dividing, as sample_logits converts first
            np.divide(logits, self.temperature, out=p, dtype=np.float64)
        np.subtract(p, np.maximum.reduce(p), out=p)
        np.exp(p, out=p)
        total = float(np.add.reduce(p))
        if not total < math.inf:  # NaN or inf: Generator.choice would refuse it too
            raise ValueError(f"the model's logits are not finite: {logits}")
        np.divide(p, total, out=p)
        np.add.accumulate(p, out=cdf)
        np.divide(cdf, cdf[-1], out=cdf)
        return int(cdf.searchsorted(self.rng.random(), side="right"))
