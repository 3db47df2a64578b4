"""The non-recurrent maths of a training step on the C++ core: dense layers, the softmax
cross-entropy with class ids, the optimizers' updates, the clipping norm and the embedding's
gradient (cpp/rnnkit/layer_math/).

They run on rnnkit's own worker pool with its BLAS single-threaded, so a training step of
rnnkit's layers never wakes NumPy's BLAS, a second thread pool (docs/performance.md, "One BLAS
pool"). Each function takes float32 or float64 arrays (one dtype per call), checks shapes and
dtypes with messages naming the argument, and converts only what is not ready (C-contiguous,
aligned). The arrays a function updates in place (``out=``-like arguments, optimizer state) must
be ready already: a copy would be updated instead of them.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np

from .._checks import choice
from .._native import _core
from ._arguments import FLOAT_DTYPES, float_input, kernel_ready, require_shape, shape_text

__all__ = [
    "DENSE_ACTIVATIONS",
    "DenseActivation",
    "adam_update",
    "dense_backward",
    "dense_forward",
    "embedding_scatter_add",
    "sgd_momentum_update",
    "sparse_softmax_cross_entropy",
    "sum_of_squares",
]

DenseActivation = Literal["linear", "tanh", "relu", "sigmoid", "softmax"]
# rnnkit.activations' functions, which the dense kernels compute (softmax over the last axis).
DENSE_ACTIVATIONS: tuple[str, ...] = get_args(DenseActivation)


def _float_dtype(name: str, array: Any) -> np.dtype:
    dtype = np.asarray(array).dtype
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {dtype}")
    return dtype


def _in_place(name: str, array: Any, dtype: np.dtype, size: int | None = None) -> np.ndarray:
    """An array the kernel writes into: it must already be a ready array of ``dtype``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy array (updated in place), got {type(array)}")
    if array.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype} (updated in place), got {array.dtype}")
    if not kernel_ready(array) or not array.flags.writeable:
        raise ValueError(f"{name} must be C-contiguous, aligned and writeable (updated in place)")
    if size is not None and array.size != size:
        raise ValueError(f"{name} must have {size} entries, got shape {shape_text(array.shape)}")
    return array


def _integers(name: str, value: Any, kinds: str = "iu") -> np.ndarray:
    """``value`` as C-contiguous int64, refusing floats (which np.require would truncate:
    class 1.7 taken as 1) with a TypeError naming it."""
    array = np.asarray(value)
    if array.dtype.kind not in kinds:
        raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
    return np.require(array, dtype=np.int64, requirements=["C", "A"])


def _matrix(name: str, value: Any, dtype: np.dtype) -> np.ndarray:
    array = float_input(name, value, dtype)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {shape_text(array.shape)}")
    return array


def dense_forward(
    x: np.ndarray, W: np.ndarray, b: np.ndarray | None = None, activation: str = "linear"
) -> np.ndarray:
    """``activation(x @ W + b)`` for ``x (rows, D)``, ``W (D, units)``, ``b (units,)`` or None;
    returns ``(rows, units)`` in W's dtype (x and b are converted to it)."""
    dtype = _float_dtype("W", W)
    activation = choice(activation, "activation", DENSE_ACTIVATIONS)
    W = _matrix("W", W, dtype)
    x = _matrix("x", x, dtype)
    require_shape("x", x, (None, W.shape[0]), "(rows, {1})")
    if b is not None:
        b = float_input("b", b, dtype)
        require_shape("b", b, (W.shape[1],), "({0},)")
    return _core.dense_forward(x, W, b, activation)


def dense_backward(
    x: np.ndarray,
    W: np.ndarray,
    y: np.ndarray,
    dy: np.ndarray,
    activation: str = "linear",
    dW: np.ndarray | None = None,
    db: np.ndarray | None = None,
    want_dx: bool = True,
) -> np.ndarray | None:
    """The backward of :func:`dense_forward`: with ``da = dy * activation'`` (read off the
    forward's output ``y``), writes ``x.T @ da`` into ``dW (D, units)`` and the column sums of
    ``da`` into ``db (units,)`` when given (in place, ready arrays of W's dtype), and returns
    ``dx = da @ W.T`` ``(rows, D)`` (None with ``want_dx=False``)."""
    dtype = _float_dtype("W", W)
    activation = choice(activation, "activation", DENSE_ACTIVATIONS)
    W = _matrix("W", W, dtype)
    x = _matrix("x", x, dtype)
    rows, units = x.shape[0], W.shape[1]
    require_shape("x", x, (None, W.shape[0]), "(rows, {1})")
    y = float_input("y", y, dtype)
    dy = float_input("dy", dy, dtype)
    require_shape("y", y, (rows, units), "({0}, {1})")
    require_shape("dy", dy, (rows, units), "({0}, {1})")
    if dW is not None:
        require_shape("dW", _in_place("dW", dW, dtype), W.shape, "({0}, {1})")
    if db is not None:
        require_shape("db", _in_place("db", db, dtype), (units,), "({0},)")
    return _core.dense_backward(x, W, y, dy, activation, dW, db, bool(want_dx))


