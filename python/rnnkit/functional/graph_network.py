"""GraphNetwork: a :class:`~rnnkit.network.Network` whose forward and backward walk a graph of
layer calls (Keras's functional model; :class:`rnnkit.models.Model` makes one from
``Model(inputs, outputs)``).

How it runs:

* ``forward`` puts the input arrays on the input tensors, then runs the nodes in topological
  order (:func:`.topology.graph_nodes`): each node's layer gets the arrays of its inbound
  tensors (``initial_state`` ones as the call option), the model's ``training`` flag (or the
  one the call fixed) and the sequence mask ``lengths`` of its main input (lengths or a
  step mask, see :mod:`rnnkit._steps`; over several inputs a step is valid where it is in
  all); its outputs and the mask ``output_lengths`` gives are kept per tensor. The model's
  ``lengths`` are the mask of every input.
* ``backward`` runs the nodes in reverse. A tensor read by several nodes gets the sum of their
  gradients; a node none of whose outputs got a gradient is skipped. ``initial_state``
  gradients (``layer.initial_state_grad()``) go back to the tensors that gave the states.
* A layer called at several nodes (shared weights) gets one forward cache per call
  (:mod:`.call_cache`, restored before each call's backward) and the sum of its calls' weight
  gradients. Every layer's ``grads`` are zeroed first, so a layer no gradient reaches reports
  zeros, never a previous batch's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from .. import _steps
from ..layers.base import Layer
from ..layers.symbolic import Node, SymbolicTensor
from ..network import Inputs, Network
from . import call_cache
from .topology import as_tensor_list, graph_layers, graph_nodes

__all__ = ["GraphNetwork"]


def _merged_lengths(masks: Sequence[np.ndarray | None]) -> np.ndarray | None:
    """One mask for a layer called on several tensors: a step is valid where it is valid in
    every input (Keras's merge layers AND their masks); lengths stay lengths (the smallest),
    a step mask among them makes the AND of the masks (see :mod:`rnnkit._steps`)."""
    merged: np.ndarray | None = None
    for mask in masks:
        merged = _steps.combine(merged, mask)
    return merged


def _add(grads: dict[int, Any], tensor: SymbolicTensor, value: Any) -> None:
    """Sum ``value`` into the gradient of ``tensor`` (a new array: ``value`` may be a
    layer's own buffer)."""
    if value is None:
        return
    key = id(tensor)
    grads[key] = value if key not in grads else grads[key] + value


class GraphNetwork(Network):
    """A network of layer calls from ``inputs`` to ``outputs`` (symbolic tensors).

    Args:
        inputs: the model's input tensors (from :func:`~rnnkit.layers.Input`): one, a list, or
            a dict name -> tensor (the data is then given as a dict with those keys, or as a
            list in that order).
        outputs: the output tensors: one, a list, or a dict name -> tensor (the names key a
            dict of losses, targets and loss weights).
        name: model name.

    Attributes:
        inputs, outputs: the tensors, as lists.
        input_names: the Input layers' names (or the dict keys given), in input order.
        output_names: the output names: the dict keys given, else the names of the layers
            producing the outputs (Keras's names for losses and per-output logs).
    """

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None) -> None:
        super().__init__(name=name)
        self.inputs, input_keys = as_tensor_list(inputs, "inputs")
        self.outputs, output_keys = as_tensor_list(outputs, "outputs")
        self.input_names = input_keys or [t.node.layer.name for t in self.inputs]
        self.output_names = output_keys or [t.name for t in self.outputs]
        self._input_dict = input_keys is not None
        self._output_dict = output_keys is not None
        self._single_output = not isinstance(outputs, (list, tuple, dict))
        self._nodes = graph_nodes(self.inputs, self.outputs)
        for layer in graph_layers(self._nodes):
            self._track(layer)
        calls: dict[int, int] = {}
        for node in self._nodes:
            calls[id(node.layer)] = calls.get(id(node.layer), 0) + 1
        self._shared = {key for key, count in calls.items() if count > 1}
        self._caches: dict[int, call_cache.CallCache] = {}
        self._output_masks: list[np.ndarray | None] = []

    # -- structure ----------------------------------------------------------------------------
    @property
    def nodes(self) -> list[Node]:
        """The layer calls in the order ``forward`` runs them."""
        return list(self._nodes)

    @property
    def input_layers(self) -> list[Layer]:
        """The Input layers, in input order (not in :attr:`layers`: they have no weights)."""
        return [t.node.layer for t in self.inputs]

    @property
    def input(self) -> Any:
        """Keras's ``model.input``: the input tensor, or the list of them."""
        return self.inputs[0] if len(self.inputs) == 1 else list(self.inputs)

    @property
    def output(self) -> Any:
        """Keras's ``model.output``: the output tensor, or the list of them."""
        return self.outputs[0] if self._single_output else list(self.outputs)

    def _input_arrays(self, x: Inputs | dict[str, Any]) -> list[Any]:
        """``x`` as one array per input, in input order."""
        count = len(self.inputs)
        if isinstance(x, dict):
            unknown = sorted(set(map(str, x)) - set(self.input_names))
            missing = [name for name in self.input_names if name not in x]
            if unknown or missing:
                raise ValueError(
                    f"model {self.name!r} takes inputs {self.input_names}; the dict x has "
                    f"unknown keys {unknown} and lacks {missing}"
                )
            return [x[name] for name in self.input_names]
        if isinstance(x, (list, tuple)):
            if len(x) != count:
                raise ValueError(
                    f"model {self.name!r} has {count} input(s) {self.input_names}, got a "
                    f"list of {len(x)} arrays"
                )
            return list(x)
        if count != 1:
            raise ValueError(
                f"model {self.name!r} has {count} inputs {self.input_names}: give x as a list "
                "of arrays in that order, or a dict by name"
            )
        return [x]

    # -- forward ------------------------------------------------------------------------------
    def forward(
        self, x: Inputs | dict[str, Any], training: bool = False, lengths: np.ndarray | None = None
    ) -> Any:
        """The outputs for ``x`` (one array, or a list in output order); ``lengths`` mask
        every input's time axis."""
        values: dict[int, Any] = {}
        masks: dict[int, np.ndarray | None] = {}
        for tensor, array in zip(self.inputs, self._input_arrays(x)):
            values[id(tensor)] = tensor.node.layer.forward(array)  # checks the shape
            masks[id(tensor)] = lengths
        self._caches = {}
        for node in self._nodes:
            self._run_node(node, values, masks, training)
        self._output_masks = [masks[id(t)] for t in self.outputs]
        out = [values[id(t)] for t in self.outputs]
        return out[0] if self._single_output else out

    def _run_node(
        self, node: Node, values: dict[int, Any], masks: dict[int, Any], training: bool
    ) -> None:
        layer = node.layer
        args = [values[id(t)] for t in node.input_list]
        options: dict[str, Any] = {}
        if node.initial_state is not None:
            options["initial_state"] = [values[id(t)] for t in node.initial_state]
        mask = _merged_lengths([masks[id(t)] for t in node.input_list])
        flag = training if node.training is None else node.training
        before = call_cache.snapshot(layer) if id(layer) in self._shared else None
        out = layer.forward(
            cast(Any, args if isinstance(node.inputs, list) else args[0]),
            training=flag,
            lengths=mask,
            **options,
        )
        if before is not None:
            self._caches[id(node)] = call_cache.capture(before)
        results = list(out) if node.multiple_outputs else [out]
        if len(results) != len(node.outputs):
            raise RuntimeError(
                f"layer {layer.name!r} returned {len(results)} outputs, its output shape "
                f"promised {len(node.outputs)}"
            )
        out_mask = layer.output_lengths(mask)
        for index, (tensor, value) in enumerate(zip(node.outputs, results)):
            values[id(tensor)] = value
            masks[id(tensor)] = out_mask if index == 0 else None  # states have no time axis

    def output_lengths(self, lengths: np.ndarray | None) -> np.ndarray | None:
        """The mask of the output after the last forward (one output; None for several)."""
        return self._output_masks[0] if len(self._output_masks) == 1 else None

    # -- backward -----------------------------------------------------------------------------
    def _output_grads(self, dy: Any) -> list[Any]:
        if self._single_output:
            return [dy]
        if isinstance(dy, dict):
            return [dy.get(name) for name in self.output_names]
        if not isinstance(dy, (list, tuple)) or len(dy) != len(self.outputs):
            raise ValueError(
                f"model {self.name!r} has {len(self.outputs)} outputs {self.output_names}: "
                "dy must be a list with one gradient (or None) per output"
            )
        return list(dy)

    def backward(self, dy: Any) -> Any:
        """Backpropagate ``dy`` (one array, or one per output; None entries allowed) through
        the graph; sets every layer's ``grads`` and returns the inputs' gradients (one, or a
        list in input order; None for an input no gradient reaches or integer ids)."""
        grads: dict[int, Any] = {}
        for tensor, value in zip(self.outputs, self._output_grads(dy)):
            _add(grads, tensor, value)
        self.zero_grads()
        totals = {
            id(layer): {key: np.zeros_like(g) for key, g in layer.grads.items()}
            for layer in self._layers
            if id(layer) in self._shared
        }
        for node in reversed(self._nodes):
            self._backward_node(node, grads, totals.get(id(node.layer)))
        for layer in self._layers:
            for key, total in totals.get(id(layer), {}).items():
                np.copyto(layer.grads[key], total)
        if self._caches:  # the layers keep the last call's cache, as after a plain forward
            for node in self._nodes:
                if id(node) in self._caches:
                    call_cache.restore(self._caches[id(node)])
        dx = [grads.get(id(t)) for t in self.inputs]
        return dx[0] if len(dx) == 1 else dx

    def _backward_node(
        self, node: Node, grads: dict[int, Any], total: dict[str, np.ndarray] | None
    ) -> None:
        douts = [grads.get(id(t)) for t in node.outputs]
        if all(g is None for g in douts):
            return  # nothing downstream depends on this call
        layer = node.layer
        if id(node) in self._caches:
            call_cache.restore(self._caches[id(node)])
        dx = layer.backward(douts if node.multiple_outputs else douts[0])
        if total is not None:
            for key, g in layer.grads.items():
                total[key] += g
        if isinstance(node.inputs, list):
            for tensor, g in zip(node.input_list, dx or [None] * len(node.input_list)):
                _add(grads, tensor, g)
        elif node.inputs is not None:
            _add(grads, node.inputs, dx)
        if node.initial_state is not None:
            d_states = layer.initial_state_grad()
            if not isinstance(d_states, (list, tuple)):
                d_states = [d_states]
            for tensor, g in zip(node.initial_state, d_states):
                _add(grads, tensor, g)
