"""Stream planning for ``fit_stream`` / ``evaluate_stream``: one long series or token stream cut
into parallel streams (views, never copies of the stream) and walked in windows, with
TBPTT(k1, k2) spans.

Layout: ``batch_size`` parallel streams of ``S = len // batch_size`` steps, stream ``b``
starting at offset ``b * S``. Update ``n`` of an epoch scores the steps ``[e_{n-1}, e_n)``,
``e_n = min(n k1, S)``, and runs its forward over the span ``[s_n, e_n)``,
``s_n = max(0, e_{n-1} - (k2 - k1))``: the last ``k2`` steps ending at ``e_n``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import _checks
from ..layers import RecurrentLayer

__all__ = [
    "States",
    "StreamViews",
    "bptt_pair",
    "get_states",
    "set_states",
    "span_start",
    "stream_views",
    "window",
    "window_ends",
]

States = list[list[np.ndarray] | None]  # the carried states of several recurrent layers


class StreamViews(NamedTuple):
    """``batch_size`` parallel streams of inputs ``X`` and targets ``Y``, ``steps`` long, as
    views of the input; ``add_axis``: a 1-D float series gets a feature axis in each window."""

    X: np.ndarray
    Y: np.ndarray
    steps: int
    add_axis: bool


def stream_views(sequence: np.ndarray, targets: np.ndarray | None, batch_size: int) -> StreamViews:
    """``batch_size`` parallel streams as *views* of the input (no copy of the long sequence),
    each ``steps`` long; row ``b`` starts at ``b * steps``. ``targets=None``: next-step
    prediction (inputs ``sequence[:-1]``, targets ``sequence[1:]``)."""
    seq = np.asarray(sequence)
    if seq.ndim < 1:
        raise ValueError("sequence must have a time axis, (L,) or (L, D)")
    if targets is None:
        inputs, outs = seq[:-1], seq[1:]  # next-step prediction
    else:
        outs = np.asarray(targets)
        if len(outs) != len(seq):
            raise ValueError(
                f"targets must have one entry per step of sequence: {len(outs)} != {len(seq)}"
            )
        inputs = seq
    steps = len(inputs) // batch_size
    if steps < 1:
        raise ValueError(
            f"a stream of {len(inputs)} steps is too short for batch_size {batch_size}"
        )
    used = steps * batch_size
    # Slicing then reshaping a contiguous array is a view: memory stays O(window).
    X = inputs[:used].reshape((batch_size, steps, *inputs.shape[1:]))
    Y = outs[:used].reshape((batch_size, steps, *outs.shape[1:]))
    # A 1-D float series feeds a (N, T, 1) model; 1-D integer ids feed an Embedding.
    add_axis = seq.ndim == 1 and seq.dtype.kind == "f"
    return StreamViews(X, Y, steps, add_axis)


def bptt_pair(bptt: int | tuple[int, int]) -> tuple[int, int]:
    """``(k1, k2)`` from ``bptt=k`` (``(k, k)``) or ``bptt=(k1, k2)`` with ``k2 >= k1 >= 1``."""
    k1, k2 = bptt if isinstance(bptt, (tuple, list)) else (bptt, bptt)
    k1, k2 = _checks.positive_int(k1, "bptt"), _checks.positive_int(k2, "bptt")
    if k2 < k1:
        raise ValueError(f"bptt must be k >= 1 or (k1, k2) with k2 >= k1 >= 1, got {bptt}")
    return k1, k2


def window_ends(steps: int, k1: int) -> list[int]:
    """``e_1, e_2, ...``: where each update's scored steps end (every ``k1``, the last at
    ``steps``)."""
    return [*list(range(k1, steps, k1)), steps]


def span_start(prev_end: int, k1: int, k2: int) -> int:
    """``s_n``: where the forward span of the update scoring ``[prev_end, e_n)`` starts."""
    return max(0, prev_end - (k2 - k1))


def window(A: np.ndarray, start: int, stop: int, add_axis: bool) -> np.ndarray:
    """Steps ``[start, stop)`` of every stream as a small contiguous copy."""
    w = np.ascontiguousarray(A[:, start:stop])  # a small copy: the window only
    return w[..., None] if add_axis else w


def get_states(rnns: list[RecurrentLayer]) -> States:
    """The carried states of ``rnns``."""
    return [layer.states for layer in rnns]


def set_states(rnns: list[RecurrentLayer], states: States) -> None:
    """Give each of ``rnns`` its carried states back (None: zeros)."""
    for layer, state in zip(rnns, states):
        layer.states = state
