"""Plain NumPy twin of the layer-normalised Elman layer (:mod:`rnnkit.ops.ln_rnn`)::

    z_t = x_t · Wx + h_{t-1} · Wh + b
    ẑ_t = (z_t - mean(z_t)) / sqrt(var(z_t) + 1e-3)        over the H units of each row
    h_t = f(gamma * ẑ_t + beta)

``lengths``, ``truncate`` and ``recurrent_mask`` mean what they mean for
:mod:`rnnkit.reference.rnn`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import activate, check_activation, derivative
from .masking import MaskedCache, masked, masked_backward

__all__ = ["EPSILON", "LNRNNCache", "ln_rnn_backward", "ln_rnn_forward"]

EPSILON = 1e-3  # Keras's LayerNormalization default


@dataclass(frozen=True)
class LNRNNCache:
    """What :func:`ln_rnn_backward` needs from :func:`ln_rnn_forward` (private copies)."""

    x: np.ndarray  # (N, T, D)
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    gamma: np.ndarray  # (H,)
    beta: np.ndarray  # (H,)
    h0: np.ndarray  # (N, H)
    z: np.ndarray  # (N, T, H) before the layer norm
    hs: np.ndarray  # (N, T, H)
    lengths: np.ndarray  # (N,)
    activation: str
    recurrent_mask: np.ndarray  # (N, H)


def _normalise(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ẑ, 1/std)`` of each row of ``z``."""
    mean = z.mean(axis=1, keepdims=True)
    rstd = 1 / np.sqrt(((z - mean) ** 2).mean(axis=1, keepdims=True) + EPSILON)
    return (z - mean) * rstd, rstd


def ln_rnn_forward(
    x: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    h0: np.ndarray | None = None,
    activation: str = "tanh",
    lengths: np.ndarray | None = None,
    recurrent_mask: np.ndarray | None = None,
    *,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, LNRNNCache]:
    """Run the layer over whole sequences: ``(hs, h_last, cache)``."""
    if mask is not None and np.shape(x)[1] > 0:
        arguments = {
            "Wx": Wx,
            "Wh": Wh,
            "b": b,
            "gamma": gamma,
            "beta": beta,
            "activation": activation,
            "recurrent_mask": recurrent_mask,
        }
        return masked(ln_rnn_forward, ln_rnn_backward, x, Wx, (h0,), mask, lengths, arguments)
    check_activation("activation", activation)
    dtype = np.asarray(Wx).dtype
    Wx, Wh, b, gamma, beta, x = (np.array(a, dtype=dtype) for a in (Wx, Wh, b, gamma, beta, x))
    N, T, _ = x.shape
    H = Wh.shape[0]
    h0 = np.zeros((N, H), dtype) if h0 is None else np.array(h0, dtype=dtype)
    lengths = np.full(N, T, np.int64) if lengths is None else np.array(lengths, dtype=np.int64)
    mask = np.ones((N, H), dtype) if recurrent_mask is None else np.array(recurrent_mask, dtype)

    z_all = np.zeros((N, T, H), dtype)
    hs = np.zeros((N, T, H), dtype)
    h = h0.copy()
    for t in range(T):
        active = t < lengths
        z = x[active, t] @ Wx + (h[active] * mask[active]) @ Wh + b
        z_hat, _ = _normalise(z)
        h[active] = activate(gamma * z_hat + beta, activation)
        z_all[active, t] = z
        hs[active, t] = h[active]
    cache = LNRNNCache(x, Wx, Wh, gamma, beta, h0, z_all, hs, lengths, activation, mask)
    return hs, h.copy(), cache


def ln_rnn_backward(
    cache: LNRNNCache | MaskedCache,
    dhs: np.ndarray | None = None,
    dh_last: np.ndarray | None = None,
    truncate: int | None = None,
) -> dict[str, np.ndarray]:
    """Gradients ``{"x", "Wx", "Wh", "b", "gamma", "beta", "h0"}`` of the pass in ``cache``."""
    if isinstance(cache, MaskedCache):
        return masked_backward(cache, dhs, (dh_last,), truncate)
    x, Wx, Wh, gamma, lengths = cache.x, cache.Wx, cache.Wh, cache.gamma, cache.lengths
    dtype = Wx.dtype
    N, T, _ = x.shape
    H = Wh.shape[0]
    dhs = np.zeros((N, T, H), dtype) if dhs is None else np.asarray(dhs, dtype=dtype)
    dh_last = np.zeros((N, H), dtype) if dh_last is None else np.asarray(dh_last, dtype=dtype)

    grads = {
        k: np.zeros(s, dtype)
        for k, s in (
            ("Wx", Wx.shape),
            ("Wh", Wh.shape),
            ("b", (H,)),
            ("gamma", (H,)),
            ("beta", (H,)),
        )
    }
    dx = np.zeros_like(x)
    dh = np.zeros((N, H), dtype)
    for t in reversed(range(T)):
        last = lengths - 1 == t
        dh[last] += dh_last[last]
        active = t < lengths
        dh[active] += dhs[active, t]
        z = cache.z[active, t]
        z_hat, rstd = _normalise(z)
        h_prev = cache.hs[active, t - 1] if t > 0 else cache.h0[active]
        mask = cache.recurrent_mask[active]

        da = dh[active] * derivative(gamma * z_hat + cache.beta, cache.activation)
        grads["gamma"] += (da * z_hat).sum(axis=0)
        grads["beta"] += da.sum(axis=0)
        dz_hat = da * gamma
        # the layer norm's backward: d/dz of (z - mean)/std, row by row
        dz = rstd * (
            dz_hat
            - dz_hat.mean(axis=1, keepdims=True)
            - z_hat * (dz_hat * z_hat).mean(axis=1, keepdims=True)
        )
        dx[active, t] = dz @ Wx.T
        grads["Wx"] += x[active, t].T @ dz
        grads["Wh"] += (h_prev * mask).T @ dz
        grads["b"] += dz.sum(axis=0)
        dh_prev = (dz @ Wh.T) * mask
        if truncate is not None and t > 0 and t % truncate == 0:
            dh_prev = np.zeros_like(dh_prev)  # truncated BPTT: cut h_t -> h_{t-1}
        dh[active] = dh_prev

    empty = lengths == 0
    dh[empty] += dh_last[empty]
    return {"x": dx, **grads, "h0": dh}
