"""Weights in and out of other frameworks (GitHub issue #12).

- :func:`from_torch`: a PyTorch module (``nn.RNN``/``LSTM``/``GRU``, ``nn.Linear``,
  ``nn.Embedding``, ``nn.Dropout``, activations, an ``nn.Sequential`` of those) -> an rnnkit
  :class:`~rnnkit.models.Sequential` computing the same outputs.
- :func:`to_torch`: an rnnkit ``Sequential`` of the matching layers -> an ``nn.Sequential``
  computing the same outputs.
- :func:`from_keras` / :func:`to_keras`: a Keras 3 ``Sequential`` (or functional chain) of
  SimpleRNN, LSTM, GRU, Dense, Embedding, Bidirectional, ... <-> an rnnkit ``Sequential``,
  with the same weights and options.

PyTorch and Keras are imported inside these functions only (``import rnnkit.interop`` loads
neither); see :mod:`rnnkit.interop.torch` and :mod:`rnnkit.interop.keras` for what maps and
what is refused.
"""

from __future__ import annotations

from .keras import from_keras, to_keras
from .torch import from_torch, to_torch

__all__ = ["from_keras", "from_torch", "to_keras", "to_torch"]
