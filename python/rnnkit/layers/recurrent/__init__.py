"""Recurrent layers: one base class for everything that is not the cell, one file per cell.

=================  ===========================================================================
RecurrentLayer     state, ``stateful``, ``go_backwards``, ``initial_state`` and its gradient,
                   ``return_sequences`` / ``return_state``, masks, truncation, the kernel
                   backend (base.py)
CellLayer          Keras's kernel / recurrent kernel / bias, initialisers, activations
                   (cell_layer.py)
SimpleRNN          the vanilla (Elman) cell (simple_rnn.py)
LSTM               long short-term memory, Keras's gates i, f, c, o (lstm.py)
GRU                gated recurrent unit, reset after the product, gates z, r, h (gru.py)
Bidirectional      any recurrent layer forwards plus a copy backwards, merged
                   (bidirectional.py)
=================  ===========================================================================

A new cell is a small subclass of :class:`CellLayer` (or :class:`RecurrentLayer`) in a file of
its own (see base.py and docs/architecture.md).
"""

from __future__ import annotations

from .base import CellBackward, CellForward, RecurrentLayer, reverse_sequences, scoped_states
from .bidirectional import Bidirectional
from .cell_layer import CellLayer
from .gru import GRU
from .lstm import LSTM
from .simple_rnn import SimpleRNN

__all__ = [
    "GRU",
    "LSTM",
    "Bidirectional",
    "CellBackward",
    "CellForward",
    "CellLayer",
    "RecurrentLayer",
    "SimpleRNN",
    "reverse_sequences",
    "scoped_states",
]
