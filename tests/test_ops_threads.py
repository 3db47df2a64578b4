"""Threads: the kernels release the GIL and are safe to call from several Python threads; the
thread count (rnnkit.set_num_threads / threadpoolctl) changes speed, not results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np
import pytest
import threadpoolctl

import rnnkit
from _rnn_testing import max_rel_diff, random_case
from rnnkit import ops

SHAPE = (32, 50, 16, 64)  # N, T, D, H: enough work per call for the kernels to use two threads


@pytest.fixture(autouse=True)
def restore_threads():
    original = rnnkit.get_num_threads()
    yield
    rnnkit.set_num_threads(original)


def medium_case(seed: int, activation: str = "tanh", dtype: Any = np.float64) -> dict[str, Any]:
    lengths = np.random.default_rng(seed).integers(0, SHAPE[1] + 1, SHAPE[0])
    lengths[:2] = [SHAPE[1], 0]
    case = random_case(seed, SHAPE, dtype=dtype, lengths=lengths)
    case["activation"] = activation
    return case


def run(case: dict[str, Any], truncate: int | None = None) -> dict[str, np.ndarray]:
    hs, h_last, cache = ops.rnn_forward(
        case["x"],
        case["Wx"],
        case["Wh"],
        case["b"],
        case["h0"],
        case["activation"],
        case["lengths"],
    )
    grads = ops.rnn_backward(cache, case["dhs"], case["dh_last"], truncate)
    return {"hs": hs, "h_last": h_last, **{f"d{k}": v for k, v in grads.items()}}


def assert_close(actual: dict, expected: dict, tol: float) -> None:
    errors = {k: max_rel_diff(actual[k], expected[k]) for k in expected}
    assert all(e <= tol for e in errors.values()), errors


def run_in_threads(target, count: int) -> None:
    """Run target(k) for k < count in Python threads started together; re-raise any error."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(k: int) -> None:
        try:
            barrier.wait()
            target(k)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=body, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.mark.parametrize("threads_setting", [1, 2])
def test_concurrent_calls_match_sequential(threads_setting):
    rnnkit.set_num_threads(threads_setting)
    cases = [medium_case(60, "tanh"), medium_case(61, "relu")]
    truncates = [None, 7]
    expected = [run(c, k) for c, k in zip(cases, truncates)]
    repetitions = 4
    results: list[list[dict]] = [[], []]

    def work(k: int) -> None:
        for _ in range(repetitions):
            results[k].append(run(cases[k], truncates[k]))

    run_in_threads(work, 2)
    for k in range(2):
        assert len(results[k]) == repetitions
        for result in results[k]:
            assert_close(result, expected[k], 1e-12)
    # concurrent calls must not have disturbed the shared setting
    assert rnnkit.get_num_threads() == threads_setting


def test_gil_is_released_during_a_call():
    # While one Python thread is inside a long kernel call, another Python thread keeps running.
    # If the call held the GIL, the main thread's loop below would stall for the whole call.
    rnnkit.set_num_threads(1)  # one core for the kernel, one for the main thread's loop
    case = random_case(62, (1, 3000, 8, 256))
    case["activation"] = "tanh"
    window: dict[str, float] = {}
    done = threading.Event()

    def worker() -> None:
        try:
            window["start"] = time.perf_counter()
            run(case)
            window["end"] = time.perf_counter()
        finally:
            done.set()

    thread = threading.Thread(target=worker)
    stamps = []
    thread.start()
    while not done.is_set():
        stamps.append(time.perf_counter())
    thread.join()
    duration = window["end"] - window["start"]
    inside = np.array(
        [window["start"]]
        + [s for s in stamps if window["start"] < s < window["end"]]
        + [window["end"]]
    )
    longest_stall = float(np.max(np.diff(inside)))
    assert duration > 0.02, f"call too short ({duration:.4f} s) to tell"
    assert longest_stall < 0.5 * duration, (
        f"main thread stalled {longest_stall * 1e3:.1f} ms of a {duration * 1e3:.1f} ms call: "
        "the GIL seems held"
    )


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("truncate", [None, 5])
def test_thread_count_does_not_change_results(activation, truncate):
    case = medium_case(63, activation)
    rnnkit.set_num_threads(1)
    one = run(case, truncate)
    rnnkit.set_num_threads(2)
    two = run(case, truncate)
    assert_close(two, one, 1e-12)
    case32 = medium_case(63, activation, np.float32)
    rnnkit.set_num_threads(1)
    one = run(case32, truncate)
    rnnkit.set_num_threads(2)
    two = run(case32, truncate)
    assert_close(two, one, 1e-5)


def rnnkit_blas_entries() -> list[dict]:
    """threadpoolctl's entries for the BLAS rnnkit links: scipy-openblas32's
    ``libscipy_openblas.so``. NumPy's own ``libscipy_openblas64_`` and SciPy's bundled
    ``scipy.libs/libscipy_openblas-<hash>.so`` (loaded once scikit-learn or statsmodels is
    imported, e.g. by the examples' tests) are other libraries with other thread pools."""
    return [
        info
        for info in threadpoolctl.threadpool_info()
        if os.path.basename(info["filepath"]) == "libscipy_openblas.so"
    ]


