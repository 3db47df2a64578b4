"""rnnkit -> Keras 3: :func:`to_keras` (what maps and what is refused: :mod:`.keras`)."""

from __future__ import annotations

import warnings
from typing import Any

from ..functional.graph_network import GraphNetwork
from ..layers import Bidirectional, Embedding, TimeDistributed
from ..layers.base import Layer
from ..layers.recurrent.base import RecurrentLayer
from ..models import Sequential
from ._common import check_strict, functional_chain, refusal
from ._keras_common import CLASSES, INITIALIZERS, SUPPORTED, keras_module

__all__ = ["to_keras"]

# rnnkit config keys with no Keras counterpart that change nothing Keras would compute: the
# kernels' implementation, and the input shape the Keras model's Input carries instead.
_DROPPED = frozenset({"backend", "input_shape", "batch_input_shape"})
# Keras classes whose constructor has no ``seed``: rnnkit's seeds only draw the initial weights
# there, and the weights travel.
_NO_SEED = frozenset({"Dense", "Embedding"})


def _initializer(value: Any, layer: Layer, key: str, keras: Any, strict: bool) -> Any:
    """Keras's initialiser for an rnnkit spec (a name or ``{"class_name", "config"}``), or
    None to leave Keras's default (``strict=False``) when Keras has no equivalent."""
    try:
        return keras.initializers.get(value)
    except (TypeError, ValueError) as error:
        if not strict:
            return None
        raise refusal(
            "to_keras",
            layer.name,
            type(layer).__name__,
            f"{key}={value!r} has no Keras initializer; it only draws the initial weights, so "
            "to_keras(model, strict=False) leaves Keras's default",
        ) from error


def _options(layer: Layer, kind: str, keras: Any, strict: bool) -> dict[str, Any]:
    """Keras constructor arguments for ``layer``'s config (name and dtype included)."""
    options: dict[str, Any] = {"name": layer.name}
    if kind not in ("Bidirectional", "TimeDistributed"):
        options["dtype"] = layer.dtype.name
    for key, value in layer.get_config().items():
        if key in ("name", "dtype", "layer", "backward_layer") or key in _DROPPED:
            continue
        if key == "seed" and kind in _NO_SEED:
            continue
        if key == "layer_norm":
            if value:
                raise refusal(
                    "to_keras",
                    layer.name,
                    kind,
                    "layer_norm=True (the layer-normalised cell) has no built-in Keras layer",
                )
            continue
        if key in INITIALIZERS:
            spec = _initializer(value, layer, key, keras, strict)
            if spec is not None:
                options[key] = spec
            continue
        options[key] = value
    return options


def _export(layer: Layer, keras: Any, strict: bool) -> Any:
    """The Keras layer of one rnnkit layer (its weights are set once it is built)."""
    kind = type(layer).__name__
    if CLASSES.get(kind) is not type(layer):
        raise TypeError(
            f"to_keras: no Keras layer for {kind} {layer.name!r}; supported: {SUPPORTED}"
        )
    options = _options(layer, kind, keras, strict)
    if isinstance(layer, TimeDistributed):
        options["layer"] = _export(layer.layer, keras, strict)
    elif isinstance(layer, Bidirectional):
        forward = _export(layer.forward_layer, keras, strict)
        # Keras names its forward copy "forward_" + the given layer's name, as rnnkit does.
        forward_name = layer.forward_layer.name.removeprefix("forward_")
        forward = type(forward).from_config({**forward.get_config(), "name": forward_name})
        options.update(layer=forward, backward_layer=_export(layer.backward_layer, keras, strict))
    try:
        exported = getattr(keras.layers, kind)(**options)
    except (TypeError, ValueError) as error:  # Keras's own check of an option
        raise refusal("to_keras", layer.name, kind, str(error)) from error
    exported.trainable = bool(layer.trainable)
    return exported


def _chain(model: Any) -> tuple[list[Layer], tuple[int | None, ...], int | None]:
    """The layers, the per-sample input shape and the fixed batch size (or None) of ``model``."""
    if isinstance(model, Sequential):
        layers = list(model.layers)
        unbuilt = [layer.name for layer in layers if not layer.built]
        if unbuilt or not layers:
            raise ValueError(f"to_keras: build the model first (unbuilt layers: {unbuilt})")
        batch_size = model.input_layer.batch_size if model.input_layer is not None else None
        return layers, tuple(layers[0].built_shape), batch_size
    if isinstance(model, GraphNetwork):  # a functional Model
        layers, tensor = functional_chain(model, "to_keras"), model.inputs[0]
        return layers, tuple(tensor.shape[1:]), tensor.shape[0]
    raise TypeError(
        f"to_keras takes an rnnkit Sequential or a functional chain, got {type(model).__name__}"
    )


def _warn_if_rounded(layers: list[Layer], exported: list[Any], keras: Any) -> None:
    """Warn when Keras keeps a float64 model's weights in float32 (JAX without
    ``jax_enable_x64`` does, while the variables still say float64): the weights would no
    longer be the same."""
    for layer, keras_layer in zip(layers, exported):
        stored = {
            str(keras.ops.convert_to_numpy(variable.value).dtype)
            for variable in keras_layer.weights
        }
        if layer.dtype.name == "float64" and stored - {"float64"}:
            warnings.warn(
                f"to_keras: Keras stores layer {layer.name!r}'s float64 weights as {stored}: "
                "its backend rounds them (JAX needs jax_enable_x64 for float64)",
                RuntimeWarning,
                stacklevel=3,
            )
            return


def to_keras(model: Any, strict: bool = True) -> Any:
    """A ``keras.Sequential`` computing what the rnnkit ``model`` computes, with its weights
    (copied) and its options.

    Args:
        model: a built rnnkit :class:`~rnnkit.models.Sequential`, or a functional model that is
            one chain from one input to one output, of SimpleRNN, LSTM, GRU, Dense, Embedding,
            Dropout, Activation, Masking, RepeatVector, TimeDistributed and Bidirectional.
        strict: True refuses an initialiser Keras has no equivalent for (rnnkit's
            ``"torch_uniform"``); False leaves Keras's default there (it only draws the
            initial weights, which are replaced by the model's).

    See :mod:`rnnkit.interop.keras` for what maps and what is refused.

    Raises:
        ImportError: Keras 3 is not installed.
        TypeError: not a Sequential or functional model, or a layer Keras has no class for.
        ValueError: unbuilt, not a chain, or an option Keras cannot express (the message
            names the layer and the option, e.g. ``SimpleRNN(layer_norm=True)``).
    """
    keras = keras_module()
    check_strict(strict, "to_keras")
    layers, shape, batch_size = _chain(model)
    exported = [_export(layer, keras, strict) for layer in layers]
    input_dtype = "int32" if isinstance(layers[0], Embedding) else layers[0].dtype.name
    for layer in layers:
        inner = layer.forward_layer if isinstance(layer, Bidirectional) else layer
        if isinstance(inner, RecurrentLayer) and inner.stateful and batch_size is None:
            raise refusal(
                "to_keras",
                layer.name,
                type(layer).__name__,
                "stateful=True: Keras needs a fixed batch size; give the model "
                "Input(shape, batch_size=N)",
            )
    keras_input = keras.Input(shape, batch_size=batch_size, dtype=input_dtype)
    converted = keras.Sequential([keras_input, *exported], name=model.name)
    for layer, keras_layer in zip(layers, exported):
        weights = layer.get_weights()
        if weights:
            keras_layer.set_weights(weights)
    _warn_if_rounded(layers, exported, keras)
    return converted
