"""Run under mpiexec by tests/test_distributed.py: ``python _distributed_script.py MODE OUT``.

``equal``: every case of tests/_distributed_cases.py with DistributedTrainer; rank 0 writes
``OUT/<case>.npz``. The other modes exercise one behaviour each (see their functions)."""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
from mpi4py import MPI

import rnnkit
from _distributed_cases import CASES, outcome  # found next to this script: sys.path[0]
from _sharded_cases import SHARD_CASES
from rnnkit.callbacks import Callback, CSVLogger, EarlyStopping, ModelCheckpoint
from rnnkit.distributed import DistributedError, DistributedTrainer
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential
from rnnkit.training import NonFiniteLossError

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()


def report(line: str) -> None:
    """One line to stderr in one write, so that mpiexec does not interleave ranks' lines."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def small(seed: int = 0) -> Sequential:
    return Sequential(
        [
            SimpleRNN(4, input_shape=(5, 2), seed=seed, dtype="float64"),
            Dense(1, seed=1, dtype="float64"),
        ]
    )


def data(n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 5, 2))
    return x, x.sum(axis=(1, 2))[:, None]


def equal(out: str) -> None:
    for name, case in CASES.items():
        trainer, history = case(DistributedTrainer)
        if RANK == 0:
            np.savez(os.path.join(out, f"{name}.npz"), **outcome(trainer, history))


def sharded(out: str) -> None:
    """Every case of tests/_sharded_cases.py, each rank on its own shard; rank 0 writes
    ``OUT/<case>.npz``."""
    for name, case in SHARD_CASES.items():
        _, found = case.sharded(DistributedTrainer, RANK, SIZE)
        if RANK == 0:
            np.savez(os.path.join(out, f"{name}.npz"), **found)


def shard_faults(out: str) -> None:
    """Shard mode: shards of different sizes are fine, but a different feature shape, a
    rank's inconsistent shard or too small a batch fail on every rank alike; identical shards
    warn on rank 0; training then still works on the same ranks."""
    for bad in ("shards", 1):
        try:
            DistributedTrainer(small(), "mse", "sgd", data=bad)
        except (TypeError, ValueError) as err:
            print(f"rank {RANK} data={bad!r}: {type(err).__name__}: {err}", flush=True)
    trainer = DistributedTrainer(small(), "mse", "sgd", data="sharded")
    x, y = data(12 if RANK == 0 else 10)
    wide = np.concatenate([x, x[:, :, :1]], axis=2) if RANK == 1 else x
    expect_error("features", lambda: trainer.fit(wide, y, batch_size=4, verbose=0))
    expect_error("targets", lambda: trainer.fit(x, y[: len(y) - RANK], batch_size=4, verbose=0))
    expect_error("batch", lambda: trainer.fit(x, y, batch_size=1, verbose=0))
    expect_error("evaluate", lambda: trainer.evaluate(wide, y, batch_size=4))
    series = np.ones((40 if RANK == 0 else 1, 2))  # rank 1's 2 streams get no step
    expect_error(
        "stream", lambda: trainer.fit_stream(series, series[:, :1], batch_size=4, verbose=0)
    )
    same_x, same_y = data(8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(same_x, same_y, batch_size=4, verbose=0)
    for warning in caught:
        print(f"rank {RANK} warned: {warning.message}", flush=True)
    history = trainer.fit(x, y, batch_size=4, epochs=1, verbose=0)
    print(f"rank {RANK} recovered, {trainer.reducer.updates} updates", flush=True)
    assert np.isfinite(history.history["loss"][0])


def expect_error(what: str, run: object) -> None:
    """``run()`` must raise DistributedError on this rank; prints what it said."""
    try:
        run()  # type: ignore[operator]
    except DistributedError as err:
        print(f"rank {RANK} {what}: DistributedError: {err}", flush=True)
        return
    raise AssertionError(f"{what}: no error on rank {RANK}")


def faults(out: str) -> None:
    """Mismatched data and differing weights: a clear error on every rank, then training
    still works on the same ranks (nobody was left in a collective)."""
    x, y = data(12 if RANK == 0 else 10)
    trainer = DistributedTrainer(small(), "mse", "sgd")
    expect_error("shapes", lambda: trainer.fit(x, y, batch_size=4, verbose=0))
    trainer = DistributedTrainer(small(seed=RANK), "mse", "sgd")
    x, y = data()
    expect_error("weights", lambda: trainer.fit(x, y, batch_size=4, verbose=0))
    trainer.broadcast_weights()
    trainer.fit(x, y, batch_size=4, epochs=1, verbose=0)
    print(f"rank {RANK} recovered", flush=True)


class StopOnRank1(Callback):
    """Asks to stop at the end of epoch 2, on rank 1 only: the ranks must agree anyway."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if RANK == 1 and epoch == 1:
            self.attached_model().stop_training = True


def rank0(out: str) -> None:
    """Only rank 0 prints and writes; EarlyStopping and a one-rank stop agree everywhere."""
    x, y = data()
    trainer = DistributedTrainer(small(), "mse", "sgd")
    report(f"threads {RANK} {rnnkit.get_num_threads()}")
    callbacks = [
        CSVLogger(os.path.join(out, f"log{RANK}.csv")),
        ModelCheckpoint(os.path.join(out, f"ckpt{RANK}_{{epoch}}.npz")),
        EarlyStopping(monitor="loss", patience=0, min_delta=1e9, verbose=1),
    ]
    history = trainer.fit(x, y, batch_size=4, epochs=5, callbacks=callbacks, verbose=2)
    report(f"epochs run {len(history.history['loss'])} on rank {RANK}")
    trainer.save(os.path.join(out, f"saved{RANK}.npz"))
    history = trainer.fit(x, y, batch_size=4, epochs=5, callbacks=[StopOnRank1()], verbose=0)
    report(f"agreed stop {len(history.history['loss'])} on rank {RANK}")
    report(f"evaluate <{trainer.evaluate(x, y, batch_size=5)['loss']!r}>")
    x[-1, 0, 0] = np.nan  # in the last rank's share of the last batch only
    try:
        trainer.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    except NonFiniteLossError as err:
        report(f"nan stop on rank {RANK}: {err.what} at step {err.step + 1}")


def abort(out: str) -> None:
    """Rank 1 raises in the middle of training: the job must end with its error printed."""

    class Boom(Callback):
        def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if RANK == 1 and batch == 1:
                raise RuntimeError("boom on rank 1")

    x, y = data()
    DistributedTrainer(small(), "mse", "sgd").fit(x, y, batch_size=4, callbacks=[Boom()], verbose=0)
    print("not reached", flush=True)


if __name__ == "__main__":
    mode, directory = sys.argv[1], sys.argv[2]
    modes = {"equal": equal, "faults": faults, "rank0": rank0, "abort": abort}
    modes.update({"sharded": sharded, "shard_faults": shard_faults})
    modes[mode](directory)
