"""Validation of ``lengths``, the per-sample count of valid leading time steps that masks
padding (shared by the recurrent layer and the losses/metrics, so both reject bad masks with the
same messages)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_lengths"]


def check_lengths(lengths: Any, n: int, t: int, where: str = "") -> np.ndarray | None:
    """``lengths`` as an int64 ``(n,)`` array of values in ``[0, t]``, or None for None.

    Raises TypeError for non-integer values and ValueError for a wrong shape or a value out of
    range; each message starts with ``where`` (e.g. ``"layer 'rnn': "``) to name the caller.
    """
    if lengths is None:
        return None
    lens = np.asarray(lengths)
    if lens.dtype.kind not in "iu":
        raise TypeError(f"{where}lengths must hold integers, got dtype {lens.dtype}")
    if lens.shape != (n,):
        raise ValueError(f"{where}lengths must have shape (N,) = ({n},), got {lens.shape}")
    if n and (lens.min() < 0 or lens.max() > t):
        raise ValueError(
            f"{where}lengths must lie in [0, T] = [0, {t}], got values in "
            f"[{lens.min()}, {lens.max()}]"
        )
    return lens.astype(np.int64, copy=False)
