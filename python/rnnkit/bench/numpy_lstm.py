"""A fast plain-NumPy LSTM layer: the NumPy side of ``python -m rnnkit bench --cell lstm``.

Keras's LSTM (gates i, f, c, o; ``Wx (D, 4H)``, ``Wh (H, 4H)``, ``b (4H,)``; tanh and sigmoid),
written as fast as we know how in NumPy so that the comparison does not flatter rnnkit:

* the input projection of all steps is one GEMM into a time-major buffer, so each step's rows
  are contiguous and its one GEMM over all four gates adds straight into them;
* σ(a) = ½·tanh(a/2) + ½: the sigmoid gates' columns of the weights are halved once per call
  (exact, a power of two), so a single in-place tanh and one multiply-add activate all four
  gates of a step;
* the backward's per-gate factors (derivatives times the other operand) depend on the forward
  alone, so they are computed for all steps in a few vectorised passes and each step of the
  time loop is a handful of in-place multiplies and one GEMM;
* the weight gradients are single GEMMs over all steps.

Only what the benchmark needs: no h0/c0, no lengths, gradients from ``dhs``.
:mod:`rnnkit.reference.lstm` is the readable twin.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .numpy_rnn import time_major_rows

__all__ = ["LSTMForward", "backward", "forward"]


class LSTMForward(NamedTuple):
    """What :func:`backward` needs from :func:`forward` (time-major arrays)."""

    x_rows: np.ndarray  # (T·N, D)
    Wx: np.ndarray  # (D, 4H)
    Wh: np.ndarray  # (H, 4H)
    gates: np.ndarray  # (T, N, 4H) activated gates i, f, g, o
    cs: np.ndarray  # (T, N, H) cell states
    tanh_cs: np.ndarray  # (T, N, H) tanh of the cell states
    hs: np.ndarray  # (T, N, H) hidden states


def _gate_affine(h: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (scale, offset) over the 4H gate columns: ½ and ½ for the sigmoid gates i, f, o,
    1 and 0 for the candidate g. The scale halves the weights' sigmoid columns, and after the
    step's tanh, ``scale·y + offset`` turns those columns into sigmoids."""
    scale = np.repeat(np.array([0.5, 0.5, 1.0, 0.5], dtype=dtype), h)
    offset = np.repeat(np.array([0.5, 0.5, 0.0, 0.5], dtype=dtype), h)
    return scale, offset


def forward(x: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> LSTMForward:
    """The layer over ``x`` (N, T, D) from zero states; ``hs`` of the result is (T, N, H)."""
    n, t, _ = x.shape
    h = Wh.shape[0]
    scale, offset = _gate_affine(h, Wx.dtype)
    x_rows = time_major_rows(x)
    gates = x_rows @ (Wx * scale)
    gates += b * scale
    gates = gates.reshape(t, n, 4 * h)
    Wh_scaled = Wh * scale
    cs = np.empty((t, n, h), dtype=gates.dtype)
    tanh_cs = np.empty_like(cs)
    hs = np.empty_like(cs)
    product = np.empty((n, 4 * h), dtype=gates.dtype)
    forget = np.empty((n, h), dtype=gates.dtype)
    for s in range(t):
        z = gates[s]
        if s:
            np.matmul(hs[s - 1], Wh_scaled, out=product)
            z += product
        np.tanh(z, out=z)
        z *= scale
        z += offset
        i, f, g, o = z[:, :h], z[:, h : 2 * h], z[:, 2 * h : 3 * h], z[:, 3 * h :]
        np.multiply(i, g, out=cs[s])
        if s:
            np.multiply(f, cs[s - 1], out=forget)
            cs[s] += forget
        np.tanh(cs[s], out=tanh_cs[s])
        np.multiply(o, tanh_cs[s], out=hs[s])
    return LSTMForward(x_rows, Wx, Wh, gates, cs, tanh_cs, hs)


def _gate_factors(fwd: LSTMForward) -> tuple[np.ndarray, np.ndarray]:
    """For all steps at once: ``factors`` (T, N, 4, H) with ``dz_{i,f,g} = dc·factors[..., :3, :]``
    and ``dz_o = dh·factors[..., 3, :]``, and ``dc_from_h`` (T, N, H) with
    ``dc = dc_later + dh·dc_from_h``."""
    t, n, h = fwd.hs.shape
    gates = fwd.gates.reshape(t, n, 4, h)
    i, g = gates[:, :, 0], gates[:, :, 2]
    factors = np.subtract(1, gates)
    factors *= gates  # σ′ = σ(1 − σ) in the i, f and o blocks; g's block is replaced below
    factors[:, :, 0] *= g  # dz_i = dc·g·σ′(i)
    factors[1:, :, 1] *= fwd.cs[:-1]  # dz_f = dc·c_{t−1}·σ′(f); c_{−1} = 0
    factors[0, :, 1] = 0
    tanh_g = factors[:, :, 2]
    np.multiply(g, g, out=tanh_g)
    np.subtract(1, tanh_g, out=tanh_g)
    tanh_g *= i  # dz_g = dc·i·(1 − g²)
    factors[:, :, 3] *= fwd.tanh_cs  # dz_o = dh·tanh(c)·σ′(o)
    dc_from_h = np.multiply(fwd.tanh_cs, fwd.tanh_cs)
    np.subtract(1, dc_from_h, out=dc_from_h)
    dc_from_h *= gates[:, :, 3]  # o·(1 − tanh²(c))
    return factors, dc_from_h


def backward(
    fwd: LSTMForward, dhs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(dx, dWx, dWh, db)`` of the pass ``fwd`` given ``dhs`` (N, T, H); ``dx`` is (N, T, D)."""
    t, n, h = fwd.hs.shape
    d = fwd.x_rows.shape[1]
    factors, dc_from_h = _gate_factors(fwd)
    forget = fwd.gates.reshape(t, n, 4, h)[:, :, 1]
    dH = dhs.transpose(1, 0, 2).copy()  # becomes each step's whole dh in place
    dZ = np.empty((t, n, 4, h), dtype=fwd.hs.dtype)
    WhT = np.ascontiguousarray(fwd.Wh.T)  # BLAS's transposed orientation is slower on small GEMMs
    dc = np.empty((n, h), dtype=fwd.hs.dtype)
    dc_later = np.empty_like(dc)
    dh_later = np.empty_like(dc)
    for s in range(t - 1, -1, -1):
        dh = dH[s]
        if s < t - 1:
            dh += dh_later
        np.multiply(dh, dc_from_h[s], out=dc)
        if s < t - 1:
            dc += dc_later
        np.multiply(factors[s, :, :3], dc[:, None, :], out=dZ[s, :, :3])
        np.multiply(factors[s, :, 3], dh, out=dZ[s, :, 3])
        if s:
            np.multiply(dc, forget[s], out=dc_later)
            np.matmul(dZ[s].reshape(n, 4 * h), WhT, out=dh_later)
    flat_dZ = dZ.reshape(t * n, 4 * h)
    dWx = fwd.x_rows.T @ flat_dZ
    # h_{t−1} of steps 1..T−1 pairs with their dZ; h_{−1} = 0, so step 0 adds nothing.
    dWh = fwd.hs[:-1].reshape((t - 1) * n, h).T @ dZ[1:].reshape((t - 1) * n, 4 * h)
    db = flat_dZ.sum(axis=0)
    dx = (flat_dZ @ fwd.Wx.T).reshape(t, n, d).transpose(1, 0, 2)
    return dx, dWx, dWh, db
