"""Keras-familiar layers with explicit ``forward``/``backward`` (see :mod:`.base` for the
protocol).

==================  ==========================================================================
RecurrentLayer      the base of recurrent layers: all but the cell (recurrent/base.py)
SimpleRNN           vanilla RNN over the C++ (or NumPy) kernels (recurrent/simple_rnn.py)
LSTM, GRU           the gated cells, Keras's weights and gate orders (recurrent/lstm.py, gru.py)
Bidirectional       any recurrent layer forwards + a copy backwards, merged
                    (recurrent/bidirectional.py)
Dense, Activation   last-axis affine map / element-wise activation (dense.py)
TimeDistributed     apply a layer to every time step (time_distributed.py)
Embedding           token ids -> vectors, optional ``mask_zero`` (embedding.py)
Masking             steps equal to ``mask_value`` are padding: the mask of float series
                    (masking.py)
RepeatVector        ``(N, D) -> (N, n, D)``: a vector repeated along time (repeat_vector.py)
Dropout             inverted dropout (dropout.py)
Input, InputLayer   Keras 3's ``Input(shape)``: a functional model's symbolic input, or a
                    Sequential's input shape (input_layer.py; symbolic tensors: symbolic.py)
Concatenate, Add    merge layers for functional models (merging.py)
==================  ==========================================================================

Helpers: :func:`check_stack` (validate a linear stack before running it),
:func:`serialize_layer` / :func:`deserialize_layer` / :func:`get_layer_class` (configs),
:func:`set_random_seed` (reproducible default seeds), :func:`reverse_sequences`,
:func:`walk_layers` (a stack and, depth first, the layers each one wraps),
:func:`shapes_compatible`.
"""

from __future__ import annotations

from .base import (
    Layer,
    StepFunction,
    check_stack,
    deserialize_layer,
    get_layer_class,
    make_rng,
    serialize_layer,
    set_random_seed,
    shapes_compatible,
    step_function_of,
    walk_layers,
)
from .dense import Activation, Dense
from .dropout import Dropout
from .embedding import Embedding
from .input_layer import Input, InputLayer
from .masking import Masking
from .merging import Add, Concatenate
from .recurrent import GRU, LSTM, Bidirectional, RecurrentLayer, SimpleRNN, reverse_sequences
from .repeat_vector import RepeatVector
from .symbolic import SymbolicTensor
from .time_distributed import TimeDistributed

__all__ = [
    "GRU",
    "LSTM",
    "Activation",
    "Add",
    "Bidirectional",
    "Concatenate",
    "Dense",
    "Dropout",
    "Embedding",
    "Input",
    "InputLayer",
    "Layer",
    "Masking",
    "RecurrentLayer",
    "RepeatVector",
    "SimpleRNN",
    "StepFunction",
    "SymbolicTensor",
    "TimeDistributed",
    "check_stack",
    "deserialize_layer",
    "get_layer_class",
    "make_rng",
    "reverse_sequences",
    "serialize_layer",
    "set_random_seed",
    "shapes_compatible",
    "step_function_of",
    "walk_layers",
]
