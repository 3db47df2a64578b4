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
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from .. import _checks, _seeding, threads
from ..callbacks import Callback, CSVLogger, History, JSONLogger, ModelCheckpoint
from ..layers._random_masks import sample_share
from ..network import Inputs, Network, input_lengths, num_samples
from ..training import NonFiniteLossError, Trainer
from ..training.arguments import FitOptions, prepare_fit_data, targets
from ..training.dispatch import CallbackList
from ..training.loop import EpochPlan
from ..training.progress import format_value
from ..training.sources import is_feed
from ..training.streams import StreamViews, stream_views
from ..training.tbptt import carried_state
from ..training.weights import sample_weights
from . import _mpi
from ._agree import DistributedError, agree, describe, weights_digest
from ._evaluate import evaluate_shared, evaluate_streams_shared
from ._reduce import UpdateReducer
from ._shards import (
    ShardSchedule,
    cut_streams,
    local_streams,
    own_steps,
    shape_only,
    warn_dropped_steps,
)

__all__ = ["DistributedTrainer"]

R = TypeVar("R")
_WRITERS = (CSVLogger, JSONLogger, ModelCheckpoint)  # callbacks that write files: rank 0 only
# Raised on every rank alike (agreement checks, figures reduced before they are checked): they
# propagate as usual. Anything else may be one rank's alone and aborts the job.
_CONSISTENT = (DistributedError, NonFiniteLossError)
_DATA = ("replicated", "sharded")


