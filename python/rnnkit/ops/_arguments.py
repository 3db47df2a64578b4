"""Argument conversion and checks of the functional kernels: arrays become C-contiguous arrays of
the weights' dtype, shapes are checked with messages that name the argument and the expected
shape. Cheap on the common path (ready arrays): these run on every kernel call, some of which take
microseconds."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import optional_positive_int, real_array

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def require_shape(name: str, array: np.ndarray, expected: tuple, legend: str) -> None:
    """Raise ValueError naming ``name`` unless ``array.shape`` matches ``expected`` (None = any).

    ``legend`` may hold ``{}`` fields filled from ``expected``, so the message costs nothing when
    the shape is right.
    """
    shape = array.shape
    if len(shape) == len(expected):
        for got, want in zip(shape, expected):
            if want is not None and got != want:
                break
        else:
            return
    raise ValueError(f"{name} must have shape {legend.format(*expected)}, got {shape_text(shape)}")


def kernel_layout(array: np.ndarray, dtype: Any = None) -> np.ndarray:
    """``array`` (as ``dtype``) C-contiguous and aligned, copied only when it is not: a
    contiguous view at a byte offset is misaligned, the kernels' loads from it would be
    undefined behaviour, and np.ascontiguousarray returns it unchanged."""
    return np.require(array, dtype=dtype, requirements=["C", "A"])


def kernel_ready(array: np.ndarray) -> bool:
    """Whether the kernels can read ``array`` as it is (C-contiguous and aligned)."""
    flags = array.flags
    return bool(flags.c_contiguous and flags.aligned)


def float_input(name: str, value: object, dtype: np.dtype) -> np.ndarray:
    """``value`` as a C-contiguous, aligned array of ``dtype``; copies only when it must."""
    if type(value) is np.ndarray and value.dtype == dtype and kernel_ready(value):
        return value  # the common case, without conversion calls
    return kernel_layout(real_array(value, name), dtype)


def weight_arrays(names: tuple[str, ...], weights: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
    """The weights as C-contiguous arrays of their shared float dtype (the first one's), or
    TypeError naming the one that differs."""
    first = weights[0]
    dtype = first.dtype if type(first) is np.ndarray else None
    if dtype in FLOAT_DTYPES:
        for w in weights:
            if type(w) is not np.ndarray or w.dtype != dtype or not kernel_ready(w):
                break
        else:
            return weights  # the common case, without conversion calls
    arrays = [native_byte_order(np.asarray(w)) for w in weights]
    dtype = arrays[0].dtype
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{names[0]} must have dtype float32 or float64, got {dtype}")
    for name, w in zip(names[1:], arrays[1:]):
        if w.dtype != dtype:
            raise TypeError(
                f"{name} has dtype {w.dtype} but {names[0]} has {dtype}: "
                f"{', '.join(names[:-1])} and {names[-1]} must share one dtype "
                "(float32 or float64)"
            )
    return tuple(kernel_layout(w) for w in arrays)


def native_byte_order(array: np.ndarray) -> np.ndarray:
    """Big-endian float32/float64 (e.g. read from a file) as the same values in native order."""
    if array.dtype.kind == "f" and not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    return array


def truncation(truncate: object, steps: int) -> int:
    """The kernel's cut interval: 0 for full BPTT, which any ``k >= T`` also amounts to."""
    k = optional_positive_int(truncate, "truncate")
    return 0 if k is None or k >= steps else k
