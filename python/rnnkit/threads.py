"""Thread control for the kernels and the BLAS they call.

The kernels split a batch across as many threads as the BLAS (``scipy-openblas32``) is set to use
and run the BLAS single-threaded inside each, so one number governs both and never two pools at
once. ``threadpoolctl`` sees this BLAS, so ``threadpool_limits(1)`` limits rnnkit too.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from . import _checks
from ._native import _core

P = ParamSpec("P")
R = TypeVar("R")


def get_num_threads() -> int:
    """Number of threads rnnkit's kernels (and its BLAS) may use."""
    return int(_core.get_num_threads())


MAX_THREADS = 1024  # far beyond any machine's cores; the BLAS may cap it lower (its MAX_THREADS)


def set_num_threads(n: int) -> None:
    """Set the number of threads rnnkit's kernels (and its BLAS) may use, ``1 <= n <= 1024``;
    the BLAS build may cap it lower (scipy-openblas32 at 64)."""
    _core.set_num_threads(_checks.integer(n, "n", minimum=1, maximum=MAX_THREADS))


def build_info() -> dict:
    """How the extension was built and which BLAS core it runs (for benchmarks and bug reports)."""
    return dict(_core.build_info())


# one_thread_pool may be entered from several Python threads at once (two Trainers, a Trainer
# and a predict); the first to enter quiets the other pools and the last to leave restores them,
# as SerialBlasSection does for the BLAS in C++. Saving and restoring per entry would interleave.
_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_limits: Any = None  # threadpoolctl's limiter while the other pools are quieted


@contextlib.contextmanager
def one_thread_pool() -> Iterator[None]:
    """While inside, every *other* BLAS/OpenMP pool in the process (NumPy's, SciPy's, torch's)
    runs single-threaded whenever rnnkit's kernels use more than one thread.

    A training step alternates rnnkit's kernels with NumPy matmuls (Dense layers, losses). Both
    pools busy-wait between calls, so with two of them on two cores each steals the other's
    core: measured on the char-LM demo, 11.5 ms an update with both pools at two threads,
    8.7 ms with NumPy's at one (10.8 ms with rnnkit's at one). The Trainer runs inside this.
    Safe to nest and to enter from several threads.
    """
    global _quiet_depth, _quiet_limits
    with _quiet_lock:
        if _quiet_depth == 0 and get_num_threads() > 1:
            _quiet_limits = _limit_other_pools()
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _quiet_limits is not None:
                _quiet_limits.restore_original_limits()
                _quiet_limits = None


def _limit_other_pools() -> Any:
    """Limit every thread pool but rnnkit's own BLAS to one thread; the limiter, or None."""
    import scipy_openblas32
    from threadpoolctl import ThreadpoolController

    own_dir = os.path.realpath(scipy_openblas32.get_lib_dir())
    controller = ThreadpoolController()
    others = [
        lib.filepath
        for lib in controller.lib_controllers
        if os.path.dirname(os.path.realpath(lib.filepath)) != own_dir
    ]
    if not others:
        return None
    return controller.select(filepath=others).limit(limits=1)


def in_one_thread_pool(method: Callable[P, R]) -> Callable[P, R]:
    """Decorator: run ``method`` inside :func:`one_thread_pool`."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with one_thread_pool():
            return method(*args, **kwargs)

    return wrapper
