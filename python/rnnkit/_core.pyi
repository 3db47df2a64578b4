"""Type stubs for the compiled ``rnnkit._core`` module (see cpp/bindings.cpp).

Arguments must already have the exact dtype (float32 or float64, all the same) and be
C-contiguous; :mod:`rnnkit.ops` validates and converts before calling these.
"""

import numpy as np
import numpy.typing as npt

_Float = npt.NDArray[np.floating]
_Index = npt.NDArray[np.int64]

def rnn_forward(
    x: _Float,
    Wx: _Float,
    Wh: _Float,
    b: _Float,
    h0: _Float | None,
    lengths: _Index | None,
    activation: str,
) -> tuple[_Float, _Float]: ...
def rnn_backward(
    dhs: _Float | None,
    dh_last: _Float | None,
    x: _Float,
    Wx: _Float,
    Wh: _Float,
    h0: _Float | None,
    hs: _Float,
    lengths: _Index | None,
    activation: str,
    truncate: int,
) -> tuple[_Float, _Float, _Float, _Float, _Float]: ...
def fast_tanh(values: npt.NDArray[np.float32]) -> None: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def build_info() -> dict[str, object]: ...
