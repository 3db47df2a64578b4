"""Weight initialisers, by Keras name, all drawing from a NumPy ``Generator`` passed in.

An initialiser is a callable ``init(shape, rng, dtype="float64") -> np.ndarray``. Values are drawn
in float64 and then cast, so a float32 and a float64 layer built with the same seed hold the same
weights up to rounding (handy for float64 gradient checks of float32 set-ups).

Names (``get(name)``; Keras's class names, e.g. ``"HeNormal"``, work too):

=====================================  =======================================================
``"glorot_uniform"``                   U(-l, l), ``l = sqrt(6 / (fan_in + fan_out))`` (Keras's
                                       kernel default)
``"glorot_normal"``                    truncated normal, ``std = sqrt(2 / (fan_in + fan_out))``
``"he_normal"``, ``"he_uniform"``      ``scale = 2 / fan_in``: truncated normal of std
                                       ``sqrt(scale)`` / U(-l, l) with ``l = sqrt(3 scale)``
``"lecun_normal"``, ``"lecun_uniform"``  the same with ``scale = 1 / fan_in``
``"variance_scaling"``                 Keras's ``VarianceScaling(scale, mode, distribution)``,
                                       the family the four above belong to
``"orthogonal"``                       QR of a standard-normal matrix, column signs fixed by
                                       ``sign(diag(R))`` (Keras's recurrent default)
``"zeros"``, ``"ones"``, ``"constant"``  constants (``Constant(value)``)
``"uniform"``, ``"random_uniform"``    U(-0.05, 0.05) (Keras's ``RandomUniform``, the
                                       Embedding default)
``"normal"``, ``"random_normal"``      N(0, 0.05²) (Keras's ``RandomNormal``)
``"truncated_normal"``                 N(0, 0.05²) redrawn beyond 2 standard deviations
``"torch"``, ``"torch_uniform"``       PyTorch's RNN/Linear default U(-1/sqrt(H), 1/sqrt(H)) with
                                       ``H = shape[-1]`` (in rnnkit's ``(D, H)`` layout the last
                                       axis is the hidden size / units)
``"identity"``                         ``gain * I`` (IRNN, Le et al. 2015: relu RNN with
                                       ``Wh = I``)
=====================================  =======================================================

Fans are Keras's (:func:`compute_fans`): a 2-D kernel ``(in, out)`` has ``fan_in = in`` and
``fan_out = out`` (an LSTM kernel ``(D, 4H)`` has ``fan_out = 4H``, as in Keras), a 1-D shape
``(n,)`` has both equal to ``n``. "Truncated normal" is Keras's: values more than two standard
deviations from the mean are drawn again, and ``VarianceScaling`` divides its standard deviation
by 0.8796 (the standard deviation of a unit normal truncated at ±2) so the values keep the
variance ``scale``.

The random initialisers take ``seed`` as Keras's do: None (the default) draws from the
generator of the layer being built (its own ``seed``, or :func:`rnnkit.layers.set_random_seed`);
an int gives the same values on every call, whatever the layer.

Note: the name ``"uniform"`` follows Keras (U(-0.05, 0.05)), not PyTorch; use ``"torch"`` for
PyTorch's scaled uniform.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Union

import numpy as np

from . import _checks
from ._registry import Configurable, Registry, class_and_config

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomInitializer",
    "RandomNormal",
    "RandomUniform",
    "TorchUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "compute_fans",
    "get",
    "serialize",
]

InitializerLike = Union[str, "Initializer", Callable[..., np.ndarray], dict]


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) as Keras computes them: 2-D ``(in, out)``; 1-D ``(n, n)``; for more
    axes the leading ones are a receptive field multiplying both; ``()`` gives ``(1, 1)``."""
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
    #: A random initialiser's own seed (see :class:`RandomInitializer`); None: the caller's rng.
    seed: int | None = None

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: Any = np.float64
    ) -> np.ndarray:
        shape = tuple(int(s) for s in shape)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        if self.seed is not None:  # Keras: an int seed gives the same values on every call
            rng = np.random.default_rng(self.seed)
        return np.ascontiguousarray(self.draw(shape, rng), dtype=dtype)

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class RandomInitializer(Initializer):
    """Base of the initialisers that draw at random; ``seed`` as Keras's: None draws from the
    generator passed in (the layer's), an int from its own generator, the same values on
    every call."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = (
            None
            if seed is None
            else _checks.non_negative_int(seed, "seed", where=f"{type(self).__name__}: ")
        )

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


def _truncated_normal(
    rng: np.random.Generator, shape: tuple[int, ...], mean: float, stddev: float
) -> np.ndarray:
    """N(mean, stddev²) with the values beyond two standard deviations drawn again (Keras's
    truncated normal)."""
    z = rng.standard_normal(shape)
    outside = np.abs(z) > 2.0
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2.0
    return mean + stddev * z


# The standard deviation of a unit normal truncated to [-2, 2]: VarianceScaling divides by it so
# its truncated normals keep the variance they are asked for (Keras's constant).
_TRUNCATED_STD = 0.87962566103423978


class VarianceScaling(RandomInitializer):
    """Keras's ``VarianceScaling``: values of variance ``scale / n``, ``n`` the fan of
    ``mode`` (``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``: their mean; at least 1).

    ``distribution``: ``"truncated_normal"`` (``"normal"`` is the same, as in Keras): std
    ``sqrt(scale / n) / 0.8796`` truncated at two standard deviations; ``"untruncated_normal"``:
    std ``sqrt(scale / n)``; ``"uniform"``: U(-l, l) with ``l = sqrt(3 scale / n)``.
    """

    name = "variance_scaling"

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        where = f"{type(self).__name__}: "
        self.scale = _checks.positive_real(scale, "scale", where=where)
        self.mode = _checks.choice(mode, "mode", ("fan_in", "fan_out", "fan_avg"), where=where)
        if isinstance(distribution, str):
            distribution = distribution.lower()
            distribution = "truncated_normal" if distribution == "normal" else distribution
        self.distribution = _checks.choice(
            distribution,
            "distribution",
            ("truncated_normal", "untruncated_normal", "uniform"),
            where=where,
        )

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        variance = self.scale / max(1.0, fan[self.mode])
        if self.distribution == "truncated_normal":
            return _truncated_normal(rng, shape, 0.0, math.sqrt(variance) / _TRUNCATED_STD)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(variance), size=shape)
        limit = math.sqrt(3.0 * variance)
        return rng.uniform(-limit, limit, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
        }


class _FixedVarianceScaling(VarianceScaling):
    """A named member of the VarianceScaling family: only ``seed`` is an argument (Keras's
    ``GlorotUniform(seed=None)`` and the others)."""

    family: tuple[float, str, str] = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(*self.family, seed=seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class GlorotUniform(_FixedVarianceScaling):
    """U(-l, l) with ``l = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010)."""

    name = "glorot_uniform"
    family = (1.0, "fan_avg", "uniform")

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        # VarianceScaling's limit, written as rnnkit always has: sqrt(3 / ((a + b) / 2)) can
        # differ from sqrt(6 / (a + b)) in the last bit, and seeded weights must not change.
        fan_in, fan_out = compute_fans(shape)
        limit = math.sqrt(6.0 / max(1, fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal of std ``sqrt(2 / (fan_in + fan_out))`` (Glorot & Bengio 2010)."""

    name = "glorot_normal"
    family = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_FixedVarianceScaling):
    """Truncated normal of std ``sqrt(2 / fan_in)`` (He et al. 2015)."""

    name = "he_normal"
    family = (2.0, "fan_in", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """U(-l, l) with ``l = sqrt(6 / fan_in)`` (He et al. 2015)."""

    name = "he_uniform"
    family = (2.0, "fan_in", "uniform")


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal of std ``sqrt(1 / fan_in)`` (LeCun et al. 1998)."""

    name = "lecun_normal"
    family = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """U(-l, l) with ``l = sqrt(3 / fan_in)`` (LeCun et al. 1998)."""

    name = "lecun_uniform"
    family = (1.0, "fan_in", "uniform")


class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014).

    The shape is flattened to ``(prod(shape[:-1]), shape[-1])``; QR of a standard-normal matrix
    (of the transposed shape when it is wide, so Q has orthonormal columns of the long side),
    and the signs of Q's columns are fixed by ``sign(diag(R))`` so the result is uniformly
    distributed over orthogonal matrices (Mezzadri 2007), as Keras and PyTorch do.
    """

    name = "orthogonal"

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
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
        return {"gain": self.gain, "seed": self.seed}


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


class Constant(Initializer):
    """Every value ``value`` (a real number; Keras's ``Constant``)."""

    name = "constant"

    def __init__(self, value: float = 0.0) -> None:
        self.value = _checks.real_number(value, "value", where="Constant: ")

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.full(shape, self.value)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class RandomUniform(RandomInitializer):
    """U(minval, maxval); Keras's defaults are (-0.05, 0.05)."""

    name = "random_uniform"

    def __init__(
        self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None
    ) -> None:
        super().__init__(seed)
        if not maxval >= minval:
            raise ValueError(f"RandomUniform needs maxval >= minval, got ({minval}, {maxval})")
        self.minval, self.maxval = float(minval), float(maxval)

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.minval, self.maxval, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TorchUniform(RandomInitializer):
    """PyTorch's ``nn.RNN`` default: U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, with
    ``H = shape[-1]`` (the hidden size in rnnkit's ``(D, H)`` / ``(H, H)`` / ``(H,)`` layouts)."""

    name = "torch"

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        h = shape[-1] if shape else 1
        bound = 1.0 / math.sqrt(max(1, h))
        return rng.uniform(-bound, bound, size=shape)


class RandomNormal(RandomInitializer):
    """N(mean, stddev²); Keras's defaults are (0, 0.05)."""

    name = "random_normal"

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        if not stddev >= 0:
            raise ValueError(f"RandomNormal needs stddev >= 0, got {stddev}")
        self.mean, self.stddev = float(mean), float(stddev)

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.normal(self.mean, self.stddev, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """N(mean, stddev²) with values more than two ``stddev`` from ``mean`` drawn again
    (Keras's ``TruncatedNormal``; defaults (0, 0.05))."""

    name = "truncated_normal"

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return _truncated_normal(rng, shape, self.mean, self.stddev)


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
    "glorot_normal": GlorotNormal,
    "he_normal": HeNormal,
    "he_uniform": HeUniform,
    "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform,
    "variance_scaling": VarianceScaling,
    "orthogonal": Orthogonal,
    "zeros": Zeros,
    "zero": Zeros,
    "ones": Ones,
    "one": Ones,
    "constant": Constant,
    "uniform": RandomUniform,
    "random_uniform": RandomUniform,
    "torch": TorchUniform,
    "torch_uniform": TorchUniform,
    "normal": RandomNormal,
    "random_normal": RandomNormal,
    "truncated_normal": TruncatedNormal,
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
