"""Thread control for the kernels.

The kernels split a batch across rnnkit's own worker threads and call their BLAS
(``scipy-openblas32``) single-threaded inside each, so there is one pool, never two fighting over
the cores. The worker count is rnnkit's own setting: :func:`set_num_threads`, or ``threadpoolctl``
(rnnkit registers a controller with it, ``internal_api="rnnkit"``, ``user_api="blas"``, so
``threadpool_limits(1)`` and ``threadpool_limits(1, user_api="blas")`` limit rnnkit too). Its
initial value is the BLAS's default, which honours ``OPENBLAS_NUM_THREADS``. threadpoolctl shows
``libscipy_openblas`` at one thread once a kernel has run: that is the BLAS inside the workers.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.metadata
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from . import _checks
from ._native import _core

P = ParamSpec("P")
R = TypeVar("R")


def get_num_threads() -> int:
    """Number of threads rnnkit's kernels may use."""
    return int(_core.get_num_threads())


MAX_THREADS = 1024  # far beyond any machine's cores; the BLAS may cap it lower (its MAX_THREADS)


_chosen_by_user = False  # set_num_threads was called: rnnkit.distributed keeps that count


def set_num_threads(n: int) -> None:
    """Set the number of threads rnnkit's kernels may use, ``1 <= n <= 1024``. A call running
    in another thread keeps the count it started with."""
    global _chosen_by_user
    _core.set_num_threads(_checks.integer(n, "n", minimum=1, maximum=MAX_THREADS))
    _chosen_by_user = True


def set_default_num_threads(n: int) -> None:
    """Set the kernels' thread count as a default, not as the program's choice (so
    :func:`num_threads_chosen` stays as it was): :mod:`rnnkit.distributed`'s share of the
    cores."""
    _core.set_num_threads(_checks.integer(n, "n", minimum=1, maximum=MAX_THREADS))


def num_threads_chosen() -> bool:
    """Whether the program called :func:`set_num_threads` (rather than running on the
    default count): :class:`rnnkit.distributed.DistributedTrainer` then leaves the count
    alone instead of giving each process its share of the cores."""
    return _chosen_by_user


def build_info() -> dict:
    """How the extension was built and which BLAS core it runs (for benchmarks and bug reports)."""
    return dict(_core.build_info())


def _register_with_threadpoolctl() -> None:
    """Let ``threadpoolctl`` see and limit rnnkit's worker count, through the two C functions
    the extension exports for it (``cpp/bindings/module.cpp``)."""
    try:
        import threadpoolctl
    except ImportError:  # pragma: no cover - a declared dependency
        return

    class RnnkitController(threadpoolctl.LibController):
        user_api = "blas"  # limits meant for BLAS threads (the usual spelling) reach rnnkit
        internal_api = "rnnkit"
        filename_prefixes = ("_core",)
        check_symbols = ("rnnkit_get_num_threads", "rnnkit_set_num_threads")

        def get_num_threads(self) -> int:
            return int(self.dynlib.rnnkit_get_num_threads())

        def set_num_threads(self, num_threads: int) -> None:
            self.dynlib.rnnkit_set_num_threads(max(1, int(num_threads)))

        def get_version(self) -> str | None:
            try:
                return importlib.metadata.version("rnnkit")
            except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a tree
                return None

    threadpoolctl.register(RnnkitController)


_register_with_threadpoolctl()
# Daemon threads may still be inside kernels when the interpreter exits; park them before the
# libraries' destructors run (cpp/rnnkit/threads.hpp, park_kernels_for_exit).
atexit.register(_core.park_kernels_for_exit)


# one_thread_pool may be entered from several Python threads at once (two Trainers, a Trainer
# and a predict); the first to enter quiets the other pools and the last to leave restores them,
# Saving and restoring per entry would interleave.
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
    """Limit every thread pool but rnnkit's own (its workers and its BLAS) to one thread; the
    limiter, or None."""
    import scipy_openblas32
    from threadpoolctl import ThreadpoolController

    own_dir = os.path.realpath(scipy_openblas32.get_lib_dir())
    controller = ThreadpoolController()
    others = [
        lib.filepath
        for lib in controller.lib_controllers
        if lib.internal_api != "rnnkit"
        and os.path.dirname(os.path.realpath(lib.filepath)) != own_dir
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
