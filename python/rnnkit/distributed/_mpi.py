"""The MPI side of :mod:`rnnkit.distributed`: mpi4py loaded on first use, the communicator,
how many processes share this machine (and so its cores), and ending a job when one process
fails."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any, NoReturn

__all__ = ["abort", "check_comm", "cores", "load", "local_size", "share"]

INSTALL_HINT = (
    "rnnkit.distributed needs mpi4py and an MPI runtime: pip install 'rnnkit[mpi]' (mpi4py "
    "and MPICH's wheel), or on a cluster mpi4py built against the site's MPI "
    "(pip install --no-binary mpi4py mpi4py)"
)


def load() -> Any:
    """The ``mpi4py.MPI`` module (importing it initialises MPI), or ImportError saying what to
    install."""
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    return MPI


def check_comm(comm: Any) -> Any:
    """``comm``, or ``MPI.COMM_WORLD`` for None; TypeError for anything but an intracommunicator."""
    MPI = load()
    if comm is None:
        return MPI.COMM_WORLD
    if not isinstance(comm, MPI.Intracomm):
        raise TypeError(f"comm must be an mpi4py intracommunicator, got {type(comm).__name__}")
    return comm


def local_size(comm: Any) -> int:
    """How many processes of ``comm`` run on this machine (MPI's shared-memory split)."""
    MPI = load()
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return int(node.Get_size())
    finally:
        node.Free()


def cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows: no affinity masks
        return os.cpu_count() or 1


def share(n: int, rank: int, size: int) -> tuple[int, int]:
    """``[start, stop)`` of ``rank``'s contiguous share of ``n`` items over ``size`` processes:
    the first ``n % size`` shares one item longer (NumPy's ``array_split``)."""
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


def abort(comm: Any, error: BaseException) -> NoReturn:
    """Print ``error`` with its traceback, naming this rank, and end the whole job: the other
    processes may be waiting in a collective this one will never reach."""
    sys.stdout.flush()
    text = "".join(traceback.format_exception(error))
    sys.stderr.write(
        f"rnnkit.distributed: rank {comm.Get_rank()} of {comm.Get_size()} failed; aborting "
        f"the job (MPI Abort):\n{text}"
    )
    sys.stderr.flush()
    comm.Abort(1)
    raise SystemExit(1)  # pragma: no cover - Abort does not return
