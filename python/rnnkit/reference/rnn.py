"""Plain NumPy twin of the vanilla (Elman) RNN layer (:mod:`rnnkit.ops.rnn`).

Written to be read, not to be fast: one time step at a time, no fused tricks. The C++-backed
:mod:`rnnkit.ops` has the same two functions with the same signatures and must agree with these.

Shapes (batch-first, docs/architecture.md)::

    x (N, T, D)   Wx (D, H)   Wh (H, H)   b (H,)   h0 (N, H)   lengths (N,)
    hs (N, T, H)  h_last (N, H)

Cell::

    a_t = x_t · Wx + h_{t-1} · Wh + b
    h_t = f(a_t),   f in {"tanh", "relu", "sigmoid", "hard_sigmoid", "linear"}

Variable lengths: sample ``i`` has ``lengths[i]`` valid steps (0 allowed). Its padded steps
``t >= lengths[i]`` are never read: the state stays as it was, ``hs[i, t]`` is zero, and no
gradient flows through them. ``h_last[i]`` is the state after the last valid step (``h0[i]``
when ``lengths[i] == 0``).

Truncated BPTT (``truncate=k``): the backward link from ``h_t`` to ``h_{t-1}`` is dropped
whenever ``t % k == 0`` and ``t > 0``. The forward pass is untouched; the weight gradient of step
``t`` still contains ``h_{t-1}^T · dA_t`` (``h_{t-1}`` is treated as a constant input there).
The link from ``h0`` into step 0 is never cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import activate, check_activation, derivative
from .masking import MaskedCache, masked, masked_backward

__all__ = ["RNNCache", "rnn_backward", "rnn_forward"]


@dataclass(frozen=True)
class RNNCache:
    """What :func:`rnn_backward` needs from :func:`rnn_forward` (private copies, in ``dtype``)."""

    x: np.ndarray  # (N, T, D)
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    b: np.ndarray  # (H,)
    h0: np.ndarray  # (N, H), zeros when the caller gave None
    a: np.ndarray  # (N, T, H) pre-activations, zeros at padded steps
    hs: np.ndarray  # (N, T, H), zeros at padded steps
    lengths: np.ndarray  # (N,) int64, T for every sample when the caller gave None
    activation: str
    recurrent_mask: np.ndarray  # (N, H): ones when the caller gave None


def rnn_forward(
    x: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    h0: np.ndarray | None = None,
    activation: str = "tanh",
    lengths: np.ndarray | None = None,
    recurrent_mask: np.ndarray | None = None,
    *,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, RNNCache]:
    """Run the layer over whole sequences.

    The computation dtype is ``Wx.dtype``; every other input is converted to it.

    Returns:
        hs: (N, T, H) hidden state after every step (zeros at padded steps).
        h_last: (N, H) state after each sample's last valid step.
        cache: an :class:`RNNCache` for :func:`rnn_backward`.
    """
    if mask is not None and np.shape(x)[1] > 0:
        return masked(
            rnn_forward,
            rnn_backward,
            x,
            Wx,
            (h0,),
            mask,
            lengths,
            {
                "Wx": Wx,
                "Wh": Wh,
                "b": b,
                "activation": activation,
                "recurrent_mask": recurrent_mask,
            },
        )
    check_activation("activation", activation)
    dtype = np.asarray(Wx).dtype
    Wx = np.array(Wx, dtype=dtype)
    Wh = np.array(Wh, dtype=dtype)
    b = np.array(b, dtype=dtype)
    x = np.array(x, dtype=dtype)
    N, T, _ = x.shape
    H = Wx.shape[1]
    h0 = np.zeros((N, H), dtype) if h0 is None else np.array(h0, dtype=dtype)
    lengths = np.full(N, T, np.int64) if lengths is None else np.array(lengths, dtype=np.int64)
    mask = np.ones((N, H), dtype) if recurrent_mask is None else np.array(recurrent_mask, dtype)

    a_all = np.zeros((N, T, H), dtype)
    hs = np.zeros((N, T, H), dtype)
    h = h0.copy()  # running state of every sample
    for t in range(T):
        active = t < lengths  # samples for which step t is a valid step
        a = x[active, t] @ Wx + (h[active] * mask[active]) @ Wh + b  # recurrent dropout
        h[active] = activate(a, activation)
        a_all[active, t] = a
        hs[active, t] = h[active]
    h_last = h

    cache = RNNCache(x, Wx, Wh, b, h0, a_all, hs, lengths, activation, mask)
    return hs, h_last.copy(), cache


def rnn_backward(
    cache: RNNCache | MaskedCache,
    dhs: np.ndarray | None = None,
    dh_last: np.ndarray | None = None,
    truncate: int | None = None,
) -> dict[str, np.ndarray]:
    """Backpropagate through the whole sequences saved in ``cache``.

    Args:
        cache: from :func:`rnn_forward`.
        dhs: (N, T, H) gradient of the loss w.r.t. ``hs`` (None = zeros). Entries at padded
            steps are ignored (``hs`` is a constant zero there).
        dh_last: (N, H) gradient w.r.t. ``h_last`` (None = zeros); it flows into the state after
            each sample's last valid step (into ``h0`` when ``lengths[i] == 0``).
        truncate: None for full BPTT, or k >= 1 to drop the link h_t -> h_{t-1} when
            ``t % k == 0 and t > 0``.

    Returns:
        dict with ``"x"``, ``"Wx"``, ``"Wh"``, ``"b"``, ``"h0"``, each shaped like its input
        (``"h0"`` is (N, H) even when ``h0`` was None).
    """
    if isinstance(cache, MaskedCache):
        return masked_backward(cache, dhs, (dh_last,), truncate)
    x, Wx, Wh, hs, h0, lengths = cache.x, cache.Wx, cache.Wh, cache.hs, cache.h0, cache.lengths
    dtype = Wx.dtype
    N, T, _ = x.shape
    H = Wx.shape[1]
    dhs = np.zeros((N, T, H), dtype) if dhs is None else np.asarray(dhs, dtype=dtype)
    dh_last = np.zeros((N, H), dtype) if dh_last is None else np.asarray(dh_last, dtype=dtype)

    dx = np.zeros_like(x)
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros_like(cache.b)
    dh = np.zeros((N, H), dtype)  # gradient w.r.t. the running state after step t
    for t in reversed(range(T)):
        # The state after a sample's last valid step is its h_last.
        last = lengths - 1 == t
        dh[last] += dh_last[last]

        active = t < lengths
        dh[active] += dhs[active, t]
        h_prev = hs[active, t - 1] if t > 0 else h0[active]
        dA = dh[active] * derivative(cache.a[active, t], cache.activation)  # (n_active, H)

        dx[active, t] = dA @ Wx.T
        dWx += x[active, t].T @ dA
        dWh += (h_prev * cache.recurrent_mask[active]).T @ dA
        db += dA.sum(axis=0)

        dh_prev = (dA @ Wh.T) * cache.recurrent_mask[active]
        if truncate is not None and t > 0 and t % truncate == 0:
            dh_prev = np.zeros_like(dh_prev)  # truncated BPTT: cut h_t -> h_{t-1}
        dh[active] = dh_prev

    # Samples with no valid step: h_last is h0 itself.
    empty = lengths == 0
    dh[empty] += dh_last[empty]
    return {"x": dx, "Wx": dWx, "Wh": dWh, "b": db, "h0": dh}
