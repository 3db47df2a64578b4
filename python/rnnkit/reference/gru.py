"""Plain NumPy twin of the GRU layer (:mod:`rnnkit.ops.gru`), one readable step at a time.

Keras's GRU, gates in the order z, r, h; ``h̃ = h_{t-1} * recurrent_mask`` is the state as the
recurrent products see it (``h_{t-1}`` itself without recurrent dropout)::

    X = x_t · Wx + b_x                                        Wx (D, 3H), Wh (H, 3H)
    z = σ(X_z + h̃ · Wh_z + b_hz)      r = σ(X_r + h̃ · Wh_r + b_hr)
    reset_after=True  (b (2, 3H): b_x = b[0], b_h = b[1]):   n = act(X_h + r * (h̃ · Wh_h + b_hh))
    reset_after=False (b (3H,): b_x = b, no b_h):            n = act(X_h + (r * h̃) · Wh_h)
    h_t = z * h_{t-1} + (1 - z) * n

``lengths`` and ``truncate`` mean what they mean for :mod:`rnnkit.reference.rnn`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import activate, check_activation, derivative
from .masking import MaskedCache, masked, masked_backward

__all__ = ["GRUCache", "gru_backward", "gru_forward"]


@dataclass(frozen=True)
class GRUCache:
    """What :func:`gru_backward` needs from :func:`gru_forward` (private copies)."""

    x: np.ndarray  # (N, T, D)
    Wx: np.ndarray  # (D, 3H)
    Wh: np.ndarray  # (H, 3H)
    h0: np.ndarray  # (N, H), zeros when none was given
    X: np.ndarray  # (N, T, 3H) input products with the input bias
    R: np.ndarray  # (N, T, 3H) recurrent products (with the recurrent bias when reset after)
    hs: np.ndarray  # (N, T, H), zeros at padded steps
    lengths: np.ndarray  # (N,)
    activation: str
    recurrent_activation: str
    recurrent_mask: np.ndarray  # (N, H): ones when none was given
    reset_after: bool


def gru_forward(
    x: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    h0: np.ndarray | None = None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    lengths: np.ndarray | None = None,
    recurrent_mask: np.ndarray | None = None,
    reset_after: bool = True,
    *,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, GRUCache]:
    """Run the layer over whole sequences: ``(hs, h_last, cache)``."""
    if mask is not None and np.shape(x)[1] > 0:
        arguments = {
            "Wx": Wx,
            "Wh": Wh,
            "b": b,
            "activation": activation,
            "recurrent_activation": recurrent_activation,
            "recurrent_mask": recurrent_mask,
            "reset_after": reset_after,
        }
        return masked(gru_forward, gru_backward, x, Wx, (h0,), mask, lengths, arguments)
    check_activation("activation", activation)
    check_activation("recurrent_activation", recurrent_activation)
    dtype = np.asarray(Wx).dtype
    Wx, Wh, b, x = (np.array(a, dtype=dtype) for a in (Wx, Wh, b, x))
    N, T, _ = x.shape
    H = Wh.shape[0]
    b_x, b_h = (b[0], b[1]) if reset_after else (b, np.zeros(3 * H, dtype))
    h0 = np.zeros((N, H), dtype) if h0 is None else np.array(h0, dtype=dtype)
    lengths = np.full(N, T, np.int64) if lengths is None else np.array(lengths, dtype=np.int64)
    mask = np.ones((N, H), dtype) if recurrent_mask is None else np.array(recurrent_mask, dtype)

    X_all = np.zeros((N, T, 3 * H), dtype)
    R_all = np.zeros((N, T, 3 * H), dtype)
    hs = np.zeros((N, T, H), dtype)
    h = h0.copy()
    for t in range(T):
        active = t < lengths
        h_seen = h[active] * mask[active]  # recurrent dropout: what the products see
        X = x[active, t] @ Wx + b_x
        R = np.zeros((int(active.sum()), 3 * H), dtype)
        R[:, : 2 * H] = h_seen @ Wh[:, : 2 * H] + b_h[: 2 * H]
        z = activate(X[:, :H] + R[:, :H], recurrent_activation)
        r = activate(X[:, H : 2 * H] + R[:, H : 2 * H], recurrent_activation)
        if reset_after:
            R[:, 2 * H :] = h_seen @ Wh[:, 2 * H :] + b_h[2 * H :]
            n = activate(X[:, 2 * H :] + r * R[:, 2 * H :], activation)
        else:
            R[:, 2 * H :] = (r * h_seen) @ Wh[:, 2 * H :]
            n = activate(X[:, 2 * H :] + R[:, 2 * H :], activation)
        h[active] = z * h[active] + (1 - z) * n
        X_all[active, t], R_all[active, t] = X, R
        hs[active, t] = h[active]
    cache = GRUCache(
        x, Wx, Wh, h0, X_all, R_all, hs, lengths, activation, recurrent_activation, mask,
        bool(reset_after),
    )  # fmt: skip
    return hs, h.copy(), cache


def gru_backward(
    cache: GRUCache | MaskedCache,
    dhs: np.ndarray | None = None,
    dh_last: np.ndarray | None = None,
    truncate: int | None = None,
) -> dict[str, np.ndarray]:
    """Gradients ``{"x", "Wx", "Wh", "b", "h0"}`` of the pass in ``cache``."""
    if isinstance(cache, MaskedCache):
        return masked_backward(cache, dhs, (dh_last,), truncate)
    x, Wx, Wh, lengths = cache.x, cache.Wx, cache.Wh, cache.lengths
    act, rec = cache.activation, cache.recurrent_activation
    dtype = Wx.dtype
    N, T, _ = x.shape
    H = Wh.shape[0]
    dhs = np.zeros((N, T, H), dtype) if dhs is None else np.asarray(dhs, dtype=dtype)
    dh_last = np.zeros((N, H), dtype) if dh_last is None else np.asarray(dh_last, dtype=dtype)

    dx, dWx, dWh = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh)
    db_x, db_h = np.zeros(3 * H, dtype), np.zeros(3 * H, dtype)
    dh = np.zeros((N, H), dtype)  # gradient w.r.t. the running h after step t
    for t in reversed(range(T)):
        last = lengths - 1 == t
        dh[last] += dh_last[last]
        active = t < lengths
        dh[active] += dhs[active, t]
        X, R = cache.X[active, t], cache.R[active, t]
        mask = cache.recurrent_mask[active]
        h_prev = cache.hs[active, t - 1] if t > 0 else cache.h0[active]
        h_seen = h_prev * mask
        az, ar = X[:, :H] + R[:, :H], X[:, H : 2 * H] + R[:, H : 2 * H]
        z, r = activate(az, rec), activate(ar, rec)
        an = X[:, 2 * H :] + (r * R[:, 2 * H :] if cache.reset_after else R[:, 2 * H :])
        n = activate(an, act)

        dh_t = dh[active]
        dan = dh_t * (1 - z) * derivative(an, act)
        daz = dh_t * (h_prev - n) * derivative(az, rec)
        if cache.reset_after:
            dar = dan * R[:, 2 * H :] * derivative(ar, rec)
            dR = np.concatenate([daz, dar, dan * r], axis=1)  # of h̃ · Wh + b_h
            dWh += h_seen.T @ dR
            dh_seen = dR @ Wh.T
        else:
            du = dan @ Wh[:, 2 * H :].T  # of u = r * h̃, the candidate product's input
            dar = du * h_seen * derivative(ar, rec)
            dR = np.concatenate([daz, dar, dan], axis=1)
            dWh[:, : 2 * H] += h_seen.T @ dR[:, : 2 * H]
            dWh[:, 2 * H :] += (r * h_seen).T @ dan
            dh_seen = dR[:, : 2 * H] @ Wh[:, : 2 * H].T + du * r
        dX = np.concatenate([daz, dar, dan], axis=1)  # of x · Wx + b_x
        dx[active, t] = dX @ Wx.T
        dWx += x[active, t].T @ dX
        db_x += dX.sum(axis=0)
        db_h += dR.sum(axis=0)

        dh_prev = dh_seen * mask + dh_t * z
        if truncate is not None and t > 0 and t % truncate == 0:
            dh_prev = np.zeros_like(dh_prev)  # truncated BPTT: cut h_t -> h_{t-1}
        dh[active] = dh_prev

    empty = lengths == 0
    dh[empty] += dh_last[empty]
    db = np.stack([db_x, db_h]) if cache.reset_after else db_x
    return {"x": dx, "Wx": dWx, "Wh": dWh, "b": db, "h0": dh}
