"""The LSTM layer over whole sequences, on the C++ engine (cell: ``cpp/rnnkit/cells/lstm.hpp``).

Keras's formulation and weight layout, gates in the order i, f, c, o::

    z_t = x_t @ Wx + h_{t-1} @ Wh + b          Wx (D, 4H)   Wh (H, 4H)   b (4H,)
    i, f, o = σ(z_i), σ(z_f), σ(z_o)   g = act(z_c)
    c_t = f * c_{t-1} + i * g          h_t = o * act(c_t)

``act`` is ``activation`` (tanh), ``σ`` is ``recurrent_activation`` (sigmoid). Shapes: x (N, T, D),
h0 and c0 (N, H), hs (N, T, H). :mod:`rnnkit.reference.lstm` is the plain NumPy twin.
"""

from __future__ import annotations

import numpy as np

from ._sequence import SequenceCache, cell_spec, check_cache, sequence_backward, sequence_forward
from .rnn import ACTIVATIONS

__all__ = ["LSTM_CELL", "LSTMCache", "lstm_backward", "lstm_forward"]

LSTM_CELL = cell_spec(
    "lstm",
    gates=4,
    state_names=("h0", "c0"),
    activation_names=("activation", "recurrent_activation"),
    activations=ACTIVATIONS,
)

# The cache of an LSTM forward pass (the engine's generic cache).
LSTMCache = SequenceCache


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
    """Run an LSTM layer over whole sequences.

    Args:
        x: inputs ``(N, T, D)``.
        Wx: input weights ``(D, 4H)``; its dtype (float32/float64) is the computation dtype.
        Wh: recurrent weights ``(H, 4H)``.
        b: bias ``(4H,)``.
        h0, c0: initial states ``(N, H)``; None means zeros.
        activation: of the candidate and the cell output (Keras's ``activation``).
        recurrent_activation: of the three gates (Keras's ``recurrent_activation``).
        lengths: ``(N,)`` valid steps per sample (0..T): padded steps keep both states, output
            zeros and get no gradient.
        recurrent_mask: ``(N, H)`` recurrent-dropout mask (already scaled by ``1/(1-p)``):
            each row's ``h_{t-1}`` is multiplied by it where it enters the recurrent product
            ``h_{t-1} @ Wh``, the same at every step; None means no dropout.
        mask: ``(N, T)`` Keras's step mask (booleans, or 0/1), never with ``lengths``: a masked
            step carries every state through unchanged and gives its input no gradient; the
            output there repeats the previous output (zeros before a row's first valid step),
            and the final states are those after step ``T - 1``.

    Returns:
        ``(hs, h_last, c_last, cache)``.
    """
    hs, (h_last, c_last), cache = sequence_forward(
        LSTM_CELL,
        x,
        (Wx, Wh, b),
        (h0, c0),
        lengths,
        (activation, recurrent_activation),
        recurrent_mask,
        (),
        mask,
    )
    return hs, h_last, c_last, cache


def lstm_backward(
    cache: LSTMCache,
    dhs: np.ndarray | None = None,
    dh_last: np.ndarray | None = None,
    dc_last: np.ndarray | None = None,
    truncate: int | None = None,
) -> dict[str, np.ndarray]:
    """Backpropagate through a forward pass.

    Args:
        cache: what :func:`lstm_forward` returned.
        dhs: gradient with respect to ``hs`` ``(N, T, H)``; None means zeros.
        dh_last, dc_last: gradients with respect to the final states ``(N, H)``.
        truncate: ``k`` for truncated BPTT: both states' backward links are cut between steps
            ``t-1`` and ``t`` whenever ``t`` is a positive multiple of ``k``. None: full BPTT.

    Returns:
        Gradients ``{"x", "Wx", "Wh", "b", "h0", "c0"}``, each shaped like its input.
    """
    cache = check_cache(cache, LSTM_CELL, "lstm_forward")
    g = sequence_backward(cache, dhs, (dh_last, dc_last), ("dh_last", "dc_last"), truncate)
    return {"x": g.x, "Wx": g.Wx, "Wh": g.Wh, "b": g.b, "h0": g.initial[0], "c0": g.initial[1]}
