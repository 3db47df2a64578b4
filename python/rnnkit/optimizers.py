"""Optimizers, learning-rate schedules and gradient clipping.

An optimizer updates parameters **in place**: ``opt.step(params, grads)`` with two dicts keyed by
model-wide unique names (e.g. ``"simple_rnn_1/Wx"``) holding arrays of equal shapes. Its state
(moments, accumulators) is keyed by the same names, created on first sight of a name, and can be
saved and restored with ``get_state()`` / ``set_state()`` (arrays only: ``"iterations"`` is a 0-d
int64 array and every slot is ``"<slot>/<param name>"``). For undoing an update in memory,
``snapshot()`` / ``restore(snapshot)`` do the same into reusable buffers (the Trainer takes a
snapshot before every update and restores it when the update made anything non-finite).

Update rules (``g`` the gradient, ``t`` the 1-based step, ``lr`` the learning rate of this step):

* ``SGD`` (Keras; with ``momentum=0`` it is PyTorch's too): ``p -= lr g``; with momentum
  ``v = m v - lr g`` then ``p += v``, or with ``nesterov=True`` ``p += m v - lr g``.
* ``Adagrad`` (Keras 3): ``a += g²``, ``p -= lr g / sqrt(a + eps)``, ``a`` starting at
  ``initial_accumulator_value`` (Keras: 0.1). Karpathy's min-char-rnn update is
  ``Adagrad(learning_rate=0.1, epsilon=1e-8, initial_accumulator_value=0.0)``.
* ``RMSprop`` (Keras): ``v = rho v + (1 - rho) g²``, ``p -= lr g / sqrt(v + eps)``; optional
  ``centered`` (subtracts the squared mean gradient in the root) and ``momentum``.
* ``Adam`` (Keras's "epsilon hat" form, also TensorFlow's): ``m = b1 m + (1 - b1) g``,
  ``v = b2 v + (1 - b2) g²``, ``lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)``,
  ``p -= lr_t m / (sqrt(v) + eps)``. (PyTorch's Adam puts eps after the bias correction of v;
  the two differ only in how eps is scaled.)

``learning_rate`` may be a float, a :class:`LearningRateSchedule` (:mod:`rnnkit.schedules`,
also importable from here), or any callable ``step -> float``; it is evaluated once per step at
the 0-based count of steps already taken (Keras's ``optimizer.iterations``).

* ``Nadam`` (Keras 3): Adam with Nesterov momentum and Dozat's momentum schedule
  ``u_t = beta_1 (1 - 0.5 * 0.96^t)``: ``m`` and ``v`` as Adam's,
  ``m_hat = u_{t+1} m / (1 - prod_{i<=t+1} u_i) + (1 - u_t) g / (1 - prod_{i<=t} u_i)``,
  ``v_hat = v / (1 - b2^t)``, ``p -= lr m_hat / (sqrt(v_hat) + eps)``.

Clipping (:mod:`rnnkit.clipping`, whose functions are importable from here too) as every
optimizer's Keras arguments, applied to the grads in place before each update, at most one of
them (as Keras): ``clipnorm=`` (each gradient array by its own norm), ``global_clipnorm=`` (all
together), ``clipvalue=`` (element-wise).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _checks
from ._optimizer_base import Optimizer, OptimizerSnapshot
from ._registry import Registry, class_and_config
from .clipping import clip_by_global_norm, clip_by_norm, clip_by_value
from .ops import layer_math
from .ops._arguments import FLOAT_DTYPES, kernel_ready
from .schedules import (
    ExponentialDecay,
    LearningRate,
    LearningRateSchedule,
    StepDecay,
)

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "ExponentialDecay",
    "LearningRateSchedule",
    "Nadam",
    "Optimizer",
    "OptimizerSnapshot",
    "RMSprop",
    "StepDecay",
    "clip_by_global_norm",
    "clip_by_norm",
    "clip_by_value",
    "get",
]


# -- optimizers -------------------------------------------------------------------------------


def _kernel_ready(p: np.ndarray, g: np.ndarray, *state: np.ndarray) -> bool:
    """Whether the C++ updates can take these arrays as they are: float32 or float64, one dtype,
    C-contiguous, aligned, the updated ones writeable (otherwise the NumPy formulas run)."""
    if p.dtype not in FLOAT_DTYPES or g.dtype != p.dtype or not kernel_ready(g):
        return False
    return all(a.dtype == p.dtype and kernel_ready(a) and a.flags.writeable for a in (p, *state))


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, Keras's formulas."""

    def __init__(
        self,
        learning_rate: LearningRate = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        **kwargs: Any,
    ) -> None:
        self.momentum = _checks.probability(momentum, "momentum", allow_one=True, where="SGD: ")
        self.nesterov = bool(nesterov)
        self.slots = ("momentum",) if self.momentum > 0 else ()
        super().__init__(learning_rate, **kwargs)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float, t: int) -> None:
        if self.momentum == 0:
            p -= lr * g
            return
        v = self._slot("momentum", name, p)
        if _kernel_ready(p, g, v):
            layer_math.sgd_momentum_update(p, g, v, lr, self.momentum, self.nesterov)
            return
        v *= self.momentum
        v -= lr * g
        if self.nesterov:
            p += self.momentum * v - lr * g
        else:
            p += v

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adagrad(Optimizer):
    """Adagrad, Keras 3's form ``p -= lr g / sqrt(a + eps)``; see the module docstring for
    min-char-rnn's settings."""

    slots = ("accumulator",)

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        self.initial_accumulator_value = _checks.non_negative_real(
            initial_accumulator_value, "initial_accumulator_value", where="Adagrad: "
        )
        self.epsilon = float(epsilon)
        super().__init__(learning_rate, **kwargs)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float, t: int) -> None:
        a = self._slot("accumulator", name, p, self.initial_accumulator_value)
        a += g * g
        p -= lr * g / np.sqrt(a + self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


class RMSprop(Optimizer):
    """RMSprop (Hinton), Keras's form ``p -= lr g / sqrt(v + eps)``."""

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        **kwargs: Any,
    ) -> None:
        self.rho = _checks.probability(rho, "rho", where="RMSprop: ")
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.centered = bool(centered)
        self.slots = (
            ("velocity",)
            + (("average_gradient",) if self.centered else ())
            + (("momentum",) if self.momentum > 0 else ())
        )
        super().__init__(learning_rate, **kwargs)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float, t: int) -> None:
        v = self._slot("velocity", name, p)
        v *= self.rho
        v += (1 - self.rho) * g * g
        denominator = v + self.epsilon
        if self.centered:
            mg = self._slot("average_gradient", name, p)
            mg *= self.rho
            mg += (1 - self.rho) * g
            denominator = denominator - mg * mg
        increment = lr * g / np.sqrt(denominator)
        if self.momentum > 0:
            mom = self._slot("momentum", name, p)
            mom *= self.momentum
            mom += increment
            p -= mom
        else:
            p -= increment

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adam(Optimizer):
    """Adam (Kingma & Ba), Keras's epsilon-hat form (see the module docstring)."""

    slots = ("m", "v")

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        self.beta_1 = _checks.probability(beta_1, "beta_1", where="Adam: ")
        self.beta_2 = _checks.probability(beta_2, "beta_2", where="Adam: ")
        self.epsilon = float(epsilon)
        super().__init__(learning_rate, **kwargs)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float, t: int) -> None:
        m = self._slot("m", name, p)
        v = self._slot("v", name, p)
        lr_t = lr * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        if _kernel_ready(p, g, m, v):  # one pass on the C++ core instead of NumPy's seven
            layer_math.adam_update(p, g, m, v, lr_t, self.beta_1, self.beta_2, self.epsilon)
            return
        m += (1 - self.beta_1) * (g - m)
        v += (1 - self.beta_2) * (g * g - v)
        p -= lr_t * m / (np.sqrt(v) + self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class Nadam(Optimizer):
    """Nadam (Dozat 2016), Keras 3's update rule exactly (see the module docstring): Adam's
    moments with a Nesterov look-ahead and the momentum schedule ``u_t = beta_1 (1 - 0.5 *
    0.96^t)``. The schedule's running product is a function of the step count alone, so it
    needs no state of its own: snapshots, ``get_state`` and resuming keep it exact."""

    slots = ("m", "v")

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        self.beta_1 = _checks.probability(beta_1, "beta_1", where="Nadam: ")
        self.beta_2 = _checks.probability(beta_2, "beta_2", where="Nadam: ")
        self.epsilon = float(epsilon)
        self._product: tuple[int, float] = (0, 1.0)  # (t, u_1 ... u_t), extended step by step
        super().__init__(learning_rate, **kwargs)

    def _momentum(self, t: int) -> float:
        """``u_t``: the momentum of step ``t`` under Dozat's schedule."""
        return self.beta_1 * (1.0 - 0.5 * 0.96**t)

    def _momentum_product(self, t: int) -> float:
        """``u_1 u_2 ... u_t`` (1 for t = 0), extended from the last one asked for (from the
        start again after a restore to an earlier step)."""
        done, product = self._product if self._product[0] <= t else (0, 1.0)
        for step in range(done + 1, t + 1):
            product *= self._momentum(step)
        self._product = (t, product)
        return product

    def _update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float, t: int) -> None:
        m = self._slot("m", name, p)
        v = self._slot("v", name, p)
        m += (1 - self.beta_1) * (g - m)
        v += (1 - self.beta_2) * (g * g - v)
        u_now, u_next = self._momentum(t), self._momentum(t + 1)
        product = self._momentum_product(t)
        m_hat = (u_next / (1 - product * u_next)) * m + ((1 - u_now) / (1 - product)) * g
        v_hat = v / (1 - self.beta_2**t)
        p -= lr * m_hat / (np.sqrt(v_hat) + self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


_BY_NAME: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "nadam": Nadam,
}
# Class names need no table of their own: each lower-cases to its name above.
_REGISTRY = Registry(
    "optimizer", Optimizer, _BY_NAME, expected="a name or an Optimizer", by_class_name=False
)


def get(identifier: str | Optimizer | dict) -> Optimizer:
    """An optimizer from a Keras name (``"sgd"``, ``"adagrad"``, ``"rmsprop"``, ``"adam"``,
    ``"nadam"``, case-insensitive: Keras defaults), a ``{"class_name", "config"}`` dict, or an
    Optimizer (returned as is)."""
    if isinstance(identifier, dict):
        # Saved optimizers are matched by class name case-insensitively ("Adam" or "adam"),
        # and rebuilt through from_config, which a subclass may extend.
        cls = _BY_NAME.get(str(identifier.get("class_name", "")).lower())
        if cls is None:
            raise ValueError(f"unknown optimizer class {identifier.get('class_name')!r}")
        return cls.from_config(dict(identifier.get("config", {})))
    return _REGISTRY.get(identifier)


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """``{"class_name", "config"}`` that :func:`get` accepts back."""
    return class_and_config(optimizer)
