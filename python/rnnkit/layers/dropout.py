"""Dropout: inverted dropout during training, the identity at inference."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _checks
from ._random_masks import keep_mask
from .base import Layer, StepFunction, make_rng, no_param_shapes

__all__ = ["Dropout"]


class Dropout(Layer):
    """Zero each input entry with probability ``rate`` during training and scale the kept ones
    by ``1 / (1 - rate)`` ("inverted" dropout, as Keras and PyTorch), so inference is the
    identity with no rescaling.

    Args:
        rate: drop probability in [0, 1).
        seed: seed of the mask stream (None: see :func:`rnnkit.layers.set_random_seed`). The
            masks are reproducible: the same seed and the same call sequence give the same masks.

    Attributes:
        rng: the ``numpy.random.Generator`` the masks come from (replace it to replay masks).
        mask: the scaled mask of the last training forward (None at inference).
    """

    rng: np.random.Generator  # the mask stream, always there (Layer's is None by default)

    def __init__(
        self,
        rate: float,
        seed: int | None = None,
        dtype: str = "float32",
        input_shape: Sequence[int | None] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.rate = _checks.probability(rate, "rate", where="Dropout: ")
        self.seed = seed
        self.rng = make_rng(seed)
        self.mask: np.ndarray | None = None
        self._build_if_shape_given(input_shape)

    @classmethod
    def config_param_shapes(
        cls, config: dict[str, Any], input_shape: Sequence[int | None] | None
    ) -> dict[str, tuple[int, ...]]:
        return no_param_shapes(config, input_shape)

    def forward(
        self, x: np.ndarray, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        self._build_for(x)
        x = np.asarray(x, dtype=self.dtype)
        if not training or self.rate == 0.0:
            self.mask = None
            return x
        keep = keep_mask(self.rng, x.shape, self.rate)
        self.mask = keep.astype(self.dtype) / self.dtype.type(1.0 - self.rate)
        return x * self.mask

    def step_function(self, batch_size: int) -> StepFunction | None:
        """The identity (in the layer's dtype), as at inference."""
        dtype = self.dtype
        return lambda x: x if x.dtype == dtype else x.astype(dtype)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = np.asarray(dy, dtype=self.dtype)
        return dy if self.mask is None else dy * self.mask

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config
