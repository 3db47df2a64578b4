"""Recurrent layers: one base class for everything that is not the cell, one file per cell.

=================  ===========================================================================
RecurrentLayer     state, ``stateful``, ``go_backwards``, ``initial_state`` and its gradient,
                   ``return_sequences`` / ``return_state``, masks, truncation, the kernel
                   backend (base.py)
SimpleRNN          the vanilla (Elman) cell (simple_rnn.py)
Bidirectional      any recurrent layer forwards plus a copy backwards, merged
                   (bidirectional.py)
=================  ===========================================================================

A new cell is a small subclass of :class:`RecurrentLayer` in a file of its own (see base.py
and docs/architecture.md).
"""

from __future__ import annotations

from .base import CellBackward, CellForward, RecurrentLayer, reverse_sequences, scoped_states
from .bidirectional import Bidirectional
from .simple_rnn import SimpleRNN

__all__ = [
    "Bidirectional",
    "CellBackward",
    "CellForward",
    "RecurrentLayer",
    "SimpleRNN",
    "reverse_sequences",
    "scoped_states",
]
