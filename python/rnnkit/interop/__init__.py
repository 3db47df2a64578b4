"""Weights in and out of other frameworks (GitHub issue #12).

- :func:`from_torch`: a PyTorch module (``nn.RNN``/``LSTM``/``GRU``, ``nn.Linear``,
  ``nn.Embedding``, ``nn.Dropout``, activations, an ``nn.Sequential`` of those) -> an rnnkit
  :class:`~rnnkit.models.Sequential` computing the same outputs.
- :func:`to_torch`: an rnnkit ``Sequential`` of the matching layers -> an ``nn.Sequential``
  computing the same outputs.

PyTorch is imported inside these functions only (``import rnnkit.interop`` never loads it);
see :mod:`rnnkit.interop.torch` for what maps and what is refused.
"""

from __future__ import annotations

from .torch import from_torch, to_torch

__all__ = ["from_torch", "to_torch"]
