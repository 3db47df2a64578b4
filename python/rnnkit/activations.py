"""Element-wise activations of the Python-side layers (Dense, Activation).

Each activation is an object with

* ``forward(x) -> y``
* ``backward(dy, x, y) -> dx``: the vector-Jacobian product, given the upstream gradient and
  both the input ``x`` and the output ``y`` of the forward pass (each uses the cheaper one:
  tanh/sigmoid/softmax differentiate through ``y``, relu through ``x``).

The recurrent cells' own nonlinearities live in the C++ kernels (their list is
:data:`rnnkit.ops.ACTIVATIONS`, a different set); this module is for everything around them.
``softmax`` acts on the last axis. Sigmoid and softmax are written to be overflow-free for any
finite input (no ``exp`` of a large positive number is ever taken).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "NAMES",
    "ActivationFunction",
    "Linear",
    "Relu",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "builtin_name",
    "get",
    "log_softmax",
    "sigmoid",
    "softmax",
]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: ``exp(-|x|)`` is at most 1."""
    x = np.asarray(x)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``x - logsumexp(x)`` along ``axis``, shifted by the maximum so exp never overflows."""
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis`` (max-shifted: the largest exponent is exp(0) = 1)."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


class ActivationFunction:
    """Base class: ``forward(x)`` and ``backward(dy, x, y)``."""

    name: str = ""

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Linear(ActivationFunction):
    """Identity (``activation=None`` / ``"linear"``)."""

    name = "linear"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, dy: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return dy


class Tanh(ActivationFunction):
    """tanh; derivative ``1 - y²``."""

    name = "tanh"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.tanh(x)

    def backward(self, dy: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return dy * (1 - y * y)


class Relu(ActivationFunction):
    """max(x, 0); derivative 1 where ``x > 0`` else 0 (0 at the kink, as Keras and PyTorch)."""

    name = "relu"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0)

    def backward(self, dy: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return dy * (x > 0)


class Sigmoid(ActivationFunction):
    """Logistic sigmoid (stable); derivative ``y (1 - y)``."""

    name = "sigmoid"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(x)

    def backward(self, dy: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return dy * y * (1 - y)


class Softmax(ActivationFunction):
    """Softmax over the last axis; VJP ``y * (dy - sum(dy * y))`` (sum over the last axis)."""

    name = "softmax"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return softmax(x, axis=-1)

    def backward(self, dy: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


_BY_NAME: dict[str, type[ActivationFunction]] = {
    "linear": Linear,
    "tanh": Tanh,
    "relu": Relu,
    "sigmoid": Sigmoid,
    "softmax": Softmax,
}
NAMES: tuple[str, ...] = tuple(_BY_NAME)


def get(identifier: str | ActivationFunction | None) -> ActivationFunction:
    """The activation for ``None``/``"linear"``, ``"tanh"``, ``"relu"``, ``"sigmoid"``,
    ``"softmax"`` (case-insensitive), or an :class:`ActivationFunction` (returned as is).

    Raises:
        ValueError: unknown name (listing the known ones).
        TypeError: anything else.
    """
    if identifier is None:
        return Linear()
    if isinstance(identifier, ActivationFunction):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"unknown activation {identifier!r}; known: None, "
                + ", ".join(repr(n) for n in NAMES)
            )
        return cls()
    raise TypeError(
        f"activation must be None, a name or an ActivationFunction, got {type(identifier).__name__}"
    )


def builtin_name(activation: ActivationFunction) -> str | None:
    """The name of ``activation`` when it is one of this module's own functions (not a
    subclass, whose maths may differ), else None: the C++ kernels compute exactly these."""
    cls = _BY_NAME.get(activation.name)
    return activation.name if cls is not None and type(activation) is cls else None


def serialize(activation: ActivationFunction | None) -> str:
    """The name :func:`get` accepts back."""
    return "linear" if activation is None else activation.name
