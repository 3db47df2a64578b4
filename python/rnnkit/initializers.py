"""Weight initialisers, by Keras name, all drawing from a NumPy ``Generator`` passed in.

An initialiser is a callable ``init(shape, rng, dtype="float64") -> np.ndarray``. Values are drawn
in float64 and then cast, so a float32 and a float64 layer built with the same seed hold the same
weights up to rounding (handy for float64 gradient checks of float32 set-ups).

Names (``get(name)``):

=====================================  =======================================================
``"glorot_uniform"``                   U(-l, l), ``l = sqrt(6 / (fan_in + fan_out))`` (Keras's
                                       kernel default)
``"orthogonal"``                       QR of a standard-normal matrix, column signs fixed by
                                       ``sign(diag(R))`` (Keras's recurrent default)
``"zeros"``, ``"ones"``                constants
``"uniform"``, ``"random_uniform"``    U(-0.05, 0.05) (Keras's ``RandomUniform``, the
                                       Embedding default)
``"torch"``, ``"torch_uniform"``       PyTorch's RNN/Linear default U(-1/sqrt(H), 1/sqrt(H)) with
                                       ``H = shape[-1]`` (in rnnkit's ``(D, H)`` layout the last
                                       axis is the hidden size / units)
``"normal"``, ``"random_normal"``      N(0, 0.05²) (Keras's ``RandomNormal``)
``"identity"``                         ``gain * I`` (IRNN, Le et al. 2015: relu RNN with
                                       ``Wh = I``)
=====================================  =======================================================

Note: the name ``"uniform"`` follows Keras (U(-0.05, 0.05)), not PyTorch; use ``"torch"`` for
PyTorch's scaled uniform.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Union

import numpy as np

from ._registry import Configurable, Registry, class_and_config

__all__ = [
    "GlorotUniform",
    "Identity",
    "Initializer",
    "Ones",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TorchUniform",
    "Zeros",
    "get",
    "serialize",
]

InitializerLike = Union[str, "Initializer", Callable[..., np.ndarray], dict]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) as Keras computes them: 2-D ``(in, out)``; 1-D ``(n, n)``; for more
    axes the leading ones are a receptive field multiplying both."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer(Configurable):
    """Base class. Subclasses implement :meth:`draw` (float64) and keep their constructor
    arguments as attributes listed by :meth:`get_config`."""

    name: str = ""

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: Any = np.float64
    ) -> np.ndarray:
        shape = tuple(int(s) for s in shape)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        return np.ascontiguousarray(self.draw(shape, rng), dtype=dtype)

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class GlorotUniform(Initializer):
    """U(-l, l) with ``l = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010)."""

    name = "glorot_uniform"

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        fan_in, fan_out = _fans(shape)
        limit = math.sqrt(6.0 / max(1, fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014).

    The shape is flattened to ``(prod(shape[:-1]), shape[-1])``; QR of a standard-normal matrix
    (of the transposed shape when it is wide, so Q has orthonormal columns of the long side),
    and the signs of Q's columns are fixed by ``sign(diag(R))`` so the result is uniformly
    distributed over orthogonal matrices (Mezzadri 2007), as Keras and PyTorch do.
    """

    name = "orthogonal"

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = float(gain)

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        if len(shape) < 2:
            raise ValueError(f"orthogonal initializer needs a shape of 2 or more axes, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        d = np.sign(np.diag(r))
        d[d == 0] = 1.0  # a zero diagonal entry (probability 0) must not zero a column
        q = q * d
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


class Zeros(Initializer):
    """All zeros (Keras's bias default)."""

    name = "zeros"

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.zeros(shape)


class Ones(Initializer):
    """All ones."""

    name = "ones"

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.ones(shape)


class RandomUniform(Initializer):
    """U(minval, maxval); Keras's defaults are (-0.05, 0.05)."""

    name = "random_uniform"

    def __init__(self, minval: float = -0.05, maxval: float = 0.05) -> None:
        if not maxval >= minval:
            raise ValueError(f"RandomUniform needs maxval >= minval, got ({minval}, {maxval})")
        self.minval, self.maxval = float(minval), float(maxval)

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.minval, self.maxval, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval}


class TorchUniform(Initializer):
    """PyTorch's ``nn.RNN`` default: U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, with
    ``H = shape[-1]`` (the hidden size in rnnkit's ``(D, H)`` / ``(H, H)`` / ``(H,)`` layouts)."""

    name = "torch"

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        h = shape[-1] if shape else 1
        bound = 1.0 / math.sqrt(max(1, h))
        return rng.uniform(-bound, bound, size=shape)


class RandomNormal(Initializer):
    """N(mean, stddev²); Keras's defaults are (0, 0.05)."""

    name = "random_normal"

    def __init__(self, mean: float = 0.0, stddev: float = 0.05) -> None:
        if not stddev >= 0:
            raise ValueError(f"RandomNormal needs stddev >= 0, got {stddev}")
        self.mean, self.stddev = float(mean), float(stddev)

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.normal(self.mean, self.stddev, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev}


class Identity(Initializer):
    """``gain`` times the identity (rectangular shapes get ones on the main diagonal)."""

    name = "identity"

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = float(gain)

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        if len(shape) != 2:
            raise ValueError(f"identity initializer needs a 2-D shape, got {shape}")
        return self.gain * np.eye(*shape)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


_BY_NAME: dict[str, type[Initializer]] = {
    "glorot_uniform": GlorotUniform,
    "orthogonal": Orthogonal,
    "zeros": Zeros,
    "ones": Ones,
    "uniform": RandomUniform,
    "random_uniform": RandomUniform,
    "torch": TorchUniform,
    "torch_uniform": TorchUniform,
    "normal": RandomNormal,
    "random_normal": RandomNormal,
    "identity": Identity,
}
_REGISTRY = Registry(
    "initializer", Initializer, _BY_NAME, expected="a name, an Initializer or a callable"
)


def get(identifier: InitializerLike) -> Callable[..., np.ndarray]:
    """An initialiser from a name (above, case-insensitive; Keras class names such as
    ``"GlorotUniform"`` work too), a ``{"class_name", "config"}`` dict (see :func:`serialize`),
    an :class:`Initializer`, or any callable ``(shape, rng, dtype) -> array`` (returned as is).

    Raises:
        ValueError: unknown name (the message lists the known ones).
        TypeError: anything else.
    """
    # Any plain callable is an initialiser too; a class is not (it would be called with a shape).
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    return _REGISTRY.get(identifier)


def serialize(identifier: InitializerLike) -> str | dict[str, Any]:
    """A JSON-able form :func:`get` accepts: names stay names; Initializer objects become
    ``{"class_name", "config"}``. Plain callables cannot be serialised (TypeError)."""
    if isinstance(identifier, str):
        get(identifier)  # validate early
        return identifier
    if isinstance(identifier, dict):
        return identifier
    if isinstance(identifier, Initializer):
        return class_and_config(identifier)
    raise TypeError(
        f"cannot serialise initializer {identifier!r}: use a name or an "
        "rnnkit.initializers.Initializer"
    )
