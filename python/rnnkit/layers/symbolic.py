"""Symbolic tensors and nodes: what calling a layer on :func:`~rnnkit.layers.Input` records.

Keras's functional API builds a model by calling layers on placeholders::

    inputs = Input((None, 3))
    h = SimpleRNN(32)(inputs)
    model = Model(inputs, Dense(1)(h))

Here a :class:`SymbolicTensor` is that placeholder: it holds no data, only its per-sample shape,
its dtype and the :class:`Node` that made it. Calling a layer on symbolic tensors (the main input,
or a list of them for a merge layer, and ``initial_state=`` tensors) builds the layer for the
inputs' shapes, records a Node (the layer, its inbound tensors, its call options) and returns
symbolic outputs with the shapes ``compute_output_shape`` gives: one tensor, or a list for a
layer with several outputs (``return_state=True``). :class:`~rnnkit.models.Model` then walks the
nodes from its inputs to its outputs (see :mod:`rnnkit.functional`).

A symbolic tensor refuses NumPy and arithmetic (``np.tanh(t)``, ``t + 1``, ``t[:, 0]``): the
graph only knows layer calls, so the error names the layers to use instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

if TYPE_CHECKING:  # annotations only: base.py imports this module
    from .base import Layer, Shape

__all__ = ["Node", "SymbolicTensor", "call_symbolic", "contains_symbolic", "flatten_tensors"]

# Call options a node may record besides the main input: the tensors of ``initial_state`` are
# graph edges (their gradients flow back); ``training`` overrides the model's flag for the node.
_NODE_OPTIONS = ("initial_state", "training")

_NOT_A_LAYER = (
    "is a symbolic tensor (a placeholder in a functional model, from Input or a layer call): "
    "it holds no data, and only layer calls are recorded in the graph. Use a layer instead: "
    "Add() or Concatenate() to combine tensors, Dense/Activation for arithmetic; for an "
    "operation rnnkit has no layer for, write a Layer subclass (forward/backward)"
)


class SymbolicTensor:
    """A placeholder for a layer's input or output in a functional model.

    Attributes:
        sample_shape: the per-sample shape (no batch axis; None for an unknown size).
        dtype: the NumPy dtype the values will have.
        node: the :class:`Node` that produces it (an Input's node for a model input).
        index: which output of that node it is (0 unless the layer has several outputs).
        batch_size: a fixed batch size (an ``Input(batch_shape=...)``), else None.
    """

    __array_priority__ = 1000  # NumPy defers binary operators to us, so they raise clearly

    def __init__(
        self, sample_shape: Shape, dtype: Any, node: Node, index: int, batch_size: int | None
    ) -> None:
        self.sample_shape: Shape = tuple(sample_shape)
        self.dtype = np.dtype(dtype)
        self.node = node
        self.index = index
        self.batch_size = batch_size

    @property
    def shape(self) -> tuple[int | None, ...]:
        """Keras's ``KerasTensor.shape``: the batch axis first (None unless fixed)."""
        return (self.batch_size, *self.sample_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.sample_shape)

    @property
    def name(self) -> str:
        """The producing layer's name, with ``:index`` for a later output of a layer."""
        layer = self.node.layer.name
        return layer if self.index == 0 else f"{layer}:{self.index}"

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape={self.shape} dtype={self.dtype.name} name={self.name!r}>"

    # -- everything that would compute on it refuses, naming what to do ------------------------
    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(f"{self.name!r} {_NOT_A_LAYER}")

    def __array__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def __array_ufunc__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def __array_function__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def __bool__(self) -> NoReturn:
        self._refuse()

    def __iter__(self) -> NoReturn:
        self._refuse()

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __matmul__ = __rmatmul__ = __pow__ = __neg__ = _refuse
    __getitem__ = __len__ = __float__ = __int__ = _refuse


class Node:
    """One call of a layer in a functional graph.

    Attributes:
        layer: the layer called.
        inputs: the main input: one tensor, or a list for a layer called on several (a merge).
        initial_state: the ``initial_state`` tensors (a recurrent layer's), or None.
        training: the ``training`` the call fixed (None: the model's flag at run time).
        outputs: the node's output tensors, in the layer's order.
        multiple_outputs: whether the layer returned a list (``return_state=True``).
    """

    def __init__(
        self,
        layer: Layer,
        inputs: SymbolicTensor | list[SymbolicTensor] | None,
        initial_state: list[SymbolicTensor] | None = None,
        training: bool | None = None,
    ) -> None:
        self.layer = layer
        self.inputs = inputs
        self.initial_state = initial_state
        self.training = training
        self.outputs: list[SymbolicTensor] = []
        self.multiple_outputs = False

    @property
    def input_list(self) -> list[SymbolicTensor]:
        """The main input as a list (one entry unless the layer takes several)."""
        if self.inputs is None:
            return []
        return list(self.inputs) if isinstance(self.inputs, list) else [self.inputs]

    @property
    def parents(self) -> list[SymbolicTensor]:
        """Every inbound tensor: the main input(s), then the initial states."""
        return self.input_list + list(self.initial_state or [])


def flatten_tensors(value: Any) -> list[Any]:
    """The leaves of ``value``: itself, or the items of (nested) lists and tuples."""
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in flatten_tensors(item)]
    return [value]


