"""Merge layers: ``Concatenate`` and ``Add``, Keras's way of combining tensors in a functional
model (``Concatenate()([a, b])``). Each takes a list of arrays of one batch size and returns
one array; ``backward`` returns one gradient per input. The sequence mask of the result is the
inputs' common valid prefix (a functional graph passes the elementwise minimum of the inputs'
lengths, as Keras ANDs their masks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _checks
from .base import Layer, OutputShape, Shape, no_param_shapes

__all__ = ["Add", "Concatenate"]


class _Merge(Layer):
    """Base of the merge layers: a list of at least two inputs."""

    def _shapes(self, input_shape: Any) -> list[Shape]:
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) < 2
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) merges a list of at least two "
                f"inputs, got input shape {input_shape!r}"
            )
        return [tuple(s) for s in input_shape]

    def _arrays(self, x: Any) -> list[np.ndarray]:
        if not isinstance(x, (list, tuple)) or len(x) < 2:
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) takes a list of at least two "
                f"arrays, got {type(x).__name__}"
            )
        arrays = [np.asarray(a) for a in x]
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(
                f"layer {self.name!r}: the inputs must have one batch size, got "
                f"{[a.shape for a in arrays]}"
            )
        return arrays

    def build(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)  # refuses shapes that cannot merge
        self.input_shape = None  # several shapes: nothing for config's input_shape
        self.built = True

    @property
    def built_shape(self) -> Shape:
        return ()

    def _build_for(self, x: Any) -> None:
        if not self.built:
            self.build([np.shape(a)[1:] for a in x])

    @classmethod
    def config_param_shapes(
        cls, config: dict[str, Any], input_shape: Sequence[int | None] | None
    ) -> dict[str, tuple[int, ...]]:
        return no_param_shapes(config, None)


class Concatenate(_Merge):
    """Join the inputs along ``axis`` (Keras's; -1: the features). ``axis`` counts the batch
    axis as 0, as in Keras; the batch axis itself cannot be joined."""

    def __init__(self, axis: int = -1, name: str | None = None, dtype: str = "float32") -> None:
        super().__init__(name=name, dtype=dtype)
        self.axis = _checks.integer(axis, "axis", where="Concatenate: ")
        if self.axis == 0:
            raise ValueError("Concatenate: axis=0 is the batch axis; join along another axis")
        self._sizes: list[int] = []

    def compute_output_shape(self, input_shape: Any) -> OutputShape:
        shapes = self._shapes(input_shape)
        rank = len(shapes[0])
        axis = self.axis - 1 if self.axis > 0 else rank + self.axis
        if any(len(s) != rank for s in shapes) or not 0 <= axis < rank:
            raise ValueError(
                f"layer {self.name!r} (Concatenate, axis={self.axis}) needs inputs of one rank "
                f"with that axis, got shapes {shapes}"
            )
        for i in range(rank):
            sizes = {s[i] for s in shapes if s[i] is not None}
            if i != axis and len(sizes) > 1:
                raise ValueError(
                    f"layer {self.name!r} (Concatenate, axis={self.axis}): the inputs must "
                    f"agree on every other axis, got shapes {shapes}"
                )
        joined = [s[axis] for s in shapes]
        out = list(shapes[0])
        out[axis] = None if None in joined else sum(int(j) for j in joined if j is not None)
        return tuple(out)

    def forward(
        self, x: Any, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        arrays = self._arrays(x)
        self._build_for(arrays)
        dtype = np.result_type(*arrays)
        self._sizes = [a.shape[self.axis] for a in arrays]
        return np.concatenate([a.astype(dtype, copy=False) for a in arrays], axis=self.axis)

    def backward(self, dy: np.ndarray) -> Any:  # one gradient per input
        if not self._sizes:
            raise RuntimeError(f"layer {self.name!r}: backward called before forward")
        cuts = np.cumsum(self._sizes)[:-1]
        return list(np.split(np.asarray(dy), cuts, axis=self.axis))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["axis"] = self.axis
        return config


class Add(_Merge):
    """The elementwise sum of the inputs (all of one shape, as in Keras)."""

    def __init__(self, name: str | None = None, dtype: str = "float32") -> None:
        super().__init__(name=name, dtype=dtype)
        self._count = 0

    def compute_output_shape(self, input_shape: Any) -> OutputShape:
        shapes = self._shapes(input_shape)
        rank = len(shapes[0])
        out: list[int | None] = []
        for i in range(rank):
            sizes = {s[i] for s in shapes if len(s) == rank and s[i] is not None}
            if any(len(s) != rank for s in shapes) or len(sizes) > 1:
                raise ValueError(
                    f"layer {self.name!r} (Add) needs inputs of one shape, got shapes {shapes}"
                )
            out.append(sizes.pop() if sizes else None)
        return tuple(out)

    def forward(
        self, x: Any, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        arrays = self._arrays(x)
        self._build_for(arrays)
        if len({a.shape for a in arrays}) != 1:
            raise ValueError(
                f"layer {self.name!r} (Add) needs inputs of one shape, got "
                f"{[a.shape for a in arrays]}"
            )
        self._count = len(arrays)
        total = arrays[0]
        for a in arrays[1:]:
            total = total + a
        return total

    def backward(self, dy: np.ndarray) -> Any:  # one gradient per input
        if not self._count:
            raise RuntimeError(f"layer {self.name!r}: backward called before forward")
        return [np.asarray(dy)] * self._count
