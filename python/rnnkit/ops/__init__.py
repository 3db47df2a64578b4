"""Functional API over the C++ engine: one call per sequence batch, NumPy in, NumPy out.

One module per cell (:mod:`rnnkit.ops.rnn`, :mod:`~rnnkit.ops.ln_rnn`, :mod:`~rnnkit.ops.lstm`,
:mod:`~rnnkit.ops.gru`,
each with ``<cell>_forward`` and ``<cell>_backward``), all on the same engine and conventions
(docs/architecture.md): batch-first ``(N, T, D)`` inputs, ``lengths`` for packed sequences,
``truncate=k`` for truncated BPTT, initial states and their gradients.
:mod:`rnnkit.reference` holds the same functions in plain NumPy, one readable step at a time.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Literal

from .. import _checks
from ._sequence import CellSpec, SequenceCache, repeat_forward
from .gru import GRU_CELL, GRUCache, gru_backward, gru_forward
from .ln_rnn import LN_RNN_CELL, LNRNNCache, ln_rnn_backward, ln_rnn_forward
from .lstm import LSTM_CELL, LSTMCache, lstm_backward, lstm_forward
from .rnn import ACTIVATIONS, RecurrentActivation, RNNCache, rnn_backward, rnn_forward

__all__ = [
    "ACTIVATIONS",
    "BACKENDS",
    "GRU_CELL",
    "LN_RNN_CELL",
    "LSTM_CELL",
    "Backend",
    "CellSpec",
    "GRUCache",
    "LNRNNCache",
    "LSTMCache",
    "RNNCache",
    "RecurrentActivation",
    "SequenceCache",
    "get_backend",
    "gru_backward",
    "gru_forward",
    "ln_rnn_backward",
    "ln_rnn_forward",
    "lstm_backward",
    "lstm_forward",
    "repeat_forward",
    "rnn_backward",
    "rnn_forward",
]

Backend = Literal["cpp", "numpy"]
BACKENDS: tuple[str, ...] = ("cpp", "numpy")


def get_backend(name: str) -> ModuleType:
    """The module whose kernels a recurrent layer calls: ``"cpp"`` is :mod:`rnnkit.ops` (the C++
    engine), ``"numpy"`` is :mod:`rnnkit.reference` (plain NumPy, one step at a time). Both
    expose the same functions with the same signatures (``rnn_forward``, ``rnn_backward``)."""
    if _checks.choice(name, "backend", BACKENDS) == "cpp":
        return importlib.import_module(__name__)
    return importlib.import_module("rnnkit.reference")
