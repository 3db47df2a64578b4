"""Models: :class:`Sequential` (a linear stack of layers) and :class:`Model` (the base class for
models with their own forward/backward over several layers). Mirrors ``keras.models``:
``Sequential``, ``Model``, ``load_model``.

A model is a layer-like object: ``forward(x, training=False, lengths=None)`` returns the output,
``backward(dy)`` backpropagates and overwrites every layer's ``grads``; ``params``/``grads`` are
flat dicts ``"layer_name/key" -> array`` holding the layers' own arrays (updating them updates the
layers). Training goes through :class:`rnnkit.trainer.Trainer`; the Keras-familiar
``compile``/``fit``/``evaluate``/``predict`` are thin wrappers over it::

    from rnnkit.models import Sequential
    from rnnkit.layers import SimpleRNN, Dense

    model = Sequential()
    model.add(SimpleRNN(10, input_shape=(3, 1)))
    model.add(Dense(1))
    model.compile(loss="mean_squared_error", optimizer="adam")
    history = model.fit(X, Y, epochs=100, batch_size=32, verbose=0)
    model.save("sine.npz")                      # one .npz: weights + JSON config

Writing a custom model (e.g. an encoder-decoder): subclass :class:`Model`, assign layers as
attributes in ``__init__`` (they are tracked in assignment order and listed by ``layers``),
implement ``forward`` and ``backward``, and ``get_config`` if ``__init__`` takes arguments::

    class Seq2Seq(Model):
        def __init__(self, units=16, out_dim=1, name=None):
            super().__init__(name=name)
            self.units, self.out_dim = units, out_dim
            self.encoder = SimpleRNN(units, return_state=True)
            self.decoder = SimpleRNN(units, return_sequences=True)
            self.head = TimeDistributed(Dense(out_dim))

        def forward(self, x, training=False, lengths=None):
            source, target_in = x                       # fit() batches tuples of arrays
            _, h = self.encoder(source, training=training)
            hs = self.decoder(target_in, training=training, initial_state=h)
            return self.head(hs, training=training)

        def backward(self, dy):
            dhs = self.head.backward(dy)
            self.decoder.backward(dhs)
            # the decoder's dL/dh0 is the gradient of the encoder's final state
            self.encoder.backward([None, self.decoder.d_initial_state])
            return None

        def get_config(self):
            return {"units": self.units, "out_dim": self.out_dim, "name": self.name}

The Trainer, ``save`` and :func:`load_model` work on any such subclass: subclasses register
themselves by class name, so ``load_model`` finds them (or pass ``custom_objects``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .layers.base import (
    Layer,
    Shape,
    _snake_case,
    check_stack,
    deserialize_layer,
    serialize_layer,
    walk_layers,
)
from .layers.recurrent import RecurrentLayer

if TYPE_CHECKING:
    from .callbacks import Callback, History
    from .trainer import Trainer

__all__ = ["Model", "Sequential", "get_model_class", "load_model"]

_model_counter = itertools.count(1)

# Model subclasses by class name, filled by Model.__init_subclass__ (as layers do), so that
# load_model can rebuild a custom model from its saved class name.
_MODEL_CLASSES: dict[str, type[Model]] = {}

Inputs = np.ndarray | Sequence[np.ndarray]


def get_model_class(class_name: str) -> type[Model]:
    """The registered Model subclass called ``class_name`` (ValueError naming the known ones)."""
    try:
        return _MODEL_CLASSES[class_name]
    except KeyError:
        known = ", ".join(sorted(_MODEL_CLASSES))
        raise ValueError(
            f"unknown model class {class_name!r}; known: {known} (define the class "
            "before loading, or pass custom_objects={name: cls})"
        ) from None


def num_samples(x: Inputs) -> int:
    """Batch size of ``x``: an array, or a list/tuple of arrays of one batch size."""
    if isinstance(x, (list, tuple)):
        sizes = {len(a) for a in x}
        if len(sizes) != 1:
            raise ValueError(
                f"all inputs must have the same number of samples, got {sorted(sizes)}"
            )
        return sizes.pop()
    return len(x)


def take(x: Inputs, index: slice | np.ndarray) -> Inputs:
    """Rows ``index`` of ``x`` (an array or a list/tuple of arrays)."""
    if isinstance(x, (list, tuple)):
        return type(x)(np.asarray(a)[index] for a in x)
    return np.asarray(x)[index]


def _shape_text(shape: Any) -> str:
    """Keras's way of printing an output shape: batch axis first as None."""
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return "(" + ", ".join(str(s) for s in (None, *shape)) + ")"


