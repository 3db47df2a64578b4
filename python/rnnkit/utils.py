"""Keras's ``keras.utils`` helpers that recurrent programs use: :func:`pad_sequences`,
:func:`to_categorical` and :func:`set_random_seed`, and the base classes of a batch feed,
``Sequence`` and ``PyDataset`` (from :mod:`rnnkit.training`, where ``fit`` reads them).

``pad_sequences`` and ``to_categorical`` follow Keras 3's results exactly for valid input; where
Keras silently changes data (float values cast into the default integer ``dtype``, a negative
class id turned into the last class) they raise instead, naming the argument.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import numpy as np

from . import _checks, _seeding
from .training.feeds import PyDataset, Sequence

__all__ = ["PyDataset", "Sequence", "pad_sequences", "set_random_seed", "to_categorical"]


# -- pad_sequences ------------------------------------------------------------------------------


def _target_dtype(dtype: Any) -> np.dtype:
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"pad_sequences: dtype must be a NumPy dtype (e.g. 'int32', 'float32', object), "
            f"got {dtype!r}"
        ) from None


def _fitted(values: np.ndarray, dtype: np.dtype, what: str) -> np.ndarray:
    """``values`` cast to ``dtype``, refusing a cast that would change them: text or objects
    into numbers (TypeError), fractions, non-finite values or out-of-range integers into an
    integer dtype (ValueError). ``what`` names the values in the message."""
    kind = values.dtype.kind
    if dtype.kind in "OUS":
        return values.astype(dtype)
    if kind in "USOcVMm":
        strings = kind in "US"
        hint = (
            "pass dtype=object (or 'str') to pad sequences of strings"
            if strings
            else "convert them to real numbers first, or pass dtype=object"
        )
        held = "strings" if strings else f"{values.dtype} values"
        raise TypeError(
            f"pad_sequences: {what} holds {held}, which dtype {dtype.name!r} cannot hold: {hint}"
        )
    if dtype.kind in "iu" and kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            example = values[bad].flat[0].item()
            raise ValueError(
                f"pad_sequences: {what} holds non-integer values (e.g. {example!r}) "
                f"but dtype is {dtype.name!r} (the default, made for token ids): pass "
                "dtype='float32' for real-valued sequences"
            )
    if dtype.kind in "iu" and kind in "iuf" and values.size:
        info = np.iinfo(dtype)
        low, high = values.min(), values.max()
        if low < info.min or high > info.max:
            raise ValueError(
                f"pad_sequences: {what} holds values in [{low}, {high}], outside the range of "
                f"dtype {dtype.name!r} [{info.min}, {info.max}]: pass a wider dtype"
            )
    return values.astype(dtype)


def _rows(sequences: Any) -> list[np.ndarray]:
    """Each sequence of ``sequences`` as an array (its first axis the time steps)."""
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Iterable):
        raise TypeError(
            "pad_sequences: sequences must be a list of sequences (lists or arrays), got "
            f"{type(sequences).__name__}"
        )
    rows = []
    for index, sequence in enumerate(sequences):
        try:
            len(sequence)
            row = np.asarray(sequence)
        except TypeError:
            row = None  # no length: a number, not a sequence
        except ValueError as exc:  # a ragged nested list
            raise ValueError(
                f"pad_sequences: sequences[{index}] is not a regular array of steps: {exc}"
            ) from None
        # A string has a length but is one token here, not a sequence of characters.
        if row is None or row.ndim == 0 or isinstance(sequence, (str, bytes)):
            raise ValueError(
                f"pad_sequences: sequences must be a list of sequences, but sequences[{index}] "
                f"is {type(sequence).__name__} {sequence!r}"
            )
        rows.append(row)
    return rows


def pad_sequences(
    sequences: Iterable[Any],
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Pad (and truncate) a list of sequences to one ``(N, maxlen, ...)`` array, as Keras's
    ``keras.utils.pad_sequences``.

    Args:
        sequences: N sequences (lists or arrays); each step may itself be an array, of one
            shape for every sequence (taken from the first non-empty one).
        maxlen: the length of the result; None: the longest sequence's.
        dtype: the result's dtype. The default ``"int32"`` is for token ids: real values
            would lose their fractions, so they raise ValueError (Keras truncates them
            silently); pass ``"float32"`` for series, ``object`` for strings.
        padding: ``"pre"`` (Keras's default: pad before each sequence) or ``"post"`` (after).
            rnnkit's masks (``Embedding(mask_zero=True)``, ``Masking``) need ``"post"``.
        truncating: ``"pre"`` (drop the first steps of a longer sequence) or ``"post"`` (the
            last ones).
        value: the padding value (``0.0``; a string only with a string or object ``dtype``).

    Returns:
        ``(N, maxlen) + step_shape`` array of ``dtype``; an empty sequence is all padding.

    Raises:
        ValueError: a bad ``padding``/``truncating``/``maxlen``, a sequence that is not a list
            of steps, steps of another shape than the first sequence's, values that ``dtype``
            would change (fractions or out-of-range numbers into integers).
        TypeError: ``sequences`` not a list, an unknown ``dtype``, strings into numbers.
    """
    padding = _checks.choice(padding, "padding", ("pre", "post"), where="pad_sequences: ")
    truncating = _checks.choice(truncating, "truncating", ("pre", "post"), where="pad_sequences: ")
    target = _target_dtype(dtype)
    if isinstance(value, str) and target.kind not in "OUS":
        raise ValueError(
            f"pad_sequences: value {value!r} is a string but dtype is {target.name!r}: pass "
            "dtype=object (or 'str') to pad sequences of strings"
        )
    rows = _rows(sequences)
    if maxlen is None:
        maxlen = max((len(row) for row in rows), default=0)
    maxlen = _checks.non_negative_int(maxlen, "maxlen", where="pad_sequences: ")
    step_shape = next((row.shape[1:] for row in rows if len(row)), ())
    fill = _fitted(np.asarray(value), target, "value")
    out = np.full((len(rows), maxlen, *step_shape), fill, dtype=target)
    for index, row in enumerate(rows):
        if row.shape[1:] != step_shape and len(row):
            raise ValueError(
                f"pad_sequences: the steps of sequences[{index}] have shape {row.shape[1:]}, "
                f"those of the first non-empty sequence {step_shape}"
            )
        kept = row[max(len(row) - maxlen, 0) :] if truncating == "pre" else row[:maxlen]
        if not len(kept):
            continue
        kept = _fitted(kept, target, f"sequences[{index}]")
        if padding == "post":
            out[index, : len(kept)] = kept
        else:
            out[index, maxlen - len(kept) :] = kept
    return out


