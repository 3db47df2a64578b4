"""Learning-rate schedules: a learning rate as a function of the 0-based step count (Keras's
``keras.optimizers.schedules``). An optimizer evaluates its schedule once per step; configs
serialise a schedule as ``{"class_name", "config"}``, resolved through :data:`SCHEDULES`."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import _checks
from ._registry import Configurable

__all__ = ["SCHEDULES", "ExponentialDecay", "LearningRate", "LearningRateSchedule", "StepDecay"]


class LearningRateSchedule(Configurable):
    """A learning rate as a function of the 0-based step count."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError


class StepDecay(LearningRateSchedule):
    """``initial_learning_rate * drop ** floor(step / every)``: multiply by ``drop`` every
    ``every`` steps."""

    def __init__(self, initial_learning_rate: float, drop: float, every: int) -> None:
        self.initial_learning_rate = float(initial_learning_rate)
        self.drop = float(drop)
        self.every = _checks.positive_int(every, "every", where="StepDecay: ")

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate * self.drop ** (int(step) // self.every)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "drop": self.drop,
            "every": self.every,
        }


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (Keras's formula; with
    ``staircase`` the exponent is floored).

    Note the positional order ``(initial_learning_rate, decay_rate, decay_steps)`` differs from
    Keras's ``(initial_learning_rate, decay_steps, decay_rate)``; the keyword names are Keras's,
    so keyword calls work the same in both.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_rate: float,
        decay_steps: float,
        staircase: bool = False,
    ) -> None:
        self.initial_learning_rate = float(initial_learning_rate)
        where = "ExponentialDecay: "
        self.decay_rate = _checks.positive_real(decay_rate, "decay_rate", where=where)
        self.decay_steps = _checks.positive_real(decay_steps, "decay_steps", where=where)
        self.staircase = bool(staircase)

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate**p

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_rate": self.decay_rate,
            "decay_steps": self.decay_steps,
            "staircase": self.staircase,
        }


SCHEDULES = {"StepDecay": StepDecay, "ExponentialDecay": ExponentialDecay}

LearningRate = float | LearningRateSchedule | Callable[[int], float]
