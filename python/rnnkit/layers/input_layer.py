"""Input: Keras 3's way of starting a model, functional or Sequential.

:func:`Input` returns the symbolic tensor of a new :class:`InputLayer` (Keras's
``KerasTensor``): calling layers on it builds a functional graph (``Model(inputs, outputs)``,
see :mod:`.symbolic`). Keras 3 listings also start a Sequential model with it instead of passing
``input_shape=`` to the first layer::

    model = Sequential([Input((3, 1)), SimpleRNN(10), Dense(1)])

The :class:`InputLayer` has no parameters and is the identity; its only job is to fix the
per-sample input shape. In a :class:`~rnnkit.models.Sequential` (which takes the tensor or the
layer) it builds the model at once (as a first layer's ``input_shape`` would) and, as in Keras
3, it is not listed in ``model.layers`` nor in ``summary()``; ``get_config`` / ``save`` keep it,
so a loaded model has it again. It must come first (``Sequential.add`` and
:func:`~rnnkit.layers.check_stack` refuse it anywhere else).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _checks
from .base import Layer, Shape, no_param_shapes
from .symbolic import Node, SymbolicTensor

__all__ = ["Input", "InputLayer"]

ShapeLike = int | Sequence[int | None]


def _as_shape(shape: ShapeLike) -> Shape:
    if isinstance(shape, (bool, np.bool_)):
        raise TypeError(f"Input shape must be a tuple of ints (or None), got {shape!r}")
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"Input shape must be a tuple of ints (or None), got {shape!r}") from None
    out: list[int | None] = [
        None if dim is None else _checks.positive_int(dim, f"shape[{i}]", where="Input: ")
        for i, dim in enumerate(dims)
    ]
    if not out:
        raise ValueError(
            "Input shape must have at least one axis (the per-sample shape, "
            "without the batch axis), got ()"
        )
    return tuple(out)


class InputLayer(Layer):
    """The per-sample input shape of a model (no batch axis), as a parameter-free identity layer.

    Args:
        shape: per-sample shape, e.g. ``(T, D)`` for a recurrent layer (``T`` may be None) or
            ``(T,)`` for token ids; an int ``n`` means ``(n,)``. ``input_shape`` is accepted as
            the Keras 2 spelling.
        batch_size: a fixed batch size (Keras's, e.g. for stateful layers): every batch must
            have it. ``batch_shape=(B, T, D)`` gives it with the shape, as in Keras 3
            (``batch_input_shape`` is Keras 2's name for it).
        dtype: the input's dtype (informational: the identity does not convert; any NumPy
            dtype, e.g. ``"int32"`` for token ids). None: float32.
        name: layer name.

    ``forward`` checks the input against ``shape`` (known dims must match) and returns it.
    """

    is_input_layer = True

    def __init__(
        self,
        shape: ShapeLike | None = None,
        dtype: str | None = None,
        name: str | None = None,
        input_shape: Sequence[int | None] | None = None,
        batch_size: int | None = None,
        batch_shape: Sequence[int | None] | None = None,
    ) -> None:
        if batch_shape is not None:
            shape, batch_size = _split_batch_shape(shape or input_shape, batch_size, batch_shape)
        self.batch_size = _checks.optional_positive_int(batch_size, "batch_size", where="Input: ")
        if shape is None:
            shape = input_shape
        elif input_shape is not None and _as_shape(input_shape) != _as_shape(shape):
            raise ValueError(f"Input got shape={shape!r} and input_shape={input_shape!r}")
        if shape is None:
            raise ValueError("Input needs a shape, e.g. Input((T, D)) (per sample, no batch axis)")
        super().__init__(name=name, input_shape=_as_shape(shape))
        self.dtype = np.dtype("float32" if dtype is None else dtype)
        self.build(self.built_shape)
        # The symbolic tensor a functional model starts from (Keras's ``InputLayer.output``).
        node = Node(self, None)
        self.output = SymbolicTensor(self.shape, self.dtype, node, 0, self.batch_size)
        node.outputs = [self.output]

    @property
    def shape(self) -> Shape:
        """The per-sample input shape."""
        return self.built_shape

    @classmethod
    def config_param_shapes(
        cls, config: dict[str, Any], input_shape: Sequence[int | None] | None
    ) -> dict[str, tuple[int, ...]]:
        return no_param_shapes(config, input_shape)

    def compatible(self, shape: Sequence[int | None]) -> bool:
        """Whether a per-sample ``shape`` fits this input (same rank, known dims equal)."""
        shape = tuple(shape)
        return len(shape) == len(self.shape) and all(
            a is None or b is None or a == b for a, b in zip(self.shape, shape)
        )

    def forward(
        self, x: np.ndarray, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        if self.batch_size is not None and len(x) != self.batch_size:
            raise ValueError(
                f"input {self.name!r} has a fixed batch size of {self.batch_size} (its "
                f"batch_shape), got a batch of {len(x)} samples: use batch_size="
                f"{self.batch_size} and a sample count it divides"
            )
        if not self.compatible(np.shape(x)[1:]):
            raise ValueError(
                f"input {self.name!r} expects per-sample shape {self.shape} "
                f"(batch shape (N, {', '.join(map(str, self.shape))})), got an "
                f"input of shape {np.shape(x)}"
            )
        return x

    def backward(self, dy: Any) -> Any:
        return dy

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "name": self.name,
            "dtype": self.dtype.name,
            "input_shape": list(self.shape),
        }
        if self.batch_size is not None:
            config["batch_size"] = self.batch_size
        return config


def Input(
    shape: ShapeLike | None = None,
    dtype: str | None = None,
    name: str | None = None,
    *,
    batch_size: int | None = None,
    batch_shape: Sequence[int | None] | None = None,
) -> SymbolicTensor:
    """Keras 3's ``keras.Input(shape)``: the symbolic tensor of a new :class:`InputLayer`, to
    call layers on (``x = SimpleRNN(8)(Input((None, 3)))``, then ``Model(inputs, outputs)``) or
    to put first in a :class:`~rnnkit.models.Sequential` (``Sequential([Input((3, 1)),
    SimpleRNN(10), Dense(1)])``). ``shape`` is per sample, without the batch axis (the
    tensor's ``shape`` has the batch axis first, None unless fixed); ``batch_shape=(B, T, D)``
    (or ``batch_size=B``) also fixes the batch size, as Keras's stateful listings do. The
    batch options are keywords here (Keras's positional order differs: its second argument
    is ``batch_size``)."""
    layer = InputLayer(
        shape, dtype=dtype, name=name, batch_size=batch_size, batch_shape=batch_shape
    )
    return layer.output


def _split_batch_shape(
    shape: Any, batch_size: int | None, batch_shape: Sequence[int | None]
) -> tuple[Shape, int | None]:
    """``(per-sample shape, batch size)`` from Keras's ``batch_shape``; ValueError when it
    disagrees with ``shape`` or ``batch_size`` given as well."""
    dims = tuple(batch_shape)
    if len(dims) < 2:
        raise ValueError(
            f"Input: batch_shape must be (batch, ...) with at least one per-sample axis, got "
            f"{batch_shape!r}"
        )
    per_sample = _as_shape(dims[1:])
    if shape is not None and _as_shape(shape) != per_sample:
        raise ValueError(f"Input got shape={shape!r} and batch_shape={batch_shape!r}")
    if batch_size is not None and dims[0] is not None and batch_size != dims[0]:
        raise ValueError(f"Input got batch_size={batch_size} and batch_shape={batch_shape!r}")
    return per_sample, dims[0] if dims[0] is not None else batch_size
