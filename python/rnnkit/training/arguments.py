"""The Trainer's data arguments: data arrays, masks and validation data, through the checks of
:mod:`rnnkit._checks`, so ``fit``, ``evaluate`` and ``compute_gradients`` refuse a mistake the
way the layers and the kernels do."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import _checks
from ..network import Inputs, input_lengths, num_samples, take
from .sources import BatchSequence, is_feed
from .weights import fit_sample_weights, sample_weights

__all__ = [
    "FitData",
    "FitOptions",
    "Validation",
    "check_numeric",
    "prepare_fit_data",
    "targets",
    "unpack_validation",
]


def check_numeric(value: Any, what: str) -> None:
    """TypeError naming ``what`` unless ``value`` (an array, or a list/tuple/dict of arrays for
    several inputs or outputs) holds real numbers: bool, integer or float dtype."""
    if isinstance(value, dict):
        value = list(value.values())
    parts = value if isinstance(value, (list, tuple)) else [value]
    for part in parts:
        _checks.real_array(part, what)


def targets(y: Any, n: int, what: str = "y") -> Any:
    """``y`` checked against ``n`` samples: one array, or (a model of several outputs) a
    list/tuple of NumPy arrays or a dict of arrays. ValueError when a sample count differs."""
    if isinstance(y, dict):
        y = {key: np.asarray(value) for key, value in y.items()}
        parts = list(y.values())
    elif isinstance(y, (list, tuple)) and y and all(isinstance(p, np.ndarray) for p in y):
        # Several target arrays, Keras's form for several outputs (a nested list of numbers
        # is one array, as before).
        y = list(y)
        parts = y
    else:
        y = np.asarray(y)
        parts = [y]
    check_numeric(parts, what)
    for part in parts:
        if part.ndim == 0 or len(part) != n:
            got = "no sample axis" if part.ndim == 0 else len(part)
            raise ValueError(f"x has {n} samples but {what} has {got}")
    return y


class Validation(NamedTuple):
    """Validation data after the checks: inputs, targets, lengths and sample weights; or a
    generator/Sequence as ``x`` (``y`` None) with the number of batches to take, ``steps``."""

    x: Any
    y: Any
    lengths: np.ndarray | None
    sample_weight: np.ndarray | None
    steps: int | None = None


def unpack_validation(
    data: Any,
    validation_lengths: Any = None,
    masked_training: bool = False,
    validation_steps: int | None = None,
) -> Validation:
    """``validation_data`` as Keras reads it, ``(x_val, y_val)`` or ``(x_val, y_val,
    val_sample_weight)``, with the lengths from ``validation_lengths``; or a generator or
    Sequence of batches, ``validation_steps`` of them per evaluation (all of a Sequence by
    default; a generator needs it, since each epoch's evaluation continues where the last one
    stopped).

    The third element was the lengths before rnnkit followed Keras here; such a call (a
    3-tuple while training with ``lengths`` and no ``validation_lengths``) is refused rather
    than read as weights.
    """
    if is_feed(data):
        if validation_lengths is not None:
            raise ValueError("validation_lengths needs array validation_data")
        if validation_steps is None and not isinstance(data, BatchSequence):
            raise ValueError(
                "validation_data is a generator, so fit needs validation_steps (the batches "
                "to evaluate each epoch); a Sequence is evaluated whole"
            )
        return Validation(data, None, None, None, validation_steps)
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError(
            "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
            "val_sample_weight); pass the validation lengths as validation_lengths="
        )
    x_val, y_val = data[0], data[1]
    check_numeric(x_val, "validation x")
    check_numeric(y_val, "validation y")
    if len(data) == 3 and masked_training and validation_lengths is None:
        raise ValueError(
            "validation_data=(x_val, y_val, w): the third element is the validation sample "
            "weights (Keras's meaning), not lengths; this fit masks its training data with "
            "lengths, so pass the validation lengths as validation_lengths=... (and the "
            "weights, if you meant weights, as the third element)"
        )
    n = num_samples(x_val)
    weights = sample_weights(data[2] if len(data) == 3 else None, n, "validation sample_weight")
    return Validation(x_val, y_val, input_lengths(validation_lengths, x_val), weights)


class FitData(NamedTuple):
    """``fit``'s training data after the checks, and its validation data (or None)."""

    x: Inputs
    y: Any  # an array, or a list/dict of arrays (several outputs)
    lengths: np.ndarray | None
    sample_weight: np.ndarray | None
    n: int
    validation: Validation | None


class FitOptions(NamedTuple):
    """``fit``'s weighting and validation options, passed on together."""

    sample_weight: Any = None
    class_weight: Any = None
    validation_lengths: Any = None
    validation_steps: int | None = None


def prepare_fit_data(
    x: Inputs,
    y: Any,
    lengths: Any,
    validation_data: Any,
    validation_split: float,
    options: FitOptions | None = None,
) -> FitData:
    """Check ``fit``'s data and hold out its validation part: ``validation_data`` when given,
    else the last ``validation_split`` of the samples (taken before shuffling, as Keras),
    sample weights included."""
    options = options or FitOptions()
    check_numeric(x, "x")
    n = num_samples(x)
    y = targets(y, n)
    if n == 0:
        raise ValueError("fit needs at least one sample, got x with 0 samples")
    lengths = input_lengths(lengths, x)
    weights = fit_sample_weights(y, options.sample_weight, options.class_weight)
    fraction = _checks.probability(validation_split, "validation_split")
    if validation_data is not None:
        val = unpack_validation(
            validation_data,
            options.validation_lengths,
            lengths is not None,
            options.validation_steps,
        )
        return FitData(x, y, lengths, weights, n, val)
    if options.validation_lengths is not None:
        raise ValueError("validation_lengths needs validation_data")
    if not fraction:
        return FitData(x, y, lengths, weights, n, None)
    split = int(n * (1.0 - fraction))
    if split < 1 or split >= n:
        raise ValueError(
            f"validation_split={validation_split} leaves no training or no "
            f"validation samples out of {n}"
        )
    rows_val, rows = slice(split, None), slice(0, split)

    def part(a: np.ndarray | None, rows: slice) -> np.ndarray | None:
        return None if a is None else a[rows]

    val = Validation(
        take(x, rows_val), take(y, rows_val), part(lengths, rows_val), part(weights, rows_val)
    )
    return FitData(
        take(x, rows), take(y, rows), part(lengths, rows), part(weights, rows), split, val
    )
