"""``python -m rnnkit bench``: rnnkit's kernels against the best plain NumPy, in one run.

Reports medians of forward+backward per call, the ratio NumPy/rnnkit, rnnkit's GFLOP/s and its
share of this machine's GEMM peak (measured in the same run), and which BLAS libraries and thread
counts were in play (threadpoolctl). Timings on shared machines are noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from . import numpy_rnn, ops
from .threads import build_info, get_num_threads, set_num_threads

# (N, T, D, H) of docs/performance.md, "The NumPy anchor", with the speed-up over NumPy aimed for.
DEFAULT_SHAPES: tuple[tuple[tuple[int, int, int, int], float], ...] = (
    ((1, 25, 65, 100), 5.0),  # min-char-rnn
    ((32, 50, 1, 32), 8.0),  # sine-wave regression
    ((1, 1000, 1, 32), 15.0),  # one long series
    ((64, 100, 128, 256), 1.5),
    ((64, 50, 256, 512), 1.2),
)


@dataclass
class Row:
    shape: tuple[int, int, int, int]
    rnnkit_ms: float
    numpy_ms: float
    numpy_threads: int
    ratio: float
    target: float | None
    gflops: float
    peak_share: float
    max_rel_diff: float
    torch_ms: float | None = None


def median_seconds(fn: Callable[[], object], repeat: int, min_round_s: float = 0.02) -> float:
    """Median time of one call over ``repeat`` rounds, each long enough to time reliably."""
    fn()  # warm caches, page in buffers, let the BLAS start its threads
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_round_s or calls >= 1 << 16:
            break
        calls *= 2
    rounds = [elapsed / calls]
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        rounds.append((time.perf_counter() - start) / calls)
    return statistics.median(rounds)


def gemm_peak_gflops(size: int = 1536, repeat: int = 5) -> float:
    """Best float32 GEMM rate of NumPy's BLAS with its default threads: the machine's peak."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeat))
    return 2.0 * size**3 / best / 1e9


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def rnn_flops(n: int, t: int, d: int, h: int) -> float:
    """Multiply-adds ×2 of one forward (2NTH(D+H)) plus one backward (twice that)."""
    return 6.0 * n * t * h * (d + h)


def _problem(shape: Sequence[int], seed: int = 0) -> dict[str, np.ndarray]:
    n, t, d, h = shape
    rng = np.random.default_rng(seed)
    f32 = np.float32
    return {
        "x": rng.standard_normal((n, t, d), dtype=f32),
        "Wx": (rng.standard_normal((d, h)) / np.sqrt(d)).astype(f32),
        "Wh": (np.linalg.qr(rng.standard_normal((h, h)))[0] * 0.9).astype(f32),
        "b": (0.1 * rng.standard_normal(h)).astype(f32),
        "dhs": rng.standard_normal((n, t, h), dtype=f32),
    }


def _numpy_threads_limits() -> list[int | None]:
    """NumPy is timed single-threaded and with its BLAS default; the faster counts."""
    return [1, None]


def _time_numpy(p: dict[str, np.ndarray], repeat: int) -> tuple[float, int]:
    from threadpoolctl import threadpool_limits

    def run() -> object:
        hs = numpy_rnn.forward(p["x"], p["Wx"], p["Wh"], p["b"])
        return numpy_rnn.backward(p["x"], p["Wx"], p["Wh"], hs, p["dhs"])

    best: tuple[float, int] = (float("inf"), 0)
    for limit in _numpy_threads_limits():
        with threadpool_limits(limits=limit, user_api="blas"):
            threads = _numpy_blas_threads()
            seconds = median_seconds(run, repeat)
        best = min(best, (seconds, threads))
    return best


def _numpy_blas_threads() -> int:
    from threadpoolctl import threadpool_info

    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))  # NumPy's BLAS is under numpy*/
    for lib in threadpool_info():
        path = lib.get("filepath", "")
        if (
            lib.get("user_api") == "blas"
            and os.path.basename(os.path.dirname(path)).startswith("numpy")
            and path.startswith(numpy_dir)
        ):
            return int(lib.get("num_threads", 0))
    return 0


