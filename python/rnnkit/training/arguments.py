"""The Trainer's data arguments: data arrays, masks and validation data, through the checks of
:mod:`rnnkit._checks`, so ``fit``, ``evaluate`` and ``compute_gradients`` refuse a mistake the
way the layers and the kernels do."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import _checks
from ..network import Inputs, input_lengths, num_samples, take

__all__ = [
    "FitData",
    "check_numeric",
    "prepare_fit_data",
    "unpack_validation",
]


def check_numeric(value: Any, what: str) -> None:
    """TypeError naming ``what`` unless ``value`` (an array, or a list/tuple of arrays for
    several inputs) holds real numbers: bool, integer or float dtype."""
    parts = value if isinstance(value, (list, tuple)) else [value]
    for part in parts:
        _checks.real_array(part, what)


def unpack_validation(data: Any) -> tuple[Any, Any, np.ndarray | None]:
    """``(x_val, y_val, lengths_val)`` from ``validation_data`` (ValueError for another form)."""
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError(
            "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, lengths_val)"
        )
    return data[0], data[1], (data[2] if len(data) == 3 else None)


class FitData(NamedTuple):
    """``fit``'s training data after the checks, and its validation data (or None)."""

    x: Inputs
    y: np.ndarray
    lengths: np.ndarray | None
    n: int
    validation: tuple[Any, Any, np.ndarray | None] | None


def prepare_fit_data(
    x: Inputs,
    y: Any,
    lengths: Any,
    validation_data: Any,
    validation_split: float,
) -> FitData:
    """Check ``fit``'s data and hold out its validation part: ``validation_data`` when given,
    else the last ``validation_split`` of the samples (taken before shuffling, as Keras)."""
    check_numeric(x, "x")
    n = num_samples(x)
    y = np.asarray(y)
    check_numeric(y, "y")
    if y.ndim == 0 or len(y) != n:
        raise ValueError(
            f"x has {n} samples but y has {'no sample axis' if y.ndim == 0 else len(y)}"
        )
    if n == 0:
        raise ValueError("fit needs at least one sample, got x with 0 samples")
    lengths = input_lengths(lengths, x)
    fraction = _checks.probability(validation_split, "validation_split")
    if validation_data is not None:
        val = unpack_validation(validation_data)
        check_numeric(val[0], "validation x")
        check_numeric(val[1], "validation y")
        return FitData(x, y, lengths, n, val)
    if not fraction:
        return FitData(x, y, lengths, n, None)
    split = int(n * (1.0 - fraction))
    if split < 1 or split >= n:
        raise ValueError(
            f"validation_split={validation_split} leaves no training or no "
            f"validation samples out of {n}"
        )
    rows_val, rows = slice(split, None), slice(0, split)
    val = (take(x, rows_val), y[rows_val], None if lengths is None else lengths[rows_val])
    return FitData(take(x, rows), y[rows], None if lengths is None else lengths[rows], split, val)
