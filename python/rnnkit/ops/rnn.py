"""The Elman (vanilla) RNN layer over whole sequences, on the C++ engine.

Cell: ``h_t = f(x_t @ Wx + h_{t-1} @ Wh + b)`` with ``f`` one of :data:`ACTIVATIONS`. Shapes::

    x (N, T, D)   Wx (D, H)   Wh (H, H)   b (H,)   h0 (N, H)   hs (N, T, H)   h_last (N, H)

The computation dtype is the weights' (float32 or float64; ``Wx``, ``Wh`` and ``b`` must agree);
every other input is converted to it once. :mod:`rnnkit.reference.rnn` is the plain NumPy twin.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from ._sequence import SequenceCache, cell_spec, check_cache, sequence_backward, sequence_forward

__all__ = [
    "ACTIVATIONS",
    "RNN_CELL",
    "RNNCache",
    "RecurrentActivation",
    "rnn_backward",
    "rnn_forward",
]

RecurrentActivation = Literal["tanh", "relu", "sigmoid", "hard_sigmoid", "linear"]
# What the C++ element-wise code implements (cpp/rnnkit/activations.hpp), Keras's names: the one
# list of the cells' activations (written once, as the Literal above), which every cell, layer
# and the NumPy reference check against.
ACTIVATIONS: tuple[str, ...] = get_args(RecurrentActivation)
RNN_CELL = cell_spec(
    "rnn", gates=1, state_names=("h0",), activation_names=("activation",), activations=ACTIVATIONS
)

# The cache of a vanilla RNN forward pass (the engine's generic cache).
RNNCache = SequenceCache


def rnn_forward(
    x: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    h0: np.ndarray | None = None,
    activation: RecurrentActivation = "tanh",
    lengths: np.ndarray | None = None,
    recurrent_mask: np.ndarray | None = None,
    *,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, RNNCache]:
    """Run a vanilla RNN layer over whole sequences.

    Args:
        x: inputs ``(N, T, D)``.
        Wx: input weights ``(D, H)``; its dtype (float32/float64) is the computation dtype.
        Wh: recurrent weights ``(H, H)``.
        b: bias ``(H,)``.
        h0: initial state ``(N, H)``; None means zeros.
        activation: "tanh" (default), "relu", "sigmoid", "hard_sigmoid" or "linear".
        lengths: ``(N,)`` valid steps per sample (0..T). Padded steps keep the state, output
            zeros and get no gradient; ``h_last`` is the state after the last valid step.
        recurrent_mask: ``(N, H)`` recurrent-dropout mask (already scaled by ``1/(1-p)``):
            each row's ``h_{t-1}`` is multiplied by it where it enters the recurrent product
            ``h_{t-1} @ Wh``, the same at every step; None means no dropout.
        mask: ``(N, T)`` Keras's step mask (booleans, or 0/1), never with ``lengths``: a masked
            step carries every state through unchanged and gives its input no gradient; the
            output there repeats the previous output (zeros before a row's first valid step),
            and the final states are those after step ``T - 1``.

    Returns:
        ``(hs, h_last, cache)``: all hidden states ``(N, T, H)``, the final state ``(N, H)``, and
        the cache :func:`rnn_backward` takes.
    """
    hs, (h_last,), cache = sequence_forward(
        RNN_CELL, x, (Wx, Wh, b), (h0,), lengths, (activation,), recurrent_mask, (), mask
    )
    return hs, h_last, cache


def rnn_backward(
    cache: RNNCache,
    dhs: np.ndarray | None = None,
    dh_last: np.ndarray | None = None,
    truncate: int | None = None,
) -> dict[str, np.ndarray]:
    """Backpropagate through a forward pass.

    Args:
        cache: what :func:`rnn_forward` returned.
        dhs: gradient of the loss with respect to ``hs``, ``(N, T, H)``; None means zeros.
        dh_last: gradient with respect to ``h_last``, ``(N, H)``; None means zeros.
        truncate: ``k`` for truncated BPTT: the gradient through ``h`` is cut between steps
            ``t-1`` and ``t`` whenever ``t`` is a positive multiple of ``k`` (counted from the
            start of the sequence); the forward pass is untouched. None means full BPTT.

    Returns:
        Gradients ``{"x", "Wx", "Wh", "b", "h0"}``, each shaped like its input (``h0``'s is
        ``(N, H)`` even when no ``h0`` was given).
    """
    cache = check_cache(cache, RNN_CELL, "rnn_forward")
    g = sequence_backward(cache, dhs, (dh_last,), ("dh_last",), truncate)
    return {"x": g.x, "Wx": g.Wx, "Wh": g.Wh, "b": g.b, "h0": g.initial[0]}
