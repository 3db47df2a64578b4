"""RepeatVector: one vector per sample, repeated along a new time axis.

The building block of vector-to-sequence models: an encoder's last state (or an image's
features) repeated ``n`` times feeds a decoder that outputs a sequence (Keras's encoder-decoder
``LSTM -> RepeatVector -> LSTM(return_sequences=True) -> TimeDistributed(Dense)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _checks
from .base import Layer, Shape, no_param_shapes

__all__ = ["RepeatVector"]


class RepeatVector(Layer):
    """``(N, D) -> (N, n, D)``: every step of the output is the sample's input vector (Keras's
    ``RepeatVector(n)``). ``backward`` sums the output gradient over the ``n`` steps.

    Args:
        n: the number of steps.
        dtype, input_shape, name: as for every layer (``input_shape=(D,)``).

    Its output has a time axis again, so a recurrent layer may follow a recurrent layer that
    returned only its last state. All ``n`` steps are valid: no mask passes through.
    """

    def __init__(
        self,
        n: int,
        dtype: str = "float32",
        input_shape: Sequence[int | None] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=None, dtype=dtype)
        self.n = _checks.positive_int(n, "n", where="RepeatVector: ")
        self._built_for: tuple[int, ...] | None = None  # the input shape of the last forward
        self._build_if_shape_given(input_shape)

    @classmethod
    def config_param_shapes(
        cls, config: dict[str, Any], input_shape: Sequence[int | None] | None
    ) -> dict[str, tuple[int, ...]]:
        return no_param_shapes(config, input_shape)

    def build(self, input_shape: Shape) -> None:
        if len(tuple(input_shape)) != 1:
            raise ValueError(
                f"layer {self.name!r} (RepeatVector) expects a per-sample input shape (D,), got "
                f"{tuple(input_shape)}: its input is (N, D), e.g. a recurrent layer's last state "
                "(return_sequences=False)"
            )
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (self.n, *tuple(input_shape))

    def adds_time(self) -> bool:
        return True

    def forward(
        self, x: np.ndarray, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        self._build_for(x)
        x = np.asarray(x, dtype=self.dtype)
        self._check_built_input(x, 2, "(N, D)")
        if x.ndim != 2:
            raise ValueError(
                f"layer {self.name!r} (RepeatVector) expects input of shape (N, D), got {x.shape}"
            )
        self._built_for = x.shape
        # A real copy, not a broadcast view: the layers after it may write to their input.
        return np.repeat(x[:, None, :], self.n, axis=1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._built_for is None:
            raise RuntimeError(f"layer {self.name!r}: backward called before forward")
        return np.asarray(dy, dtype=self.dtype).sum(axis=1)

    def output_lengths(self, lengths: np.ndarray | None) -> np.ndarray | None:
        """None: the input has no time axis, and every repeated step is valid."""
        return None

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["n"] = self.n
        return config