def sparse_softmax_cross_entropy(
    scores: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    from_logits: bool = True,
    scale: float = 1.0,
) -> tuple[float, np.ndarray]:
    """Cross-entropy of ``scores (rows, C)`` (logits, or probabilities with
    ``from_logits=False``, Keras's clipped form) against class ids ``labels (rows,)``.

    ``weights (rows,)`` multiply each row's loss and gradient; rows where ``valid (rows,)`` is
    False add nothing, get a zero gradient and are never read. Returns ``(sum of the weighted
    losses of the valid rows, gradient (rows, C) times scale)`` in one pass, as
    :class:`rnnkit.losses.SparseCategoricalCrossentropy` forms them before its mean.
    """
    dtype = _float_dtype("scores", scores)
    scores = _matrix("scores", scores, dtype)
    rows, classes = scores.shape
    if classes < 1:
        raise ValueError(f"scores must have at least one class, got {shape_text(scores.shape)}")
    labels = _integers("labels", labels)
    require_shape("labels", labels, (rows,), "({0},)")
    if weights is not None:
        weights = np.require(weights, dtype=np.float64, requirements=["C", "A"])
        require_shape("weights", weights, (rows,), "({0},)")
    if valid is not None:
        valid = (_integers("valid", valid, "biu") != 0).astype(np.uint8)  # 256 is valid too
        require_shape("valid", valid, (rows,), "({0},)")
    total, grad = _core.sparse_cross_entropy(
        scores, labels, weights, valid, bool(from_logits), float(scale)
    )
    return float(total), grad


def adam_update(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr_t: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
) -> None:
    """One Adam step in place (Keras's epsilon-hat form, :class:`rnnkit.optimizers.Adam`):
    ``m += (1 - beta_1)(g - m)``, ``v += (1 - beta_2)(g² - v)``,
    ``p -= lr_t m / (sqrt(v) + epsilon)``; ``lr_t`` is the step's bias-corrected rate. ``p``,
    ``m``, ``v`` are ready arrays of one dtype; ``g`` is converted to it."""
    dtype = _float_dtype("p", p)
    _in_place("p", p, dtype)
    g = float_input("g", g, dtype)
    _in_place("m", m, dtype, p.size)
    _in_place("v", v, dtype, p.size)
    if g.size != p.size:
        raise ValueError(f"g must have {p.size} entries, got shape {shape_text(g.shape)}")
    _core.adam_update(p, g, m, v, float(lr_t), float(beta_1), float(beta_2), float(epsilon))


def sgd_momentum_update(
    p: np.ndarray,
    g: np.ndarray,
    velocity: np.ndarray,
    lr: float,
    momentum: float,
    nesterov: bool = False,
) -> None:
    """One step of SGD with momentum in place (Keras's): ``velocity = momentum velocity - lr g``,
    then ``p += velocity`` or, with ``nesterov``, ``p += momentum velocity - lr g``."""
    dtype = _float_dtype("p", p)
    _in_place("p", p, dtype)
    g = float_input("g", g, dtype)
    _in_place("velocity", velocity, dtype, p.size)
    if g.size != p.size:
        raise ValueError(f"g must have {p.size} entries, got shape {shape_text(g.shape)}")
    _core.sgd_momentum_update(p, g, velocity, float(lr), float(momentum), bool(nesterov))


def sum_of_squares(g: np.ndarray) -> float:
    """The sum of the squares of ``g``'s entries, accumulated in float64."""
    dtype = _float_dtype("g", g)
    return float(_core.sum_of_squares(float_input("g", g, dtype)))


def embedding_scatter_add(out: np.ndarray, ids: np.ndarray, rows: np.ndarray) -> None:
    """``out[:] = 0`` then ``out[ids[i]] += rows[i]`` for every i: the gradient of a row lookup
    (``out (V, D)`` a ready array, written in place; ``ids`` in ``[0, V)``; ``rows (n, D)``)."""
    dtype = _float_dtype("out", out)
    _in_place("out", out, dtype)
    if out.ndim != 2:
        raise ValueError(f"out must have shape (V, D), got {shape_text(out.shape)}")
    ids = _integers("ids", np.asarray(ids).reshape(-1))
    rows = float_input("rows", rows, dtype)
    require_shape("rows", rows, (ids.size, out.shape[1]), "({0}, {1})")
    _core.embedding_scatter_add(out, ids, rows)
