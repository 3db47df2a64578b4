"""rnnkit.distributed under real MPI: tests/_distributed_script.py runs under ``mpiexec -n K``
(each launch a subprocess with a timeout, so a deadlock fails instead of hanging) and the
results are checked here against one process's Trainer (float64, <= 1e-10 relative).

The pytest process itself never imports mpi4py (MPI initialises on import); skipped without
mpi4py or an ``mpiexec``."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py")

from _distributed_cases import CASES, outcome
from _sharded_cases import SHARD_CASES, uneven_updates
from rnnkit.training import Trainer

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "_distributed_script.py"
EXAMPLE = HERE.parent / "examples" / "11_distributed.py"
TIMEOUT = 120  # seconds per launch; the launches here take about a second each


def _mpiexec() -> str | None:
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec next to python or on PATH")


def launch(ranks: int, *args: str) -> subprocess.CompletedProcess[str]:
    """``mpiexec -n ranks python args...``; the whole process group is killed on timeout."""
    assert MPIEXEC is not None
    with subprocess.Popen(
        [MPIEXEC, "-n", str(ranks), sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"mpiexec -n {ranks} {args} did not finish in {TIMEOUT} s (deadlock?)")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_script(ranks: int, mode: str, out: Path) -> subprocess.CompletedProcess[str]:
    done = launch(ranks, str(SCRIPT), mode, str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def references() -> dict[str, dict[str, np.ndarray]]:
    """Every case trained by one process's Trainer."""
    return {name: outcome(*case(Trainer)) for name, case in CASES.items()}


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-300))


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_same_weights_and_history_as_one_process(
    ranks: int, tmp_path: Path, references: dict[str, dict[str, np.ndarray]]
) -> None:
    """fit (uneven shares, shuffling, sample weights, clipping, validation, metrics), fit with
    lengths and per-step weights, fit with an Embedding's mask, fit in TBPTT windows (value
    clipping), fit_stream with TBPTT(4, 6):
    the final weights and every logged figure match one process to 1e-10 relative."""
    run_script(ranks, "equal", tmp_path)
    for name, want in references.items():
        got = np.load(tmp_path / f"{name}.npz")
        assert sorted(got.files) == sorted(want)
        for key, value in want.items():
            assert got[key].shape == value.shape, (name, key)
            assert relative_error(got[key], value) <= 1e-10, (name, key)
        # The updates moved the loss: a comparison of untrained weights would prove nothing.
        assert relative_error(want["h:loss"][-1:], want["h:loss"][:1]) > 1e-3, name


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_sharded_training_equals_one_process_on_the_arranged_batches(
    ranks: int, tmp_path: Path
) -> None:
    """data="sharded", each rank on its own shard (of different sizes): the final weights
    and every logged figure match one process's Trainer on the samples arranged as the
    global batches are formed (tests/_sharded_cases.py builds the arrangement itself), to
    1e-10 relative. Cases: no shuffling with weights, clipping and validation; each rank's
    own seeded order with lengths, per-step weights and every dropout mask; uneven shards
    (empty shares at the end, the agreed number of updates, evaluate); token streams of
    different lengths with TBPTT(4, 6) and dropout."""
    run_script(ranks, "sharded", tmp_path)
    for name, case in SHARD_CASES.items():
        _, want = case.reference(ranks)
        got = np.load(tmp_path / f"{name}.npz")
        assert sorted(got.files) == sorted(want), name
        for key, value in want.items():
            assert got[key].shape == value.shape, (name, key)
            assert relative_error(got[key], value) <= 1e-10, (name, key)
        assert relative_error(want["h:loss"][-1:], want["h:loss"][:1]) > 1e-3, name
    uneven = np.load(tmp_path / "uneven.npz")
    assert int(uneven["updates"][0]) == 2 * uneven_updates(ranks)  # 2 epochs


