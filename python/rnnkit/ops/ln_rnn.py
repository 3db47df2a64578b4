"""The layer-normalised Elman layer over whole sequences, on the C++ engine
(cell: ``cpp/rnnkit/cells/layer_norm_rnn.hpp``)::

    z_t = x_t @ Wx + h_{t-1} @ Wh + b
    h_t = f(gamma * (z_t - mean(z_t)) / sqrt(var(z_t) + 1e-3) + beta)

mean and variance over the H units of each row; ``1e-3`` is Keras's LayerNormalization epsilon.
Shapes as for :mod:`rnnkit.ops.rnn`, plus ``gamma`` and ``beta`` ``(H,)``.
:mod:`rnnkit.reference.ln_rnn` is the plain NumPy twin.
"""

from __future__ import annotations

import numpy as np

from ._sequence import SequenceCache, cell_spec, check_cache, sequence_backward, sequence_forward
from .rnn import ACTIVATIONS

__all__ = ["LN_RNN_CELL", "LNRNNCache", "ln_rnn_backward", "ln_rnn_forward"]

LN_RNN_CELL = cell_spec(
    "ln_rnn",
    gates=1,
    state_names=("h0",),
    activation_names=("activation",),
    activations=ACTIVATIONS,
    param_names=("gamma", "beta"),
)

# The cache of a layer-normalised RNN forward pass (the engine's generic cache).
LNRNNCache = SequenceCache


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
    """Run a layer-normalised RNN layer over whole sequences: ``(hs, h_last, cache)``.

    ``gamma``, ``beta`` ``(H,)``: the layer norm's scale and offset. The other arguments are
    :func:`rnnkit.ops.rnn_forward`'s.
    """
    hs, (h_last,), cache = sequence_forward(
        LN_RNN_CELL,
        x,
        (Wx, Wh, b),
        (h0,),
        lengths,
        (activation,),
        recurrent_mask,
        (gamma, beta),
        mask,
    )
    return hs, h_last, cache


def ln_rnn_backward(
    cache: LNRNNCache,
    dhs: np.ndarray | None = None,
    dh_last: np.ndarray | None = None,
    truncate: int | None = None,
) -> dict[str, np.ndarray]:
    """Gradients ``{"x", "Wx", "Wh", "b", "gamma", "beta", "h0"}`` of a forward pass; the
    arguments are :func:`rnnkit.ops.rnn_backward`'s."""
    cache = check_cache(cache, LN_RNN_CELL, "ln_rnn_forward")
    g = sequence_backward(cache, dhs, (dh_last,), ("dh_last",), truncate)
    assert g.cell_params is not None  # the cell has parameters of its own
    return {
        "x": g.x,
        "Wx": g.Wx,
        "Wh": g.Wh,
        "b": g.b,
        "gamma": g.cell_params[0],
        "beta": g.cell_params[1],
        "h0": g.initial[0],
    }
