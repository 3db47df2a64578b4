"""``python -m rnnkit bench``: rnnkit's kernels against the best plain NumPy and PyTorch.

For each cell (``--cell rnn|lstm|gru|all``) and shape it reports medians of float32
forward+backward per call for rnnkit, for the cell's best plain-NumPy formulation (at NumPy's
faster BLAS thread count) and for PyTorch's layer if installed (at its faster of 1 and 2
threads), the ratios against rnnkit, rnnkit's GFLOP/s and its share of this machine's GEMM peak
(measured in the same run), a sanity check of rnnkit's weight gradients against NumPy's, and
whether each default shape meets its targets. Timings on shared machines are noisy: read the
ratios.
"""

from __future__ import annotations

import argparse
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
]


def _problem(shape: Sequence[int], seed: int = 0) -> dict[str, np.ndarray]:
    """A float32 vanilla-RNN problem (x, Wx, Wh, b, dhs) at ``shape``, for the RNN-only scripts
    in benchmarks/."""
    return make_problem(RNN, shape, seed)


def run_benchmark(
    cell: CellBench,
    shapes: Sequence[Shape] | None = None,
    repeat: int = 7,
    with_torch: bool = True,
    peak: float | None = None,
) -> tuple[list[Row], float]:
    """Time ``cell`` at ``shapes`` (its defaults when None); the rows and the GEMM peak
    (GFLOP/s), measured now unless given."""
    peak = gemm_peak_gflops() if peak is None else peak
    with_torch = with_torch and torch_available()
    rows = []
    for shape in shapes or [s for s, _ in cell.shapes]:
        p = make_problem(cell, shape)
        rnnkit_s = median_seconds(cell.rnnkit_step(p), repeat, settle_s=SETTLE_S)
        numpy_s, numpy_threads = time_numpy(cell, p, repeat)
        torch_s, torch_threads = time_torch(cell, p, repeat) if with_torch else (None, None)
        gflops = flops(cell, shape) / rnnkit_s / 1e9
        rows.append(
            Row(
                cell=cell.name,
                shape=tuple(shape),  # type: ignore[arg-type]
                rnnkit_ms=rnnkit_s * 1e3,
                numpy_ms=numpy_s * 1e3,
                numpy_threads=numpy_threads,
                torch_ms=None if torch_s is None else torch_s * 1e3,
                torch_threads=torch_threads,
                gflops=gflops,
                peak_share=gflops / peak,
                max_rel_diff=cell.weight_gradient_gap(p),
                targets=cell.targets(shape),
            )
        )
    return rows, peak


def parse_shape(text: str) -> tuple[int, int, int, int]:
    """``"N,T,D,H"`` (or ``NxTxDxH``) as four positive ints; argparse's error otherwise."""
    parts = tuple(int(v) for v in text.replace("x", ",").split(","))
    if len(parts) != 4 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"shape must be N,T,D,H with positive ints, got {text!r}")
    return parts  # type: ignore[return-value]


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
    parser.add_argument("--repeat", type=int, default=7, help="timing rounds per measurement")
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
    peak = gemm_peak_gflops()
    all_rows: list[Row] = []
    for cell in cells:
        rows, _ = run_benchmark(cell, args.shape, args.repeat, not args.no_torch, peak)
        print(format_table(cell.name, rows, peak), flush=True)
        all_rows.extend(rows)
    if args.json:
        write_json(args.json, all_rows, peak)
    if warning:
        print(warning)  # again below the tables, where a reader of the numbers looks
    return 0
