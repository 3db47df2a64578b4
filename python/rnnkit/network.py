"""Network: the structure every rnnkit model shares (layers, params, forward/backward, predict,
summary, configs), below the training and saving machinery that work on it.

:class:`rnnkit.models.Model` adds the Keras-familiar surface (``compile``/``fit``/``evaluate``/
``save``) on top; the Trainer (:mod:`rnnkit.training`) and the file format (:mod:`rnnkit.saving`)
need only this module, which is what keeps the package free of import circles (models ->
training -> network, models -> saving -> network).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import _checks, _steps
from ._summary_table import format_summary
from .layers.base import Layer, _snake_case, walk_layers
from .layers.recurrent import RecurrentLayer

if TYPE_CHECKING:  # annotations only
    from .callbacks import History
    from .training import Trainer

__all__ = ["ConfigLayers", "Inputs", "Network", "get_model_class", "num_samples", "take"]

_model_counter = itertools.count(1)

# Network subclasses by class name, filled by Network.__init_subclass__ (as layers do), so that
# loading can rebuild a custom model from its saved class name.
_MODEL_CLASSES: dict[str, type[Network]] = {}

Inputs = np.ndarray | Sequence[np.ndarray]
# Data for several inputs or outputs may also be a dict of arrays by name (functional models).
Data = Inputs | dict[str, np.ndarray]


class ConfigLayers(NamedTuple):
    """What a model config will build, read from the config alone (see
    :meth:`Network.config_layers`)."""

    specs: list[Any]  # each layer's {"class_name", "config"}, in ``layers`` order
    input_shapes: dict[str, Any]  # per-sample input shapes the config declares, by who declares


def get_model_class(class_name: str) -> type[Network]:
    """The registered Model subclass called ``class_name`` (ValueError naming the known ones)."""
    try:
        return _MODEL_CLASSES[class_name]
    except KeyError:
        known = ", ".join(sorted(_MODEL_CLASSES))
        raise ValueError(
            f"unknown model class {class_name!r}; known: {known} (define the class "
            "before loading, or pass custom_objects={name: cls})"
        ) from None


def num_samples(x: Data) -> int:
    """Batch size of ``x``: an array, or a list/tuple/dict of arrays of one batch size."""
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, (list, tuple)):
        sizes = {len(a) for a in x}
        if len(sizes) != 1:
            raise ValueError(
                f"all inputs must have the same number of samples, got {sorted(sizes)}"
            )
        return sizes.pop()
    return len(x)


def input_lengths(lengths: Any, x: Inputs) -> np.ndarray | None:
    """The mask given for the samples of ``x`` in its carried form (None stays None), through
    :func:`rnnkit._steps.check`: lengths ``(N,)`` as int64 in ``[0, T]``, or a step mask
    ``(N, T)`` of booleans (or 0/1), turned into lengths when it is post-padding. ``T`` is the
    time axis of a single input array; a model with several inputs has no one ``T``, and its
    layers check the range against their own."""
    steps = x.shape[1] if isinstance(x, np.ndarray) and x.ndim >= 2 else None
    return _steps.check(lengths, num_samples(x), steps)


def take(x: Data, index: slice | np.ndarray) -> Any:
    """Rows ``index`` of ``x`` (an array or a list/tuple/dict of arrays)."""
    if isinstance(x, dict):
        return {key: np.asarray(a)[index] for key, a in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(np.asarray(a)[index] for a in x)
    return np.asarray(x)[index]


def _shape_text(shape: Any) -> str:
    """Keras's way of printing an output shape: batch axis first as None."""
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return "(" + ", ".join(str(s) for s in (None, *shape)) + ")"