# -- to_categorical -----------------------------------------------------------------------------


def to_categorical(y: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode the class ids ``y``, as Keras's ``keras.utils.to_categorical``: shape
    ``y.shape + (num_classes,)``, float64, where a trailing axis of size 1 (ids shaped
    ``(N, 1)``) is dropped first, so ``(N, 1)`` gives ``(N, num_classes)``.

    Args:
        y: integer class ids (a float array of whole numbers is accepted), any shape.
        num_classes: the number of classes; None: ``max(y) + 1``.

    Raises:
        TypeError: ids that are not numbers; ``num_classes`` not an int.
        ValueError: negative ids, fractions, ids ``>= num_classes`` (Keras would silently
            encode a negative id as one of the last classes), no ids and no ``num_classes``.
    """
    ids = np.asarray(y)
    if ids.dtype.kind == "f":
        if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
            raise ValueError("to_categorical: y must hold integer class ids, got fractions")
    elif ids.dtype.kind not in "biu":
        raise TypeError(f"to_categorical: y must hold integer class ids, got dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    shape = ids.shape[:-1] if ids.ndim > 1 and ids.shape[-1] == 1 else ids.shape
    if ids.size and ids.min() < 0:
        raise ValueError(
            f"to_categorical: class ids must be non-negative, got values in "
            f"[{ids.min()}, {ids.max()}]"
        )
    if num_classes is None:
        if not ids.size:
            raise ValueError("to_categorical: y holds no ids; pass num_classes")
        num_classes = int(ids.max()) + 1
    num_classes = _checks.positive_int(num_classes, "num_classes", where="to_categorical: ")
    if ids.size and ids.max() >= num_classes:
        raise ValueError(
            f"to_categorical: class ids must lie in [0, num_classes) = [0, {num_classes}), "
            f"got values in [{ids.min()}, {ids.max()}]"
        )
    flat = ids.reshape(-1)
    out = np.zeros((flat.size, num_classes))
    out[np.arange(flat.size), flat] = 1.0
    return out.reshape((*shape, num_classes))


# -- seeds --------------------------------------------------------------------------------------


def set_random_seed(seed: int) -> None:
    """Seed everything rnnkit draws from when no explicit seed is given, as Keras's
    ``keras.utils.set_random_seed``: Python's ``random``, NumPy's global generator
    (``np.random.seed``, which user code often draws its data from) and rnnkit's default seeds
    (:func:`rnnkit.layers.set_random_seed`: the initial weights and dropout masks of layers made
    with ``seed=None``, :func:`rnnkit.generate`'s sampling, and the shuffling of each
    ``fit(seed=None)``). Layers made and fits run after the call are then reproducible.

    Raises:
        TypeError / ValueError: ``seed`` not an int in ``[0, 2**32)`` (NumPy's global seed
            range).
    """
    seed = _checks.integer(seed, "seed", minimum=0, maximum=2**32 - 1, where="set_random_seed: ")
    random.seed(seed)
    # The legacy global generator on purpose: user code draws its data from np.random.*.
    np.random.seed(seed)  # noqa: NPY002
    _seeding.set_random_seed(seed)
