"""Dense (fully connected) and Activation layers.

Dense acts on the last axis of any input of 2 or more axes, like Keras: ``(N, D) -> (N, units)``
and ``(N, T, D) -> (N, T, units)``; a 3-D input is handled as one ``(N*T, D) @ (D, units)`` matmul,
never a loop over time steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _checks, activations, initializers
from ..ops import layer_math
from ..ops._arguments import FLOAT_DTYPES, kernel_ready
from .base import Layer, Shape, StepFunction, config_input_shape, make_rng, no_param_shapes

__all__ = ["Activation", "Dense"]


class Dense(Layer):
    """``y = activation(x @ W + b)`` over the last axis.

    Args:
        units: output features.
        activation: None/"linear", "tanh", "relu", "sigmoid", "softmax" (last axis).
        use_bias: with False there is no ``"b"`` parameter.
        kernel_initializer, bias_initializer: see :mod:`rnnkit.initializers`.
        dtype, seed, input_shape, name: as for every layer (``input_shape`` per sample, e.g.
            ``(D,)`` or ``(T, D)``).
        input_dim: Keras 2's spelling of ``input_shape=(input_dim,)``.

    Params: ``"W"`` ``(D, units)``, ``"b"`` ``(units,)``. Masks (``lengths``) pass through:
    padded steps are computed like any other and left for the loss to ignore.
    """

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: initializers.InitializerLike = "glorot_uniform",
        bias_initializer: initializers.InitializerLike = "zeros",
        dtype: str = "float32",
        seed: int | None = None,
        input_shape: Sequence[int | None] | None = None,
        name: str | None = None,
        input_dim: int | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=None, dtype=dtype)
        if input_dim is not None:
            features = _checks.positive_int(input_dim, "input_dim", where="Dense: ")
            if input_shape is not None and tuple(input_shape) != (features,):
                raise ValueError(
                    f"Dense: input_dim={features} and input_shape={tuple(input_shape)} "
                    "disagree; give one of them"
                )
            input_shape = (features,)
        self.units = _checks.positive_int(units, "units", where="Dense: ")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.serialize(kernel_initializer)
        self.bias_initializer = initializers.serialize(bias_initializer)
        self._inits = (initializers.get(kernel_initializer), initializers.get(bias_initializer))
        self.seed = seed
        self._x2: np.ndarray | None = None
        self._kernel: str | None = None
        self._build_if_shape_given(input_shape)

    def build(self, input_shape: Shape) -> None:
        input_shape = tuple(input_shape)
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(
                f"layer {self.name!r} (Dense) needs a per-sample input shape whose "
                f"last axis is known, got {input_shape}"
            )
        rng = make_rng(self.seed)
        kernel, bias = self._inits
        self._add_param("W", kernel((int(input_shape[-1]), self.units), rng))
        if self.use_bias:
            self._add_param("b", bias((self.units,), rng))
        super().build(input_shape)

    @classmethod
    def config_param_shapes(
        cls, config: dict[str, Any], input_shape: Sequence[int | None] | None
    ) -> dict[str, tuple[int, ...]] | None:
        shape = config_input_shape(config, input_shape)
        units = _checks.positive_int(config.get("units"), "units", where="Dense: ")
        if shape is None or len(shape) < 1 or shape[-1] is None:
            return None  # build would refuse it
        features = _checks.positive_int(shape[-1], "input features", where="Dense: ")
        shapes: dict[str, tuple[int, ...]] = {"W": (features, units)}
        if bool(config.get("use_bias", True)):
            shapes["b"] = (units,)
        return shapes

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*tuple(input_shape[:-1]), self.units)

    def forward(
        self, x: np.ndarray, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        self._build_for(x)
        x = np.asarray(x, dtype=self.dtype)
        d = self.params["W"].shape[0]
        self._check_built_input(x, 2, f"(N, ..., {d})")
        self._lead = x.shape[:-1]
        self._x2 = x.reshape(-1, d)  # all N*T rows at once: one GEMM
        self._kernel = self._kernel_activation()
        if self._kernel is not None:
            # On rnnkit's pool, NumPy's BLAS asleep (docs/performance.md, "One BLAS pool").
            self._y = layer_math.dense_forward(
                self._x2, self.params["W"], self.params.get("b"), self._kernel
            )
            return self._y.reshape((*self._lead, self.units))
        a = self._x2 @ self.params["W"]
        if self.use_bias:
            a += self.params["b"]
        self._a = a
        self._y = self.activation.forward(a)
        return self._y.reshape((*self._lead, self.units))

    def step_function(self, batch_size: int) -> StepFunction | None:
        """Rows ``(N, D)`` in, ``activation(rows @ W + b)`` out, computed as ``forward``
        computes it: its C++ kernel where it uses one, else the same NumPy product and bias,
        written into one buffer."""
        if not self.built:
            return None
        W = self.params["W"]
        b = self.params["b"] if self.use_bias else None
        kernel = self._kernel_activation()
        if kernel is not None:  # forward's own kernel, so that each step equals forward's bits
            return lambda x: layer_math.dense_forward(x, W, b, kernel)
        out = np.empty((batch_size, self.units), dtype=self.dtype)
        dtype, activation = self.dtype, self.activation

        def step(x: np.ndarray) -> np.ndarray:
            np.matmul(x if x.dtype == dtype else x.astype(dtype), W, out=out)
            if b is not None:
                np.add(out, b, out=out)  # what forward's `a += b` does
            return activation.forward(out)

        return step

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._x2 is None:
            raise RuntimeError(f"layer {self.name!r}: backward called before forward")
        dy2 = np.asarray(dy, dtype=self.dtype).reshape(-1, self.units)
        if self._kernel is not None:
            return self._kernel_backward(dy2, self._kernel)
        da = self.activation.backward(dy2, self._a, self._y)
        self._set_grad("W", self._x2.T @ da)
        if self.use_bias:
            self._set_grad("b", da.sum(axis=0))
        return (da @ self.params["W"].T).reshape((*self._lead, self._x2.shape[1]))

    def _kernel_activation(self) -> str | None:
        """The activation's name when the C++ kernels cover this layer (float32/float64 and
        one of rnnkit.activations' own functions), else None: the NumPy formulation runs."""
        if self.dtype not in FLOAT_DTYPES:
            return None
        return activations.builtin_name(self.activation)

    def _kernel_backward(self, dy2: np.ndarray, kernel: str) -> np.ndarray:
        """The backward on the C++ kernels: the weight gradients straight into ``grads``
        (ready arrays, as ``_add_param`` makes them; else through a copy), ``dx`` returned."""
        assert self._x2 is not None and self._y is not None
        outs = {}
        for key, g in self.grads.items():
            ready = g.dtype == self.dtype and kernel_ready(g) and g.flags.writeable
            outs[key] = g if ready else np.empty(self.params[key].shape, self.dtype)
        dx = layer_math.dense_backward(
            self._x2, self.params["W"], self._y, dy2, kernel, dW=outs["W"], db=outs.get("b")
        )
        for key, out in outs.items():
            if out is not self.grads[key]:
                self._set_grad(key, out)
        assert dx is not None
        return dx.reshape((*self._lead, self._x2.shape[1]))

    def output_activation(self) -> str | None:
        return self.activation.name

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            seed=self.seed,
        )
        return config


