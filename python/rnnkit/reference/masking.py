"""Keras's step masks for every NumPy twin, written once, the way Keras writes them: one step of
the cell at a time, then a choice per row between the step's results and what came before::

    out_t    = where(mask_t, h_t,   out_{t-1})      out_{-1} = zeros
    states_t = where(mask_t, new_t, states_{t-1})   states_{-1} = the initial states

A cell's twin runs each step as a one-step call of itself (no lengths), so this file knows no
cell's maths. The backward walks the same choices in reverse; ``truncate=k`` cuts every path
from step t back to step t-1 (both the states' and the repeated outputs') whenever ``t`` is a
positive multiple of ``k``, as the kernels do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MaskedCache", "masked", "masked_backward", "masked_forward"]


@dataclass(frozen=True)
class MaskedCache:
    """What :func:`masked_backward` needs: each step's cache and the choices made."""

    steps: list[Any]  # the one-step caches of the cell's twin, one per time step
    mask: np.ndarray  # (N, T) bool
    backward: Callable[..., dict[str, np.ndarray]]  # the twin's backward
    state_names: tuple[str, ...]  # ("h0",), ("h0", "c0"): also the keys of the state gradients
    x_shape: tuple[int, int, int]
    units: int  # H
    dtype: np.dtype


def masked(
    forward: Callable[..., tuple[Any, ...]],
    backward: Callable[..., dict[str, np.ndarray]],
    x: Any,
    Wx: Any,
    states: tuple[Any, ...],
    mask: Any,
    lengths: Any,
    arguments: dict[str, Any],
) -> tuple[Any, ...]:
    """A twin's forward under ``mask``: refuses ``lengths`` beside it, converts ``x`` and
    defaults the initial states (zeros), then :func:`masked_forward`."""
    if lengths is not None:
        raise ValueError("give lengths or mask, not both (lengths is a mask of leading steps)")
    dtype = np.asarray(Wx).dtype
    x = np.array(x, dtype=dtype)
    units = np.shape(arguments["Wh"])[0]
    initial = tuple(
        np.zeros((x.shape[0], units), dtype) if s is None else np.array(s, dtype=dtype)
        for s in states
    )
    return masked_forward(forward, backward, x, initial, mask, arguments)


def masked_forward(
    forward: Callable[..., tuple[Any, ...]],
    backward: Callable[..., dict[str, np.ndarray]],
    x: np.ndarray,
    states: tuple[np.ndarray, ...],
    mask: Any,
    arguments: dict[str, Any],
) -> tuple[Any, ...]:
    """``(outputs, *final_states, cache)`` of the twin ``forward`` under the step ``mask``.

    ``states``: the initial states (arrays, already defaulted), in the order of
    ``forward``'s state arguments ``h0`` (and ``c0``); ``arguments``: every other keyword
    ``forward`` takes (weights, activations, recurrent mask, ...). Needs ``T >= 1``."""
    n, t, _ = x.shape
    mask = np.asarray(mask)
    if mask.shape != (n, t):
        raise ValueError(f"mask must have shape (N, T) = ({n}, {t}), got {mask.shape}")
    mask = mask.astype(bool)
    names = ("h0", "c0")[: len(states)]
    dtype = states[0].dtype
    out = np.zeros_like(states[0])
    outputs = np.zeros((n, t, states[0].shape[1]), dtype)
    caches = []
    for step in range(t):
        h, *new, cache = forward(x[:, step : step + 1], **dict(zip(names, states)), **arguments)
        valid = mask[:, step][:, None]
        out = np.where(valid, h[:, 0], out)
        states = tuple(np.where(valid, s_new, s) for s_new, s in zip(new, states))
        outputs[:, step] = out
        caches.append(cache)
    units = states[0].shape[1]
    masked = MaskedCache(caches, mask, backward, names, (n, t, x.shape[2]), units, dtype)
    return (outputs, *(s.copy() for s in states), masked)


def masked_backward(
    cache: MaskedCache, dhs: Any, d_final: tuple[Any, ...], truncate: int | None
) -> dict[str, np.ndarray]:
    """The gradients of the forward pass that made ``cache``: ``"x"``, each weight's and each
    initial state's, as the twin's backward names them."""
    n, t, d = cache.x_shape
    dtype, h = cache.dtype, cache.units
    dhs = np.zeros((n, t, h), dtype) if dhs is None else np.asarray(dhs, dtype)
    d_states = [np.zeros((n, h), dtype) if g is None else np.array(g, dtype=dtype) for g in d_final]
    d_out = np.zeros((n, h), dtype)  # dL/d out_{t}, arriving through later repeats
    dx = np.zeros((n, t, d), dtype)
    grads: dict[str, np.ndarray] = {}
    d_names = tuple(f"d{name[0]}_last" for name in cache.state_names)
    for step in reversed(range(t)):
        valid = cache.mask[:, step][:, None]
        d_out = d_out + dhs[:, step]
        # Valid rows: out_t and states_t came from the cell. Masked rows: from step t-1.
        step_grads = cache.backward(
            cache.steps[step],
            np.where(valid, d_out, 0)[:, None],
            **dict(zip(d_names, (np.where(valid, g, 0) for g in d_states))),
        )
        dx[:, step] = step_grads["x"][:, 0]
        for key, value in step_grads.items():
            if key != "x" and key not in cache.state_names:
                grads[key] = grads[key] + value if key in grads else value
        d_states = [
            step_grads[name] + np.where(valid, 0, g) for name, g in zip(cache.state_names, d_states)
        ]
        d_out = np.where(valid, 0, d_out)
        if truncate is not None and step > 0 and step % truncate == 0:
            d_states = [np.zeros_like(g) for g in d_states]
            d_out = np.zeros_like(d_out)
    return {"x": dx, **grads, **dict(zip(cache.state_names, d_states))}
