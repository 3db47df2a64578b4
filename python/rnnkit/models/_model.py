"""Keras's :class:`Model` (the base of every model; ``Model(inputs, outputs)`` makes a
:class:`Functional`) and :func:`load_model`. See :mod:`rnnkit.models`."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import numpy as np

from .. import _checks, losses, metrics, saving
from .._model_methods import BatchMethods, keras_result
from ..functional import GraphNetwork
from ..functional.config import graph_config, replay_graph
from ..functional.outputs import MultiOutputLoss, OutputLoss, OutputMetric, per_output
from ..functional.summary import summary_text
from ..functional.traced import CallTracer
from ..network import Inputs, Network
from ..training import Trainer

if TYPE_CHECKING:  # annotations only
    from ..callbacks import Callback, History


class Model(Network, BatchMethods):
    """Base class of models: a :class:`~rnnkit.network.Network` (layers, ``forward``/``backward``,
    ``predict``, ``summary``) plus Keras's training surface: :meth:`compile`, :meth:`fit`,
    :meth:`evaluate`, :meth:`save`.

    Subclass it for a custom model: implement :meth:`call` (Keras's way: the backward is
    derived from its layer calls), or :meth:`forward` and :meth:`backward`; assign layers as
    attributes in ``__init__``, and write ``get_config`` if ``__init__`` takes arguments.

    Attributes:
        trainer: the :class:`~rnnkit.training.Trainer` made by :meth:`compile` (None before).
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # Keras's Model(inputs, outputs) makes a functional model; subclasses are made as usual.
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            return super().__new__(Functional)
        return super().__new__(cls)

    # -- Keras's subclassed model: call() only; forward/backward derived from its layer calls --
    def call(self, inputs: Any, training: bool | None = None) -> Any:
        """Keras's ``call``: override it (instead of ``forward``/``backward``) to compose the
        layers assigned in ``__init__``; see :mod:`rnnkit.functional.traced`."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement call(inputs, training=None), or "
            "forward(x, training, lengths) and backward(dy)"
        )

    def _tracer(self) -> CallTracer | None:
        """The traces of ``call()``; None for a model that does not override ``call``."""
        if type(self).call is Model.call:
            return None
        tracer = vars(self).get("_call_tracer")
        if tracer is None:
            tracer = CallTracer(self, self.call)
            object.__setattr__(self, "_call_tracer", tracer)
        return cast(CallTracer, tracer)

    def _traced(self, what: str) -> Any:
        """The graph of the latest forward of a ``call()`` model (None for other models);
        ValueError before the first forward."""
        tracer = self._tracer()
        if tracer is None:
            return None
        if tracer.last is None:
            raise ValueError(
                f"model {self.name!r} has not yet been built: its layer graph comes from "
                f"tracing call() on a first batch; call the model on data (model(x), fit or "
                f"predict) before {what}"
            )
        return tracer.last

    def forward(self, x: Inputs, training: bool = False, lengths: np.ndarray | None = None) -> Any:
        """A ``call()`` model runs the graph traced from ``call()`` for this input structure
        and ``training`` flag; other subclasses implement ``forward`` themselves."""
        tracer = self._tracer()
        if tracer is None:
            return super().forward(x, training=training, lengths=lengths)
        graph = tracer.graph_for(x, bool(training))
        return graph.forward(x, training=bool(training), lengths=lengths)

    def backward(self, dy: Any) -> Any:
        """A ``call()`` model backpropagates through the graph of its latest forward (every
        layer's ``grads`` set; layers ``call()`` did not use report zeros)."""
        graph = self._traced("backward")
        if graph is None:
            return super().backward(dy)
        used = {id(layer) for layer in graph.layers}
        for layer in self._layers:
            if id(layer) not in used and layer.built:
                layer.zero_grads()
        return graph.backward(dy)

    def output_lengths(self, lengths: np.ndarray | None) -> np.ndarray | None:
        graph = self._traced("output_lengths")
        return lengths if graph is None else graph.output_lengths(lengths)

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
        gradients before each update (global norm / element-wise).

        ``metrics`` may hold names (logged under the name as written, ``"acc"`` as ``"acc"``),
        Metric objects and functions ``fn(y_true, y_pred)`` returning per-sample values (logged
        as ``fn.__name__``). ``loss`` may be one of :mod:`rnnkit.losses`' Keras functions, but
        not a custom function: rnnkit cannot differentiate it (TypeError saying how to write a
        :class:`~rnnkit.losses.Loss` subclass instead)."""
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='mse'")
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
        if not isinstance(loss, str):
            return loss
        resolved = losses.get(loss)
        cross_entropies = (
            losses.BinaryCrossentropy,
            losses.CategoricalCrossentropy,
            losses.SparseCategoricalCrossentropy,
        )
        if isinstance(resolved, cross_entropies) and self._output_activation() in (
            "sigmoid",
            "softmax",
        ):
            resolved = type(resolved)(from_logits=False)
        return resolved

    def _keras_metric(self, metric: Any) -> Any:
        """Named metrics read probabilities after a sigmoid/softmax output (Keras's reading);
        rnnkit's metrics default to logits. They keep the name the user wrote (``"acc"``)."""
        if not isinstance(metric, str):
            return metric
        resolved = metrics.get(metric)
        activation = self._output_activation()
        if isinstance(resolved, metrics.Accuracy) and activation == "sigmoid":
            return metrics.Accuracy(threshold=0.5, name=resolved.name)
        if isinstance(resolved, metrics.Perplexity) and activation == "softmax":
            return metrics.Perplexity(from_logits=False, name=resolved.name)
        return resolved

    def _output_activation(self) -> str | None:
        """Name of the element-wise activation the model's last layer applies, if any (for a
        traced ``call()`` model: the layer making its first output)."""
        tracer = self._tracer()
        if tracer is not None and tracer.last is not None:
            return tracer.last.outputs[0].node.layer.output_activation()
        return self._layers[-1].output_activation() if self._layers else None

    def fit(
        self,
        x: Inputs,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple | None = None,
        shuffle: bool = True,
        class_weight: dict[int, float] | None = None,
        sample_weight: np.ndarray | None = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        seed: int | None = None,
        lengths: np.ndarray | None = None,
        tbptt: int | None = None,
        validation_lengths: np.ndarray | None = None,
    ) -> History:
        """Train (Keras's ``fit``, Keras's argument order; the same engine as
        :meth:`Trainer.fit`, which documents each argument). ``batch_size`` None means 32;
        ``verbose="auto"`` means 1. ``validation_data=(x_val, y_val, val_sample_weight)`` as in
        Keras. ``x`` may be a generator or a Keras-style ``Sequence`` of ``(x, y)`` /
        ``(x, y, sample_weight)`` batches (``steps_per_epoch`` as in Keras). Beyond Keras:
        ``seed`` (shuffling), ``lengths`` (sequence mask), ``tbptt`` (truncated BPTT window),
        ``validation_lengths`` (the validation data's mask). Returns the History, whose
        ``history["loss"]`` has one mean loss per epoch."""
        return self._require_trainer().fit(
            x,
            y,
            epochs=epochs,
            batch_size=32 if batch_size is None else batch_size,
            shuffle=shuffle,
            validation_data=validation_data,
            validation_split=validation_split,
            callbacks=callbacks or (),
            verbose=1 if verbose == "auto" else _checks.verbosity(verbose),
            seed=seed,
            lengths=lengths,
            tbptt=tbptt,
            initial_epoch=initial_epoch,
            validation_batch_size=validation_batch_size,
            sample_weight=sample_weight,
            class_weight=class_weight,
            validation_lengths=validation_lengths,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
        )

    @overload
    def evaluate(
        self,
        x: Inputs,
        y: Any = ...,
        batch_size: int | None = ...,
        verbose: int | str = ...,
        sample_weight: np.ndarray | None = ...,
        steps: int | None = ...,
        lengths: np.ndarray | None = ...,
        return_dict: Literal[False] = ...,
    ) -> float | list[float]: ...

    @overload
    def evaluate(
        self,
        x: Inputs,
        y: Any = ...,
        batch_size: int | None = ...,
        verbose: int | str = ...,
        sample_weight: np.ndarray | None = ...,
        steps: int | None = ...,
        lengths: np.ndarray | None = ...,
        *,
        return_dict: Literal[True],
    ) -> dict[str, float]: ...

    def evaluate(
        self,
        x: Inputs,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        sample_weight: np.ndarray | None = None,
        steps: int | None = None,
        lengths: np.ndarray | None = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """Loss (and metrics) on ``(x, y)`` with ``training=False``, as Keras returns them: the
        loss alone without metrics, else ``[loss, metric1, ...]``; or a dict.
        ``sample_weight`` weighs the loss as in :meth:`fit`; ``x`` may be a generator or a
        Sequence of batches, ``steps`` of them (Keras's arguments)."""
        trainer = self._require_trainer()
        logs = trainer.evaluate(
            x,
            y,
            batch_size=32 if batch_size is None else batch_size,
            verbose=1 if verbose == "auto" else _checks.verbosity(verbose),
            lengths=lengths,
            sample_weight=sample_weight,
            steps=steps,
        )
        return keras_result(logs, return_dict)

    def save(self, filepath: str | os.PathLike) -> str:
        """Write the model (config + weights, plus the compiled trainer's optimizer state when
        compiled) to one ``.npz`` file, atomically. See :mod:`rnnkit.saving`. Returns the path."""
        return saving.save_model(self, filepath, trainer=self.trainer)

    def export(
        self,
        filepath: str | os.PathLike,
        format: str = "tf_saved_model",
        verbose: bool | None = None,
        input_signature: Any = None,
        **kwargs: Any,
    ) -> None:
        """Keras 3's ``Model.export`` with ``format="onnx"``, the one format rnnkit writes
        (any other is a ValueError; Keras's default ``"tf_saved_model"`` needs TensorFlow):
        :func:`rnnkit.interop.to_onnx` of this model to ``filepath``, atomically.
        ``input_signature`` must be None (shapes come from the built model); ``kwargs``:
        ``opset_version`` (Keras's) and ``lengths`` (rnnkit's: a ``lengths`` input).
        ``verbose`` prints where the file went."""
        from ..interop.onnx import export_model

        export_model(self, filepath, format, verbose, input_signature, kwargs)

    def summary(
        self, line_length: int | None = None, print_fn: Callable[[str], Any] | None = print
    ) -> str:
        """Keras's table of the layers; a ``call()`` model shows the graph its latest forward
        traced, with each call's inbound tensors (ValueError before its first forward)."""
        graph = self._traced("summary()")
        if graph is None:
            return super().summary(line_length, print_fn)
        text = summary_text(graph, line_length)
        if print_fn is not None:
            print_fn(text)
        return text


def load_model(
    filepath: str | os.PathLike, custom_objects: dict[str, type] | None = None
) -> Network:
    """Rebuild the model saved at ``filepath`` (by ``model.save`` or ``trainer.save``): same
    classes, names, configuration and weights (so identical predictions). A trainer checkpoint
    also restores ``model.trainer`` (loss, optimizer with its state, metrics, clipping, epoch
    count and dropout streams).

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: truncated/corrupted file, another format version, an object array, or
            a config that does not match the arrays or the rebuilt model (see
            :mod:`rnnkit.saving`).
    """
    model, checkpoint = saving.read_model(filepath, custom_objects=custom_objects)
    if checkpoint is not None:
        Trainer.from_checkpoint(model, checkpoint)
    return model


class Functional(GraphNetwork, Model):
    """Keras's functional model, made by ``Model(inputs, outputs)``: a graph of layer calls on
    symbolic tensors, run forward and backward by :class:`~rnnkit.functional.GraphNetwork`
    (which documents inputs, outputs, masks and shared layers).

    ``compile`` takes Keras's per-output forms for a model of several outputs: ``loss`` as a
    list or a dict by output name (one loss for all outputs too), ``loss_weights`` likewise,
    ``metrics`` as one list for every output, a list of lists or a dict; the logs are
    ``loss``, ``<output>_loss`` and ``<output>_<metric>``, as in Keras. ``fit``/``evaluate``
    take ``y`` as a list (output order) or a dict by output name.
    """

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None) -> None:
        GraphNetwork.__init__(self, inputs, outputs, name=name)
        self._scored_output = 0  # which output _output_activation describes (see compile)

    def _output_activation(self) -> str | None:
        return self.outputs[self._scored_output].node.layer.output_activation()

    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Any = None,
        clip_norm: float | None = None,
        clip_value: float | None = None,
        loss_weights: Any = None,
    ) -> None:
        """Keras's ``compile`` (see :meth:`Model.compile`), with ``loss_weights`` (a keyword
        here: Keras's third positional argument is rnnkit's ``metrics``)."""
        if len(self.outputs) == 1 and not isinstance(loss, (list, tuple, dict)):
            if loss_weights is not None:
                raise ValueError("loss_weights needs a model with several outputs")
            super().compile(optimizer, loss, metrics, clip_norm, clip_value)
            return
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='mse' (or one per output)")
        names = self.output_names
        per_loss = per_output(loss, names, "loss")
        weights = per_output(1.0 if loss_weights is None else loss_weights, names, "loss_weights")
        nested = isinstance(metrics, dict) or (
            isinstance(metrics, (list, tuple))
            and any(isinstance(m, (list, tuple)) for m in metrics)
        )
        per_metrics = per_output(metrics, names, "metrics") if nested else [metrics] * len(names)
        resolved: list[Any] = []
        logged: list[Any] = []
        for index in range(len(names)):
            self._scored_output = index  # _keras_loss/_keras_metric read this output's activation
            output_loss = None if per_loss[index] is None else self._keras_loss(per_loss[index])
            resolved.append(output_loss)
            if output_loss is not None:
                logged.append(OutputLoss(output_loss, index, names))
        for index in range(len(names)):
            self._scored_output = index
            logged.extend(
                OutputMetric(self._keras_metric(metric), index, names)
                for metric in per_metrics[index] or ()
            )
        self._scored_output = 0
        self.trainer = Trainer(
            self,
            loss=MultiOutputLoss(resolved, [1.0 if w is None else w for w in weights], names),
            optimizer=optimizer,
            metrics=logged,
            clip_norm=clip_norm,
            clip_value=clip_value,
        )

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: int = 0,
        lengths: np.ndarray | None = None,
    ) -> Any:
        """Keras's ``predict``: one array, a list per output, or a dict for dict outputs."""
        out: Any = super().predict(x, batch_size, verbose, lengths)
        return dict(zip(self.output_names, out)) if self._output_dict else out

    def summary(
        self, line_length: int | None = None, print_fn: Callable[[str], Any] | None = print
    ) -> str:
        """Keras's table, with each call's inbound tensors in "Connected to"."""
        text = summary_text(self, line_length)
        if print_fn is not None:
            print_fn(text)
        return text

    def save(self, filepath: str | os.PathLike) -> str:
        """:meth:`Model.save`; a model compiled with several outputs is saved without its
        trainer checkpoint (its per-output loss cannot be restored yet), so ``load_model``
        gives the graph and the weights, to compile again."""
        several = self.trainer is not None and isinstance(self.trainer.loss, MultiOutputLoss)
        return saving.save_model(self, filepath, trainer=None if several else self.trainer)

    def get_config(self) -> dict[str, Any]:
        return graph_config(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Functional:
        inputs, outputs = replay_graph(config)
        return cls(inputs, outputs, name=config.get("name"))
