"""Time this checkout's kernels against another build of rnnkit, side by side in one process.

Engine changes must cost no speed: build the other version (e.g. the last release, or main
before a change) into a folder and import it under another name, then this script times
``rnn_forward`` + ``rnn_backward`` of both on the same arrays, alternating rounds so that both
see the same machine load. Both load the same OpenBLAS library (one per process).

    git worktree add --detach /tmp/base <commit>
    pip install --no-build-isolation --no-deps --target /tmp/basepkg /tmp/base
    mv /tmp/basepkg/rnnkit /tmp/basepkg/rnnkit_baseline
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python benchmarks/compare_builds.py --other /tmp/basepkg --name rnnkit_baseline

Prints per shape the median milliseconds of each and the ratio this/other (below 1: faster).
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

import rnnkit
from rnnkit.bench import DEFAULT_SHAPES, median_seconds


def problem(shape: tuple[int, int, int, int], dtype: Any) -> dict[str, np.ndarray]:
    n, t, d, h = shape
    rng = np.random.default_rng(0)
    return {
        "x": rng.standard_normal((n, t, d)).astype(dtype),
        "Wx": (rng.standard_normal((d, h)) / np.sqrt(d)).astype(dtype),
        "Wh": (np.linalg.qr(rng.standard_normal((h, h)))[0] * 0.9).astype(dtype),
        "b": (0.1 * rng.standard_normal(h)).astype(dtype),
        "dhs": rng.standard_normal((n, t, h)).astype(dtype),
    }


def step(ops: Any, p: dict[str, np.ndarray], backward: bool) -> Callable[[], object]:
    def run() -> object:
        hs, _, cache = ops.rnn_forward(p["x"], p["Wx"], p["Wh"], p["b"])
        return ops.rnn_backward(cache, p["dhs"]) if backward else hs

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", required=True, help="folder holding the other build's package")
    parser.add_argument("--name", default="rnnkit_baseline", help="its package name there")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per shape")
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats per round")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--forward-only", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, args.other)
    other = importlib.import_module(args.name)
    print(f"this: {rnnkit.__file__}\nother: {other.__file__}")
    print(f"threads: {rnnkit.get_num_threads()}, BLAS core {rnnkit.build_info()['blas_core']}")
    print(f"{'(N, T, D, H)':>22} {'this ms':>10} {'other ms':>10} {'this/other':>11}")
    worst = 0.0
    for shape, _ in DEFAULT_SHAPES:
        p = problem(shape, np.dtype(args.dtype))
        mine = step(rnnkit.ops, p, not args.forward_only)
        theirs = step(other.ops, p, not args.forward_only)
        a, b = mine(), theirs()  # the same results, or the comparison means nothing
        for key in a if isinstance(a, dict) else [...]:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-4)
        t_mine, t_theirs = [], []
        for _ in range(args.rounds):
            t_mine.append(median_seconds(mine, args.repeat))
            t_theirs.append(median_seconds(theirs, args.repeat))
        ms_mine, ms_theirs = statistics.median(t_mine) * 1e3, statistics.median(t_theirs) * 1e3
        ratio = ms_mine / ms_theirs
        worst = max(worst, ratio)
        print(f"{shape!s:>22} {ms_mine:>10.3f} {ms_theirs:>10.3f} {ratio:>11.3f}")
    print(f"slowest ratio this/other: {worst:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