def test_sharded_faults_fail_on_every_rank_and_identical_shards_warn(tmp_path: Path) -> None:
    """A different feature shape, one rank's inconsistent shard, a batch smaller than the
    ranks, a rank whose sequence gives its streams no step: DistributedError on every rank,
    nobody left in a collective; shards of 12 and 10 samples train (6 updates, batches of 4)."""
    done = run_script(2, "shard_faults", tmp_path)
    out = done.stdout
    for rank in (0, 1):
        assert (
            f"rank {rank} features: DistributedError: the ranks disagree on argument x: rank 0 "
            "has float64(*, 5, 2), rank 1 has float64(*, 5, 3)" in out
        )
        assert (
            f"rank {rank} targets: DistributedError: rank 1 refused its arguments: ValueError: "
            "x has 10 samples but y has 9" in out
        )
        assert f"rank {rank} batch: DistributedError: rank 0 refused its arguments: " in out
        assert f"rank {rank} evaluate: DistributedError: the ranks disagree on the data" in out
        assert (
            f"rank {rank} stream: DistributedError: rank 1 refused its arguments: ValueError: "
            "this rank carries 2 of the 4 streams" in out
        )
        assert f"rank {rank} recovered, 10 updates" in out  # 4 with identical shards, then 6
        assert f"rank {rank} data='shards': ValueError: data must be 'replicated'" in out
        assert f"rank {rank} data=1: TypeError: data must be a str" in out
    assert out.count("warned: fit with data='sharded': every rank passed the same data") == 1
    assert "rank 1 warned" not in out


def test_mismatched_data_and_weights_fail_on_every_rank(tmp_path: Path) -> None:
    done = run_script(2, "faults", tmp_path)
    for rank in (0, 1):
        assert (
            f"rank {rank} shapes: DistributedError: the ranks disagree on argument x: "
            "rank 0 has float64(12, 5, 2)" in done.stdout
        )
        assert (
            f"rank {rank} weights: DistributedError: the ranks disagree on the weights"
            in done.stdout
        )
        assert f"rank {rank} recovered" in done.stdout


def test_only_rank_0_prints_and_writes_and_stops_agree(tmp_path: Path) -> None:
    done = run_script(3, "rank0", tmp_path)
    out, err = done.stdout, done.stderr
    assert out.count("Epoch 1/5") == 1 and out.count("early stopping") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt0_1.npz",
        "ckpt0_2.npz",
        "log0.csv",
        "saved0.npz",
    ]
    for rank in range(3):
        assert f"threads {rank} " in err
        assert f"epochs run 2 on rank {rank}" in err  # EarlyStopping, patience 0
        assert f"agreed stop 2 on rank {rank}" in err  # rank 1 alone asked to stop
        assert f"nan stop on rank {rank}: loss at step 3" in err  # one rank's NaN
    values = re.findall(r"evaluate <([^>]*)>", err)
    assert len(values) == 3 and len(set(values)) == 1, (
        values
    )  # the same global figure on every rank


def test_one_rank_raising_aborts_the_job(tmp_path: Path) -> None:
    done = launch(2, str(SCRIPT), "abort", str(tmp_path))
    assert done.returncode != 0
    assert "rank 1 of 2 failed; aborting the job" in done.stderr
    assert "RuntimeError: boom on rank 1" in done.stderr
    assert "not reached" not in done.stdout


@pytest.mark.skipif(not EXAMPLE.exists(), reason="tests run from a copy without examples/")
def test_example_trains_under_two_ranks() -> None:
    done = launch(2, str(EXAMPLE), "--quick")
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"2 ranks: test mse (\S+) before training, (\S+) after", done.stdout)
    assert found, done.stdout
    before, after = float(found[1]), float(found[2])
    assert after < 1e-3 < before
    assert done.stdout.count("Epoch 1/20") == 1  # rank 0 alone prints


def test_the_rest_of_rnnkit_never_imports_mpi4py_and_the_hint_without_it() -> None:
    code = (
        "import sys, rnnkit, rnnkit.training, rnnkit.callbacks, rnnkit.models\n"
        "assert 'mpi4py' not in sys.modules, 'mpi4py imported'\n"
        "sys.modules['mpi4py'] = None  # as if not installed\n"
        "try:\n"
        "    import rnnkit.distributed\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    assert "pip install 'rnnkit[mpi]'" in done.stdout
