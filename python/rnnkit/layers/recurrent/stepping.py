"""One time step of a recurrent layer at inference, carrying its states from call to call
(:meth:`RecurrentLayer.step_function <rnnkit.layers.RecurrentLayer.step_function>`).

The first step goes through the layer's own kernel call (checks, conversions, the layer's
weights and settings); every later step calls the same kernel again on a ``(N, 1, D)`` buffer
with :func:`rnnkit.ops.repeat_forward`, which skips what the first call already checked: on a
one-character step of a char model those checks cost as much as the kernel itself. The maths
is the kernel's, so a step gives exactly what ``forward`` gives for a ``(N, 1, D)`` input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ... import ops

if TYPE_CHECKING:  # annotations only
    from .base import RecurrentLayer

__all__ = ["RecurrentStepper"]


class RecurrentStepper:
    """Callable: step input rows ``(N, D)`` in, ``h`` rows ``(N, H)`` out; the states stay here.

    Args:
        layer: a built recurrent layer (inference: no dropout).
        batch_size: ``N``; a stateful layer's carried states (if any) must have ``N`` rows.
    """

    def __init__(self, layer: RecurrentLayer, batch_size: int) -> None:
        self._layer = layer
        # The carried states of a stateful layer, else zeros (None entries), as forward takes.
        self.states: tuple[np.ndarray | None, ...] = tuple(layer._initial_states(None, batch_size))
        features = layer.built_shape[1]
        assert features is not None  # build refuses an unknown D
        self._x = np.empty((batch_size, 1, features), dtype=layer.dtype)
        self._rows = self._x[:, 0, :]
        self._shape = (batch_size, layer.units)
        self._cache: ops.SequenceCache | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self._rows[...] = x  # converted to the layer's dtype, as forward converts its input
        if self._cache is not None:
            hs, finals = ops.repeat_forward(self._cache, self._x, self.states)
        else:
            hs, final_list, cache = self._layer._cell_forward(
                self._x, list(self.states), None, False
            )
            finals = tuple(final_list)
            if isinstance(cache, ops.SequenceCache):  # the C++ kernels: later steps go direct
                self._cache = cache
        self.states = finals
        return hs.reshape(self._shape)
