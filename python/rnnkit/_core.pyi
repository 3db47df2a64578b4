"""Type stubs for the compiled ``rnnkit._core`` module (see cpp/bindings/).

Every cell registers ``<name>_forward`` and ``<name>_backward`` (cpp/bindings/recurrent.hpp);
arguments must already have the exact dtype (float32 or float64, all the same) and be
C-contiguous; :mod:`rnnkit.ops` validates and converts before calling these. ``initial`` and
``d_final`` hold one entry (or None) per recurrent state of the cell, h first.
"""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_Float = npt.NDArray[np.floating]
_Index = npt.NDArray[np.int64]
_States = Sequence[_Float | None]

def rnn_forward(
    x: _Float,
    Wx: _Float,
    Wh: _Float,
    b: _Float,
    initial: _States,
    lengths: _Index | None,
    activations: Sequence[str],
) -> tuple[_Float, tuple[_Float, ...], _Float | None]: ...
def rnn_backward(
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
    truncate: int,
) -> tuple[_Float, _Float, _Float, _Float, tuple[_Float, ...]]: ...
def fast_tanh(values: npt.NDArray[np.float32]) -> None: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def build_info() -> dict[str, object]: ...
