"""How rnnkit's kernels scale with threads: forward+backward medians per thread count.

    python benchmarks/bench_threads.py [--threads 1 2 4] [--shape N,T,D,H ...]

The kernels split the batch across a pool of workers with the BLAS single-threaded inside them
(one pool at a time), so speed-up needs N >= threads and enough work per slice. Ratios are
relative to one thread, measured in the same run.
"""

from __future__ import annotations

import argparse
import sys

import rnnkit
from rnnkit import ops
from rnnkit.bench import DEFAULT_SHAPES, _problem, median_seconds, parse_shape


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--shape", type=parse_shape, action="append")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    shapes = args.shape or [shape for shape, _ in DEFAULT_SHAPES]
    original = rnnkit.get_num_threads()
    print(
        f"{'shape (N,T,D,H)':<20}"
        + "".join(f"{f'{t} thr ms':>12}{'speed-up':>10}" for t in args.threads)
    )
    try:
        for shape in shapes:
            p = _problem(shape)

            def step(p: dict = p) -> object:
                _, _, cache = ops.rnn_forward(p["x"], p["Wx"], p["Wh"], p["b"])
                return ops.rnn_backward(cache, p["dhs"])

            times = []
            for threads in args.threads:
                rnnkit.set_num_threads(threads)
                times.append(median_seconds(step, args.repeat))
            print(
                f"{tuple(shape)!s:<20}"
                + "".join(f"{t * 1e3:>12.3f}{times[0] / t:>9.2f}x" for t in times)
            )
    finally:
        rnnkit.set_num_threads(original)
    return 0


if __name__ == "__main__":
    sys.exit(main())