class DistributedTrainer(Trainer):
    """Data-parallel :class:`~rnnkit.training.Trainer` over MPI: run the same script on every
    rank (``mpiexec -n 4 python train.py``), every rank passing the same data, or with
    ``data="sharded"`` each rank its own shard of it.

    ``batch_size`` is the global batch: each rank computes the gradient of its contiguous
    share of every batch, and one ``Allreduce`` per update makes every rank apply the update
    one process would apply to the whole batch (see :mod:`rnnkit.distributed`). ``fit_stream``
    shares out whole streams, each rank carrying its streams' states. Validation is shared
    out and reduced; logs and metrics are the global ones on every rank.

    With ``data="sharded"`` every data argument of ``fit``, ``evaluate``, ``fit_stream`` and
    ``evaluate_stream`` (``x``, ``y``, ``lengths``, ``sample_weight``, validation data, the
    sequences) is this rank's own shard: the shards may hold different numbers of samples
    but must agree in dtypes and in shape past the sample axis. Each rank takes its share of
    every global batch from its own shard, shuffled with ``(seed, epoch, rank)`` (rank 0's
    seed); an epoch lasts until the largest shard (relative to its share) is used up, the
    others contributing empty shares by then, so every sample is used once per epoch and the
    last batches may be smaller than ``batch_size``. ``fit_stream`` cuts each rank's streams
    from its own sequence, all as long as the shortest rank's (a warning says what that
    leaves out). The weights equal one process's on the samples arranged as the global
    batches are formed: see :mod:`rnnkit.distributed._shards`.

    Only rank 0 prints (progress, callbacks' lines) and writes (``CSVLogger``, ``JSONLogger``,
    ``ModelCheckpoint``, :meth:`save`); the other callbacks run on every rank with the same
    logs, so their decisions agree, and the stop flag is agreed at every epoch end.

    Args:
        model, loss, optimizer, metrics, clip_norm, clip_value: as :class:`Trainer`.
        comm: an mpi4py intracommunicator (default ``MPI.COMM_WORLD``).
        num_threads: kernel threads of this rank. None: leave a count set by
            :func:`rnnkit.set_num_threads`, else this machine's cores divided by the ranks
            running on it (at least 1), so ranks do not oversubscribe the cores.
        data: ``"replicated"`` (every rank passes the same data; checked by a hash of it)
            or ``"sharded"`` (each rank passes its own shard; checked by dtypes and shapes).

    Attributes:
        rank, size: this rank and the number of ranks.
        data: ``"replicated"`` or ``"sharded"``.
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
        data: str = "replicated",
    ) -> None:
        if not isinstance(data, str):
            raise TypeError(f"data must be a str, 'replicated' or 'sharded', got {data!r}")
        if data not in _DATA:
            raise ValueError(
                f"data must be 'replicated' (every rank passes the same data) or 'sharded' "
                f"(each rank passes its own shard), got {data!r}"
            )
        self.data = data
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
        # Shard mode, set for one run: the updates of an epoch of fit; this rank's streams
        # (start, stop, batch_size) and their agreed length in fit_stream.
        self._schedule: ShardSchedule | None = None
        self._stream_share: tuple[int, int, int] | None = None
        self._stream_steps: int | None = None

    @property
    def sharded(self) -> bool:
        """Whether each rank passes its own shard of the data (``data="sharded"``)."""
        return self.data == "sharded"

    # -- the seam -----------------------------------------------------------------------------
    def _local_rows(self, rows: slice | np.ndarray) -> slice | np.ndarray:
        total = rows.stop - rows.start if isinstance(rows, slice) else len(rows)
        start, stop = _mpi.share(total, self.rank, self.size)
        self._share = (start, stop, total)
        if isinstance(rows, slice):
            return slice(rows.start + start, rows.start + stop)
        return rows[start:stop]

    def _local_streams(self, views: StreamViews) -> StreamViews:
        if self.sharded:  # the views are this rank's own streams already
            assert self._stream_share is not None
            self._share = self._stream_share
            return views
        start, stop = _mpi.share(views.X.shape[0], self.rank, self.size)
        self._share = (start, stop, views.X.shape[0])
        return StreamViews(views.X[start:stop], views.Y[start:stop], views.steps, views.add_axis)

    def _batches(self, plan: EpochPlan, epoch: int) -> Iterator[tuple[Any, int]]:
        if not self.sharded:
            yield from super()._batches(plan, epoch)
            return
        assert self._schedule is not None
        order = None
        if plan.shuffle:
            seed = None if plan.seed is None else [int(plan.seed), epoch, self.rank]
            order = np.random.default_rng(seed).permutation(plan.n)
        for rows, place in self._schedule.batches(order):
            self._share = place  # dropout: this rank's rows of the arranged batch's masks
            yield rows, place[2]

    def _epoch_size(self, n: int, batch_size: int) -> tuple[int, int]:
        if self._schedule is None:
            return super()._epoch_size(n, batch_size)
        return self._schedule.samples, self._schedule.updates

    def _stream_views(
        self, sequence: np.ndarray, targets: np.ndarray | None, batch_size: int
    ) -> StreamViews:
        if not self.sharded:
            return super()._stream_views(sequence, targets, batch_size)
        assert self._stream_share is not None and self._stream_steps is not None
        start, stop, _ = self._stream_share
        return cut_streams(sequence, targets, stop - start, self._stream_steps)

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
                    self._schedule = self._stream_share = self._stream_steps = None

    def _start(
        self,
        checks: Callable[[], tuple[dict[str, str], Any]],
        seed: Any = None,
        gather: bool = False,
    ) -> tuple[Any, list[Any]]:
        """The agreement checks (see :func:`._agree.agree`; inside a run skipped, unless
        ``gather``, and the weights are not checked again): rank 0's ``seed`` and every rank's
        figures."""
        nested = self._depth > 1
        if nested and not gather:
            return seed, []

        def local() -> tuple[dict[str, str], Any]:
            found, figures = checks()
            if not nested:
                found["the weights"] = weights_digest(self.model)
            return found, figures

        return agree(self.comm, local, seed)

    def _check_batch(self, batch_size: Any, name: str) -> int:
        """Shard mode: every rank needs a share of each batch to use up its shard."""
        if _checks.positive_int(batch_size, name) < self.size:
            raise ValueError(
                f"{name} {batch_size} is smaller than the {self.size} ranks: with "
                "data='sharded' each rank needs at least one row of every batch"
            )
        return int(batch_size)

    def _warn_same_data(self, what: str, digests: list[str]) -> None:
        """Rank 0 warns when every rank passed byte-identical data in shard mode."""
        if self.rank == 0 and self.size > 1 and len(set(digests)) == 1:
            warnings.warn(
                f"{what} with data='sharded': every rank passed the same data, so each sample "
                f"counts {self.size} times per epoch; pass data='replicated' (the default) for "
                "data every rank holds whole",
                UserWarning,
                stacklevel=4,
            )

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

            def checks() -> tuple[dict[str, str], Any]:
                if is_feed(a["x"]) or is_feed(a["validation_data"]):
                    raise ValueError(
                        "DistributedTrainer.fit takes array data, not a generator or a Sequence"
                    )
                if a["tbptt"] is not None and a["lengths"] is not None:
                    # A window every sample of a share pads is skipped (tbptt.windows): the
                    # ranks would run different numbers of updates.
                    raise ValueError("DistributedTrainer.fit does not take tbptt with lengths yet")
                skip = ("self", "callbacks", "verbose", "seed")
                if not self.sharded:
                    return {f"argument {k}": describe(v) for k, v in a.items() if k not in skip}, 0
                return self._fit_shard_checks(a, skip)

            seed = _seeding.next_seed(a["seed"])
            if seed is None:
                seed = int(np.random.default_rng().integers(2**63))  # rank 0's is used
            a["seed"], figures = self._start(checks, seed)
            if self.sharded:
                self._schedule = ShardSchedule([n for n, _ in figures], a["batch_size"], self.rank)
                self._warn_same_data("fit", [digest for _, digest in figures])
            a["callbacks"] = self._rank_callbacks(a["callbacks"])
            a["verbose"] = a["verbose"] if self.rank == 0 else 0
            self.loss.count = -1
            return Trainer.fit(*call.args, **call.kwargs)

    def _fit_shard_checks(
        self, a: dict[str, Any], skip: tuple[str, ...]
    ) -> tuple[dict[str, str], tuple[int, str]]:
        """This rank's checks of ``fit``'s arguments in shard mode: its own data checked as
        ``fit`` will, the arrays described by kind only; its sample count and a hash of x."""
        self._check_batch(a["batch_size"], "batch_size")
        if a["validation_batch_size"] is not None:
            self._check_batch(a["validation_batch_size"], "validation_batch_size")
        options = FitOptions(
            a["sample_weight"], a["class_weight"], a["validation_lengths"], a["validation_steps"]
        )
        data = prepare_fit_data(
            a["x"], a["y"], a["lengths"], a["validation_data"], a["validation_split"], options
        )
        if data.validation is not None:  # evaluate checks it in the run: too late, one rank
            targets(data.validation.y, num_samples(data.validation.x), "validation y")
        found = {f"argument {k}": shape_only(v) for k, v in a.items() if k not in skip}
        return found, (data.n, describe(a["x"]))

    def fit_stream(self, *args: Any, **kwargs: Any) -> History:
        """:meth:`Trainer.fit_stream` over the ranks (same arguments): the ``batch_size``
        streams are shared out, each rank carrying its own streams' states."""
        call = inspect.signature(Trainer.fit_stream).bind(self, *args, **kwargs)
        call.apply_defaults()
        a = call.arguments
        with self._collective():

            def checks() -> tuple[dict[str, str], Any]:
                self._check_streams(a["batch_size"])
                skip = ("self", "callbacks", "verbose")
                if not self.sharded:
                    return {f"argument {k}": describe(v) for k, v in a.items() if k not in skip}, 0
                start, stop = local_streams(a["batch_size"], self.rank, self.size)
                steps = own_steps(a["sequence"], a["targets"], stop - start, a["batch_size"])
                found = {f"argument {k}": shape_only(v) for k, v in a.items() if k not in skip}
                return found, (steps, describe(a["sequence"]))

            _, figures = self._start(checks)
            if self.sharded:
                self._stream_steps = self._agree_steps("fit_stream", a["batch_size"], figures)
                self._warn_same_data("fit_stream", [digest for _, digest in figures])
            a["callbacks"] = self._rank_callbacks(a["callbacks"])
            a["verbose"] = a["verbose"] if self.rank == 0 else 0
            self.loss.count = -1
            return Trainer.fit_stream(*call.args, **call.kwargs)

    def _agree_steps(self, what: str, batch_size: int, figures: list[Any]) -> int:
        """Shard mode: this rank's streams, and their length agreed from every rank's
        ``(steps, ...)`` figures (the shortest; rank 0 warns when that leaves steps out)."""
        start, stop = local_streams(batch_size, self.rank, self.size)
        self._stream_share = (start, stop, batch_size)
        steps = [entry[0] for entry in figures]
        if self.rank == 0:
            bounds = [local_streams(batch_size, r, self.size) for r in range(self.size)]
            warn_dropped_steps(what, steps, [b - a for a, b in bounds])
        return min(steps)

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
        """:meth:`Trainer.evaluate` with each batch shared out over the ranks (in shard mode
        each rank's share of every batch taken from its own data); every rank gets the global
        figures. Array data only."""
        with self._collective(), threads.one_thread_pool():
            batch_size = _checks.positive_int(batch_size, "batch_size")
            verbose = _checks.verbosity(verbose)
            if is_feed(x):
                raise ValueError("DistributedTrainer.evaluate takes arrays, not a generator")
            prepared: list[tuple[int, Any, Any, Any]] = []

            def prepare() -> None:
                n = num_samples(x)
                checked = (
                    targets(y, n),
                    input_lengths(lengths, x),
                    sample_weights(sample_weight, n),
                )
                prepared.append((n, *checked))

            def checks() -> tuple[dict[str, str], int]:
                if self.sharded:  # inside the agreement: one rank's bad shard fails all alike
                    self._check_batch(batch_size, "batch_size")
                    prepare()
                n, *checked = prepared[0]
                data = [x, *checked, batch_size, steps]
                return {"the data": shape_only(data) if self.sharded else describe(data)}, n

            if not self.sharded:
                prepare()  # the same data everywhere: its checks fail alike on every rank
            _, counts = self._start(checks, gather=self.sharded)
            n, y, lengths, weights = prepared[0]
            batches: Iterable[tuple[Any, int]]
            if self.sharded:
                schedule = ShardSchedule(counts, batch_size, self.rank)
                batches = ((rows, place[2]) for rows, place in schedule.batches(None))
            else:
                batches = (
                    (self._local_rows(slice(s, min(s + batch_size, n))), min(s + batch_size, n) - s)
                    for s in range(0, n, batch_size)
                )
            logs = evaluate_shared(self, x, y, lengths, weights, batches)
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
        """:meth:`Trainer.evaluate_stream` with the streams shared out over the ranks (in
        shard mode each rank's streams cut from its own sequence)."""
        with self._collective(), threads.one_thread_pool():
            self._check_streams(batch_size)
            k = _checks.positive_int(bptt, "bptt")
            if not self.sharded:
                views = stream_views(sequence, targets, batch_size)
                data = [sequence, targets, batch_size, k]
                self._start(lambda: ({"the data": describe(data)}, 0))
            else:
                start, stop = local_streams(batch_size, self.rank, self.size)

                def checks() -> tuple[dict[str, str], tuple[int]]:
                    steps = own_steps(sequence, targets, stop - start, batch_size)
                    return {"the data": shape_only([sequence, targets, batch_size, k])}, (steps,)

                _, figures = self._start(checks, gather=True)
                agreed = self._agree_steps("evaluate_stream", batch_size, figures)
                views = cut_streams(sequence, targets, stop - start, agreed)
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
        return f"{super().__repr__()[:-1]}, rank={self.rank}, size={self.size}, data={self.data!r})"


DistributedTrainer.fit.__signature__ = inspect.signature(Trainer.fit)  # type: ignore[attr-defined]
DistributedTrainer.fit_stream.__signature__ = inspect.signature(  # type: ignore[attr-defined]
    Trainer.fit_stream
)