class Activation(Layer):
    """Applies an element-wise activation (``"tanh"``, ``"relu"``, ``"sigmoid"``,
    ``"softmax"`` on the last axis, ``"linear"``); no parameters."""

    def __init__(
        self,
        activation: str | None,
        dtype: str = "float32",
        input_shape: Sequence[int | None] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.activation = activations.get(activation)
        self._x: np.ndarray | None = None
        self._build_if_shape_given(input_shape)

    @classmethod
    def config_param_shapes(
        cls, config: dict[str, Any], input_shape: Sequence[int | None] | None
    ) -> dict[str, tuple[int, ...]]:
        return no_param_shapes(config, input_shape)

    def forward(
        self, x: np.ndarray, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        self._build_for(x)
        self._x = np.asarray(x, dtype=self.dtype)
        self._y = self.activation.forward(self._x)
        return self._y

    def step_function(self, batch_size: int) -> StepFunction | None:
        dtype, activation = self.dtype, self.activation
        return lambda x: activation.forward(x if x.dtype == dtype else x.astype(dtype))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._x is None:
            raise RuntimeError(f"layer {self.name!r}: backward called before forward")
        return self.activation.backward(np.asarray(dy, dtype=self.dtype), self._x, self._y)

    def output_activation(self) -> str | None:
        return self.activation.name

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config
