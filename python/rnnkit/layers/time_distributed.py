"""TimeDistributed: apply a layer to every time step of ``(N, T, ...)`` input.

The time axis is folded into the batch, ``(N, T, ...) -> (N*T, ...)``, the wrapped layer runs
once on all rows, and the result is unfolded: no Python loop over steps, and the wrapped layer's
weights are shared by all steps (their gradients sum over steps, as they must).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._random_masks import rows_per_sample
from .base import (
    Layer,
    Shape,
    StepFunction,
    config_input_shape,
    deserialize_layer,
    get_layer_class,
    serialize_layer,
    shapes_compatible,
    step_function_of,
)

__all__ = ["TimeDistributed"]


class TimeDistributed(Layer):
    """Wrap ``layer`` so it applies to each time step of a ``(N, T, ...)`` input.

    ``params`` and ``grads`` *are* the wrapped layer's dicts (same objects, same keys: no
    prefix); a model prefixes them with this wrapper's name like any layer's. ``lengths`` pass
    through unchanged (the wrapped layer sees single steps, which have no mask); padded steps
    are computed like the others and left for the loss to ignore. ``get_config()["layer"]`` is
    the wrapped layer's ``{"class_name", "config"}``.
    """

    requires_sequence = True

    def __init__(
        self,
        layer: Layer,
        name: str | None = None,
        input_shape: tuple[int | None, ...] | None = None,
    ) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed wraps an rnnkit Layer, got {type(layer).__name__}")
        if layer.requires_sequence:
            raise ValueError(
                f"TimeDistributed cannot wrap {type(layer).__name__} "
                f"({layer.name!r}): it needs a time axis of its own"
            )
        super().__init__(name=name, input_shape=None, dtype=layer.dtype.name)
        self.layer = layer
        # Shared dict objects: the inner layer fills them in build() and overwrites its grads in
        # place, so the wrapper never has to copy.
        self.params = layer.params
        self.grads = layer.grads
        self._build_if_shape_given(input_shape)

    def sublayers(self) -> list[Layer]:
        return [self.layer]

    def output_activation(self) -> str | None:
        return self.layer.output_activation()

    def build(self, input_shape: Shape) -> None:
        input_shape = tuple(input_shape)
        if len(input_shape) < 2:
            raise ValueError(
                f"layer {self.name!r} (TimeDistributed) expects a per-sample input "
                f"shape (T, ...) with a time axis, got {input_shape}"
            )
        inner = self.layer
        if inner.built_from_input_shape and not shapes_compatible(
            inner.built_shape, input_shape[1:]
        ):
            inner.unbuild()  # its own input_shape argument is ignored, as Keras does
        if not inner.built:
            inner.build(input_shape[1:])
        super().build(input_shape)

    @classmethod
    def config_param_shapes(
        cls, config: dict[str, Any], input_shape: Sequence[int | None] | None
    ) -> dict[str, tuple[int, ...]] | None:
        shape = config_input_shape(config, input_shape)
        inner = config["layer"]
        inner_shape = None if shape is None or len(shape) < 2 else shape[1:]
        return get_layer_class(inner["class_name"]).config_param_shapes(
            dict(inner.get("config", {})), inner_shape
        )

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        inner = self.layer.compute_output_shape(tuple(input_shape[1:]))
        if isinstance(inner, list):  # only sequence layers have several, refused in __init__
            raise ValueError(f"TimeDistributed wraps a layer of one output, got shapes {inner}")
        return (input_shape[0], *inner)

    def forward(
        self, x: np.ndarray, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        self._build_for(x)
        x = np.asarray(x)
        if x.ndim < 3:
            raise ValueError(
                f"layer {self.name!r} (TimeDistributed) expects input of shape "
                f"(N, T, ...), got {x.shape}"
            )
        self._nt = x.shape[:2]
        with rows_per_sample(x.shape[1]):  # the wrapped layer's masks, one block per sample
            y = self.layer.forward(x.reshape((-1, *x.shape[2:])), training=training)
        return y.reshape(self._nt + y.shape[1:])

    def step_function(self, batch_size: int) -> StepFunction | None:
        """The wrapped layer's: one step of ``N`` rows is what it sees in ``forward``."""
        return step_function_of(self.layer, batch_size) if self.built else None

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        dy = np.asarray(dy)
        dx = self.layer.backward(dy.reshape((-1, *dy.shape[2:])))
        return None if dx is None else dx.reshape(self._nt + dx.shape[1:])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("dtype", None)  # the wrapped layer's dtype rules
        config["layer"] = serialize_layer(self.layer)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"))
        return cls(layer, **config)
