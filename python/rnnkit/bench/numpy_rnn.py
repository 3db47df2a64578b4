"""A fast plain-NumPy Elman RNN layer: the NumPy side of ``python -m rnnkit bench --cell rnn``.

Unlike :mod:`rnnkit.reference` (one readable step at a time, the test oracle), this is the best
NumPy formulation we know (docs/performance.md, "The NumPy anchor"), so that comparisons against
it do not flatter rnnkit: the input projection of all steps is one GEMM, each step does one GEMM
and an in-place tanh into preallocated time-major buffers, the derivatives of all steps are one
vectorised pass, and the weight gradients are single GEMMs over all steps.
Only what the benchmark needs: tanh, no h0, no lengths, gradients from ``dhs``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["RNNForward", "backward", "forward"]


class RNNForward(NamedTuple):
    """What :func:`backward` needs from :func:`forward`."""

    x_rows: np.ndarray  # (T·N, D) the input, time-major rows
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    hs: np.ndarray  # (T, N, H) hidden states, time-major


def time_major_rows(x: np.ndarray) -> np.ndarray:
    """``x`` (N, T, D) as a contiguous (T·N, D) array, step by step: each step's rows adjacent,
    so every per-step product reads and writes one contiguous block."""
    n, t, d = x.shape
    return np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(t * n, d)


def forward(x: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> RNNForward:
    """``h_t = tanh(x_t·Wx + h_{t−1}·Wh + b)`` for ``x`` (N, T, D) from ``h_{−1} = 0``."""
    n, t, _ = x.shape
    h = Wh.shape[0]
    x_rows = time_major_rows(x)
    hs = x_rows @ Wx
    hs += b
    hs = hs.reshape(t, n, h)
    product = np.empty((n, h), dtype=hs.dtype)
    np.tanh(hs[0], out=hs[0])
    for i in range(1, t):
        np.matmul(hs[i - 1], Wh, out=product)
        hs[i] += product
        np.tanh(hs[i], out=hs[i])
    return RNNForward(x_rows, Wx, Wh, hs)


def backward(
    fwd: RNNForward, dhs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(dx, dWx, dWh, db)`` of the pass ``fwd`` given ``dhs`` (N, T, H); ``dx`` is (N, T, D)."""
    x_rows, Wx, Wh, hs = fwd
    t, n, h = hs.shape
    d = x_rows.shape[1]
    # tanh′ = 1 − h² of every step in two passes, so that the time loop does one multiply.
    derivative = np.multiply(hs, hs)
    np.subtract(1, derivative, out=derivative)
    # A copy that becomes dL/da in place, step by step (for N = 1 the transpose alone would be a
    # contiguous view of the caller's dhs).
    dA = dhs.transpose(1, 0, 2).copy()
    WhT = np.ascontiguousarray(Wh.T)  # BLAS's transposed orientation is slower on small GEMMs
    carry = np.empty((n, h), dtype=hs.dtype)
    for i in range(t - 1, -1, -1):
        if i < t - 1:
            dA[i] += carry
        dA[i] *= derivative[i]
        if i:
            np.matmul(dA[i], WhT, out=carry)
    flat_dA = dA.reshape(t * n, h)
    dWx = x_rows.T @ flat_dA
    # h_{t-1} for steps 1..T-1 pairs with dA of steps 1..T-1; h0 is zero, so step 0 adds nothing.
    dWh = hs[:-1].reshape((t - 1) * n, h).T @ dA[1:].reshape((t - 1) * n, h)
    db = flat_dA.sum(axis=0)
    dx = (flat_dA @ Wx.T).reshape(t, n, d).transpose(1, 0, 2)
    return dx, dWx, dWh, db
