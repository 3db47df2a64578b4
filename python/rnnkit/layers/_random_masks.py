"""Dropout's random keep-masks, one row per sample, the same in one process and split over many.

In data-parallel training (:mod:`rnnkit.distributed`) each process computes a contiguous share
of every batch. If each drew masks for its own rows from its own copy of the layer's random
stream, the processes would repeat each other's masks (same seed, same draws) and the run
would not be the one a single process makes. Inside :func:`sample_share`, :func:`keep_mask`
draws the whole batch's mask, exactly as one process does (so every copy of the stream stays in
step), and returns this process's rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

import numpy as np

__all__ = ["keep_mask", "rows_per_sample", "sample_share"]

# (start, stop, total): this process's samples [start, stop) of a batch of ``total``.
_SHARE: ContextVar[tuple[int, int, int] | None] = ContextVar("rnnkit_sample_share", default=None)
# Rows per sample of the batches a layer sees: T inside TimeDistributed, which flattens time.
_ROWS_PER_SAMPLE: ContextVar[int] = ContextVar("rnnkit_rows_per_sample", default=1)


@contextlib.contextmanager
def sample_share(start: int, stop: int, total: int) -> Iterator[None]:
    """Within the block, the layers' batches are samples ``[start, stop)`` of ``total``."""
    token = _SHARE.set((start, stop, total))
    try:
        yield
    finally:
        _SHARE.reset(token)


@contextlib.contextmanager
def rows_per_sample(k: int) -> Iterator[None]:
    """Within the block, each sample is ``k`` consecutive rows of a batch (time flattened)."""
    token = _ROWS_PER_SAMPLE.set(_ROWS_PER_SAMPLE.get() * k)
    try:
        yield
    finally:
        _ROWS_PER_SAMPLE.reset(token)


def keep_mask(rng: np.random.Generator, shape: tuple[int, ...], rate: float) -> np.ndarray:
    """A boolean mask of ``shape`` (axis 0: samples, or their rows), True with probability
    ``1 - rate``. Under :func:`sample_share` the draw covers the whole batch and this share's
    rows come back, also when the share is empty (the draw keeps the stream in step)."""
    share = _SHARE.get()
    if share is None or not shape:
        return rng.random(shape) >= rate
    start, stop, total = share
    k = _ROWS_PER_SAMPLE.get()
    if shape[0] != (stop - start) * k:  # not rows of this share's samples: nothing to match
        return rng.random(shape) >= rate
    whole = rng.random((total * k, *shape[1:])) >= rate
    return whole[start * k : stop * k]
