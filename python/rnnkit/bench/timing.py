"""How the benchmark times things: medians of self-calibrating rounds, and the machine's GEMM
peak measured in the same run (so that "% of peak" compares numbers from the same minutes)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

__all__ = ["SETTLE_S", "gemm_peak_gflops", "median_seconds"]

# A pause before each contender's timing. The thread pools of the previous contender busy-wait
# after their last call (OpenBLAS's for about 2^28 cycles, ~0.1 s; torch's OpenMP workers too)
# and on a 2-core machine steal the next contender's cores: measured, rnnkit's LSTM at
# (32, 50, 32, 128) took 3.2 ms alone and 3.5-4.6 ms right after a NumPy matmul.
SETTLE_S = 0.25


def median_seconds(
    fn: Callable[[], object], repeat: int, min_round_s: float = 0.02, settle_s: float = 0.0
) -> float:
    """Median time of one call over ``repeat`` rounds, each long enough to time reliably, after
    a pause of ``settle_s`` seconds (see :data:`SETTLE_S`)."""
    if settle_s > 0:
        time.sleep(settle_s)
    fn()  # warm caches, page in buffers, let the BLAS start its threads
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_round_s or calls >= 1 << 16:
            break
        calls *= 2
    rounds = [elapsed / calls]
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        rounds.append((time.perf_counter() - start) / calls)
    return statistics.median(rounds)


def gemm_peak_gflops(size: int = 1536, repeat: int = 10) -> float:
    """Best float32 GEMM rate of NumPy's BLAS with its default threads: the machine's peak."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeat))
    return 2.0 * size**3 / best / 1e9


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
