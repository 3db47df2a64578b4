"""The float64 gradient check of a layer's forward/backward, shared by the layer tests.

Not a test module; test files import it by name (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rnnkit.gradcheck import check_gradients

TOL = 1e-7


def dot(out: Any, dy: Any) -> float:
    """sum(out * dy), recursing into lists (return_state / merge_mode=None outputs)."""
    if isinstance(out, (list, tuple)):
        return sum(dot(o, d) for o, d in zip(out, dy) if d is not None)
    return float(np.sum(out * dy))


def random_like(out: Any, rng: np.random.Generator) -> Any:
    if isinstance(out, (list, tuple)):
        return [random_like(o, rng) for o in out]
    return rng.standard_normal(np.shape(out))


def check_layer(
    layer: Any,
    x: np.ndarray,
    *,
    check_x: bool = True,
    initial: list[np.ndarray] | None = None,
    before_forward: Callable[[], None] | None = None,
    seed: int = 0,
    **forward_kwargs: Any,
) -> Any:
    """Central differences (float64) against every gradient of ``layer``: its params (a layer
    may have none), ``x`` (unless ``check_x`` is False) and, with ``initial``, the initial
    states (passed as ``initial_state``, their gradients read from ``d_initial_state``).
    ``before_forward`` runs before every forward (e.g. to replay a dropout mask stream).
    Returns the forward's output."""
    if initial is not None:
        forward_kwargs["initial_state"] = initial if len(initial) > 1 else initial[0]

    def run() -> Any:
        if before_forward is not None:
            before_forward()
        return layer.forward(x, **forward_kwargs)

    out = run()
    dy = random_like(out, np.random.default_rng(seed + 100))
    dx = layer.backward(dy)
    analytic = {k: g.copy() for k, g in layer.grads.items()}
    params: dict[str, np.ndarray] = dict(layer.params)
    assert params or check_x, "layer has no params to check"
    for key in params:
        assert layer.grads[key].shape == params[key].shape
    if check_x:
        params["x"], analytic["x"] = x, dx
    if initial is not None:
        d_initial = layer.d_initial_state
        d_initial = d_initial if isinstance(d_initial, list) else [d_initial]
        assert len(d_initial) == len(initial)
        for i, (state, grad) in enumerate(zip(initial, d_initial)):
            params[f"initial_{i}"], analytic[f"initial_{i}"] = state, grad
    check_gradients(lambda: dot(run(), dy), params, analytic, tol=TOL)
    return out
