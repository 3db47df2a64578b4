"""Keras 3 -> rnnkit: :func:`from_keras` (what maps and what is refused: :mod:`.keras`).

Every key of a Keras layer's ``get_config()`` is accounted for: copied to rnnkit's constructor
under the same name, converted (initialisers, the dtype policy), known to change nothing rnnkit
computes, or refused. A key this module has never seen (a newer Keras) is refused too, so a
conversion never drops an option silently.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from .. import initializers
from ..layers import Bidirectional, Input, TimeDistributed
from ..layers.base import Layer
from ..layers.recurrent.base import RecurrentLayer
from ..models import Model, Sequential
from ._common import FLOAT_DTYPES, check_strict, refusal
from ._keras_common import CLASSES, INITIALIZERS, SUPPORTED, keras_module

__all__ = ["from_keras"]

_RECURRENT = (
    "units",
    "activation",
    "use_bias",
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "dropout",
    "recurrent_dropout",
    "seed",
)
# Config keys copied to rnnkit's constructor as they are, per Keras class.
_COPIED: dict[str, tuple[str, ...]] = {
    "SimpleRNN": _RECURRENT,
    "LSTM": (*_RECURRENT, "recurrent_activation", "unit_forget_bias"),
    "GRU": (*_RECURRENT, "recurrent_activation", "reset_after"),
    "Dense": ("units", "activation", "use_bias"),
    "Embedding": ("input_dim", "output_dim", "mask_zero"),
    "Dropout": ("rate", "seed"),
    "Activation": ("activation",),
    "Masking": ("mask_value",),
    "RepeatVector": ("n",),
    "TimeDistributed": (),
    "Bidirectional": ("merge_mode",),
}
# Handled outside the tables: the name, trainable and dtype travel by attribute; a wrapper's
# layers are converted one by one; ``zero_output_for_mask`` only says what a sequence output
# holds at masked steps, which rnnkit decides by the mask's form (README, "Keras features rnnkit
# does not support").
_HANDLED = frozenset(
    {"name", "trainable", "dtype", "build_config", "layer", "backward_layer"}
    | {"zero_output_for_mask"}
)
# Penalties added to the loss and projections after each update: they shape training only.
_TRAINING_ONLY = frozenset(
    f"{what}_{kind}"
    for what in ("kernel", "recurrent", "bias", "embeddings", "activity")
    for kind in ("regularizer", "constraint")
)
# Keys rnnkit has no option for but whose Keras default computes what rnnkit does.
_DEFAULTS: dict[str, Any] = {
    "quantization_config": None,
    "noise_shape": None,
    "lora_rank": None,
    "lora_alpha": None,
    "sparse": False,
}


def _dtype(layer: Any) -> str:
    name = str(layer.dtype_policy.name)
    if name not in FLOAT_DTYPES:
        raise refusal(
            "from_keras",
            layer.name,
            type(layer).__name__,
            f"dtype policy {name!r}: rnnkit computes in float32 or float64",
        )
    return name


def _initializer(value: Any, layer: Any, key: str, strict: bool) -> Any:
    """rnnkit's spec of a Keras initialiser (by class name and config), or None to drop it
    (``strict=False``) when rnnkit has no equivalent."""
    spec = value
    if isinstance(value, dict):
        config = {
            k: v
            for k, v in (value.get("config") or {}).items()
            if not (k in ("input_axes", "output_axes") and v is None)  # rnnkit's kernels are 2-D
        }
        spec = {"class_name": value.get("class_name"), "config": config}
    try:
        initializers.get(spec)
    except (TypeError, ValueError) as error:
        if not strict:
            return None
        raise refusal(
            "from_keras",
            layer.name,
            type(layer).__name__,
            f"{key}={value!r} has no rnnkit initialiser ({error}); it only draws the initial "
            "weights, so from_keras(model, strict=False) drops it",
        ) from error
    return spec


def _options(layer: Any, kind: str, strict: bool) -> dict[str, Any]:
    """rnnkit constructor arguments for ``layer``'s config (name and dtype included)."""
    options: dict[str, Any] = {"name": layer.name}
    if kind not in ("Bidirectional", "TimeDistributed"):  # wrappers take their layer's dtype
        options["dtype"] = _dtype(layer)
    for key, value in layer.get_config().items():
        if key in _COPIED[kind]:
            options[key] = value
        elif key in INITIALIZERS:
            spec = _initializer(value, layer, key, strict)
            if spec is not None:
                options[key] = spec
        elif key in _HANDLED or (key in _DEFAULTS and value == _DEFAULTS[key]):
            continue
        elif key in _TRAINING_ONLY:
            if value is not None and strict:
                raise refusal(
                    "from_keras",
                    layer.name,
                    kind,
                    f"{key}={value!r}: rnnkit has no regularizers or constraints; they shape "
                    "training only (the outputs are the same), so from_keras(model, "
                    "strict=False) drops them",
                )
        else:
            raise refusal("from_keras", layer.name, kind, f"{key}={value!r} has no rnnkit option")
    return options


