"""Subclassed models that write only ``call()`` (Keras's way): their forward and backward are
derived from the layer calls ``call()`` makes.

:class:`CallTracer` runs a model's ``call(inputs, training=...)`` once on symbolic tensors
(:func:`~rnnkit.layers.Input` placeholders with the per-sample shapes and dtypes of the actual
inputs), so every layer call records a node exactly as the functional API does; the recorded
graph becomes a :class:`~.graph_network.GraphNetwork`, which runs the calls forward in order and
backward in reverse (shared layers get per-call caches and summed gradients). The trace is kept
per input structure (list/tuple/dict layout, dtypes, per-sample shapes) and ``training`` flag, so
``call()`` may branch on ``training`` or on static attributes. When a later batch has a
different per-sample shape (another sequence length), the axes that changed become None and
``call()`` is traced again (Keras's "relaxed" shapes), so the layers, already built, accept both.

What cannot be traced is refused with a TypeError: NumPy or arithmetic on a traced tensor (the
symbolic tensor names the layer to use), a layer that is not one of the model's tracked layers
(it would be missing from ``layers``, hence from the weights and the saved file), and a
``call()`` that returns anything but tensors.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ..layers.base import Layer, walk_layers
from ..layers.input_layer import Input
from ..layers.symbolic import SymbolicTensor, flatten_tensors
from .graph_network import GraphNetwork

__all__ = ["CallTracer"]

# The per-sample shape and dtype of each input, with the input layout: what a trace depends on.
InputSpec = tuple[tuple[int | None, ...], str]


def _layout(x: Any) -> tuple[str, tuple[str, ...], list[Any]]:
    """``("array" | "list" | "tuple" | "dict", dict keys, leaves)`` of a model input."""
    if isinstance(x, dict):
        keys = tuple(str(key) for key in x)
        return "dict", keys, list(x.values())
    if isinstance(x, (list, tuple)):
        return type(x).__name__, (), list(x)
    return "array", (), [x]


def _relaxed(old: tuple[int | None, ...], new: tuple[int | None, ...]) -> tuple[int | None, ...]:
    """``new`` with None on every axis where it differs from ``old`` (same rank)."""
    return tuple(a if a == b else None for a, b in zip(old, new))


def _fits(traced: tuple[int | None, ...], given: tuple[int | None, ...]) -> bool:
    return len(traced) == len(given) and all(a is None or a == b for a, b in zip(traced, given))


class _Trace:
    """One traced graph and the input specs it was traced for."""

    def __init__(self, graph: GraphNetwork, specs: list[InputSpec]) -> None:
        self.graph = graph
        self.specs = specs

    def accepts(self, specs: list[InputSpec]) -> bool:
        return len(specs) == len(self.specs) and all(
            dtype == mine[1] and _fits(mine[0], shape)
            for (shape, dtype), mine in zip(specs, self.specs)
        )


class CallTracer:
    """The traced graphs of one model's ``call()``: :meth:`graph_for` gives the graph to run a
    batch through (tracing ``call()`` when the batch's structure is new), :attr:`last` the
    graph of the latest forward (its backward is the model's)."""

    def __init__(self, model: Any, call: Callable[..., Any]) -> None:
        self.model = model
        self.call = call
        parameters = inspect.signature(call).parameters
        self._takes = {name for name in ("training", "mask") if name in parameters} | (
            {"training", "mask"}
            if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
            else set()
        )
        self._traces: dict[tuple[Any, ...], _Trace] = {}
        self.last: GraphNetwork | None = None

    def graph_for(self, x: Any, training: bool) -> GraphNetwork:
        """The graph for a batch ``x`` (traced now if no earlier trace fits)."""
        kind, keys, leaves = _layout(x)
        if any(isinstance(leaf, SymbolicTensor) for leaf in leaves):
            raise TypeError(
                f"model {self.model.name!r} was called on symbolic tensors: a model is not a "
                "layer here (nested models are not supported); call its layers instead, or "
                "build the outer model from them"
            )
        specs: list[InputSpec] = []
        for leaf in leaves:
            array = np.asarray(leaf)
            specs.append((tuple(array.shape[1:]), array.dtype.name))
        key = (kind, keys, len(leaves), bool(training))
        trace = self._traces.get(key)
        if trace is None or not trace.accepts(specs):
            if trace is not None:  # another sequence length: the changed axes become None
                specs = [
                    (_relaxed(old[0], new[0]) if len(old[0]) == len(new[0]) else new[0], new[1])
                    for old, new in zip(trace.specs, specs)
                ]
            trace = _Trace(self._trace(kind, keys, specs, bool(training)), specs)
            self._traces[key] = trace
        self.last = trace.graph
        return trace.graph

    def _trace(
        self, kind: str, keys: tuple[str, ...], specs: list[InputSpec], training: bool
    ) -> GraphNetwork:
        model = self.model
        names = list(keys) or [f"input_{i}" for i in range(len(specs))]
        tensors = [
            Input(shape, dtype=dtype, name=f"{model.name}_{name}")
            for (shape, dtype), name in zip(specs, names)
        ]
        inputs: Any
        if kind == "dict":
            inputs = dict(zip(keys, tensors))
        elif kind == "array":
            inputs = tensors[0]
        else:
            inputs = tensors if kind == "list" else tuple(tensors)
        options: dict[str, Any] = {}
        if "training" in self._takes:
            options["training"] = training
        if "mask" in self._takes:
            options["mask"] = None  # the model's lengths reach the layers through the graph
        where = f"{type(model).__name__}.call()"
        try:
            outputs = self.call(inputs, **options)
        except TypeError as exc:
            raise TypeError(
                f"{where} runs once on symbolic tensors, to record the layer calls its "
                f"backward is derived from: {exc}"
            ) from exc
        self._check_outputs(outputs, where)
        graph = GraphNetwork(
            inputs if kind == "dict" else tensors,
            list(outputs) if isinstance(outputs, tuple) else outputs,
            name=model.name,
        )
        self._check_layers(graph, where)
        return graph

    @staticmethod
    def _check_outputs(outputs: Any, where: str) -> None:
        values = list(outputs.values()) if isinstance(outputs, dict) else flatten_tensors(outputs)
        bad = [value for value in values if not isinstance(value, SymbolicTensor)]
        if bad or not values:
            got = type(bad[0]).__name__ if bad else "no tensor"
            raise TypeError(
                f"{where} must return the output of a layer call (one tensor, or a list, "
                f"tuple or dict of them), got {got}: only layer calls on its inputs are "
                "recorded, so an array computed outside a layer has no backward (use a layer "
                "for it, e.g. Add, Concatenate, Dense or Activation, or write a Layer subclass)"
            )

    def _check_layers(self, graph: GraphNetwork, where: str) -> None:
        known = {id(layer) for layer in walk_layers(self.model.layers)}
        stray: list[Layer] = [layer for layer in graph.layers if id(layer) not in known]
        if stray:
            names = [layer.name for layer in stray]
            raise TypeError(
                f"{where} calls layers {names} that are not attributes of model "
                f"{self.model.name!r}: create every layer in __init__ and assign it to self "
                "(self.dense = Dense(...), or a list of layers), so the model tracks its weights "
                "(params, training, save/load); a layer made inside call() would be new on every "
                "trace"
            )
