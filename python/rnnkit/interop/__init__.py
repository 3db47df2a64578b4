"""Weights in and out of other frameworks (GitHub issue #12).

- :func:`from_torch`: a PyTorch module (``nn.RNN``/``LSTM``/``GRU``, ``nn.Linear``,
  ``nn.Embedding``, ``nn.Dropout``, activations, an ``nn.Sequential`` of those) -> an rnnkit
  :class:`~rnnkit.models.Sequential` computing the same outputs.
- :func:`to_torch`: an rnnkit ``Sequential`` of the matching layers -> an ``nn.Sequential``
  computing the same outputs.
- :func:`from_keras` / :func:`to_keras`: a Keras 3 ``Sequential`` (or functional chain) of
  SimpleRNN, LSTM, GRU, Dense, Embedding, Bidirectional, ... <-> an rnnkit ``Sequential``,
  with the same weights and options.
- :func:`to_onnx`: an rnnkit ``Sequential`` (or functional chain) -> an ONNX graph with the
  standard ``RNN``/``LSTM``/``GRU`` operators that onnxruntime runs (also
  ``model.export(path, format="onnx")``).

PyTorch, Keras and onnx are imported inside these functions only (``import rnnkit.interop``
loads none of them); see :mod:`rnnkit.interop.torch`, :mod:`rnnkit.interop.keras` and
:mod:`rnnkit.interop.onnx` for what maps and what is refused.
"""

from __future__ import annotations

from .keras import from_keras, to_keras
from .onnx import to_onnx
from .torch import from_torch, to_torch

__all__ = ["from_keras", "from_torch", "to_keras", "to_onnx", "to_torch"]
