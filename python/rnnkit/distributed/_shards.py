"""Shard mode (``DistributedTrainer(..., data="sharded")``): each rank passes its own samples,
and the global batches are formed from the ranks' shares.

**Batches.** ``batch_size`` stays the global batch and rank ``r`` of ``p`` keeps its share of
it, ``b_r`` rows (:func:`~rnnkit.distributed._mpi.share`: ``batch_size // p``, the first
``batch_size % p`` ranks one more), taken in turn from its own shard of ``n_r`` samples (in its
own shuffled order). Update ``k`` is formed of rank 0's rows ``[k b_0, (k+1) b_0)``, then rank
1's, and so on: one process training on that arrangement of the samples makes the same updates.
An epoch runs ``max_r ceil(n_r / b_r)`` updates, so every sample of every shard is used once
per epoch: a rank whose shard is used up takes an empty share (its last share may be short),
and the batches after that hold fewer than ``batch_size`` samples. Shards proportional to the
shares (``n_r / b_r`` alike) keep every batch but the last full.

**Streams.** ``fit_stream`` and ``evaluate_stream``: rank ``r`` cuts its ``b_r`` streams from
its own sequence, ``S_r = len_r // b_r`` steps each. Windows must line up across ranks, so all
use ``S = min_r S_r`` steps: a rank with a longer sequence leaves its tail past ``b_r S``
out, and rank 0 warns saying how much.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..training.streams import StreamViews, stream_views
from . import _mpi

__all__ = [
    "ShardSchedule",
    "cut_streams",
    "local_streams",
    "own_steps",
    "shape_only",
    "warn_dropped_steps",
]


def shape_only(value: Any) -> str:
    """A description of an argument that shards may differ in: arrays by dtype and their
    shape past the sample axis (``*`` for it), containers element by element, the rest by
    ``repr``."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype}(*, {', '.join(str(d) for d in value.shape[1:])})"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shape_only(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {shape_only(v)}" for k, v in value.items()) + "}"
    return repr(value)


class ShardSchedule:
    """The updates of one epoch (or evaluation pass) in shard mode, as every rank computes
    them from all ranks' sample counts (see the module text).

    Attributes:
        counts: samples of each rank's shard.
        shares: rows of each rank in a full global batch.
        updates: the updates (batches) of one pass.
        samples: the samples of all shards.
    """

    def __init__(self, counts: Sequence[int], batch_size: int, rank: int) -> None:
        size = len(counts)
        self.counts = tuple(int(n) for n in counts)
        bounds = [_mpi.share(batch_size, r, size) for r in range(size)]
        self.shares = tuple(stop - start for start, stop in bounds)
        self.rank = rank
        self.updates = max(-(-n // b) for n, b in zip(self.counts, self.shares))
        self.samples = sum(self.counts)

    def batches(self, order: np.ndarray | None) -> Iterator[tuple[Any, tuple[int, int, int]]]:
        """Each update's rows of this rank's shard (positions in ``order`` when given) and
        where they sit in the global batch: ``(start, stop, total)``."""
        mine = self.shares[self.rank]
        for k in range(self.updates):
            sizes = [max(0, min(b, n - k * b)) for n, b in zip(self.counts, self.shares)]
            offset = sum(sizes[: self.rank])
            start, stop = k * mine, k * mine + sizes[self.rank]
            rows: Any = slice(start, stop) if order is None else order[start:stop]
            yield rows, (offset, offset + sizes[self.rank], sum(sizes))


def local_streams(batch_size: int, rank: int, size: int) -> tuple[int, int]:
    """``[start, stop)``: the streams of ``batch_size`` that ``rank`` carries."""
    return _mpi.share(batch_size, rank, size)


def own_steps(
    sequence: np.ndarray, targets: np.ndarray | None, streams: int, batch_size: int
) -> int:
    """How long this rank's ``streams`` (of the ``batch_size``) cut from its own sequence
    would be; ValueError saying so when it gives them no step."""
    try:
        return stream_views(sequence, targets, streams).steps
    except ValueError as err:
        raise ValueError(
            f"this rank carries {streams} of the {batch_size} streams, cut from its own "
            f"sequence: {err}"
        ) from err


def cut_streams(
    sequence: np.ndarray, targets: np.ndarray | None, streams: int, steps: int
) -> StreamViews:
    """``streams`` parallel streams of ``steps`` steps from the start of ``sequence`` (whose
    own streams would be at least that long): the rest is left out."""
    used = streams * steps
    seq = np.asarray(sequence)
    if targets is None:
        return stream_views(seq[: used + 1], None, streams)
    return stream_views(seq[:used], np.asarray(targets)[:used], streams)


def warn_dropped_steps(what: str, steps: Sequence[int], streams: Sequence[int]) -> None:
    """Rank 0's warning when the agreed stream length ``min(steps)`` leaves some rank's steps
    out."""
    agreed = min(steps)
    dropped = {r: (s - agreed) * b for r, (s, b) in enumerate(zip(steps, streams)) if s > agreed}
    if dropped:
        lost = ", ".join(f"rank {r}: {n}" for r, n in dropped.items())
        warnings.warn(
            f"{what} with data='sharded': every rank's streams are cut to {agreed} steps, the "
            f"shortest rank's, so these ranks leave steps of their sequence out ({lost}); "
            "give the ranks sequences of len // streams steps alike to use all of them",
            UserWarning,
            stacklevel=4,
        )
