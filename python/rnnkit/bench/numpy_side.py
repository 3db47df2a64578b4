"""NumPy's side of the benchmark: the cell's NumPy formulation timed with NumPy's BLAS at one
thread and at its default (threadpoolctl), the faster counting."""

from __future__ import annotations

import os

import numpy as np

from .cells import CellBench, Problem
from .timing import SETTLE_S, median_seconds

__all__ = ["numpy_blas_threads", "time_numpy"]

# One thread, then the BLAS's default: small per-step GEMMs often run faster single-threaded.
NUMPY_THREAD_LIMITS: tuple[int | None, ...] = (1, None)


def time_numpy(cell: CellBench, p: Problem, repeat: int) -> tuple[float, int]:
    """``(seconds, threads)``: the median forward+backward at the faster BLAS thread count."""
    from threadpoolctl import threadpool_limits

    run = cell.numpy_step(p)
    best = (float("inf"), 0)
    for limit in NUMPY_THREAD_LIMITS:
        with threadpool_limits(limits=limit, user_api="blas"):
            threads = numpy_blas_threads()
            best = min(best, (median_seconds(run, repeat, settle_s=SETTLE_S), threads))
    return best


def numpy_blas_threads() -> int:
    """Threads NumPy's own BLAS (the one under ``numpy*/``) is set to use; 0 if not found."""
    from threadpoolctl import threadpool_info

    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))  # NumPy's BLAS is under numpy*/
    for lib in threadpool_info():
        path = lib.get("filepath", "")
        if (
            lib.get("user_api") == "blas"
            and os.path.basename(os.path.dirname(path)).startswith("numpy")
            and path.startswith(numpy_dir)
        ):
            return int(lib.get("num_threads", 0))
    return 0