def _check_class(layer: Any, keras: Any) -> str:
    kind = type(layer).__name__
    if kind not in CLASSES or type(layer) is not getattr(keras.layers, kind, None):
        raise TypeError(
            f"from_keras: no rnnkit layer for {type(layer).__module__}.{kind} "
            f"({layer.name!r}); supported: Keras's own {SUPPORTED}, not "
            "subclasses or custom layers"
        )
    return kind


def _construct(cls: type[Layer], options: dict[str, Any], layer: Any, kind: str) -> Layer:
    try:
        return cls(**options)
    except (TypeError, ValueError) as error:  # rnnkit's own check, e.g. an unknown activation
        raise refusal("from_keras", layer.name, kind, str(error)) from error


def _convert(layer: Any, keras: Any, strict: bool) -> Layer:
    """The unbuilt rnnkit layer of one Keras layer (its weights move later)."""
    kind = _check_class(layer, keras)
    options = _options(layer, kind, strict)
    if kind == "TimeDistributed":
        inner = _convert(layer.layer, keras, strict)
        converted = _construct(TimeDistributed, {"layer": inner, **options}, layer, kind)
    elif kind == "Bidirectional":
        converted = _bidirectional(layer, keras, strict, options)
    else:
        converted = _construct(CLASSES[kind], options, layer, kind)
    converted.trainable = bool(layer.trainable)
    return converted


def _bidirectional(layer: Any, keras: Any, strict: bool, options: dict[str, Any]) -> Layer:
    forward, backward = (
        _convert(layer.forward_layer, keras, strict),
        _convert(layer.backward_layer, keras, strict),
    )
    # rnnkit names its forward copy "forward_" + the template's name, as Keras does.
    forward.name = forward.name.removeprefix("forward_")
    options.update(layer=forward, backward_layer=backward)
    converted = cast(Bidirectional, _construct(Bidirectional, options, layer, "Bidirectional"))
    converted.forward_layer.name = layer.forward_layer.name
    converted.forward_layer.trainable = bool(layer.forward_layer.trainable)
    return converted


def _check_outputs(model: Any) -> None:
    """A chain has one output, or all the outputs of its last layer's call in their order:
    ``[output, *states]`` of a recurrent layer with ``return_state=True``."""
    histories = [tuple(tensor._keras_history) for tensor in model.outputs]
    operation, node_index, _ = histories[0]
    node = operation._inbound_nodes[node_index]
    every = [(operation, node_index, k) for k in range(len(node.output_tensors))]
    if len(histories) > 1 and histories != every:
        raise ValueError(
            f"from_keras: model {model.name!r} has {len(histories)} outputs that are not the "
            "[output, *states] of its last layer; a chain of layers has one output"
        )


def _functional_chain(model: Any, keras: Any) -> tuple[list[Any], Any]:
    """The layers of a functional model from its input to its output, refusing any graph that
    is not one chain of single-input, single-output calls."""
    if len(model.inputs) != 1:
        raise ValueError(
            f"from_keras: model {model.name!r} has {len(model.inputs)} inputs; a chain of layers "
            "has one"
        )
    _check_outputs(model)
    chain: list[Any] = []
    tensor = model.outputs[0]
    while True:
        operation, node_index, tensor_index = tensor._keras_history
        if isinstance(operation, keras.layers.InputLayer):
            break
        node = operation._inbound_nodes[node_index]
        if len(operation._inbound_nodes) != 1 or len(node.input_tensors) != 1 or tensor_index:
            raise ValueError(
                f"from_keras: model {model.name!r} is not a chain of layers: layer "
                f"{operation.name!r} is called more than once, takes several inputs or passes "
                "on a state"
            )
        chain.append(operation)
        tensor = node.input_tensors[0]
    others = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(others) != len(chain):
        raise ValueError(f"from_keras: model {model.name!r} is not a chain of layers")
    return chain[::-1], model.inputs[0]


