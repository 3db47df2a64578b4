"""Functional API over the C++ kernels: one call per sequence batch, NumPy in, NumPy out.

Shapes (batch-first)::

    x (N, T, D)   Wx (D, H)   Wh (H, H)   b (H,)   h0 (N, H)   hs (N, T, H)   h_last (N, H)

Cell: ``h_t = f(x_t @ Wx + h_{t-1} @ Wh + b)`` with ``f`` in {"tanh", "relu"}. The computation
dtype is the weights' (float32 or float64; ``Wx``, ``Wh`` and ``b`` must agree); every other input
is converted to it once. ``rnnkit.reference`` holds the same two functions in plain NumPy.
"""

from __future__ import annotations

import importlib
import operator
from types import ModuleType
from typing import Literal, NamedTuple

import numpy as np

from ._lengths import check_lengths
from ._native import _core

Activation = Literal["tanh", "relu"]
ACTIVATIONS: tuple[str, ...] = ("tanh", "relu")
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class RNNCache(NamedTuple):
    """What :func:`rnn_backward` needs from a forward pass: the converted inputs and ``hs``.

    A NamedTuple rather than a frozen dataclass: as immutable, at a third of the cost per call.
    """

    x: np.ndarray
    Wx: np.ndarray
    Wh: np.ndarray
    b: np.ndarray
    h0: np.ndarray | None
    hs: np.ndarray
    lengths: np.ndarray | None
    activation: str


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _require_shape(name: str, array: np.ndarray, expected: tuple, legend: str) -> None:
    """Raise ValueError naming ``name`` unless ``array.shape`` matches ``expected`` (None = any).

    ``legend`` may hold ``{}`` fields filled from ``expected``, so the message costs nothing when
    the shape is right (these checks run on every call of a kernel that can take microseconds).
    """
    shape = array.shape
    if len(shape) == len(expected):
        for got, want in zip(shape, expected):
            if want is not None and got != want:
                break
        else:
            return
    raise ValueError(f"{name} must have shape {legend.format(*expected)}, got {_shape_text(shape)}")


def _float_input(name: str, value: object, dtype: np.dtype) -> np.ndarray:
    """``value`` as a C-contiguous array of ``dtype``; copies only when it must."""
    if type(value) is np.ndarray and value.dtype == dtype and value.flags.c_contiguous:
        return value  # the common case, without conversion calls
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=dtype)