def contains_symbolic(*values: Any) -> bool:
    """Whether any leaf of ``values`` (or of a dict's values) is a :class:`SymbolicTensor`."""
    for value in values:
        if isinstance(value, dict):
            value = list(value.values())
        if any(isinstance(leaf, SymbolicTensor) for leaf in flatten_tensors(value)):
            return True
    return False


def _symbolic_only(value: Any, what: str, layer: Layer) -> list[SymbolicTensor]:
    leaves = flatten_tensors(value)
    for leaf in leaves:
        if not isinstance(leaf, SymbolicTensor):
            raise TypeError(
                f"layer {layer.name!r} was called on symbolic tensors, but its {what} holds "
                f"a {type(leaf).__name__}: in a functional model every input of a layer must "
                "come from Input(...) or another layer's output (feed constant arrays through "
                "an Input of their own)"
            )
    return leaves


def _check_built_for(layer: Layer, built: Shape, given: Shape) -> None:
    """ValueError unless a built layer (a shared one, or one made with ``input_shape``) can
    take the per-sample shape ``given`` (same rank, known sizes equal)."""
    if len(built) != len(given) or any(
        a is not None and b is not None and a != b for a, b in zip(built, given)
    ):
        raise ValueError(
            f"layer {layer.name!r} ({type(layer).__name__}) is built for per-sample input "
            f"{built} but was called on a tensor of per-sample shape {given}: a layer called "
            "at several places shares its weights, so every call needs the same feature sizes"
        )


def call_symbolic(layer: Layer, x: Any, training: bool | None, options: dict[str, Any]) -> Any:
    """Record ``layer(x, training=..., **options)`` as a :class:`Node` and return its symbolic
    output (a list of tensors for a layer with several outputs). Builds the layer for the
    inputs' shapes first when it is not built."""
    unknown = sorted(set(options) - set(_NODE_OPTIONS))
    if unknown:
        raise TypeError(
            f"layer {layer.name!r}: a functional call takes initial_state= and training= "
            f"only, got {unknown} (lengths come from the model's inputs and the masks "
            "Embedding(mask_zero=True) makes)"
        )
    if layer.is_input_layer:
        raise TypeError(f"{layer.name!r} is an Input: it starts a graph, it is not called")
    several = isinstance(x, (list, tuple))
    inputs = _symbolic_only(x, "input", layer)
    if not inputs:
        raise ValueError(f"layer {layer.name!r} was called on an empty list of tensors")
    states = options.get("initial_state")
    state_list = None if states is None else _symbolic_only(states, "initial_state", layer)
    node = Node(layer, inputs if several else inputs[0], state_list, training)
    shapes: Any = [t.sample_shape for t in inputs] if several else inputs[0].sample_shape
    if not layer.built:
        layer.build(shapes)
    elif not several and layer.input_shape is not None:
        _check_built_for(layer, tuple(layer.input_shape), inputs[0].sample_shape)
    out_shape = layer.compute_output_shape(shapes)
    batch = next((t.batch_size for t in inputs if t.batch_size is not None), None)
    node.multiple_outputs = isinstance(out_shape, list)
    out_shapes: Sequence[Any] = out_shape if isinstance(out_shape, list) else [out_shape]
    node.outputs = [
        SymbolicTensor(shape, layer.dtype, node, index, batch)
        for index, shape in enumerate(out_shapes)
    ]
    return list(node.outputs) if node.multiple_outputs else node.outputs[0]