def rnnkit_entries() -> list[dict]:
    """threadpoolctl's entry for rnnkit's own workers (its registered controller)."""
    return [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "rnnkit"]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_set_and_get_num_threads(n):
    rnnkit.set_num_threads(n)
    assert rnnkit.get_num_threads() == n
    run(medium_case(5))
    entries = rnnkit_entries()
    assert len(entries) == 1, threadpoolctl.threadpool_info()
    assert entries[0]["num_threads"] == n
    assert entries[0]["user_api"] == "blas"
    # The BLAS inside the workers runs single-threaded: one pool, rnnkit's.
    blas = rnnkit_blas_entries()
    assert blas and all(info["num_threads"] == 1 for info in blas), blas


@pytest.mark.parametrize("user_api", [None, "blas"])
def test_threadpoolctl_limits_rnnkit(user_api):
    rnnkit.set_num_threads(2)
    with threadpoolctl.threadpool_limits(1, user_api=user_api):
        assert rnnkit.get_num_threads() == 1
        assert [i["num_threads"] for i in rnnkit_entries()] == [1]
    assert rnnkit.get_num_threads() == 2


def _kernels_until(stop: threading.Event, failures: list[BaseException]) -> None:
    """Small kernels back to back (two workers each when allowed) until ``stop`` is set."""
    case = random_case(3, (8, 20, 4, 32))
    case["activation"] = "tanh"
    try:
        while not stop.is_set():
            run(case)
    except BaseException as error:
        failures.append(error)


@pytest.mark.stress
def test_threadpoolctl_limits_hold_while_kernels_run_in_another_thread():
    # Kernels used to lower the process-wide BLAS setting and restore it when they ended: a
    # threadpool_limits(1) entered meanwhile read the lowered value as the original, a kernel
    # ending inside the `with` put 2 back over the user's limit, and leaving the `with` could
    # set 1 for good. The user's setting must be the one in force whatever the interleaving.
    rnnkit.set_num_threads(2)
    stop, failures = threading.Event(), []
    worker = threading.Thread(target=_kernels_until, args=(stop, failures), daemon=True)
    worker.start()
    wrong: list[str] = []
    entries = 0
    deadline = time.monotonic() + 3.0
    try:
        while time.monotonic() < deadline:
            entries += 1
            with threadpoolctl.threadpool_limits(1):
                if rnnkit.get_num_threads() != 1:
                    wrong.append(f"entry {entries}: {rnnkit.get_num_threads()} at entry")
                time.sleep(0.0005)  # let kernels end inside the limit
                if rnnkit.get_num_threads() != 1:
                    wrong.append(f"entry {entries}: {rnnkit.get_num_threads()} inside")
            if rnnkit.get_num_threads() != 2:
                wrong.append(f"entry {entries}: {rnnkit.get_num_threads()} after")
                rnnkit.set_num_threads(2)
    finally:
        stop.set()
        worker.join(30)
    assert not worker.is_alive(), "the kernel thread did not stop"
    assert not failures, failures
    assert entries > 50, f"only {entries} entries in 3 s"
    assert not wrong, f"{len(wrong)} of {entries} entries: {wrong[:5]}"


def _fork_children(count: int, seconds: float, expected_threads: int) -> list[str]:
    """Forks up to ``count`` children within ``seconds``; each runs a kernel and checks its
    thread setting. What went wrong, per child: a nonzero exit, or a hang (killed)."""
    case = random_case(4, (4, 10, 3, 16))
    case["activation"] = "tanh"
    problems: list[str] = []
    deadline = time.monotonic() + seconds
    forked = 0
    while forked < count and time.monotonic() < deadline:
        pid = os.fork()
        if pid == 0:  # the child: never return into pytest
            code = 1
            try:
                run(case)
                code = 0 if rnnkit.get_num_threads() == expected_threads else 3
            finally:
                os._exit(code)
        forked += 1
        give_up = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                if os.waitstatus_to_exitcode(status) != 0:
                    problems.append(f"child {forked}: exit {os.waitstatus_to_exitcode(status)}")
                break
            if time.monotonic() > give_up:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                problems.append(f"child {forked}: hung, killed")
                break
            time.sleep(0.001)
    assert forked >= 20, f"only {forked} children forked in {seconds} s"
    return problems


def fork_stress() -> list[str]:
    """Forks children while another thread runs kernels; what went wrong (see _fork_children).
    Runs in a process of its own (test below), so a parent that hangs fails the test."""
    rnnkit.set_num_threads(2)
    stop, failures = threading.Event(), []
    worker = threading.Thread(target=_kernels_until, args=(stop, failures), daemon=True)
    worker.start()
    try:
        problems = _fork_children(count=800, seconds=10.0, expected_threads=2)
    finally:
        stop.set()
        worker.join(30)
    return (
        [repr(f) for f in failures]
        + problems
        + (["kernel thread hung"] if worker.is_alive() else [])
    )


