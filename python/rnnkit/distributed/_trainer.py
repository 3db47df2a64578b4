""":class:`DistributedTrainer`: the :class:`~rnnkit.training.Trainer` over MPI ranks.

It plugs into the Trainer's data-parallel seam (``_local_rows``, ``_local_streams``,
``_reduce_update``) and wraps the entry points: agreement checks first, only rank 0 printing
and writing, the stop decision agreed at each epoch end, and a job-wide abort when one rank
fails in the middle of a run.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from .. import _checks, _seeding, threads
from ..callbacks import Callback, CSVLogger, History, JSONLogger, ModelCheckpoint
from ..layers._random_masks import sample_share
from ..network import Inputs, Network, input_lengths, num_samples
from ..training import NonFiniteLossError, Trainer
from ..training.arguments import targets
from ..training.dispatch import CallbackList
from ..training.progress import format_value
from ..training.sources import is_feed
from ..training.streams import StreamViews, stream_views
from ..training.tbptt import carried_state
from ..training.weights import sample_weights
from . import _mpi
from ._agree import DistributedError, agree, describe, weights_digest
from ._evaluate import evaluate_shared, evaluate_streams_shared
from ._reduce import UpdateReducer

__all__ = ["DistributedTrainer"]

R = TypeVar("R")
_WRITERS = (CSVLogger, JSONLogger, ModelCheckpoint)  # callbacks that write files: rank 0 only
# Raised on every rank alike (agreement checks, figures reduced before they are checked): they
# propagate as usual. Anything else may be one rank's alone and aborts the job.
_CONSISTENT = (DistributedError, NonFiniteLossError)


class DistributedTrainer(Trainer):
    """Data-parallel :class:`~rnnkit.training.Trainer` over MPI: run the same script on every
    rank (``mpiexec -n 4 python train.py``), every rank passing the same data.

    ``batch_size`` is the global batch: each rank computes the gradient of its contiguous
    share of every batch, and one ``Allreduce`` per update makes every rank apply the update
    one process would apply to the whole batch (see :mod:`rnnkit.distributed`). ``fit_stream``
    shares out whole streams, each rank carrying its streams' states. Validation is shared
    out and reduced; logs and metrics are the global ones on every rank.

    Only rank 0 prints (progress, callbacks' lines) and writes (``CSVLogger``, ``JSONLogger``,
    ``ModelCheckpoint``, :meth:`save`); the other callbacks run on every rank with the same
    logs, so their decisions agree, and the stop flag is agreed at every epoch end.

    Args:
        model, loss, optimizer, metrics, clip_norm, clip_value: as :class:`Trainer`.
        comm: an mpi4py intracommunicator (default ``MPI.COMM_WORLD``).
        num_threads: kernel threads of this rank. None: leave a count set by
            :func:`rnnkit.set_num_threads`, else this machine's cores divided by the ranks
            running on it (at least 1), so ranks do not oversubscribe the cores.

    Attributes:
        rank, size: this rank and the number of ranks.
        reducer: the :class:`~rnnkit.distributed._reduce.UpdateReducer` (``seconds`` spent in
            ``Allreduce``, ``updates``).

    Not supported yet (ValueError): ``fit`` with ``tbptt`` and ``lengths`` together, or with a
    generator/Sequence ``x``. ``compute_gradients``, ``predict`` and ``model.train_on_batch``
    run on each rank alone, on the data it passes.
    """

    def __init__(
        self,
        model: Network,
        loss: Any,
        optimizer: Any,
        metrics: Sequence[Any] = (),
        clip_norm: float | None = None,
        clip_value: float | None = None,
        comm: Any = None,
        num_threads: int | None = None,
    ) -> None:
        self.comm = _mpi.check_comm(comm)
        self.rank, self.size = int(self.comm.Get_rank()), int(self.comm.Get_size())
        super().__init__(model, loss, optimizer, metrics, clip_norm, clip_value)
        if num_threads is not None:
            threads.set_num_threads(num_threads)
        elif not threads.num_threads_chosen():
            threads.set_default_num_threads(max(1, _mpi.cores() // _mpi.local_size(self.comm)))
        self.reducer = UpdateReducer(self.comm)
        self._depth = 0  # entry points running: nested ones (validation) skip the checks
        self._share: tuple[int, int, int] | None = None  # this rank's rows of the batch

    # -- the seam -----------------------------------------------------------------------------
    def _local_rows(self, rows: slice | np.ndarray) -> slice | np.ndarray:
        total = rows.stop - rows.start if isinstance(rows, slice) else len(rows)
        start, stop = _mpi.share(total, self.rank, self.size)
        self._share = (start, stop, total)
        if isinstance(rows, slice):
            return slice(rows.start + start, rows.start + stop)
        return rows[start:stop]

    def _local_streams(self, views: StreamViews) -> StreamViews:
        start, stop = _mpi.share(views.X.shape[0], self.rank, self.size)
        self._share = (start, stop, views.X.shape[0])
        return StreamViews(views.X[start:stop], views.Y[start:stop], views.steps, views.add_axis)

    def _forward_loss(self, *args: Any, **kwargs: Any) -> Any:
        # Dropout masks: this rank's rows of the masks one process draws for the whole batch.
        if self._share is None:
            return super()._forward_loss(*args, **kwargs)
        with sample_share(*self._share):
            return super()._forward_loss(*args, **kwargs)

    def _reduce_update(
        self, loss: float, y_pred: Any, y: Any, mask: np.ndarray | None
    ) -> tuple[float, dict[str, float]]:
        return self.reducer.reduce(self, loss, y_pred, y, mask)

    def _end_epoch(self, epoch: int, logs: dict[str, float], cbs: CallbackList) -> bool:
        MPI = _mpi.load()
        stop = super()._end_epoch(epoch, logs, cbs)
        # Callbacks see the same logs everywhere, but a user's callback may still decide on
        # something of its own: any rank stopping stops them all, at the same epoch.
        stop = bool(self.comm.allreduce(stop, op=MPI.LOR))
        self.model.stop_training = stop
        return stop

    # -- running an entry point on every rank -------------------------------------------------
    @contextlib.contextmanager
    def _collective(self) -> Iterator[None]:
        """Rank 0 alone prints; an error only some ranks may have aborts the job."""
        self._depth += 1
        with contextlib.ExitStack() as stack:
            if self._depth == 1:
                # NumPy's BLAS (Dense layers, losses) gets this rank's share too: by default
                # it would start a thread per core in every rank and oversubscribe them
                # (measured: 2 ranks on 2 cores ran the char-LM 4.3x slower without this).
                stack.enter_context(threadpool_limits(limits=threads.get_num_threads()))
            if self.rank != 0:
                devnull = stack.enter_context(open(os.devnull, "w"))
                stack.enter_context(contextlib.redirect_stdout(devnull))
            try:
                yield
            except _CONSISTENT:
                raise
            except BaseException as err:
                if self.size == 1:
                    raise
                _mpi.abort(self.comm, err)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._share = None  # a later call on this rank's own data is not shared

    def _start(self, checks: Callable[[], dict[str, str]], seed: Any = None) -> Any:
        """The agreement checks (skipped inside a run); rank 0's ``seed``."""
        if self._depth > 1:
            return seed

        def local() -> dict[str, str]:
            found = checks()
            found["the weights"] = weights_digest(self.model)
            return found

        return agree(self.comm, local, seed)

    def _rank_callbacks(self, callbacks: Sequence[Callback]) -> list[Callback]:
        return [cb for cb in callbacks if self.rank == 0 or not isinstance(cb, _WRITERS)]

    def broadcast_weights(self) -> None:
        """Copy rank 0's weights to every rank (for models initialised on rank 0 only)."""
        with self._collective():
            for value in self.model.params.values():
                self.comm.Bcast(value, root=0)

    # -- entry points -------------------------------------------------------------------------
    def fit(self, *args: Any, **kwargs: Any) -> History:
        """:meth:`Trainer.fit` over the ranks (same arguments): every rank passes the same
        data; ``batch_size`` is the global batch; rank 0's seed shuffles on every rank."""
        call = inspect.signature(Trainer.fit).bind(self, *args, **kwargs)
        call.apply_defaults()
        a = call.arguments
        with self._collective():

            def checks() -> dict[str, str]:
                if is_feed(a["x"]) or is_feed(a["validation_data"]):
                    raise ValueError(
                        "DistributedTrainer.fit takes array data, not a generator or a Sequence"
                    )
                if a["tbptt"] is not None and a["lengths"] is not None:
                    # A window every sample of a share pads is skipped (tbptt.windows): the
                    # ranks would run different numbers of updates.
                    raise ValueError("DistributedTrainer.fit does not take tbptt with lengths yet")
                skip = ("self", "callbacks", "verbose", "seed")
                return {f"argument {k}": describe(v) for k, v in a.items() if k not in skip}

            seed = _seeding.next_seed(a["seed"])
            if seed is None:
                seed = int(np.random.default_rng().integers(2**63))  # rank 0's is used
            a["seed"] = self._start(checks, seed)
            a["callbacks"] = self._rank_callbacks(a["callbacks"])
            a["verbose"] = a["verbose"] if self.rank == 0 else 0
            self.loss.count = -1
            return Trainer.fit(*call.args, **call.kwargs)

    def fit_stream(self, *args: Any, **kwargs: Any) -> History:
        """:meth:`Trainer.fit_stream` over the ranks (same arguments): the ``batch_size``
        streams are shared out, each rank carrying its own streams' states."""
        call = inspect.signature(Trainer.fit_stream).bind(self, *args, **kwargs)
        call.apply_defaults()
        a = call.arguments
        with self._collective():

            def checks() -> dict[str, str]:
                self._check_streams(a["batch_size"])
                skip = ("self", "callbacks", "verbose")
                return {f"argument {k}": describe(v) for k, v in a.items() if k not in skip}

            self._start(checks)
            a["callbacks"] = self._rank_callbacks(a["callbacks"])
            a["verbose"] = a["verbose"] if self.rank == 0 else 0
            self.loss.count = -1
            return Trainer.fit_stream(*call.args, **call.kwargs)

    def _check_streams(self, batch_size: Any) -> None:
        if _checks.positive_int(batch_size, "batch_size") < self.size:
            raise ValueError(
                f"batch_size {batch_size} gives fewer streams than the {self.size} ranks: "
                "each rank needs at least one stream"
            )

    def evaluate(
        self,
        x: Inputs,
        y: Any,
        batch_size: int = 32,
        verbose: int = 0,
        lengths: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        steps: int | None = None,
    ) -> dict[str, float]:
        """:meth:`Trainer.evaluate` with each batch shared out over the ranks; every rank
        gets the global figures. Array data only."""
        with self._collective(), threads.one_thread_pool():
            batch_size = _checks.positive_int(batch_size, "batch_size")
            verbose = _checks.verbosity(verbose)
            if is_feed(x):
                raise ValueError("DistributedTrainer.evaluate takes arrays, not a generator")
            n = num_samples(x)
            y = targets(y, n)
            lengths = input_lengths(lengths, x)
            weights = sample_weights(sample_weight, n)
            self._start(lambda: {"the data": describe([x, y, lengths, weights, batch_size, steps])})
            logs = evaluate_shared(self, x, y, lengths, batch_size, weights, n)
            if verbose:
                figures = " - ".join(f"{k}: {format_value(v)}" for k, v in logs.items())
                print("evaluate - " + figures)
            return logs

    def evaluate_stream(
        self,
        sequence: np.ndarray,
        targets: np.ndarray | None = None,
        batch_size: int = 32,
        bptt: int = 35,
    ) -> dict[str, float]:
        """:meth:`Trainer.evaluate_stream` with the streams shared out over the ranks."""
        with self._collective(), threads.one_thread_pool():
            self._check_streams(batch_size)
            views = stream_views(sequence, targets, batch_size)
            k = _checks.positive_int(bptt, "bptt")
            self._start(lambda: {"the data": describe([sequence, targets, batch_size, k])})
            with carried_state(self.model):
                return evaluate_streams_shared(self, views, k)

    def save(self, filepath: str | os.PathLike) -> str:
        """:meth:`Trainer.save` on rank 0; the other ranks write nothing (and return the
        path)."""
        if self.rank == 0:
            return super().save(filepath)
        return os.fspath(filepath)

    save_checkpoint = save

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, rank={self.rank}, size={self.size})"


DistributedTrainer.fit.__signature__ = inspect.signature(Trainer.fit)  # type: ignore[attr-defined]
DistributedTrainer.fit_stream.__signature__ = inspect.signature(  # type: ignore[attr-defined]
    Trainer.fit_stream
)
