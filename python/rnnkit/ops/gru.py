"""The GRU layer over whole sequences, on the C++ engine (cells: ``cpp/rnnkit/cells/gru.hpp``
and ``gru_reset_before.hpp``).

Keras's GRU, gates in the order z, r, h. Keras 3's default ``reset_after=True`` (also cuDNN's and
PyTorch's) has an input and a recurrent bias row and resets after the recurrent product::

    X = x_t @ Wx + b[0]      R = h_{t-1} @ Wh + b[1]        Wx (D, 3H)  Wh (H, 3H)  b (2, 3H)
    z = σ(X_z + R_z)   r = σ(X_r + R_r)   n = act(X_h + r * R_h)
    h_t = z * h_{t-1} + (1 - z) * n

``reset_after=False`` (Keras 2's default) has one bias ``b (3H,)`` and resets the state before
the candidate's product: ``n = act(X_h + (r * h_{t-1}) @ Wh_h)``.

``act`` is ``activation`` (tanh), ``σ`` is ``recurrent_activation`` (sigmoid). Shapes: x (N, T, D),
h0 (N, H), hs (N, T, H). :mod:`rnnkit.reference.gru` is the plain NumPy twin.
"""

from __future__ import annotations

import numpy as np

from ._sequence import SequenceCache, cell_spec, check_cache, sequence_backward, sequence_forward
from .rnn import ACTIVATIONS

__all__ = ["GRU_CELL", "GRU_RESET_BEFORE_CELL", "GRUCache", "gru_backward", "gru_forward"]

GRU_CELL = cell_spec(
    "gru",
    gates=3,
    state_names=("h0",),
    activation_names=("activation", "recurrent_activation"),
    activations=ACTIVATIONS,
    bias_rows=2,
)
GRU_RESET_BEFORE_CELL = cell_spec(
    "gru_reset_before",
    gates=3,
    state_names=("h0",),
    activation_names=("activation", "recurrent_activation"),
    activations=ACTIVATIONS,
)

# The cache of a GRU forward pass (the engine's generic cache).
GRUCache = SequenceCache


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
    """Run a GRU layer (reset gate after the recurrent product) over whole sequences.

    Args:
        x: inputs ``(N, T, D)``.
        Wx: input weights ``(D, 3H)``; its dtype (float32/float64) is the computation dtype.
        Wh: recurrent weights ``(H, 3H)``.
        b: biases ``(2, 3H)``: the input bias, then the recurrent bias (Keras's layout); ``(3H,)``
            with ``reset_after=False``.
        h0: initial state ``(N, H)``; None means zeros.
        activation: of the candidate (Keras's ``activation``).
        recurrent_activation: of the update and reset gates.
        lengths: ``(N,)`` valid steps per sample (0..T): padded steps keep the state, output
            zeros and get no gradient.
        recurrent_mask: ``(N, H)`` recurrent-dropout mask (already scaled by ``1/(1-p)``):
            each row's ``h_{t-1}`` is multiplied by it where it enters the recurrent product
            ``h_{t-1} @ Wh`` (not the
            direct path ``z * h_{t-1}``), the same at every step; None means no dropout.
        mask: ``(N, T)`` Keras's step mask (booleans, or 0/1), never with ``lengths``: a masked
            step carries every state through unchanged and gives its input no gradient; the
            output there repeats the previous output (zeros before a row's first valid step),
            and the final states are those after step ``T - 1``.

    Returns:
        ``(hs, h_last, cache)``.
    """
    cell = GRU_CELL if reset_after else GRU_RESET_BEFORE_CELL
    hs, (h_last,), cache = sequence_forward(
        cell,
        x,
        (Wx, Wh, b),
        (h0,),
        lengths,
        (activation, recurrent_activation),
        recurrent_mask,
        (),
        mask,
    )
    return hs, h_last, cache


def gru_backward(
    cache: GRUCache,
    dhs: np.ndarray | None = None,
    dh_last: np.ndarray | None = None,
    truncate: int | None = None,
) -> dict[str, np.ndarray]:
    """Backpropagate through a forward pass: gradients ``{"x", "Wx", "Wh", "b", "h0"}``, each
    shaped like its input (``b``'s is ``(2, 3H)``). ``truncate`` as for
    :func:`rnnkit.ops.rnn_backward`."""
    cache = check_cache(cache, (GRU_CELL, GRU_RESET_BEFORE_CELL), "gru_forward")
    g = sequence_backward(cache, dhs, (dh_last,), ("dh_last",), truncate)
    return {"x": g.x, "Wx": g.Wx, "Wh": g.Wh, "b": g.b, "h0": g.initial[0]}
