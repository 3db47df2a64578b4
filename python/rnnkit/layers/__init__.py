"""Keras-familiar layers with explicit ``forward``/``backward`` (see :mod:`.base` for the
protocol).

==================  ==========================================================================
SimpleRNN           vanilla RNN over the C++ kernels (recurrent.py)
Bidirectional       forward + backward SimpleRNN, merged (bidirectional.py)
Dense, Activation   last-axis affine map / element-wise activation (dense.py)
TimeDistributed     apply a layer to every time step (time_distributed.py)
Embedding           token ids -> vectors, optional ``mask_zero`` (embedding.py)
Dropout             inverted dropout (dropout.py)
Input, InputLayer   Keras 3's ``Input(shape)``: fixes a Sequential's input shape (input_layer.py)
==================  ==========================================================================

Helpers: :func:`check_stack` (validate a linear stack before running it),
:func:`serialize_layer` / :func:`deserialize_layer` / :func:`get_layer_class` (configs),
:func:`set_random_seed` (reproducible default seeds), :func:`reverse_sequences`.
"""

from __future__ import annotations

from .base import (
    Layer,
    check_stack,
    deserialize_layer,
    get_layer_class,
    make_rng,
    serialize_layer,
    set_random_seed,
)
from .bidirectional import Bidirectional
from .dense import Activation, Dense
from .dropout import Dropout
from .embedding import Embedding
from .input_layer import Input, InputLayer
from .recurrent import SimpleRNN, reverse_sequences
from .time_distributed import TimeDistributed

__all__ = [
    "Activation",
    "Bidirectional",
    "Dense",
    "Dropout",
    "Embedding",
    "Input",
    "InputLayer",
    "Layer",
    "SimpleRNN",
    "TimeDistributed",
    "check_stack",
    "deserialize_layer",
    "get_layer_class",
    "make_rng",
    "reverse_sequences",
    "serialize_layer",
    "set_random_seed",
]
