"""Argument checks shared by every entry point (ops, layers, models, Trainer, fit_stream), so the
same mistake raises the same exception with the same wording wherever it is made.

The rule: a value of the wrong *type* (a float or a bool where an int is expected, a float array
as ``lengths``, a string where a number is expected) raises ``TypeError``; a value of the right
type but out of range, of the wrong shape or not among the allowed names raises ``ValueError``.
Messages read ``"<where><name> must be <what>, got <value>"``; ``where`` names the caller when
the argument name alone would be ambiguous (``"layer 'rnn': "``, ``"Dense: "``).

Every check here is cheap on the common path (a valid value): some run on every kernel call.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "choice",
    "integer",
    "lengths",
    "non_negative_int",
    "non_negative_real",
    "optional_positive_int",
    "optional_positive_real",
    "positive_int",
    "positive_real",
    "probability",
    "real_array",
    "real_number",
    "verbosity",
]


def integer(
    value: Any,
    name: str,
    minimum: int | None = None,
    maximum: int | None = None,
    where: str = "",
) -> int:
    """``value`` as an ``int`` (Python or NumPy integers; never a bool or a float), in
    ``[minimum, maximum]`` where given."""
    what = _integer_range_text(minimum, maximum)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}{name} must be {what}, got {_shown(value)}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{where}{name} must be {what}, got {_shown(value)}") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ValueError(f"{where}{name} must be {what}, got {number}")
    return number


def positive_int(value: Any, name: str, where: str = "") -> int:
    """An int of 1 or more."""
    return integer(value, name, minimum=1, where=where)


def non_negative_int(value: Any, name: str, where: str = "") -> int:
    """An int of 0 or more."""
    return integer(value, name, minimum=0, where=where)


def optional_positive_int(value: Any, name: str, where: str = "") -> int | None:
    """None, or an int of 1 or more."""
    return None if value is None else positive_int(value, name, where)


def verbosity(value: Any) -> int:
    """Keras's ``verbose``: 0 (silent), 1 (a progress bar) or 2 (one line per epoch)."""
    return integer(value, "verbose", minimum=0, maximum=2)


def real_number(value: Any, name: str, where: str = "") -> float:
    """A finite real number (int or float, Python or NumPy; not a bool) as a float."""
    number = _real(value, name, "a real number", where)
    if not math.isfinite(number):
        raise ValueError(f"{where}{name} must be a finite real number, got {number!r}")
    return number


def positive_real(value: Any, name: str, where: str = "") -> float:
    """A finite real number above 0 as a float: a clipping threshold, a decay interval."""
    what = "a positive real number"
    number = _real(value, name, what, where)
    if not (0.0 < number < math.inf):
        raise ValueError(f"{where}{name} must be {what}, got {number!r}")
    return number


def optional_positive_real(value: Any, name: str, where: str = "") -> float | None:
    """None, or a finite real number above 0."""
    return None if value is None else positive_real(value, name, where)


def non_negative_real(value: Any, name: str, where: str = "") -> float:
    """A finite real number of 0 or more as a float: a learning rate, a temperature."""
    what = "a non-negative real number"
    number = _real(value, name, what, where)
    if not (0.0 <= number < math.inf):
        raise ValueError(f"{where}{name} must be {what}, got {number!r}")
    return number


def probability(value: Any, name: str, allow_one: bool = False, where: str = "") -> float:
    """A real number in ``[0, 1)`` (``[0, 1]`` with ``allow_one``): a dropout rate, a quantile."""
    what = "a number in " + ("[0, 1]" if allow_one else "[0, 1)")
    number = _real(value, name, what, where)
    if not (0.0 <= number < 1.0 or (allow_one and number == 1.0)):
        raise ValueError(f"{where}{name} must be {what}, got {number!r}")
    return number


def choice(value: Any, name: str, allowed: Sequence[Any], where: str = "") -> Any:
    """``value`` itself when it is one of ``allowed`` (names of activations, merge modes, ...)."""
    try:
        if value in allowed:
            return value
    except TypeError:  # unhashable or incomparable: not one of them
        pass
    raise ValueError(f"{where}{name} must be one of {tuple(allowed)}, got {_plain(value)!r}")


def real_array(value: Any, name: str, where: str = "") -> np.ndarray:
    """``value`` as an array of real numbers (bool, integer or float dtype), not converted."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}{name} must hold real numbers, got dtype {array.dtype}")
    return array


def lengths(value: Any, n: int, t: int | None, where: str = "") -> np.ndarray | None:
    """``lengths`` (valid leading steps per sample) as an int64 ``(n,)`` array of values in
    ``[0, t]``, or None for None. ``t=None`` (the number of steps is not known yet, e.g. for a
    model with several inputs) checks only that no value is negative."""
    if value is None:
        return None
    lens = np.asarray(value)
    if lens.dtype.kind not in "iu":
        raise TypeError(f"{where}lengths must hold integers, got dtype {lens.dtype}")
    if lens.shape != (n,):
        raise ValueError(f"{where}lengths must have shape (N,) = ({n},), got {lens.shape}")
    if n and (lens.min() < 0 or (t is not None and lens.max() > t)):
        bound = "[0, T]" if t is None else f"[0, T] = [0, {t}]"
        raise ValueError(
            f"{where}lengths must lie in {bound}, got values in [{lens.min()}, {lens.max()}]"
        )
    return lens.astype(np.int64, copy=False)


def step_mask(value: Any, n: int, t: int, where: str = "") -> np.ndarray | None:
    """A Keras step mask as a bool ``(n, t)`` array (True where a step is valid), or None for
    None. Booleans, or integers that are all 0 or 1."""
    if value is None:
        return None
    mask = np.asarray(value)
    if mask.dtype.kind not in "biu":
        raise TypeError(f"{where}mask must hold booleans (or 0/1 integers), got dtype {mask.dtype}")
    if mask.shape != (n, t):
        raise ValueError(f"{where}mask must have shape (N, T) = ({n}, {t}), got {mask.shape}")
    if mask.dtype.kind != "b":
        if mask.size and (mask.min() < 0 or mask.max() > 1):
            raise ValueError(
                f"{where}mask must hold only 0 and 1, got values in [{mask.min()}, {mask.max()}]"
            )
        mask = mask.astype(bool)
    return mask


def _real(value: Any, name: str, what: str, where: str) -> float:
    """``value`` as a float when it is a real number (int or float, Python or NumPy; not a
    bool); else TypeError saying it must be ``what``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{where}{name} must be {what}, got {_shown(value)}")
    return float(value)


def _plain(value: Any) -> Any:
    """NumPy scalars as the Python value they hold, so the same mistake reads the same whether
    it came as a Python or a NumPy scalar (``False``, not ``np.False_``)."""
    return value.item() if isinstance(value, np.generic) else value


def _shown(value: Any) -> str:
    """A value of the wrong type as messages show it: its (plain) type and repr."""
    value = _plain(value)
    return f"{type(value).__name__} {value!r}"


def _integer_range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum == 1 and maximum is None:
        return "a positive int"
    if minimum == 0 and maximum is None:
        return "a non-negative int"
    if minimum is not None and maximum is not None:
        return f"an int in [{minimum}, {maximum}]"
    if minimum is not None:
        return f"an int >= {minimum}"
    if maximum is not None:
        return f"an int <= {maximum}"
    return "an int"