class Model:
    """Base class of models: a list of layers plus ``forward``/``backward``.

    Subclasses implement :meth:`forward` and :meth:`backward`. Layers assigned as attributes
    (or lists of layers) are tracked in assignment order; ``layers`` lists them, and that list is
    what ``params``, ``grads``, ``summary``, the Trainer and saving work on. Layer names must be
    unique within a model (they key ``params``).

    Attributes:
        name: model name.
        trainer: the :class:`~rnnkit.trainer.Trainer` made by :meth:`compile` (None before).
        history: the :class:`~rnnkit.callbacks.History` of the last ``fit``.
        stop_training: set by callbacks (EarlyStopping) to end ``fit`` after the current epoch.
    """

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
        batch_size = 32 if batch_size is None else int(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size}")
        n = num_samples(x)
        outputs = []
        for start in range(0, n, batch_size):
            rows = slice(start, start + batch_size)
            lb = None if lengths is None else np.asarray(lengths)[rows]
            outputs.append(self.forward(take(x, rows), training=False, lengths=lb))
        if not outputs:
            raise ValueError("predict needs at least one sample")
        if isinstance(outputs[0], list):  # several outputs: concatenate each
            return [np.concatenate(parts) for parts in zip(*outputs)]  # type: ignore[return-value]
        return np.concatenate(outputs)

    # -- Keras-familiar training surface ------------------------------------------------------
    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Sequence[Any] | None = None,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None:
        """Attach a loss, an optimizer and metrics (Keras's ``compile``; the optimizer defaults
        to ``"rmsprop"`` as in Keras). Strings get Keras defaults (``"sgd"``: lr 0.01,
        ``"adam"``: lr 0.001); any :class:`rnnkit.optimizers.Optimizer` or
        :class:`rnnkit.losses.Loss` object is used as is. ``clip_norm``/``clip_value`` clip the
        gradients before each update (global norm / element-wise)."""
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='mse'")
        from .trainer import Trainer  # here: models must import without the trainer

        loss = self._keras_loss(loss)
        metrics = [self._keras_metric(m) for m in metrics or ()]
        self.trainer = Trainer(
            self,
            loss=loss,
            optimizer=optimizer,
            metrics=metrics,
            clip_norm=clip_norm,
            clip_value=clip_value,
        )

    def _keras_loss(self, loss: Any) -> Any:
        """A cross-entropy named by string after a sigmoid/softmax output takes probabilities,
        as in Keras; rnnkit's own default is logits (a linear output layer, the stable form).
        Loss objects are used as given."""
        from . import losses

        if not isinstance(loss, str):
            return loss
        resolved = losses.get(loss)
        if hasattr(resolved, "from_logits") and self._output_activation() in ("sigmoid", "softmax"):
            resolved = type(resolved)(from_logits=False)
        return resolved

    def _keras_metric(self, metric: Any) -> Any:
        """Named metrics read probabilities after a sigmoid/softmax output (Keras's reading);
        rnnkit's metrics default to logits."""
        from . import metrics

        if not isinstance(metric, str):
            return metric
        resolved = metrics.get(metric)
        activation = self._output_activation()
        if isinstance(resolved, metrics.Accuracy) and activation == "sigmoid":
            return metrics.Accuracy(threshold=0.5)
        if isinstance(resolved, metrics.Perplexity) and activation == "softmax":
            return metrics.Perplexity(from_logits=False)
        return resolved

    def _output_activation(self) -> str | None:
        """Name of the element-wise activation the model's last layer applies, if any."""
        return self._layers[-1].output_activation() if self._layers else None

    def _require_trainer(self) -> Trainer:
        if self.trainer is None:
            raise RuntimeError(
                "You must compile your model before training/testing. "
                "Use `model.compile(optimizer, loss)`."
            )
        return self.trainer

    def fit(
        self,
        x: Inputs = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple | None = None,
        shuffle: bool = True,
        initial_epoch: int = 0,
        validation_batch_size: int | None = None,
        seed: int | None = None,
        lengths: np.ndarray | None = None,
        tbptt: int | None = None,
    ) -> History:
        """Train (Keras's ``fit``; the same engine as :meth:`Trainer.fit`). ``batch_size``
        None means 32; ``verbose="auto"`` means 1. Beyond Keras: ``seed`` (shuffling),
        ``lengths`` (sequence mask), ``tbptt`` (truncated BPTT window). Returns the History,
        whose ``history["loss"]`` has one mean loss per epoch."""
        return self._require_trainer().fit(
            x,
            y,
            epochs=epochs,
            batch_size=32 if batch_size is None else batch_size,
            shuffle=shuffle,
            validation_data=validation_data,
            validation_split=validation_split,
            callbacks=callbacks or (),
            verbose=1 if verbose == "auto" else int(verbose),
            seed=seed,
            lengths=lengths,
            tbptt=tbptt,
            initial_epoch=initial_epoch,
            validation_batch_size=validation_batch_size,
        )

    def evaluate(
        self,
        x: Inputs = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        lengths: np.ndarray | None = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """Loss (and metrics) on ``(x, y)`` with ``training=False``, as Keras returns them: the
        loss alone without metrics, else ``[loss, metric1, ...]``; or a dict."""
        trainer = self._require_trainer()
        logs = trainer.evaluate(
            x,
            y,
            batch_size=32 if batch_size is None else batch_size,
            verbose=1 if verbose == "auto" else int(verbose),
            lengths=lengths,
        )
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def save(self, filepath: str | os.PathLike) -> str:
        """Write the model (config + weights, plus the compiled trainer's optimizer state when
        compiled) to one ``.npz`` file, atomically. See :mod:`rnnkit.io`. Returns the path."""
        from . import io

        if self.trainer is not None:
            return io.save_model(self, filepath, trainer=self.trainer)
        return io.save_model(self, filepath)

    # -- configuration ------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments: ``cls.from_config(config)`` must make an
        equivalent (unbuilt or built) model. The default covers ``__init__(self, name=None)``."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        return cls(**config)

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
        widths = [max(len(row[i]) for row in rows) + 3 for i in range(2)]
        width = sum(widths) + max(len(row[2]) for row in rows)
        if line_length is not None and line_length > width:
            widths[0] += line_length - width  # spare room goes to the name column
            width = line_length
        total = self.count_params()
        trainable = sum(layer.count_params() for layer in self._layers if layer.trainable)

        def fmt(row: tuple[str, str, str]) -> str:
            return f"{row[0]:<{widths[0]}}{row[1]:<{widths[1]}}{row[2]}".rstrip()

        lines = [f'Model: "{self.name}"', "_" * width, fmt(rows[0]), "=" * width]
        for i, row in enumerate(rows[1:]):
            lines.append(fmt(row))
            if i < len(rows) - 2:
                lines.append("_" * width)
        lines += [
            "=" * width,
            f"Total params: {total:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
            "_" * width,
        ]
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, layers={len(self._layers)})"


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
    """

    def __init__(self, layers: Sequence[Layer] | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self._build_input_shape: Shape | None = None
        self._lengths_out: np.ndarray | None = None
        self.input_layer: Layer | None = None  # a leading Input, if any
        for layer in layers or ():
            self.add(layer)

    def add(self, layer: Layer) -> None:
        """Append ``layer``. If the input shape is known (the first layer's ``input_shape``),
        the new layer is built at once and the stack checked (:func:`check_stack`)."""
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
            object.__setattr__(self, "input_layer", layer)
            self._build_input_shape = tuple(layer.input_shape)
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
        for layer in self._layers:
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self._build_input_shape = tuple(input_shape)

    def forward(
        self, x: np.ndarray, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """Run the layers in order; the mask passes through each layer's ``output_lengths``."""
        if not self._layers:
            raise ValueError(f"model {self.name!r} has no layers")
        if self.input_layer is not None:
            x = self.input_layer.forward(x)  # checks the input against the Input's shape
        if not self.built:
            self.build(np.shape(x)[1:])
        for layer in self._layers:
            x = layer.forward(x, training=training, lengths=lengths)
            lengths = layer.output_lengths(lengths)
        self._lengths_out = lengths
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """Backpropagate through the layers in reverse; returns ``dx`` (None after an
        Embedding: integer inputs have no gradient)."""
        for layer in reversed(self._layers):
            dy = layer.backward(dy)
        return dy

    def output_lengths(self, lengths: np.ndarray | None) -> np.ndarray | None:
        """The output mask of the last forward (after e.g. an Embedding with ``mask_zero``)."""
        return self._lengths_out

    def _output_shapes(self) -> list[Any]:
        if self._build_input_shape is None or not self.built:
            return super()._output_shapes()
        shapes, shape = [], self._build_input_shape
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
        config = {
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


def load_model(filepath: str | os.PathLike, custom_objects: dict[str, type] | None = None) -> Model:
    """Load a model written by ``model.save`` (see :func:`rnnkit.io.load_model`)."""
    from . import io

    return io.load_model(filepath, custom_objects=custom_objects)
