"""The base every optimizer shares (:class:`Optimizer`: clipping, the learning rate, the step
count, state slots, saving and snapshots) and :class:`OptimizerSnapshot`.

:mod:`rnnkit.optimizers` builds the concrete optimizers and the name table on it (and documents
the update rules); this module holds what they all rest on, so that module stays one concern:
which optimizers there are and how each updates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import _checks
from ._buffers import copy_into
from ._registry import class_and_config
from .clipping import clip_by_norm, clip_by_value, scale_to_global_norm
from .schedules import SCHEDULES, LearningRate, LearningRateSchedule

__all__ = ["Optimizer", "OptimizerSnapshot"]


@dataclasses.dataclass
class OptimizerSnapshot:
    """An optimizer's state as :meth:`Optimizer.snapshot` copied it: the step count and a
    private copy of every slot array, ``{slot: {param name: array}}``. Only
    :meth:`Optimizer.restore` of the same optimizer reads it."""

    iterations: int = 0
    slots: dict[str, dict[str, np.ndarray]] = dataclasses.field(default_factory=dict)


class Optimizer:
    """Base class: subclasses define ``slots`` and :meth:`_update` for one parameter.

    Args:
        learning_rate: float, schedule, or callable ``step -> float``.
        global_clipnorm: Keras's: if set, all grads together are scaled down to this global
            norm before each step (:func:`rnnkit.clipping.scale_to_global_norm`).
        clipvalue: if set, every gradient entry is clipped to ``[-clipvalue, clipvalue]``.
        clipnorm: Keras's: if set, each gradient array is scaled down to this norm on its own
            (:func:`clip_by_norm`).
        At most one of the three may be set (ValueError), as in Keras.

    Attributes:
        iterations: steps taken so far.
    """

    slots: tuple[str, ...] = ()

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        global_clipnorm: float | None = None,
        clipvalue: float | None = None,
        clipnorm: float | None = None,
    ) -> None:
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                f"{type(self).__name__}: only one of clipnorm, clipvalue and global_clipnorm "
                f"can be set, got clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        if isinstance(learning_rate, dict):
            learning_rate = SCHEDULES[learning_rate["class_name"]](**learning_rate["config"])
        if not callable(learning_rate):
            learning_rate = _checks.non_negative_real(learning_rate, "learning_rate")
        self.learning_rate = learning_rate
        self.global_clipnorm = _checks.optional_positive_real(global_clipnorm, "global_clipnorm")
        self.clipvalue = _checks.optional_positive_real(clipvalue, "clipvalue")
        self.clipnorm = _checks.optional_positive_real(clipnorm, "clipnorm")
        self.iterations = 0
        self._state: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in self.slots}

    def current_learning_rate(self) -> float:
        """The learning rate the next :meth:`step` will use."""
        lr = self.learning_rate
        return float(lr(self.iterations)) if callable(lr) else float(lr)

    def step(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        """Update every ``params[name]`` in place from ``grads[name]``."""
        if set(params) != set(grads):
            raise ValueError(
                "params and grads must have the same keys; only in params: "
                f"{sorted(set(params) - set(grads))}, only in grads: "
                f"{sorted(set(grads) - set(params))}"
            )
        for name, p in params.items():
            if np.shape(grads[name]) != p.shape:
                raise ValueError(
                    f"grads[{name!r}] has shape {np.shape(grads[name])}, "
                    f"params[{name!r}] has shape {p.shape}"
                )
        if self.clipvalue is not None:
            clip_by_value(grads, self.clipvalue)
        elif self.global_clipnorm is not None:
            scale_to_global_norm(grads, self.global_clipnorm)
        elif self.clipnorm is not None:
            clip_by_norm(grads, self.clipnorm)
        lr = self.current_learning_rate()
        t = self.iterations + 1
        for name, p in params.items():
            self._update(name, p, np.asarray(grads[name]), lr, t)
        self.iterations = t

    def _slot(self, slot: str, name: str, p: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """The ``slot`` array of parameter ``name``, created (filled with ``fill``) on first use."""
        store = self._state[slot]
        if name not in store:
            store[name] = np.full(p.shape, fill, dtype=p.dtype)
        return store[name]

    def _update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float, t: int) -> None:
        raise NotImplementedError

    # -- saving -------------------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """Copies of the state: ``"iterations"`` (0-d int64) and ``"<slot>/<param name>"``."""
        state = {"iterations": np.array(self.iterations, dtype=np.int64)}
        for slot, store in self._state.items():
            for name, value in store.items():
                state[f"{slot}/{name}"] = value.copy()
        return state

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`get_state` returned (arrays are copied)."""
        stores: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in self.slots}
        for key, value in state.items():
            if key == "iterations":
                continue
            slot, sep, name = key.partition("/")
            if not sep or slot not in stores:
                raise ValueError(
                    f"{type(self).__name__}.set_state: unknown state key {key!r}; "
                    f"expected 'iterations' or '<slot>/<name>' with slot in "
                    f"{self.slots}"
                )
            stores[slot][name] = np.array(value, copy=True)
        self.iterations = int(np.asarray(state.get("iterations", 0)))
        self._state = stores

    def snapshot(self, reuse: OptimizerSnapshot | None = None) -> OptimizerSnapshot:
        """A copy of the state (step count and every slot array) for :meth:`restore`.

        ``reuse``: an earlier snapshot of this optimizer whose arrays are overwritten instead
        of allocating new ones (and which is returned). Subclasses keeping state outside the
        slots override this pair of methods."""
        snap = reuse if reuse is not None else OptimizerSnapshot()
        snap.iterations = self.iterations
        for slot in snap.slots.keys() - self._state.keys():
            del snap.slots[slot]
        for slot, store in self._state.items():
            copy_into(snap.slots.setdefault(slot, {}), store)
        return snap

    def restore(self, snapshot: OptimizerSnapshot) -> None:
        """Put the state back as :meth:`snapshot` saw it: the step count, every slot array
        (written in place when its shape still fits, so references to it stay valid), and no
        slot created since."""
        for slot, store in self._state.items():
            saved = snapshot.slots.get(slot, {})
            for name in [name for name in store if name not in saved]:
                del store[name]  # created after the snapshot
            for name, value in saved.items():
                live = store.get(name)
                if live is not None and live.shape == value.shape and live.dtype == value.dtype:
                    np.copyto(live, value)
                else:
                    store[name] = value.copy()
        self.iterations = snapshot.iterations

    def first_non_finite_state(self) -> str | None:
        """The key (``"<slot>/<param name>"``, as in :meth:`get_state`) of the first state
        array holding a NaN or an infinity, or None when all are finite. Reads the live arrays:
        nothing is copied."""
        for slot, store in self._state.items():
            for name, value in store.items():
                if not np.isfinite(value).all():
                    return f"{slot}/{name}"
        return None

    def get_config(self) -> dict[str, Any]:
        """JSON-able constructor arguments (a schedule as ``{"class_name", "config"}``)."""
        lr: float | dict[str, Any] | Callable[[int], float] = self.learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = class_and_config(lr)
        elif callable(lr):
            raise TypeError(
                "cannot serialise a plain callable learning_rate; use a LearningRateSchedule"
            )
        return {
            "learning_rate": lr,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "clipnorm": self.clipnorm,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learning_rate={self.learning_rate!r})"
