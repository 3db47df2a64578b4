"""Step masks: Keras's ``Masking`` layer, and the one mask step every mask-making layer shares.

A layer that makes a mask (``Embedding(mask_zero=True)``, ``Masking``) finds a boolean ``(N, T)``
mask of valid steps in its input and hands it on in its carried form (see :mod:`rnnkit._steps`):
lengths when the padding comes after the steps (post-padding, the fast packed-sequence path),
else the step mask itself (pre-padding, gaps), which the recurrent layers honour with Keras's
semantics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _checks, _steps
from .base import Layer, Shape, no_param_shapes

__all__ = ["Masking", "combine_lengths", "mask_to_lengths"]


def mask_to_lengths(valid: np.ndarray) -> np.ndarray:
    """The boolean ``(N, T)`` mask ``valid`` in its carried form: int64 lengths when its valid
    steps form a prefix of every row, else the bool mask (:func:`rnnkit._steps.from_mask`)."""
    return _steps.from_mask(valid)


def combine_lengths(given: Any, own: np.ndarray | None, owner: str) -> np.ndarray | None:
    """The mask after a layer that makes one (``own``, from its last forward) when ``given``
    came from below: a step is valid when both say so (either form, :func:`_steps.combine`)."""
    if own is None:
        raise RuntimeError(f"{owner}: call forward before output_lengths (the mask comes from x)")
    return _steps.combine(given, own)


class Masking(Layer):
    """Keras's ``Masking(mask_value=0.0)``: a time step whose features all equal
    ``mask_value`` is padding. The output is the input with those steps zeroed (as Keras), and
    the layers after it see the mask (:meth:`output_lengths`): recurrent layers skip the
    masked steps and keep their state over them, and the loss ignores them, so training and
    every last-state output are Keras's. Masked steps may be anywhere (pre-padding, gaps): a
    ``return_sequences=True`` layer then repeats the previous output there, as Keras. With
    post-padding the mask travels as lengths and the padded steps output zeros (packed
    sequences; the loss ignores those steps either way).

    Args:
        mask_value: the value that marks a padded step (compared in the input's dtype).
        dtype, input_shape, name: as for every layer (``input_shape=(T, D)``).

    Input ``(N, T, D)``. No parameters; ``backward`` zeroes the gradient of the masked steps.
    """

    def __init__(
        self,
        mask_value: float = 0.0,
        dtype: str = "float32",
        input_shape: Sequence[int | None] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=None, dtype=dtype)
        self.mask_value = _checks.real_number(mask_value, "mask_value", where="Masking: ")
        self._keep: np.ndarray | None = None  # (N, T, 1) 1.0 for valid steps, 0.0 for padding
        self._mask_lengths: np.ndarray | None = None
        self._build_if_shape_given(input_shape)

    @classmethod
    def config_param_shapes(
        cls, config: dict[str, Any], input_shape: Sequence[int | None] | None
    ) -> dict[str, tuple[int, ...]]:
        return no_param_shapes(config, input_shape)

    def build(self, input_shape: Shape) -> None:
        if len(tuple(input_shape)) != 2:
            raise ValueError(
                f"layer {self.name!r} (Masking) expects a per-sample input shape (T, D), got "
                f"{tuple(input_shape)}: its input is (N, T, D) (batch, time, features)"
            )
        super().build(input_shape)

    def forward(
        self, x: np.ndarray, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        self._build_for(x)
        x = np.asarray(x, dtype=self.dtype)
        self._check_built_input(x, 3, "(N, T, D)")
        if x.ndim != 3:
            raise ValueError(
                f"layer {self.name!r} (Masking) expects input of shape (N, T, D), got {x.shape}"
            )
        valid = np.any(x != x.dtype.type(self.mask_value), axis=-1)
        self._mask_lengths = mask_to_lengths(valid)
        self._keep = valid[..., None].astype(self.dtype)
        return x * self._keep

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._keep is None:
            raise RuntimeError(f"layer {self.name!r}: backward called before forward")
        return np.asarray(dy, dtype=self.dtype) * self._keep

    def output_lengths(self, lengths: np.ndarray | None) -> np.ndarray | None:
        """The mask of the last forward's input (the element-wise minimum with ``lengths``
        when both exist). Call it after ``forward``."""
        return combine_lengths(lengths, self._mask_lengths, f"layer {self.name!r} (Masking)")

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config
