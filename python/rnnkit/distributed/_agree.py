"""Checks that every process starts a run alike: the same arguments and data (in shard mode
data of the same kind, see :mod:`._shards`), or the same error, and the same weights. Each is
one ``allgather`` of a short description, so it costs a hash of the data, and a mismatch
raises :class:`DistributedError` on every rank alike instead of leaving some waiting in a
collective."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..network import Network

__all__ = ["DistributedError", "agree", "describe", "weights_digest"]


class DistributedError(ValueError):
    """The processes of a data-parallel run disagree (arguments, data, weights) or one of them
    refused its arguments; raised on every rank alike."""


def describe(value: Any) -> str:
    """A short description of an argument: arrays by dtype, shape and a hash of their bytes
    (so equal descriptions mean equal data), containers element by element, the rest by
    ``repr``."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O":
            return f"object{value.shape}"
        digest = hashlib.blake2b(np.ascontiguousarray(value).data, digest_size=8).hexdigest()
        return f"{value.dtype}{value.shape}#{digest}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in value.items()) + "}"
    return repr(value)


def weights_digest(model: Network) -> str:
    """A hash of every parameter of ``model`` (values and shapes, in layer order)."""
    h = hashlib.blake2b(digest_size=12)
    for value in model.params.values():
        h.update(str(value.shape).encode())
        h.update(np.ascontiguousarray(value).data)
    return h.hexdigest()


def _mismatch(what: str, values: list[Any]) -> str | None:
    others = [rank for rank, value in enumerate(values) if value != values[0]]
    if not others:
        return None
    return (
        f"the ranks disagree on {what}: rank 0 has {values[0]}, rank {others[0]} has "
        f"{values[others[0]]} (ranks differing from rank 0: {others})"
    )


def agree(
    comm: Any, local: Callable[[], tuple[dict[str, str], Any]], seed: Any
) -> tuple[Any, list[Any]]:
    """Run ``local`` (this rank's checks, returning ``({what: description}, figures)``: the
    descriptions must agree, the figures, such as its sample count, may differ), gather every
    rank's outcome, and raise :class:`DistributedError` on every rank if any rank failed or
    any description differs from rank 0's. Returns rank 0's ``seed`` and every rank's
    figures."""
    try:
        found, figures = local()
        outcome: tuple[dict[str, str] | None, Any, str | None] = (found, figures, None)
    except (ValueError, TypeError) as err:
        outcome = (None, None, f"{type(err).__name__}: {err}")
    gathered = comm.allgather((outcome, seed))
    for rank, ((_, _, error), _) in enumerate(gathered):
        if error is not None:
            raise DistributedError(f"rank {rank} refused its arguments: {error}")
    first = gathered[0][0][0]
    assert first is not None
    for what in first:
        problem = _mismatch(what, [entry[0][0][what] for entry in gathered])
        if problem is not None:
            raise DistributedError(
                problem + ". Every rank must pass the same arguments and start from the same "
                "weights (build the model with the same seed on every rank, or call "
                "trainer.broadcast_weights() first), and the same data, or with "
                "data='sharded' data of the same dtypes and shapes past the sample axis"
            )
    return gathered[0][1], [entry[0][1] for entry in gathered]