def _time_torch(p: dict[str, np.ndarray], repeat: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    _n, _t, d = p["x"].shape
    h = p["Wh"].shape[0]
    rnn = torch.nn.RNN(d, h, batch_first=True)
    x = torch.from_numpy(p["x"])
    dhs = torch.from_numpy(p["dhs"])

    def run() -> object:
        rnn.zero_grad(set_to_none=True)
        out, _ = rnn(x)
        out.backward(dhs)
        return out

    return median_seconds(run, repeat)


def _max_rel_diff(p: dict[str, np.ndarray]) -> float:
    """How far rnnkit's gradients are from the NumPy side's on this problem (a sanity check)."""
    hs_np = numpy_rnn.forward(p["x"], p["Wx"], p["Wh"], p["b"])
    _, dWx, dWh, db = numpy_rnn.backward(p["x"], p["Wx"], p["Wh"], hs_np, p["dhs"])
    _, _, cache = ops.rnn_forward(p["x"], p["Wx"], p["Wh"], p["b"])
    g = ops.rnn_backward(cache, p["dhs"])
    return max(
        float(np.abs(g[k] - ref).max() / max(1.0, float(np.abs(ref).max())))
        for k, ref in (("Wx", dWx), ("Wh", dWh), ("b", db))
    )


def run_benchmark(
    shapes: Sequence[tuple[tuple[int, int, int, int], float | None]] = DEFAULT_SHAPES,
    repeat: int = 7,
    with_torch: bool = True,
) -> tuple[list[Row], float]:
    """Time every shape; returns the rows and the GEMM peak (GFLOP/s) measured alongside."""
    peak = gemm_peak_gflops()
    rows = []
    for shape, target in shapes:
        p = _problem(shape)

        def run_rnnkit(p: dict = p) -> object:
            _, _, cache = ops.rnn_forward(p["x"], p["Wx"], p["Wh"], p["b"])
            return ops.rnn_backward(cache, p["dhs"])

        rnnkit_s = median_seconds(run_rnnkit, repeat)
        numpy_s, numpy_threads = _time_numpy(p, repeat)
        torch_s = _time_torch(p, repeat) if with_torch else None
        gflops = rnn_flops(*shape) / rnnkit_s / 1e9
        rows.append(
            Row(
                shape=shape,
                rnnkit_ms=rnnkit_s * 1e3,
                numpy_ms=numpy_s * 1e3,
                numpy_threads=numpy_threads,
                ratio=numpy_s / rnnkit_s,
                target=target,
                gflops=gflops,
                peak_share=gflops / peak,
                max_rel_diff=_max_rel_diff(p),
                torch_ms=None if torch_s is None else torch_s * 1e3,
            )
        )
    return rows, peak


def configuration_text() -> str:
    """BLAS libraries, thread counts and build flags, as threadpoolctl and rnnkit see them."""
    from threadpoolctl import threadpool_info

    info = build_info()
    lines = [
        f"machine: {platform.machine()} {platform.processor() or ''} | "
        f"Python {platform.python_version()} | NumPy {np.__version__}",
        f"rnnkit: {get_num_threads()} thread(s) | BLAS core {info['blas_core']} | Eigen "
        f"{info['eigen_version']} | native build: {info['native']}",
    ]
    lines.extend(
        f"  {lib.get('user_api')}: {lib.get('internal_api')} {lib.get('version')} "
        f"{lib.get('architecture', '')} threads={lib.get('num_threads')} "
        f"({lib.get('filepath', '').rsplit('/', 1)[-1]})"
        for lib in threadpool_info()
    )
    return "\n".join(lines)


def format_table(rows: Sequence[Row], peak: float) -> str:
    has_torch = any(r.torch_ms is not None for r in rows)
    header = (
        f"{'shape (N,T,D,H)':<20} {'rnnkit ms':>10} {'numpy ms':>10} {'np thr':>6} "
        f"{'ratio':>7} {'target':>7} {'GFLOP/s':>8} {'% peak':>7} {'max rel diff':>12}"
    )
    if has_torch:
        header += f" {'torch ms':>9}"
    lines = [
        f"float32 forward+backward, medians; GEMM peak measured now: {peak:.1f} GFLOP/s",
        header,
    ]
    for r in rows:
        target = f"{r.target:.1f}x" if r.target else "-"
        met = "" if not r.target else (" ok" if r.ratio >= r.target else " LOW")
        line = (
            f"{r.shape!s:<20} {r.rnnkit_ms:>10.3f} {r.numpy_ms:>10.3f} {r.numpy_threads:>6} "
            f"{r.ratio:>6.1f}x {target:>7} {r.gflops:>8.1f} {100 * r.peak_share:>6.1f}% "
            f"{r.max_rel_diff:>12.1e}"
        )
        if has_torch:
            line += f" {r.torch_ms:>9.3f}" if r.torch_ms is not None else f" {'-':>9}"
        lines.append(line + met)
    return "\n".join(lines)


def parse_shape(text: str) -> tuple[int, int, int, int]:
    parts = tuple(int(v) for v in text.replace("x", ",").split(","))
    if len(parts) != 4 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"shape must be N,T,D,H with positive ints, got {text!r}")
    return parts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnkit bench", description=__doc__)
    parser.add_argument(
        "--shape",
        type=parse_shape,
        action="append",
        help="N,T,D,H to time instead of the default five (repeatable)",
    )
    parser.add_argument("--repeat", type=int, default=7, help="timing rounds per measurement")
    parser.add_argument("--threads", type=int, default=None, help="rnnkit thread count")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    if args.threads is not None:
        set_num_threads(args.threads)
    shapes = [(s, None) for s in args.shape] if args.shape else DEFAULT_SHAPES
    print(configuration_text(), flush=True)
    rows, peak = run_benchmark(shapes, repeat=args.repeat, with_torch=not args.no_torch)
    print(format_table(rows, peak))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"peak_gflops": peak, "rows": [asdict(r) for r in rows]}, f, indent=1)
    return 0
