"""Plain NumPy twin of the LSTM layer (:mod:`rnnkit.ops.lstm`), one readable step at a time.

Keras's formulation, gates in the order i, f, c, o (each a block of H columns)::

    z_t = x_t · Wx + h_{t-1} · Wh + b                       Wx (D, 4H), Wh (H, 4H), b (4H,)
    i = σ(z_i)   f = σ(z_f)   g = act(z_c)   o = σ(z_o)       σ = recurrent_activation
    c_t = f * c_{t-1} + i * g
    h_t = o * act(c_t)

Shapes: x (N, T, D), h0 and c0 (N, H), hs (N, T, H). ``lengths`` and ``truncate`` mean what they
mean for :mod:`rnnkit.reference.rnn`: padded steps keep both states and output zeros; a cut at
step t drops the backward links from both h_t and c_t to step t-1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import activate, check_activation, derivative
from .masking import MaskedCache, masked, masked_backward

__all__ = ["LSTMCache", "lstm_backward", "lstm_forward"]


@dataclass(frozen=True)
class LSTMCache:
    """What :func:`lstm_backward` needs from :func:`lstm_forward` (private copies)."""

    x: np.ndarray  # (N, T, D)
    Wx: np.ndarray  # (D, 4H)
    Wh: np.ndarray  # (H, 4H)
    h0: np.ndarray  # (N, H), zeros when none was given
    c0: np.ndarray  # (N, H)
    z: np.ndarray  # (N, T, 4H) pre-activations
    hs: np.ndarray  # (N, T, H), zeros at padded steps
    cs: np.ndarray  # (N, T, H) cell states, zeros at padded steps
    lengths: np.ndarray  # (N,)
    activation: str
    recurrent_activation: str
    recurrent_mask: np.ndarray  # (N, H): ones when none was given


def lstm_forward(
    x: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    lengths: np.ndarray | None = None,
    recurrent_mask: np.ndarray | None = None,
    *,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LSTMCache]:
    """Run the layer over whole sequences: ``(hs, h_last, c_last, cache)``."""
    if mask is not None and np.shape(x)[1] > 0:
        arguments = {
            "Wx": Wx,
            "Wh": Wh,
            "b": b,
            "activation": activation,
            "recurrent_activation": recurrent_activation,
            "recurrent_mask": recurrent_mask,
        }
        return masked(lstm_forward, lstm_backward, x, Wx, (h0, c0), mask, lengths, arguments)
    check_activation("activation", activation)
    check_activation("recurrent_activation", recurrent_activation)
    dtype = np.asarray(Wx).dtype
    Wx, Wh, b, x = (np.array(a, dtype=dtype) for a in (Wx, Wh, b, x))
    N, T, _ = x.shape
    H = Wh.shape[0]
    h0 = np.zeros((N, H), dtype) if h0 is None else np.array(h0, dtype=dtype)
    c0 = np.zeros((N, H), dtype) if c0 is None else np.array(c0, dtype=dtype)
    lengths = np.full(N, T, np.int64) if lengths is None else np.array(lengths, dtype=np.int64)
    mask = np.ones((N, H), dtype) if recurrent_mask is None else np.array(recurrent_mask, dtype)

    z_all = np.zeros((N, T, 4 * H), dtype)
    hs = np.zeros((N, T, H), dtype)
    cs = np.zeros((N, T, H), dtype)
    h, c = h0.copy(), c0.copy()
    for t in range(T):
        active = t < lengths
        z = x[active, t] @ Wx + (h[active] * mask[active]) @ Wh + b  # recurrent dropout
        i = activate(z[:, :H], recurrent_activation)
        f = activate(z[:, H : 2 * H], recurrent_activation)
        g = activate(z[:, 2 * H : 3 * H], activation)
        o = activate(z[:, 3 * H :], recurrent_activation)
        c[active] = f * c[active] + i * g
        h[active] = o * activate(c[active], activation)
        z_all[active, t] = z
        hs[active, t] = h[active]
        cs[active, t] = c[active]
    cache = LSTMCache(
        x, Wx, Wh, h0, c0, z_all, hs, cs, lengths, activation, recurrent_activation, mask
    )
    return hs, h.copy(), c.copy(), cache


def lstm_backward(
    cache: LSTMCache | MaskedCache,
    dhs: np.ndarray | None = None,
    dh_last: np.ndarray | None = None,
    dc_last: np.ndarray | None = None,
    truncate: int | None = None,
) -> dict[str, np.ndarray]:
    """Gradients ``{"x", "Wx", "Wh", "b", "h0", "c0"}`` of the pass in ``cache``."""
    if isinstance(cache, MaskedCache):
        return masked_backward(cache, dhs, (dh_last, dc_last), truncate)
    x, Wx, Wh, lengths = cache.x, cache.Wx, cache.Wh, cache.lengths
    act, rec = cache.activation, cache.recurrent_activation
    dtype = Wx.dtype
    N, T, _ = x.shape
    H = Wh.shape[0]
    dhs = np.zeros((N, T, H), dtype) if dhs is None else np.asarray(dhs, dtype=dtype)
    dh_last = np.zeros((N, H), dtype) if dh_last is None else np.asarray(dh_last, dtype=dtype)
    dc_last = np.zeros((N, H), dtype) if dc_last is None else np.asarray(dc_last, dtype=dtype)

    dx, dWx, dWh = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh)
    db = np.zeros(4 * H, dtype)
    dh = np.zeros((N, H), dtype)  # gradient w.r.t. the running h after step t
    dc = np.zeros((N, H), dtype)  # ... and the running c
    for t in reversed(range(T)):
        last = lengths - 1 == t
        dh[last] += dh_last[last]
        dc[last] += dc_last[last]
        active = t < lengths
        dh[active] += dhs[active, t]
        z = cache.z[active, t]
        h_prev = cache.hs[active, t - 1] if t > 0 else cache.h0[active]
        c_prev = cache.cs[active, t - 1] if t > 0 else cache.c0[active]
        c_t = cache.cs[active, t]
        zi, zf, zc, zo = z[:, :H], z[:, H : 2 * H], z[:, 2 * H : 3 * H], z[:, 3 * H :]
        i, f, g, o = activate(zi, rec), activate(zf, rec), activate(zc, act), activate(zo, rec)

        dh_t = dh[active]
        dc_t = dc[active] + dh_t * o * derivative(c_t, act)
        dz = np.concatenate(
            [
                dc_t * g * derivative(zi, rec),
                dc_t * c_prev * derivative(zf, rec),
                dc_t * i * derivative(zc, act),
                dh_t * activate(c_t, act) * derivative(zo, rec),
            ],
            axis=1,
        )
        dx[active, t] = dz @ Wx.T
        dWx += x[active, t].T @ dz
        dWh += (h_prev * cache.recurrent_mask[active]).T @ dz
        db += dz.sum(axis=0)

        dh_prev, dc_prev = (dz @ Wh.T) * cache.recurrent_mask[active], dc_t * f
        if truncate is not None and t > 0 and t % truncate == 0:
            dh_prev, dc_prev = np.zeros_like(dh_prev), np.zeros_like(dc_prev)  # cut both links
        dh[active], dc[active] = dh_prev, dc_prev

    empty = lengths == 0  # no valid step: the final states are the initial ones
    dh[empty] += dh_last[empty]
    dc[empty] += dc_last[empty]
    return {"x": dx, "Wx": dWx, "Wh": dWh, "b": db, "h0": dh, "c0": dc}