@pytest.mark.stress
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_while_another_thread_runs_kernels():
    # multiprocessing's fork start method does exactly this. A child used to inherit the
    # parent's thread bookkeeping mid-update and call into OpenBLAS from the fork handler
    # (hanging on a lock a vanished thread held, or coming up with one thread), and could
    # inherit OpenBLAS's allocator lock held by a thread in mid-GEMM.
    tests = os.path.dirname(os.path.abspath(__file__))
    script = (
        f"import json, sys; sys.path.insert(0, {tests!r}); import test_ops_threads as t; "
        "print(json.dumps(t.fork_stress()))"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-W", "ignore::DeprecationWarning", "-c", script],
            capture_output=True,
            text=True,
            timeout=180,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the forking process hung (a fork waiting on a kernel that never left)")
    assert result.returncode == 0, result.stderr[-2000:]
    problems = json.loads(result.stdout.strip().splitlines()[-1])
    assert not problems, problems


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError)])
def test_set_num_threads_rejects_bad_values(bad, exc):
    before = rnnkit.get_num_threads()
    with pytest.raises(exc):
        rnnkit.set_num_threads(bad)
    assert rnnkit.get_num_threads() == before


def test_worker_pool_survives_many_varied_calls_and_callers():
    # The kernels' worker pool is reused across calls: vary the slice count per call (more
    # threads than rows, more than cores, one row) and race two Python callers, checking every
    # result against a single-threaded run. A lost wake-up here would hang rather than fail, so
    # each caller runs in a daemon thread joined with a timeout.
    rng = np.random.default_rng(7)
    shapes = [(n, 40, 8, 64) for n in (1, 2, 3, 5, 8)]  # 0.4–3 MFLOP: 1 to 4 slices
    cases = [random_case(int(rng.integers(1 << 30)), shape) for shape in shapes]
    for case in cases:
        case["activation"] = "tanh"
    rnnkit.set_num_threads(1)
    expected = [run(case) for case in cases]
    rnnkit.set_num_threads(4)

    failures: list[BaseException] = []

    def caller(offset: int) -> None:
        try:
            for i in range(150):
                k = (i + offset) % len(cases)
                assert_close(run(cases[k]), expected[k], 1e-12)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=caller, args=(k,), daemon=True) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "kernel calls did not finish: pool deadlock"
    assert not failures, failures


def test_one_thread_pool_quiets_other_blas_pools_but_not_rnnkits():
    from rnnkit.threads import one_thread_pool

    rnnkit.set_num_threads(2)
    own = rnnkit_blas_entries() + rnnkit_entries()
    others = [i for i in threadpoolctl.threadpool_info() if i not in own]
    before = {i["filepath"]: i["num_threads"] for i in others}
    with one_thread_pool():
        assert rnnkit.get_num_threads() == 2
        assert [i["num_threads"] for i in rnnkit_entries()] == [2]
        inside = {
            i["filepath"]: i["num_threads"]
            for i in threadpoolctl.threadpool_info()
            if i["filepath"] in before
        }
        assert set(inside.values()) <= {1}, inside
    after = {
        i["filepath"]: i["num_threads"]
        for i in threadpoolctl.threadpool_info()
        if i["filepath"] in before
    }
    assert after == before
    rnnkit.set_num_threads(1)
    with one_thread_pool():  # nothing to quiet when rnnkit itself runs on one thread
        assert {
            i["filepath"]: i["num_threads"]
            for i in threadpoolctl.threadpool_info()
            if i["filepath"] in before
        } == before


@pytest.mark.parametrize("bad, exc", [(2**40, ValueError), (1025, ValueError), (True, TypeError)])
def test_set_num_threads_rejects_out_of_range(bad, exc):
    before = rnnkit.get_num_threads()
    with pytest.raises(exc, match="n must"):
        rnnkit.set_num_threads(bad)
    assert rnnkit.get_num_threads() == before


def test_one_thread_pool_from_overlapping_threads_restores_the_original_limits():
    from rnnkit.threads import one_thread_pool

    rnnkit.set_num_threads(2)
    before = threadpoolctl.threadpool_info()
    entered, release = threading.Barrier(3), threading.Event()

    def hold(delay: float) -> None:
        with one_thread_pool():
            entered.wait()
            release.wait(10)
            time.sleep(delay)  # leave in the other order than entering

    threads = [threading.Thread(target=hold, args=(d,)) for d in (0.05, 0.0)]
    for t in threads:
        t.start()
    entered.wait()
    release.set()
    for t in threads:
        t.join(10)
    assert threadpoolctl.threadpool_info() == before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
# Python >= 3.12 warns that forking a multi-threaded process may deadlock: that is the very
# situation this test checks the kernels survive.
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_forked_child_runs_kernels_with_a_fresh_pool():
    import multiprocessing

    rnnkit.set_num_threads(2)
    case = medium_case(11)
    expected = run(case)  # the parent's pool is up and running before the fork
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got, threads = pool.apply(_run_in_child, (case,))
    assert threads == 2
    assert_close(got, expected, 1e-12)


def _run_in_child(case: dict[str, Any]) -> tuple[dict[str, np.ndarray], int]:
    return run(case), rnnkit.get_num_threads()
