"""Copies into reused buffers: what is snapshotted every update (weights, optimizer slots,
EarlyStopping's best weights) allocates nothing once the buffers exist."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["copy_into"]


def copy_into(buffers: dict[str, np.ndarray], arrays: Mapping[str, np.ndarray]) -> None:
    """Make ``buffers`` a copy of ``arrays`` (same keys): buffers of the right shape and dtype
    are overwritten, missing or mismatched ones allocated, keys ``arrays`` lacks dropped."""
    for key in buffers.keys() - arrays.keys():
        del buffers[key]
    for key, value in arrays.items():
        buf = buffers.get(key)
        if buf is None or buf.shape != value.shape or buf.dtype != value.dtype:
            buf = buffers[key] = np.empty_like(value)
        np.copyto(buf, value)
