"""Ctrl-C during a long kernel call: the kernels poll for Python's signals (every ~50 ms on the
calling thread) and stop with the handler's exception, instead of finishing the whole call first.
Also: a daemon thread still inside a kernel when Python exits does not abort the process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import rnnkit
from _rnn_testing import max_rel_diff
from rnnkit import ops, reference

pytestmark = [
    pytest.mark.stress,
    pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs pthread_kill"),
]

SIGNAL_AFTER = 0.2  # seconds into the call
STOP_WITHIN = 0.5  # seconds after the signal; the poll runs every 50 ms (noisy machines: margin)


class Stopped(Exception):
    """What the test's SIGINT handler raises (a stray KeyboardInterrupt would end pytest)."""


@pytest.fixture
def sigint_raises_stopped() -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        raise Stopped

    previous = signal.signal(signal.SIGINT, handler)
    threads = rnnkit.get_num_threads()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        rnnkit.set_num_threads(threads)


def long_case(n: int, t: int, h: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    f32 = np.float32
    return {
        "x": rng.standard_normal((n, t, 1)).astype(f32),
        "Wx": (0.1 * rng.standard_normal((1, h))).astype(f32),
        "Wh": (rng.standard_normal((h, h)) / np.sqrt(h)).astype(f32),
        "b": np.zeros(h, f32),
    }


def seconds_of(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def interrupted_after(call: Callable[[], Any]) -> float:
    """Sends SIGINT to this (the main) thread SIGNAL_AFTER seconds into ``call``; the seconds
    from the signal to the handler's exception leaving ``call``."""
    main = threading.get_ident()
    sent: dict[str, float] = {}

    def fire() -> None:
        time.sleep(SIGNAL_AFTER)
        sent["at"] = time.perf_counter()
        signal.pthread_kill(main, signal.SIGINT)

    sender = threading.Thread(target=fire)
    sender.start()
    try:
        with pytest.raises(Stopped):
            call()
        return time.perf_counter() - sent["at"]
    finally:
        sender.join()


def check_still_exact() -> None:
    """After an interrupted call, kernels (and the worker pool) work as before."""
    rng = np.random.default_rng(6)
    x, Wx = rng.standard_normal((6, 9, 3)), rng.standard_normal((3, 5))
    Wh, b = rng.standard_normal((5, 5)) * 0.5, rng.standard_normal(5)
    hs, _, cache = ops.rnn_forward(x, Wx, Wh, b)
    grads = ops.rnn_backward(cache, np.ones_like(hs))
    ref_hs, _, ref_cache = reference.rnn_forward(x, Wx, Wh, b)
    ref_grads = reference.rnn_backward(ref_cache, np.ones_like(hs))
    assert max_rel_diff(hs, ref_hs) < 1e-12
    for key in ("x", "Wx", "Wh", "b"):
        assert max_rel_diff(grads[key], ref_grads[key]) < 1e-10, key


@pytest.mark.parametrize(
    "threads, shape", [(1, (1, 30000, 1024)), (2, (4, 30000, 512))], ids=["one", "two-workers"]
)
def test_ctrl_c_stops_a_long_forward(sigint_raises_stopped, threads, shape):
    # A pool once started with more workers keeps them: spinning workers may then claim every
    # slice of a two-slice call, leaving the caller (the thread that polls) only waiting.
    rnnkit.set_num_threads(4)
    ops.rnn_forward(*long_case(8, 200, 64).values())
    rnnkit.set_num_threads(threads)
    n, t, h = shape
    needed = SIGNAL_AFTER + STOP_WITHIN + 0.3
    for _ in range(3):
        case = long_case(n, t, h)
        part = {**case, "x": case["x"][:, : t // 20]}
        whole = 20 * seconds_of(
            lambda part=part: ops.rnn_forward(part["x"], part["Wx"], part["Wh"], part["b"])
        )
        if whole > needed:
            break
        # A fast host (the packed products on AVX-512) ends the call too soon: wider states
        # cost H² per step for H more memory.
        h = 64 * int(np.ceil(h * np.sqrt(1.5 * needed / whole) / 64))
    # Long enough that stopping in time cannot be the call simply ending.
    assert whole > needed, f"the call ({whole:.2f} s) is too short"
    x, Wx, Wh, b = case["x"], case["Wx"], case["Wh"], case["b"]
    waited = interrupted_after(lambda: ops.rnn_forward(x, Wx, Wh, b))
    assert waited < STOP_WITHIN, f"stopped {waited:.3f} s after Ctrl-C (whole call ≈ {whole:.2f} s)"
    check_still_exact()


def test_ctrl_c_stops_a_long_backward(sigint_raises_stopped):
    rnnkit.set_num_threads(1)
    case = long_case(1, 20000, 1024)
    hs, _, cache = ops.rnn_forward(case["x"], case["Wx"], case["Wh"], case["b"])
    dhs = np.ones_like(hs)
    start = time.perf_counter()
    waited = interrupted_after(lambda: ops.rnn_backward(cache, dhs))
    assert waited < STOP_WITHIN, f"stopped {waited:.3f} s after Ctrl-C"
    assert time.perf_counter() - start < SIGNAL_AFTER + STOP_WITHIN
    check_still_exact()


def test_ctrl_c_stops_a_long_lstm_forward(sigint_raises_stopped):
    rnnkit.set_num_threads(1)
    rng = np.random.default_rng(8)
    h, t = 512, 30000
    x = rng.standard_normal((1, t, 1)).astype(np.float32)
    Wx = (0.1 * rng.standard_normal((1, 4 * h))).astype(np.float32)
    Wh = (rng.standard_normal((h, 4 * h)) / np.sqrt(h)).astype(np.float32)
    b = np.zeros(4 * h, np.float32)
    waited = interrupted_after(lambda: ops.lstm_forward(x, Wx, Wh, b))
    assert waited < STOP_WITHIN, f"stopped {waited:.3f} s after Ctrl-C"


def run_script(code: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def last_line(result: subprocess.CompletedProcess) -> str:
    """The script's own last line (an editable install may print its rebuild first)."""
    return result.stdout.strip().splitlines()[-1]


def test_real_ctrl_c_raises_keyboard_interrupt():
    # The default handler, in a process of its own: KeyboardInterrupt reaches the user's code.
    result = run_script(
        """
        import os, signal, threading, time
        import numpy as np, rnnkit
        from rnnkit import ops
        rnnkit.set_num_threads(1)
        h, t = 1024, 40000  # ≈ 2 s uninterrupted
        x = np.ones((1, t, 1), np.float32)
        Wx, b = np.full((1, h), 0.01, np.float32), np.zeros(h, np.float32)
        Wh = np.eye(h, dtype=np.float32) * 0.5
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        start = time.perf_counter()
        try:
            ops.rnn_forward(x, Wx, Wh, b)
            print("finished", time.perf_counter() - start)
        except KeyboardInterrupt:
            print("interrupted", time.perf_counter() - start)
        """,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    word, seconds = last_line(result).split()
    assert word == "interrupted", result.stdout
    # The signal comes 0.3 s after the timer starts; the call must not have run to its end.
    assert float(seconds) < 0.3 + 2 * STOP_WITHIN, result.stdout


def test_exit_with_a_daemon_thread_inside_a_kernel():
    # Python ends daemon threads that take the GIL back during finalization with pthread_exit;
    # that used to unwind through a destructor and abort the process (exit status 134). And a
    # thread still inside OpenBLAS while its destructor ran made it print "BLAS : Bad memory
    # unallocation!": rnnkit parks its kernels at exit.
    for _ in range(3):
        result = run_script(
            """
            import threading, time
            import numpy as np
            from rnnkit import ops
            x = np.random.rand(1, 20000, 8)
            Wx, Wh, b = np.random.rand(8, 256) * 0.1, np.random.rand(256, 256) * 0.01, np.zeros(256)
            def loop():
                while True:
                    ops.rnn_forward(x, Wx, Wh, b)
            threading.Thread(target=loop, daemon=True).start()
            time.sleep(0.3)
            print("exiting")
            """,
            timeout=60,
        )
        assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
        assert last_line(result) == "exiting"
        assert "BLAS" not in result.stdout + result.stderr


def test_kernels_still_run_in_later_exit_handlers():
    # Parking at exit must spare the exiting thread: an atexit handler registered before rnnkit
    # was imported runs after rnnkit's own and may still call kernels (here on two threads,
    # whose pool workers park: the caller runs every slice itself).
    result = run_script(
        """
        import atexit
        import numpy as np
        def late():
            from rnnkit import ops
            x, Wx, Wh = np.ones((8, 50, 4)), np.full((4, 16), 0.1), np.eye(16) * 0.5
            hs, _, cache = ops.rnn_forward(x, Wx, Wh, np.zeros(16))
            ops.rnn_backward(cache, hs)
            print("late kernel", round(float(hs.sum()), 6))
        atexit.register(late)
        import rnnkit
        rnnkit.set_num_threads(2)
        """,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert last_line(result).startswith("late kernel "), result.stdout