class Network:
    """A list of layers plus ``forward``/``backward``: what every model is, without the
    Keras-familiar training surface (that is :class:`rnnkit.models.Model`, the class to
    subclass).

    Subclasses implement :meth:`forward` and :meth:`backward`. Layers assigned as attributes
    (or lists of layers) are tracked in assignment order; ``layers`` lists them, and that list is
    what ``params``, ``grads``, ``summary``, the Trainer and saving work on. Layer names must be
    unique within a model (they key ``params``). Every subclass registers itself by class name,
    so a saved model can be rebuilt from its class name.

    Attributes:
        name: model name.
        trainer: the :class:`~rnnkit.training.Trainer` training this model (set by the Trainer
            and by ``compile``; None before).
        history: the :class:`~rnnkit.callbacks.History` of the last ``fit``.
        stop_training: set by callbacks (EarlyStopping) to end ``fit`` after the current epoch.
        metadata: JSON-serialisable extras saved with the model (e.g. a char vocabulary).
    """

    _layers: list[Layer]  # set in __init__ through object.__setattr__ (see __setattr__)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _MODEL_CLASSES[cls.__name__] = cls

    def __init__(self, name: str | None = None) -> None:
        object.__setattr__(self, "_layers", [])
        self.name = name or f"{_snake_case(type(self).__name__)}_{next(_model_counter)}"
        self.trainer: Trainer | None = None
        self.history: History | None = None
        # JSON-serialisable extras that travel with a saved model (e.g. a char vocabulary).
        self.metadata: dict[str, Any] = {}
        self.stop_training = False

    def __setattr__(self, key: str, value: Any) -> None:
        if isinstance(value, Layer) or (
            isinstance(value, (list, tuple)) and value and all(isinstance(v, Layer) for v in value)
        ):
            if "_layers" not in self.__dict__:
                raise RuntimeError(
                    f"{type(self).__name__}: call super().__init__() before "
                    f"assigning layers (self.{key} = ...)"
                )
            for layer in value if isinstance(value, (list, tuple)) else [value]:
                if not any(layer is known for known in self._layers):
                    self._track(layer)
        object.__setattr__(self, key, value)

    def _track(self, layer: Layer) -> None:
        if any(layer.name == known.name for known in self._layers):
            raise ValueError(
                f"model {self.name!r} already has a layer named {layer.name!r}; "
                "layer names must be unique within a model (they key params)"
            )
        self._layers.append(layer)

    # -- structure ----------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        """The model's layers, in order (a copy of the list; the layers themselves)."""
        return list(self._layers)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name or by index (Keras's ``get_layer``)."""
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"no layer named {name!r} in model {self.name!r}; layers: "
            f"{[layer.name for layer in self._layers]}"
        )

    @property
    def built(self) -> bool:
        """True when every layer has its weights."""
        return bool(self._layers) and all(layer.built for layer in self._layers)

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the first layer (parameters and computation)."""
        return self._layers[0].dtype if self._layers else np.dtype("float32")

    @property
    def params(self) -> dict[str, np.ndarray]:
        """``"layer_name/key" -> array``: the layers' own parameter arrays (not copies)."""
        return {
            f"{layer.name}/{key}": value
            for layer in self._layers
            for key, value in layer.params.items()
        }

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """``"layer_name/key" -> array``: the layers' gradient arrays, keys as :attr:`params`."""
        return {
            f"{layer.name}/{key}": value
            for layer in self._layers
            for key, value in layer.grads.items()
        }

    @property
    def trainable_params(self) -> dict[str, np.ndarray]:
        """:attr:`params` of the layers whose ``trainable`` is True (what the Trainer updates)."""
        return {
            f"{layer.name}/{key}": value
            for layer in self._layers
            if layer.trainable
            for key, value in layer.params.items()
        }

    @property
    def trainable_grads(self) -> dict[str, np.ndarray]:
        """:attr:`grads` matching :attr:`trainable_params`."""
        return {
            f"{layer.name}/{key}": value
            for layer in self._layers
            if layer.trainable
            for key, value in layer.grads.items()
        }

    def count_params(self) -> int:
        """Number of scalar parameters."""
        return sum(layer.count_params() for layer in self._layers)

    def zero_grads(self) -> None:
        """Fill every gradient with zeros."""
        for layer in self._layers:
            layer.zero_grads()

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all parameter arrays, layer by layer (Keras's ``get_weights``)."""
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Copy ``weights`` (as :meth:`get_weights` returns them) into the layers, in place."""
        weights = list(weights)
        expected = sum(len(layer.params) for layer in self._layers)
        if len(weights) != expected:
            raise ValueError(
                f"model {self.name!r} has {expected} weight arrays, got {len(weights)}"
            )
        for layer in self._layers:
            count = len(layer.params)
            layer.set_weights(weights[:count])
            weights = weights[count:]

    def reset_states(self) -> None:
        """Forget the carried state of every recurrent layer, wrapped ones included."""
        for layer in walk_layers(self._layers):
            if isinstance(layer, RecurrentLayer):
                layer.reset_state()

    reset_state = reset_states

    # -- computation --------------------------------------------------------------------------
    def forward(self, x: Inputs, training: bool = False, lengths: np.ndarray | None = None) -> Any:
        """The model's output for a batch ``x``; keeps what :meth:`backward` needs."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement forward(x, training, lengths)"
        )

    def backward(self, dy: Any) -> Any:
        """Backpropagate ``dy`` (gradient of the output); overwrite every layer's ``grads`` and
        return the gradient of the input (None for integer inputs or when not needed)."""
        raise NotImplementedError(f"{type(self).__name__} must implement backward(dy)")

    def __call__(self, x: Inputs, training: bool = False, lengths: np.ndarray | None = None) -> Any:
        return self.forward(x, training=training, lengths=lengths)

    def output_lengths(self, lengths: np.ndarray | None) -> np.ndarray | None:
        """The sequence mask of the output after the last :meth:`forward` with ``lengths``
        (used by the Trainer to mask the loss). Default: the input mask passes through."""
        return lengths

    def predict(
        self,
        x: Inputs,
        batch_size: int | None = None,
        verbose: int = 0,
        lengths: np.ndarray | None = None,
    ) -> np.ndarray:
        """Outputs for ``x`` computed in batches of ``batch_size`` (None: 32, as Keras), with
        ``training=False``; returns one array (rows in input order)."""
        batch_size = _checks.optional_positive_int(batch_size, "batch_size") or 32
        _checks.verbosity(verbose)
        lengths = input_lengths(lengths, x)
        n = num_samples(x)
        outputs = []
        for start in range(0, n, batch_size):
            rows = slice(start, start + batch_size)
            lb = None if lengths is None else lengths[rows]
            outputs.append(self.forward(take(x, rows), training=False, lengths=lb))
        if not outputs:
            raise ValueError("predict needs at least one sample")
        if isinstance(outputs[0], list):  # several outputs: concatenate each
            # Typed for the one-output model that predict almost always serves (callers index the
            # array); a model of several outputs gets Keras's list of arrays.
            return [np.concatenate(parts) for parts in zip(*outputs)]  # type: ignore[return-value]
        return np.concatenate(outputs)

    # -- configuration ------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments: ``cls.from_config(config)`` must make an
        equivalent (unbuilt or built) model. The default covers ``__init__(self, name=None)``."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Network:
        return cls(**config)

    @classmethod
    def config_layers(cls, config: dict[str, Any]) -> ConfigLayers | None:
        """What :meth:`from_config` would build from ``config``, read from the config alone
        (nothing is built): saving checks a file against it before allocating any weight.
        None (the default, e.g. for custom models): the class cannot tell; the file is then
        checked after building."""
        return None

    # -- display ------------------------------------------------------------------------------
    def _output_shapes(self) -> list[Any]:
        """Per-layer output shapes for the summary (None where a layer is not built yet)."""
        shapes: list[Any] = []
        for layer in self._layers:
            shape = None
            if layer.built and layer.input_shape is not None:
                try:
                    shape = layer.compute_output_shape(layer.input_shape)
                except Exception:  # a custom layer's shape logic should not break a printout
                    shape = None
            shapes.append(shape)
        return shapes

    def summary(
        self, line_length: int | None = None, print_fn: Callable[[str], Any] | None = print
    ) -> str:
        """Print (with ``print_fn``; None: do not print) and return a Keras-like table of the
        layers, their output shapes (batch axis shown as None) and parameter counts.
        ``line_length``: total width (None: fit the longest entries)."""
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer, shape in zip(self._layers, self._output_shapes()):
            rows.append(
                (
                    f"{layer.name} ({type(layer).__name__})",
                    "?" if shape is None else _shape_text(shape),
                    f"{layer.count_params():,}" if layer.built else "0 (unbuilt)",
                )
            )
        total = self.count_params()
        trainable = sum(layer.count_params() for layer in self._layers if layer.trainable)
        text = format_summary(self.name, rows, line_length, total, trainable)
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, layers={len(self._layers)})"
