"""A fast plain-NumPy GRU layer: the NumPy side of ``python -m rnnkit bench --cell gru``.

Keras 3's GRU with ``reset_after=True`` (gates z, r, h; ``Wx (D, 3H)``, ``Wh (H, 3H)``,
``b (2, 3H)``: input bias row, then recurrent bias row; tanh and sigmoid)::

    X = x_t·Wx + b[0]    R = h_{t−1}·Wh + b[1]
    z = σ(X_z + R_z)   r = σ(X_r + R_r)   n = tanh(X_h + r·R_h)   h_t = z·h_{t−1} + (1 − z)·n

written as fast as we know how in NumPy so that the comparison does not flatter rnnkit: the
input projection of all steps is one GEMM into a time-major buffer; each step does one GEMM over
all three gates; σ(a) = ½·tanh(a/2) + ½ with the z and r columns of the weights halved once per
call (exact, a power of two), so one in-place tanh and a multiply-add activate both sigmoid gates;
the backward's per-gate factors are computed for all steps in vectorised passes, so each step of
the time loop is a few in-place multiplies and one GEMM; the weight gradients are single GEMMs
over all steps. Only what the benchmark needs: no h0, no lengths, gradients from ``dhs``.
:mod:`rnnkit.reference.gru` is the readable twin.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .numpy_rnn import time_major_rows

__all__ = ["GRUForward", "backward", "forward"]


class GRUForward(NamedTuple):
    """What :func:`backward` needs from :func:`forward` (time-major arrays)."""

    x_rows: np.ndarray  # (T·N, D)
    Wx: np.ndarray  # (D, 3H)
    Wh: np.ndarray  # (H, 3H)
    gates: np.ndarray  # (T, N, 3H) activated gates z, r, n
    recurrent: np.ndarray  # (T, N, 3H) R = h_{t−1}·Wh + b[1], z and r columns halved
    hs: np.ndarray  # (T, N, H)


def forward(x: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> GRUForward:
    """The layer over ``x`` (N, T, D) from a zero state; ``hs`` of the result is (T, N, H)."""
    n, t, _ = x.shape
    h = Wh.shape[0]
    # Halves the z and r columns: tanh of the halved sum is 2σ − 1 of the whole one.
    scale = np.repeat(np.array([0.5, 0.5, 1.0], dtype=Wx.dtype), h)
    x_rows = time_major_rows(x)
    gates = x_rows @ (Wx * scale)
    gates += b[0] * scale
    gates = gates.reshape(t, n, 3 * h)
    Wh_scaled = Wh * scale
    recurrent_bias = b[1] * scale
    recurrent = np.empty_like(gates)
    hs = np.empty((t, n, h), dtype=gates.dtype)
    reset_product = np.empty((n, h), dtype=gates.dtype)
    for s in range(t):
        X, R = gates[s], recurrent[s]
        if s:
            np.matmul(hs[s - 1], Wh_scaled, out=R)
            R += recurrent_bias
        else:
            R[...] = recurrent_bias  # h_{−1} = 0
        zr = X[:, : 2 * h]
        zr += R[:, : 2 * h]
        np.tanh(zr, out=zr)
        zr *= 0.5
        zr += 0.5
        z, r, cand = X[:, :h], X[:, h : 2 * h], X[:, 2 * h :]
        np.multiply(r, R[:, 2 * h :], out=reset_product)
        cand += reset_product
        np.tanh(cand, out=cand)
        # h_t = n + z·(h_{t−1} − n)
        if s:
            np.subtract(hs[s - 1], cand, out=hs[s])
        else:
            np.negative(cand, out=hs[s])
        hs[s] *= z
        hs[s] += cand
    return GRUForward(x_rows, Wx, Wh, gates, recurrent, hs)


def _gate_factors(fwd: GRUForward) -> tuple[np.ndarray, np.ndarray]:
    """For all steps at once: ``factors`` (T, N, 3, H) with ``dR = dh·factors`` (the gradient of
    ``h_{t−1}·Wh + b[1]``, gates z, r, h) and ``dn`` (T, N, H) with ``dX_h = dh·dn`` (the
    candidate's gradient; ``dX`` equals ``dR`` in the z and r blocks)."""
    t, n, h = fwd.hs.shape
    gates = fwd.gates.reshape(t, n, 3, h)
    z, r, cand = gates[:, :, 0], gates[:, :, 1], gates[:, :, 2]
    R_h = fwd.recurrent.reshape(t, n, 3, h)[:, :, 2]
    dn = np.multiply(cand, cand)
    np.subtract(1, dn, out=dn)
    one_minus_z = np.subtract(1, z)
    dn *= one_minus_z  # (1 − z)·(1 − n²)
    factors = np.empty_like(gates)
    dz, dr, dRh = factors[:, :, 0], factors[:, :, 1], factors[:, :, 2]
    np.multiply(z, one_minus_z, out=dz)  # σ′(z)·(h_{t−1} − n), h_{−1} = 0
    dz[1:] *= fwd.hs[:-1] - cand[1:]
    dz[0] *= -cand[0]
    np.subtract(1, r, out=dr)
    dr *= r
    dr *= R_h
    dr *= dn  # σ′(r)·R_h·(1 − z)·(1 − n²)
    np.multiply(dn, r, out=dRh)  # r·(1 − z)·(1 − n²)
    return factors, dn


def backward(
    fwd: GRUForward, dhs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(dx, dWx, dWh, db)`` of the pass ``fwd`` given ``dhs`` (N, T, H); ``dx`` is (N, T, D),
    ``db`` is (2, 3H)."""
    t, n, h = fwd.hs.shape
    d = fwd.x_rows.shape[1]
    factors, dn = _gate_factors(fwd)
    z = fwd.gates.reshape(t, n, 3, h)[:, :, 0]
    dH = dhs.transpose(1, 0, 2).copy()  # becomes each step's whole dh in place
    dR = np.empty((t, n, 3, h), dtype=fwd.hs.dtype)
    WhT = np.ascontiguousarray(fwd.Wh.T)  # BLAS's transposed orientation is slower on small GEMMs
    dh_later = np.empty((n, h), dtype=fwd.hs.dtype)
    direct = np.empty_like(dh_later)
    for s in range(t - 1, -1, -1):
        dh = dH[s]
        if s < t - 1:
            dh += dh_later
        np.multiply(factors[s], dh[:, None, :], out=dR[s])
        if s:
            np.matmul(dR[s].reshape(n, 3 * h), WhT, out=dh_later)
            np.multiply(dh, z[s], out=direct)
            dh_later += direct
    flat_dR = dR.reshape(t * n, 3 * h)
    # dX is dR in the z and r blocks and dh·dn in the candidate's: two GEMMs rather than a copy.
    dX_zr = flat_dR[:, : 2 * h]
    dX_h = np.multiply(dH, dn).reshape(t * n, h)
    dWx = np.empty_like(fwd.Wx)
    np.matmul(fwd.x_rows.T, dX_zr, out=dWx[:, : 2 * h])
    np.matmul(fwd.x_rows.T, dX_h, out=dWx[:, 2 * h :])
    # h_{t−1} of steps 1..T−1 pairs with their dR; h_{−1} = 0, so step 0 adds nothing.
    dWh = fwd.hs[:-1].reshape((t - 1) * n, h).T @ dR[1:].reshape((t - 1) * n, 3 * h)
    db = np.empty((2, 3 * h), dtype=fwd.hs.dtype)
    db[1] = flat_dR.sum(axis=0)
    db[0, : 2 * h] = db[1, : 2 * h]
    db[0, 2 * h :] = dX_h.sum(axis=0)
    dx = dX_zr @ fwd.Wx[:, : 2 * h].T
    dx += dX_h @ fwd.Wx[:, 2 * h :].T
    return dx.reshape(t, n, d).transpose(1, 0, 2), dWx, dWh, db
