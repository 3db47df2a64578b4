"""Numerical gradient checking, for rnnkit's own kernels and for your layers.

Conventions (the numerical conventions of docs/architecture.md): central differences in float64
with step ``eps = 1e-6``, compared with :func:`rel_error`; kernels are held to
``rel_error <= 1e-7``.

The functions being checked are scalar-valued functions of *nothing*: they read the parameter
arrays they close over, and the checker perturbs those arrays **in place** (one entry at a time)
and restores them exactly afterwards. This is what checking a layer looks like in practice, where
the parameters live inside the layer object::

    import numpy as np
    from rnnkit.gradcheck import check_gradients

    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 4))
    x = rng.standard_normal((5, 3))
    dy = rng.standard_normal((5, 4))

    def loss() -> float:           # reads W and x as they are now
        return float(np.sum(np.tanh(x @ W) * dy))

    y = np.tanh(x @ W)
    dA = dy * (1 - y**2)
    errors = check_gradients(loss, {"W": W, "x": x}, {"W": x.T @ dA, "x": dA @ W.T})
    # {'W': 1.2e-11, 'x': 5.7e-11}; an AssertionError names any key over tol

Perturbing in place means every array checked must be a writeable float64 NumPy array which the
function really reads (not a copy of it made beforehand).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

__all__ = ["check_gradients", "numerical_gradient", "rel_error"]

DEFAULT_EPS = 1e-6
DEFAULT_TOL = 1e-7


def numerical_gradient(
    f: Callable[[], float], x: np.ndarray, eps: float = DEFAULT_EPS
) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to the array ``x``.

    For every entry ``x[i]``: ``(f() at x[i] + eps  -  f() at x[i] - eps) / (2 * eps)``.
    ``x`` is modified in place while ``f`` is evaluated and each entry is restored to its exact
    original value before moving on, so ``x`` is unchanged on return (also if ``f`` raises).

    Args:
        f: function of no arguments returning a scalar (anything ``float()`` accepts); it must
            read ``x`` itself, as it is at call time.
        x: writeable float64 array (any shape, any memory layout).
        eps: finite-difference step.

    Returns:
        float64 array shaped like ``x``.

    Raises:
        TypeError: if ``x`` is not a float64 NumPy array.
        ValueError: if ``x`` is read-only.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"x must be a float64 numpy array (checks run in float64), got {got}")
    if not x.flags.writeable:
        raise ValueError("x must be writeable: it is perturbed in place")
    grad = np.zeros(x.shape, np.float64)
    for index in np.ndindex(x.shape):
        original = x[index]
        try:
            x[index] = original + eps
            f_plus = float(f())
            x[index] = original - eps
            f_minus = float(f())
        finally:
            x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Relative error between two arrays of the same shape, as one number.

    ``max|a - b| / max(1e-8, max(|a| + |b|))``: the largest absolute difference over all entries,
    divided by the largest entry-wise ``|a| + |b|`` (floored at 1e-8 so that two all-zero arrays
    give 0). Using the maxima over the whole array keeps entries that are tiny in both from
    dominating. Two empty arrays give 0.0; any NaN or infinity in either array gives ``inf``
    (never a silent pass).

    Raises:
        ValueError: if the shapes differ.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs arrays of one shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    with np.errstate(over="ignore"):  # huge finite entries: let the ratio say inf
        diff = float(np.max(np.abs(a - b)))
        scale = float(np.max(np.abs(a) + np.abs(b)))
    return diff / max(1e-8, scale)


def _describe_worst(numeric: np.ndarray, expected: np.ndarray) -> str:
    """Where two arrays differ most (the first non-finite difference, if any)."""
    if numeric.size == 0:
        return ""
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(numeric - expected.astype(np.float64))
    bad = ~np.isfinite(diff)
    flat = int(np.argmax(bad)) if bad.any() else int(np.argmax(diff))
    index = tuple(int(i) for i in np.unravel_index(flat, diff.shape))
    return (
        f" (largest difference at {index}: numerical {float(numeric[index])!r}, "
        f"analytic {float(expected[index])!r})"
    )


def check_gradients(
    f: Callable[[], float],
    params: Mapping[str, np.ndarray],
    analytic: Mapping[str, np.ndarray],
    eps: float = DEFAULT_EPS,
    tol: float = DEFAULT_TOL,
) -> dict[str, float]:
    """Compare analytic gradients with central differences of ``f``, one array at a time.

    Args:
        f: scalar function of no arguments that reads the arrays in ``params`` (see the module
            docstring).
        params: name -> writeable float64 array read by ``f``; each is perturbed in place and
            restored.
        analytic: name -> analytic gradient, for every name in ``params`` (extra names are
            ignored), shaped like that parameter.
        eps: finite-difference step.
        tol: largest :func:`rel_error` accepted.

    Returns:
        name -> :func:`rel_error` (numerical vs analytic), for every name in ``params``.

    Raises:
        KeyError: if ``analytic`` lacks a name of ``params``.
        ValueError: if an analytic gradient's shape differs from its parameter's.
        AssertionError: if any error exceeds ``tol``; the message names every failing key with
            its error and the position of its largest difference.
    """
    missing = [name for name in params if name not in analytic]
    if missing:
        raise KeyError(f"analytic gradients missing for {missing}")
    errors: dict[str, float] = {}
    failures: list[str] = []
    for name, value in params.items():
        expected = np.asarray(analytic[name])
        if expected.shape != np.shape(value):
            raise ValueError(
                f"analytic gradient {name!r} has shape {expected.shape}, "
                f"parameter has shape {np.shape(value)}"
            )
        numeric = numerical_gradient(f, value, eps)
        err = rel_error(numeric, expected)
        errors[name] = err
        if not err <= tol:  # also catches NaN
            failures.append(
                f"{name!r}: rel_error {err:.3e} > tol {tol:.1e}"
                + _describe_worst(numeric, expected)
            )
    if failures:
        raise AssertionError("gradient check failed for " + "; ".join(failures))
    return errors
