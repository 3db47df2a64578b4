"""A fast plain-NumPy RNN layer: the NumPy side of the benchmarks.

Unlike :mod:`rnnkit.reference` (one readable step at a time, the test oracle), this is the best
NumPy formulation we know (docs/performance.md, "The NumPy anchor"), so that comparisons against
it do not flatter rnnkit: the input projection of all steps is one GEMM, each step does one GEMM
and an in-place tanh into preallocated time-major buffers, and the weight gradients are single
GEMMs over all steps.
Only what the benchmark needs: tanh, no h0, no lengths, gradients from ``dhs``.
"""

from __future__ import annotations

import numpy as np


def forward(x: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hidden states, time-major ``(T, N, H)``, of ``x`` ``(N, T, D)``."""
    n, t, d = x.shape
    h = Wh.shape[0]
    # Time-major so that each step's rows are contiguous for the per-step GEMM.
    hs = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(t * n, d) @ Wx
    hs += b
    hs = hs.reshape(t, n, h)
    step = np.empty((n, h), dtype=hs.dtype)
    np.tanh(hs[0], out=hs[0])
    for i in range(1, t):
        np.matmul(hs[i - 1], Wh, out=step)
        hs[i] += step
        np.tanh(hs[i], out=hs[i])
    return hs


def backward(
    x: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, hs: np.ndarray, dhs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(dx, dWx, dWh, db)`` given time-major ``hs`` from :func:`forward` and ``dhs`` (N, T, H)."""
    n, t, d = x.shape
    h = Wh.shape[0]
    # A copy that becomes dL/da in place, step by step (for N = 1 the transpose alone would be a
    # contiguous view of the caller's dhs).
    dA = dhs.transpose(1, 0, 2).copy()
    carry = np.zeros((n, h), dtype=hs.dtype)
    deriv = np.empty((n, h), dtype=hs.dtype)
    for i in range(t - 1, -1, -1):
        dA[i] += carry
        np.multiply(hs[i], hs[i], out=deriv)
        np.subtract(1, deriv, out=deriv)
        dA[i] *= deriv
        np.matmul(dA[i], Wh.T, out=carry)
    flat_dA = dA.reshape(t * n, h)
    x_tm = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(t * n, d)
    dWx = x_tm.T @ flat_dA
    # h_{t-1} for steps 1..T-1 pairs with dA of steps 1..T-1; h0 is zero, so step 0 adds nothing.
    dWh = hs[:-1].reshape((t - 1) * n, h).T @ dA[1:].reshape((t - 1) * n, h)
    db = flat_dA.sum(axis=0)
    dx = (flat_dA @ Wx.T).reshape(t, n, d).transpose(1, 0, 2)
    return dx, dWx, dWh, db
