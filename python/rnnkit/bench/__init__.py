"""``python -m rnnkit bench``: rnnkit's kernels against the best plain NumPy and PyTorch.

For each cell (``--cell rnn|lstm|gru|all``) and shape it reports medians of float32
forward+backward per call for rnnkit, for the cell's best plain-NumPy formulation (at NumPy's
faster BLAS thread count) and for PyTorch's layer if installed (at its faster of 1 and 2
threads), the ratios against rnnkit, rnnkit's GFLOP/s and its share of this machine's GEMM peak
(measured in the same run), a sanity check of rnnkit's weight gradients against NumPy's, and
whether each default shape meets its targets. The contenders are timed in interleaved rounds,
each keeping its fastest round's median. Timings on shared machines are noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

import numpy as np

from ..threads import set_num_threads
from .cells import CELLS, DEFAULT_SHAPES, RNN, CellBench, Shape, flops, make_problem
from .numpy_side import time_numpy
from .report import Row, configuration_text, environment_warning, format_table, write_json
from .timing import SETTLE_S, gemm_peak_gflops, median_seconds
from .torch_side import time_torch, torch_available

__all__ = [
    "CELLS",
    "DEFAULT_SHAPES",
    "Row",
    "main",
    "median_seconds",
    "parse_shape",
    "run_benchmark",
    "time_shape",
]


def _problem(shape: Sequence[int], seed: int = 0) -> dict[str, np.ndarray]:
    """A float32 vanilla-RNN problem (x, Wx, Wh, b, dhs) at ``shape``, for the RNN-only scripts
    in benchmarks/."""
    return make_problem(RNN, shape, seed)


def time_shape(
    cell: CellBench, shape: Shape, repeat: int = 7, rounds: int = 3, with_torch: bool = True
) -> Row:
    """One row: every contender timed at ``shape`` in ``rounds`` interleaved rounds, the fastest
    round's median counting for each. On a shared machine a burst of load from another process
    then hits all contenders alike, and each keeps its least disturbed round. The row's
    ``peak_gflops`` is 0 until the caller sets the peak measured in the same run."""
    p = make_problem(cell, shape)
    rnnkit_run = cell.rnnkit_step(p)
    rnnkit_s, numpy_best = float("inf"), (float("inf"), 0)
    torch_best: tuple[float, int] | None = None
    for _ in range(rounds):
        rnnkit_s = min(rnnkit_s, median_seconds(rnnkit_run, repeat, settle_s=SETTLE_S))
        numpy_best = min(numpy_best, time_numpy(cell, p, repeat))
        if with_torch:
            timed = time_torch(cell, p, repeat)
            torch_best = timed if torch_best is None else min(torch_best, timed)
    return Row(
        cell=cell.name,
        shape=tuple(shape),  # type: ignore[arg-type]
        rnnkit_ms=rnnkit_s * 1e3,
        numpy_ms=numpy_best[0] * 1e3,
        numpy_threads=numpy_best[1],
        torch_ms=None if torch_best is None else torch_best[0] * 1e3,
        torch_threads=None if torch_best is None else torch_best[1],
        gflops=flops(cell, shape) / rnnkit_s / 1e9,
        peak_gflops=0.0,
        max_rel_diff=cell.weight_gradient_gap(p),
        targets=cell.targets(shape),
    )


def run_benchmark(
    cells: Sequence[CellBench],
    shapes: Sequence[Shape] | None = None,
    repeat: int = 7,
    rounds: int = 3,
    with_torch: bool = True,
) -> list[Row]:
    """Time each cell at ``shapes`` (each cell's defaults when None). The GEMM peak is measured
    before and after, and the better of the two is every row's ``peak_gflops`` (a peak measured
    while another process was busy would flatter the "% of peak" column)."""
    with_torch = with_torch and torch_available()
    peak = gemm_peak_gflops()
    rows = []
    for cell in cells:
        for shape in shapes or [s for s, _ in cell.shapes]:
            print(f"timing {cell.name} {tuple(shape)} ...", file=sys.stderr, flush=True)
            rows.append(time_shape(cell, shape, repeat, rounds, with_torch))
    peak = max(peak, gemm_peak_gflops())
    return [dataclasses.replace(r, peak_gflops=peak) for r in rows]


def parse_shape(text: str) -> tuple[int, int, int, int]:
    """``"N,T,D,H"`` (or ``NxTxDxH``) as four positive ints; argparse's error otherwise."""
    parts = [int(v) for v in text.replace("x", ",").split(",")]
    if len(parts) != 4 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"shape must be N,T,D,H with positive ints, got {text!r}")
    n, t, d, h = parts
    return n, t, d, h


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rnnkit bench", description=__doc__)
    parser.add_argument(
        "--cell",
        choices=[*CELLS, "all"],
        default="rnn",
        help="the cell to time (default rnn); all: the three, one after the other",
    )
    parser.add_argument(
        "--shape",
        type=parse_shape,
        action="append",
        help="N,T,D,H to time instead of the cell's default shapes (repeatable)",
    )
    parser.add_argument("--repeat", type=int, default=7, help="timed repeats per median")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds of all contenders per shape; each one's fastest counts",
    )
    parser.add_argument("--threads", type=int, default=None, help="rnnkit thread count")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    parser.add_argument("--json", metavar="PATH", help="also write every row as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status."""
    args = _parser().parse_args(argv)
    warning = environment_warning()
    if warning:
        print(warning, flush=True)
    if args.threads is not None:
        set_num_threads(args.threads)
    cells = list(CELLS.values()) if args.cell == "all" else [CELLS[args.cell]]
    print(configuration_text(), flush=True)
    rows = run_benchmark(cells, args.shape, args.repeat, args.rounds, not args.no_torch)
    for cell in cells:
        print(format_table(cell.name, [r for r in rows if r.cell == cell.name]), flush=True)
    if args.json:
        write_json(args.json, rows)
    if warning:
        print(warning)  # again below the tables, where a reader of the numbers looks
    return 0
