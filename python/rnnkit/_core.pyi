"""Type stubs for the compiled ``rnnkit._core`` module (see cpp/bindings/).

Every cell registers ``<name>_forward`` and ``<name>_backward`` (cpp/bindings/recurrent.hpp, one
``bind_cell`` line per cell in cpp/bindings/module.cpp), all with the same generic signature:
:class:`SequenceForward` and :class:`SequenceBackward`. Each is one overload set, float32 and
float64; arguments must already have the exact dtype (float32 or float64, all the same) and be
C-contiguous (``noconvert``); :mod:`rnnkit.ops` validates and converts before calling these.
``initial`` and ``d_final`` hold one entry (or None) per recurrent state of the cell, h first;
``activations`` one name per activation the cell lets the user choose; ``recurrent_mask``
``(N, H)`` or None (recurrent dropout); ``step_mask`` ``(N, T)`` uint8 or None (Keras's masks:
masked steps carry the states; never with ``lengths``); ``cell_params`` ``(P, H)`` for a cell
with parameters of its own (the layer-normalised cell's scale and offset), else None.

``SequenceForward`` and ``SequenceBackward`` exist for type checkers only (import them under
``TYPE_CHECKING``).
"""

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

_Float = npt.NDArray[np.floating]
_Index = npt.NDArray[np.int64]
_States = Sequence[_Float | None]

class SequenceForward(Protocol):
    """``(hs, final_states, saved)``: ``hs (N, T, H)``, one ``(N, H)`` final state per state,
    the cell's saved array ``(N, T, W)`` for its backward (None when ``W = 0``)."""

    def __call__(
        self,
        x: _Float,
        Wx: _Float,
        Wh: _Float,
        b: _Float,
        initial: _States,
        lengths: _Index | None,
        activations: Sequence[str],
        recurrent_mask: _Float | None,
        cell_params: _Float | None,
        step_mask: npt.NDArray[np.uint8] | None = None,
    ) -> tuple[_Float, tuple[_Float, ...], _Float | None]: ...

class SequenceBackward(Protocol):
    """``(dx, dWx, dWh, db, d_initial_states, d_cell_params)``; ``truncate`` 0 means full
    BPTT; ``d_cell_params`` is None for a cell without parameters of its own."""

    def __call__(
        self,
        dhs: _Float | None,
        d_final: _States,
        x: _Float,
        Wx: _Float,
        Wh: _Float,
        initial: _States,
        hs: _Float,
        saved: _Float | None,
        lengths: _Index | None,
        activations: Sequence[str],
        recurrent_mask: _Float | None,
        cell_params: _Float | None,
        truncate: int,
        step_mask: npt.NDArray[np.uint8] | None = None,
    ) -> tuple[_Float, _Float, _Float, _Float, tuple[_Float, ...], _Float | None]: ...

rnn_forward: SequenceForward
rnn_backward: SequenceBackward
lstm_forward: SequenceForward
lstm_backward: SequenceBackward
gru_forward: SequenceForward
gru_backward: SequenceBackward
ln_rnn_forward: SequenceForward
ln_rnn_backward: SequenceBackward

def fast_tanh(values: npt.NDArray[np.float32]) -> None: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def park_kernels_for_exit() -> None: ...
def build_info() -> dict[str, object]: ...

# The non-recurrent maths (cpp/bindings/layer_math.hpp); rnnkit.ops.layer_math wraps them.
def dense_forward(x: _Float, W: _Float, b: _Float | None, activation: str) -> _Float: ...
def dense_backward(
    x: _Float,
    W: _Float,
    y: _Float,
    dy: _Float,
    activation: str,
    dW: _Float | None,
    db: _Float | None,
    want_dx: bool,
) -> _Float | None: ...
def sparse_cross_entropy(
    scores: _Float,
    labels: _Index,
    weights: npt.NDArray[np.float64] | None,
    valid: npt.NDArray[np.uint8] | None,
    from_logits: bool,
    scale: float,
) -> tuple[float, _Float]: ...
def adam_update(
    p: _Float,
    g: _Float,
    m: _Float,
    v: _Float,
    lr_t: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
) -> None: ...
def sgd_momentum_update(
    p: _Float, g: _Float, velocity: _Float, lr: float, momentum: float, nesterov: bool
) -> None: ...
def sum_of_squares(g: _Float) -> float: ...
def embedding_scatter_add(out: _Float, ids: _Index, rows: _Float) -> None: ...
