"""What ``fit`` and ``evaluate`` accept as a batch feed instead of arrays (see
:mod:`.feeds`): the protocols of Keras's ``Sequence``/``PyDataset`` and the test that tells a
feed from data. Kept apart so that the argument checks can recognise a feed without importing
the loops."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["ArrayLike", "BatchSequence", "EpochAware", "is_feed"]


@runtime_checkable
class BatchSequence(Protocol):
    """Keras's ``Sequence``/``PyDataset`` protocol: a number of batches and random access."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


@runtime_checkable
class EpochAware(Protocol):
    """A feed with Keras's optional ``on_epoch_end()`` hook."""

    def on_epoch_end(self) -> None: ...


@runtime_checkable
class ArrayLike(Protocol):
    """Anything NumPy converts through ``__array__`` (a pandas DataFrame, a tensor): data,
    although it also has ``__len__`` and ``__getitem__``."""

    def __array__(self) -> np.ndarray: ...


def is_feed(x: Any) -> bool:
    """Whether ``fit``'s ``x`` is a batch feed rather than arrays: an iterator, or a
    Sequence-style object (arrays, array-likes, lists and tuples of arrays are data, not
    feeds)."""
    if isinstance(x, (np.ndarray, list, tuple, dict, str, bytes, ArrayLike)):
        return False
    return isinstance(x, (Iterator, BatchSequence))
