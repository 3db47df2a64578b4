"""Plain NumPy twins of the kernels in :mod:`rnnkit.ops`: the oracle for the tests and the
``"numpy"`` backend of the layers. Written to be read, not to be fast: one time step at a time,
no fused tricks. Same functions, same signatures, same results as :mod:`rnnkit.ops`."""

from __future__ import annotations

from .gru import GRUCache, gru_backward, gru_forward
from .ln_rnn import LNRNNCache, ln_rnn_backward, ln_rnn_forward
from .lstm import LSTMCache, lstm_backward, lstm_forward
from .rnn import RNNCache, rnn_backward, rnn_forward

__all__ = [
    "GRUCache",
    "LNRNNCache",
    "LSTMCache",
    "RNNCache",
    "gru_backward",
    "gru_forward",
    "ln_rnn_backward",
    "ln_rnn_forward",
    "lstm_backward",
    "lstm_forward",
    "rnn_backward",
    "rnn_forward",
]