def _weight_arrays(Wx: object, Wh: object, b: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The weights as C-contiguous arrays of their shared float dtype, or TypeError."""
    if (
        all(type(w) is np.ndarray and w.flags.c_contiguous for w in (Wx, Wh, b))
        and Wx.dtype == Wh.dtype == b.dtype
        and Wx.dtype in FLOAT_DTYPES
    ):
        return Wx, Wh, b  # the common case, without conversion calls
    Wx, Wh, b = (_native_byte_order(np.asarray(w)) for w in (Wx, Wh, b))
    dtype = Wx.dtype
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"Wx must have dtype float32 or float64, got {dtype}")
    for name, w in (("Wh", Wh), ("b", b)):
        if w.dtype != dtype:
            raise TypeError(
                f"{name} has dtype {w.dtype} but Wx has {dtype}: "
                "Wx, Wh and b must share one dtype (float32 or float64)"
            )
    return np.ascontiguousarray(Wx), np.ascontiguousarray(Wh), np.ascontiguousarray(b)


def _native_byte_order(array: np.ndarray) -> np.ndarray:
    """Big-endian float32/float64 (e.g. read from a file) as the same values in native order."""
    if array.dtype.kind == "f" and not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    return array


def _activation_input(activation: object) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return str(activation)


def rnn_forward(
    x: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    h0: np.ndarray | None = None,
    activation: Activation = "tanh",
    lengths: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, RNNCache]:
    """Run a vanilla RNN layer over whole sequences.

    Args:
        x: inputs ``(N, T, D)``.
        Wx: input weights ``(D, H)``; its dtype (float32/float64) is the computation dtype.
        Wh: recurrent weights ``(H, H)``.
        b: bias ``(H,)``.
        h0: initial state ``(N, H)``; None means zeros.
        activation: "tanh" or "relu".
        lengths: ``(N,)`` valid steps per sample (0..T). Padded steps keep the state, output
            zeros and get no gradient; ``h_last`` is the state after the last valid step.

    Returns:
        ``(hs, h_last, cache)``: all hidden states ``(N, T, H)``, the final state ``(N, H)``, and
        the cache :func:`rnn_backward` takes.
    """
    activation = _activation_input(activation)
    Wx, Wh, b = _weight_arrays(Wx, Wh, b)
    dtype = Wx.dtype
    x = _float_input("x", x, dtype)
    _require_shape("x", x, (None, None, None), "(N, T, D)")
    n, t, d = x.shape
    _require_shape("Wx", Wx, (d, None), "(D, H) with D = x.shape[2] = {}")
    h = Wx.shape[1]
    _require_shape("Wh", Wh, (h, h), "(H, H) = ({}, {}) to match Wx")
    _require_shape("b", b, (h,), "(H,) = ({},) to match Wx")
    if h0 is not None:
        h0 = _float_input("h0", h0, dtype)
        _require_shape("h0", h0, (n, h), "(N, H) = ({}, {})")
    if lengths is not None:
        lengths = np.ascontiguousarray(check_lengths(lengths, n, t))
    hs, h_last = _core.rnn_forward(x, Wx, Wh, b, h0, lengths, activation)
    return hs, h_last, RNNCache(x, Wx, Wh, b, h0, hs, lengths, activation)


def _truncate_input(truncate: object, steps: int) -> int:
    """The kernel's cut interval: 0 for full BPTT, which any ``k >= T`` also amounts to."""
    if truncate is None:
        return 0
    if isinstance(truncate, bool):
        raise TypeError("truncate must be None or a positive int, got bool")
    try:
        k = operator.index(truncate)
    except TypeError:
        raise TypeError(
            f"truncate must be None or a positive int, got {type(truncate).__name__}"
        ) from None
    if k < 1:
        raise ValueError(f"truncate must be None or a positive int, got {k}")
    return 0 if k >= steps else k


def rnn_backward(
    cache: RNNCache,
    dhs: np.ndarray | None = None,
    dh_last: np.ndarray | None = None,
    truncate: int | None = None,
) -> dict[str, np.ndarray]:
    """Backpropagate through a forward pass.

    Args:
        cache: what :func:`rnn_forward` returned.
        dhs: gradient of the loss with respect to ``hs``, ``(N, T, H)``; None means zeros.
        dh_last: gradient with respect to ``h_last``, ``(N, H)``; None means zeros.
        truncate: ``k`` for truncated BPTT: the gradient through ``h`` is cut between steps
            ``t-1`` and ``t`` whenever ``t`` is a positive multiple of ``k`` (counted from the
            start of the sequence); the forward pass is untouched. None means full BPTT.

    Returns:
        Gradients ``{"x", "Wx", "Wh", "b", "h0"}``, each shaped like its input (``h0``'s is
        ``(N, H)`` even when no ``h0`` was given).
    """
    if not isinstance(cache, RNNCache):
        raise TypeError(
            f"cache must be the RNNCache rnn_forward returned, got {type(cache).__name__}"
        )
    n, t, h = cache.hs.shape
    dtype = cache.Wx.dtype
    if dhs is not None:
        dhs = _float_input("dhs", dhs, dtype)
        _require_shape("dhs", dhs, (n, t, h), "(N, T, H) = ({}, {}, {}) like hs")
    if dh_last is not None:
        dh_last = _float_input("dh_last", dh_last, dtype)
        _require_shape("dh_last", dh_last, (n, h), "(N, H) = ({}, {}) like h_last")
    k = _truncate_input(truncate, t)
    dx, dWx, dWh, db, dh0 = _core.rnn_backward(
        dhs,
        dh_last,
        cache.x,
        cache.Wx,
        cache.Wh,
        cache.h0,
        cache.hs,
        cache.lengths,
        cache.activation,
        k,
    )
    return {"x": dx, "Wx": dWx, "Wh": dWh, "b": db, "h0": dh0}


Backend = Literal["cpp", "numpy"]
BACKENDS: tuple[str, ...] = ("cpp", "numpy")


def get_backend(name: str) -> ModuleType:
    """The module whose kernels a recurrent layer calls: ``"cpp"`` is :mod:`rnnkit.ops` (the C++
    engine), ``"numpy"`` is :mod:`rnnkit.reference` (plain NumPy, one step at a time). Both
    expose the same functions with the same signatures (``rnn_forward``, ``rnn_backward``)."""
    if name == "cpp":
        return importlib.import_module(__name__)
    if name == "numpy":
        return importlib.import_module(f"{__package__}.reference")
    raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
