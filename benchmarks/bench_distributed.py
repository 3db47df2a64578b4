"""Data-parallel throughput over MPI: samples/s and time in Allreduce per update.

    python benchmarks/bench_distributed.py [--updates 20]

launches, for each configuration of ``--configs`` (default ``1x2 2x1``: one rank with two
kernel threads, two ranks with one thread each), ``mpiexec -n RANKS python <this script>
--worker`` and prints one row per workload: the char-LM's modern preset (Embedding(32),
SimpleRNN(256), a Dense over 96 characters, 32 streams, TBPTT 64, Adam, clip_norm 5; trained
on random ids, so only the speed means anything) and a (64, 100, 128, 256) SimpleRNN layer
(N, T, D, H) under a Dense head. Needs ``pip install "rnnkit[mpi]"``. Figures on a shared
machine are noisy: compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

VOCAB = 96


def char_lm(trainer_class: type, updates: int) -> tuple[Any, float, int]:
    """The modern preset on ``updates`` windows of 32 streams; (trainer, seconds, samples)."""
    from rnnkit.layers import Dense, Embedding, SimpleRNN, TimeDistributed
    from rnnkit.models import Sequential
    from rnnkit.optimizers import Adam

    model = Sequential(
        [
            Embedding(VOCAB, 32, seed=0),
            SimpleRNN(256, return_sequences=True, seed=1),
            TimeDistributed(Dense(VOCAB, seed=2)),
        ]
    )
    trainer = trainer_class(model, "sparse_categorical_crossentropy", Adam(2e-3), clip_norm=5.0)
    ids = np.random.default_rng(0).integers(0, VOCAB, 32 * 64 * 2 + 1)
    trainer.fit_stream(ids, batch_size=32, bptt=64, epochs=1, verbose=0)  # warm-up: 2 updates
    ids = np.random.default_rng(1).integers(0, VOCAB, 32 * 64 * updates + 1)
    seconds = _timed(trainer, lambda: trainer.fit_stream(ids, batch_size=32, bptt=64, verbose=0))
    return trainer, seconds, 32 * 64 * updates


def layer(trainer_class: type, updates: int) -> tuple[Any, float, int]:
    """SimpleRNN(256) on (64, 100, 128) batches under a Dense(1) head, MSE, Adam."""
    from rnnkit.layers import Dense, SimpleRNN
    from rnnkit.models import Sequential

    model = Sequential([SimpleRNN(256, input_shape=(100, 128), seed=0), Dense(1, seed=1)])
    trainer = trainer_class(model, "mse", "adam")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64 * updates, 100, 128)).astype(np.float32)
    y = rng.standard_normal((64 * updates, 1)).astype(np.float32)
    trainer.fit(x[:128], y[:128], batch_size=64, verbose=0, seed=0)  # warm-up: 2 updates
    seconds = _timed(trainer, lambda: trainer.fit(x, y, batch_size=64, verbose=0, seed=0))
    return trainer, seconds, 64 * updates


def _timed(trainer: Any, run: Any) -> float:
    trainer.comm.Barrier()
    trainer.reducer.seconds, trainer.reducer.updates = 0.0, 0
    start = time.perf_counter()
    run()
    trainer.comm.Barrier()
    return time.perf_counter() - start


def _bare_allreduce(comm: Any, buffer: np.ndarray, repeat: int = 20) -> float:
    """Seconds per Allreduce of ``buffer`` with every rank already waiting: the transfer
    alone, without the wait for the slowest rank that the in-training figure includes."""
    from mpi4py import MPI

    best = float("inf")
    for _ in range(repeat):
        comm.Barrier()
        start = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        best = min(best, time.perf_counter() - start)
    return float(comm.allreduce(best, op=MPI.MAX))


def worker(updates: int, threads: int) -> None:
    """Under mpiexec: both workloads; rank 0 prints one JSON line per workload."""
    import rnnkit
    from rnnkit.distributed import DistributedTrainer

    rnnkit.set_num_threads(threads)
    for name, workload in (("char-LM modern", char_lm), ("layer (64,100,128,256)", layer)):
        trainer, seconds, samples = workload(DistributedTrainer, updates)
        per_update = trainer.reducer.seconds / max(trainer.reducer.updates, 1)
        bare = _bare_allreduce(trainer.comm, trainer.reducer.buffer.copy())
        message = 8 * trainer.reducer.buffer.size  # float64 bytes
        if trainer.rank == 0:
            row = {
                "workload": name,
                "samples_per_s": samples / seconds,
                "allreduce_ms": per_update * 1e3,
                "update_ms": seconds / max(trainer.reducer.updates, 1) * 1e3,
                "message_kib": message / 1024,
                "bare_ms": bare * 1e3,
            }
            print(json.dumps(row), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20, help="timed updates per workload")
    parser.add_argument("--configs", nargs="+", default=["1x2", "2x1"], help="RANKSxTHREADS")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.updates, args.threads)
        return 0
    beside = Path(sys.executable).parent / "mpiexec"
    mpiexec = str(beside) if beside.exists() else shutil.which("mpiexec")
    if mpiexec is None:
        sys.exit('no mpiexec: pip install "rnnkit[mpi]"')
    print(
        f"{'config':<16}{'workload':<24}{'samples/s':>12}{'update ms':>11}"
        f"{'Allreduce ms':>14}{'bare ms':>9}{'message KiB':>13}"
    )
    for config in args.configs:
        ranks, threads = (int(v) for v in config.split("x"))
        command = [
            mpiexec,
            "-n",
            str(ranks),
            sys.executable,
            __file__,
            "--worker",
            "--updates",
            str(args.updates),
            "--threads",
            str(threads),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
        for line in done.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                print(
                    f"{f'{ranks} rank x {threads} thr':<16}{r['workload']:<24}"
                    f"{r['samples_per_s']:>12,.0f}{r['update_ms']:>11.1f}"
                    f"{r['allreduce_ms']:>14.3f}{r['bare_ms']:>9.3f}{r['message_kib']:>13.0f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
