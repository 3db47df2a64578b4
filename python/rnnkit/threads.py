"""Thread control for the kernels and the BLAS they call.

The kernels split a batch across as many threads as the BLAS (``scipy-openblas32``) is set to use
and run the BLAS single-threaded inside each, so one number governs both and never two pools at
once. ``threadpoolctl`` sees this BLAS, so ``threadpool_limits(1)`` limits rnnkit too.
"""

from __future__ import annotations

import operator

from ._native import _core


def get_num_threads() -> int:
    """Number of threads rnnkit's kernels (and its BLAS) may use."""
    return int(_core.get_num_threads())


def set_num_threads(n: int) -> None:
    """Set the number of threads rnnkit's kernels (and its BLAS) may use; ``n >= 1``."""
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"n must be a positive int, got {type(n).__name__}") from None
    if n < 1:
        raise ValueError(f"n must be a positive int, got {n}")
    _core.set_num_threads(n)


def build_info() -> dict:
    """How the extension was built and which BLAS core it runs (for benchmarks and bug reports)."""
    return dict(_core.build_info())
