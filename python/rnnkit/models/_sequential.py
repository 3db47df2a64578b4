"""Keras's :class:`Sequential`: a linear stack of layers. See :mod:`rnnkit.models`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..layers.base import (
    Layer,
    OutputShape,
    Shape,
    check_stack,
    deserialize_layer,
    serialize_layer,
    shapes_compatible,
)
from ..layers.input_layer import InputLayer
from ..layers.symbolic import SymbolicTensor
from ..network import ConfigLayers, Inputs

if TYPE_CHECKING:  # annotations only
    pass
from ._model import Model


class Sequential(Model):
    """A linear stack of layers: each layer's output is the next one's input.

    Args:
        layers: initial layers (each goes through :meth:`add`).
        name: model name.

    Shapes are inferred from a leading :func:`~rnnkit.layers.Input` (Keras 3:
    ``Sequential([Input((3, 1)), SimpleRNN(10), Dense(1)])``) or the first layer's
    ``input_shape`` (the model is then built as layers are added, so a wrong stack fails at
    ``add``), else at the first call / :meth:`build`. As in Keras 3, the Input is not listed in
    :attr:`layers` (it has no weights); it is kept in :attr:`input_layer` and in the config.
    Sequence masks (``lengths``) flow through the layers' ``output_lengths``.

    As in Keras, only the first layer's ``input_shape`` means anything: one given to a later
    layer is ignored (silently, as Keras 3 does), so a listing that repeats
    ``input_shape=(T, D)`` on every layer builds each for the output of the layer below it.
    """

    def __init__(self, layers: Sequence[Layer] | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self._build_input_shape: Shape | None = None
        self._lengths_out: np.ndarray | None = None
        self.input_layer: InputLayer | None = None  # a leading Input, if any
        for layer in layers or ():
            self.add(layer)

    def add(self, layer: Layer) -> None:
        """Append ``layer``. If the input shape is known (the first layer's ``input_shape``),
        the new layer is built at once and the stack checked (:func:`check_stack`)."""
        if isinstance(layer, SymbolicTensor) and layer.node.layer.is_input_layer:
            layer = layer.node.layer  # Keras 3's Sequential([Input(shape), ...])
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects an rnnkit Layer, got {type(layer).__name__}")
        if layer.is_input_layer:
            if self._layers or self.input_layer is not None:
                raise ValueError(
                    f"an Input ({layer.name!r}) can only be the first layer of a "
                    f"Sequential model; model {self.name!r} already has "
                    f"{'an Input' if self.input_layer is not None else 'layers'}"
                )
            # object.__setattr__: a Layer attribute would be tracked in ``layers``.
            # is_input_layer is the InputLayer's own flag (no isinstance on layer classes here).
            object.__setattr__(self, "input_layer", cast(InputLayer, layer))
            self._build_input_shape = layer.built_shape
            return
        self._track(layer)
        if len(self._layers) == 1 and layer.input_shape is not None:
            if self._build_input_shape is None:
                self._build_input_shape = tuple(layer.input_shape)
            elif self.input_layer is not None and not self.input_layer.compatible(
                layer.input_shape
            ):
                self._layers.pop()
                raise ValueError(
                    f"layer {layer.name!r} has input_shape {layer.input_shape}, "
                    f"but the model's Input has shape {self.input_layer.shape}"
                )
        try:
            if self._build_input_shape is not None:
                self.build(self._build_input_shape)
            else:
                check_stack(self._layers)
        except Exception:
            self._layers.pop()  # a rejected layer must not stay half-added
            raise

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise TypeError("there are no layers in the model")
        return self._layers.pop()  # an Input stays: it is the model's input, not a layer

    def build(self, input_shape: Sequence[int | None] | None = None) -> None:
        """Check the stack and build every layer for the per-sample ``input_shape`` (no batch
        axis, e.g. ``(T, D)``; None: the first layer's ``input_shape``)."""
        if input_shape is None:
            input_shape = self._build_input_shape
            if input_shape is None and self._layers:
                input_shape = self._layers[0].input_shape
        if input_shape is None:
            raise ValueError(
                f"model {self.name!r} cannot be built: give the first layer an "
                "input_shape=(T, D), call build((T, D)), or call the model on data"
            )
        if not self._layers:
            raise ValueError(f"model {self.name!r} has no layers")
        check_stack(self._layers)
        shape: Any = tuple(input_shape)
        for index, layer in enumerate(self._layers):
            if (
                index > 0
                and layer.built_from_input_shape
                and not shapes_compatible(layer.built_shape, shape)
            ):
                # Keras ignores input_shape on all but the first layer (a classic stacked
                # listing repeats it): the layer is built again for what it really receives.
                layer.unbuild()
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self._build_input_shape = tuple(input_shape)

    def forward(
        self, x: Inputs, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """Run the layers in order; the mask passes through each layer's ``output_lengths``."""
        if not self._layers:
            raise ValueError(f"model {self.name!r} has no layers")
        out: Any = x  # each layer's output is the next one's input
        if self.input_layer is not None:
            out = self.input_layer.forward(out)  # checks the input against the Input's shape
        if not self.built:
            self.build(np.shape(out)[1:])
        for layer in self._layers:
            out = layer.forward(out, training=training, lengths=lengths)
            lengths = layer.output_lengths(lengths)
        self._lengths_out = lengths
        return out

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """Backpropagate through the layers in reverse; returns ``dx`` (None after an
        Embedding: integer inputs have no gradient)."""
        grad: np.ndarray | None = dy
        for layer in reversed(self._layers):
            grad = layer.backward(grad)
        return grad

    def output_lengths(self, lengths: np.ndarray | None) -> np.ndarray | None:
        """The output mask of the last forward (after e.g. an Embedding with ``mask_zero``)."""
        return self._lengths_out

    def _output_shapes(self) -> list[Any]:
        if self._build_input_shape is None or not self.built:
            return super()._output_shapes()
        shapes: list[OutputShape] = []
        shape: Any = self._build_input_shape  # one shape a layer: check_stack refuses others
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
            shapes.append(shape)
        return shapes

    def summary(
        self, line_length: int | None = None, print_fn: Callable[[str], Any] | None = print
    ) -> str:
        if not self.built:
            raise ValueError(
                f"model {self.name!r} has not yet been built: give the first layer "
                "an input_shape=(T, D), call build((T, D)), or call the model on "
                "data first"
            )
        return super().summary(line_length, print_fn)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "name": self.name,
            "layers": [serialize_layer(layer) for layer in self._layers],
            "build_input_shape": (
                None if self._build_input_shape is None else list(self._build_input_shape)
            ),
        }
        if self.input_layer is not None:
            config["input_layer"] = serialize_layer(self.input_layer)
        return config

    @classmethod
    def config_layers(cls, config: dict[str, Any]) -> ConfigLayers | None:
        """The layer specs of ``config["layers"]``, and the input shapes its
        ``build_input_shape`` and Input declare (saving checks them against a file first)."""
        specs = config.get("layers")
        if not isinstance(specs, list):
            return None
        shapes: dict[str, Any] = {}
        if config.get("build_input_shape") is not None:
            shapes["build_input_shape"] = config["build_input_shape"]
        input_spec = config.get("input_layer")
        if isinstance(input_spec, dict):
            shape = input_spec.get("config", {}).get("input_shape")
            if shape is not None:
                shapes["Input shape"] = shape
        return ConfigLayers(specs, shapes)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        model = cls(name=config.get("name"))
        if config.get("input_layer") is not None:
            model.add(deserialize_layer(config["input_layer"]))
        for spec in config.get("layers", []):
            model.add(deserialize_layer(spec))
        shape = config.get("build_input_shape")
        if shape is not None and not model.built:
            model.build(tuple(shape))
        return model
