"""Which steps of a batch of sequences are valid: the one concept behind every sequence mask.

The layers, losses, metrics and the Trainer pass it along a single channel (the ``lengths``
argument of ``forward``, ``output_lengths``, losses and metrics), in one of two forms:

* **lengths** ``(N,)`` int64: row ``i`` has ``lengths[i]`` valid *leading* steps (padding after
  the steps, ``pad_sequences(..., padding="post")``). The fast, packed-sequence form: the
  kernels never read the padded steps, a ``return_sequences=True`` layer outputs zeros there.
* **a step mask** ``(N, T)`` bool: True where a step is valid, any pattern (pre-padding, gaps).
  Keras's semantics: a masked step carries the recurrent states, its input gets no gradient,
  and a sequence output repeats the previous output there (zeros before a row's first valid
  step).

A mask whose valid steps form a prefix of every row is always carried as lengths (see
:func:`from_mask`), so post-padded data keeps the fast path and its results whatever made the
mask. Both forms mean the same thing to a loss or a metric: only the valid steps count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _checks

__all__ = [
    "any_valid",
    "check",
    "combine",
    "from_mask",
    "is_mask",
    "reverse",
    "to_mask",
]


def is_mask(steps: Any) -> bool:
    """True when ``steps`` is an ``(N, T)`` step mask (False for lengths and None)."""
    return steps is not None and np.ndim(steps) == 2


def from_mask(valid: np.ndarray) -> np.ndarray:
    """The boolean ``(N, T)`` mask ``valid`` in its carried form: int64 lengths when its valid
    steps form a prefix of every row, else the mask itself (a bool array)."""
    valid = np.asarray(valid, dtype=bool)
    lengths = valid.sum(axis=1)
    prefix = np.arange(valid.shape[1]) < lengths[:, None]
    if np.array_equal(valid, prefix):
        return lengths.astype(np.int64)
    return valid


def to_mask(steps: Any, n: int, t: int, where: str = "") -> np.ndarray | None:
    """``steps`` (lengths or a mask; checked against ``n`` rows and ``t`` steps) as a boolean
    ``(n, t)`` mask of valid steps; None stays None."""
    checked = check(steps, n, t, where)
    if checked is None or checked.ndim == 2:
        return checked
    return np.arange(t) < checked[:, None]


def check(value: Any, n: int, t: int | None, where: str = "") -> np.ndarray | None:
    """A given mask in its carried form: ``(N,)`` integers are lengths (checked by
    :func:`rnnkit._checks.lengths`); an ``(N, T)`` array of booleans (or 0/1 integers) is a
    step mask, turned into lengths when it is post-padding (:func:`from_mask`). ``t=None``
    (several inputs, no one time axis): the mask's own ``T`` is taken. None stays None."""
    if value is None:
        return None
    if np.ndim(value) == 2:
        steps = np.shape(value)[1] if t is None else t
        if np.shape(value) != (n, steps):
            raise ValueError(
                f"{where}lengths must have shape (N,) = ({n},) or be an (N, T) = ({n}, {steps}) "
                f"step mask, got {np.shape(value)}"
            )
        mask = _checks.step_mask(value, n, steps, where)
        assert mask is not None  # a given mask is never None
        return from_mask(mask)
    return _checks.lengths(value, n, t, where)


def combine(a: Any, b: Any) -> np.ndarray | None:
    """One mask from two (a layer making a mask above one that came from below, a merge of
    several inputs): a step is valid where both say so. None means "every step valid"."""
    if a is None:
        return b
    if b is None:
        return a
    if not is_mask(a) and not is_mask(b):
        return np.minimum(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))
    t = np.shape(a if is_mask(a) else b)[1]
    n = np.shape(a)[0]
    mask_a, mask_b = to_mask(a, n, t), to_mask(b, n, t)
    assert mask_a is not None and mask_b is not None
    return from_mask(mask_a & mask_b)


def any_valid(steps: Any, n: int) -> np.ndarray:
    """``(N,)`` bool: whether each row has a valid step (all True for None)."""
    if steps is None:
        return np.ones(n, dtype=bool)
    steps = np.asarray(steps)
    return steps.any(axis=1) if steps.ndim == 2 else steps > 0


def reverse(x: np.ndarray, steps: Any = None) -> np.ndarray:
    """Reverse ``x (N, T, ...)`` in time as a recurrent layer's ``go_backwards`` sees it.

    Lengths: only the valid prefix of each row is reversed, row ``i`` becoming ``x[i, L_i-1],
    ..., x[i, 0], x[i, L_i], ..., x[i, T-1]`` (PyTorch's packed-sequence reversal: the valid
    steps stay a prefix, so the same lengths describe the result). A step mask or None: the
    whole row is reversed, as Keras does (reverse the mask with it). Either map is its own
    inverse; one fancy-indexing gather, no Python loop over steps."""
    if steps is None or is_mask(steps):
        return x[:, ::-1]
    n, t = x.shape[:2]
    cols = np.arange(t)
    lens = np.asarray(steps, dtype=np.int64)[:, None]
    index = np.where(cols < lens, lens - 1 - cols, cols)
    return x[np.arange(n)[:, None], index]