def _is_graph(model: Any) -> bool:
    """Whether a Keras Model is a graph of layer calls (functional), not code in ``call()``."""
    try:
        return bool(model.outputs)
    except AttributeError:  # a subclassed model has no graph to read
        return False


def _keras_chain(model: Any, keras: Any) -> tuple[list[Any], Any]:
    """The layers of a Keras Sequential or functional chain, and its input tensor."""
    if isinstance(model, keras.Sequential):
        if not model.built:
            raise ValueError(
                f"from_keras: build the Keras model {model.name!r} first (keras.Input(shape) as "
                "its first layer, or model.build(input_shape)): rnnkit needs its input shape"
            )
        return list(model.layers), model.inputs[0]
    if isinstance(model, keras.Model) and _is_graph(model):
        return _functional_chain(model, keras)
    raise TypeError(
        "from_keras takes a Keras 3 Sequential or functional Model (a subclassed model's "
        f"call() cannot be read), got {type(model).__name__}"
    )


def _stateful(layer: Layer) -> bool:
    inner = layer.forward_layer if isinstance(layer, Bidirectional) else layer
    return isinstance(inner, RecurrentLayer) and inner.stateful


def _move_weights(source: Any, target: Layer, keras: Any) -> None:
    """``source.get_weights()`` into ``target``, read from each variable's backend array (a
    Keras variable handed to NumPy itself warns on NumPy 2)."""
    weights = [np.array(keras.ops.convert_to_numpy(v.value), copy=True) for v in source.weights]
    if weights:
        target.set_weights(weights)


def from_keras(model: Any, strict: bool = True) -> Sequential | Model:
    """An rnnkit :class:`~rnnkit.models.Sequential` computing what the Keras 3 ``model``
    computes, with its weights (copied) and every option rnnkit has; a functional
    :class:`~rnnkit.models.Model` of the same chain when its last layer has
    ``return_state=True`` (its outputs are ``[output, *states]``, which a Sequential cannot
    return).

    Args:
        model: a built ``keras.Sequential``, or a functional ``keras.Model`` that is one chain
            from one input to one output, of Keras's own SimpleRNN, LSTM, GRU, Dense,
            Embedding, Dropout, Activation, Masking, RepeatVector, TimeDistributed and
            Bidirectional layers (float32 or float64).
        strict: True refuses what rnnkit would lose; False drops the options that shape
            training only, which rnnkit lacks: regularizers, constraints, and initialisers it
            has no equivalent for (the outputs are the same either way).

    See :mod:`rnnkit.interop.keras` for what maps and what is refused.

    Raises:
        ImportError: Keras 3 is not installed.
        TypeError: not a Sequential or functional model, or a layer rnnkit has no class for
            (a custom layer or a subclass).
        ValueError: not a chain, not built, or an option rnnkit cannot express (the message
            names the layer and the option).
    """
    keras = keras_module()
    check_strict(strict, "from_keras")
    chain, input_tensor = _keras_chain(model, keras)
    if not chain:
        raise ValueError(f"from_keras: model {model.name!r} has no layers besides its input")
    layers = [_convert(layer, keras, strict) for layer in chain]
    shape = tuple(input_tensor.shape)
    # Keras fixes the batch size of a model built by a call on data; only a stateful layer needs
    # it (rnnkit's Input would refuse every other batch size).
    stateful = any(_stateful(layer) for layer in layers)
    batch_size = shape[0] if stateful else None
    rnnkit_input = Input(shape[1:], dtype=str(input_tensor.dtype), batch_size=batch_size)
    inner = [layer for layer in layers[:-1] if layer.return_state]
    if inner:
        raise refusal(
            "from_keras",
            inner[0].name,
            type(inner[0]).__name__,
            "return_state=True before the last layer: a chain cannot pass [output, *states] on",
        )
    converted: Sequential | Model
    if layers[-1].return_state:  # a Sequential cannot return a list: the same chain as a graph
        tensor = rnnkit_input
        for layer in layers:
            tensor = layer(tensor)
        converted = Model(rnnkit_input, tensor, name=model.name)
    else:
        stack: list[Any] = [rnnkit_input, *layers]
        converted = Sequential(stack, name=model.name)
    for source, target in zip(chain, layers):
        _move_weights(source, target, keras)
    return converted
