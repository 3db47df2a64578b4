"""Argument coercion for the Trainer's entry points: integers, data arrays, masks, validation
data. Each check raises the same exception type with the same wording wherever it is used
(``fit``, ``fit_stream``, ``evaluate``, ``compute_gradients``)."""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

import numpy as np

from ..network import Inputs, num_samples, take

__all__ = [
    "FitData",
    "check_lengths",
    "check_numeric",
    "int_arg",
    "prepare_fit_data",
    "unpack_validation",
]


def int_arg(value: Any, what: str, minimum: int = 1) -> int:
    """``value`` as an int (any integer type, not a bool): TypeError naming ``what`` for a
    bool, a float or anything else that is not an integer; ValueError below ``minimum``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an int, got the bool {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}") from None
    if number < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {number}")
    return number


def check_numeric(value: Any, what: str) -> None:
    """TypeError naming ``what`` unless ``value`` (an array, or a list/tuple of arrays for
    several inputs) holds numbers: bool, integer or float dtype."""
    parts = value if isinstance(value, (list, tuple)) else [value]
    for part in parts:
        dtype = np.asarray(part).dtype
        if dtype.kind not in "biuf":
            raise TypeError(
                f"{what} must hold numbers (a bool, int or float array), got an "
                f"array of dtype {dtype}"
            )


def check_lengths(lengths: Any, n: int) -> np.ndarray | None:
    """``lengths`` as an int64 ``(n,)`` array (None stays None); ValueError otherwise."""
    if lengths is None:
        return None
    lens = np.asarray(lengths)
    if lens.dtype.kind not in "iu" or lens.shape != (n,):
        raise ValueError(
            f"lengths must be an integer array of shape (N,) = ({n},), got "
            f"dtype {lens.dtype} and shape {lens.shape}"
        )
    return lens.astype(np.int64, copy=False)


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
    lengths = check_lengths(lengths, n)
    if validation_data is not None:
        val = unpack_validation(validation_data)
        check_numeric(val[0], "validation x")
        check_numeric(val[1], "validation y")
        return FitData(x, y, lengths, n, val)
    if not validation_split:
        return FitData(x, y, lengths, n, None)
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must lie in [0, 1), got {validation_split}")
    split = int(n * (1.0 - validation_split))
    if split < 1 or split >= n:
        raise ValueError(
            f"validation_split={validation_split} leaves no training or no "
            f"validation samples out of {n}"
        )
    rows_val, rows = slice(split, None), slice(0, split)
    val = (take(x, rows_val), y[rows_val], None if lengths is None else lengths[rows_val])
    return FitData(take(x, rows), y[rows], None if lengths is None else lengths[rows], split, val)
