"""The cells the benchmark times: for each, its default shapes and targets, a random problem, one
forward+backward of rnnkit's kernels and of the NumPy formulation, and the FLOP count."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from .. import ops
from . import numpy_gru, numpy_lstm, numpy_rnn

__all__ = [
    "CELLS",
    "DEFAULT_SHAPES",
    "GRU",
    "LSTM",
    "RNN",
    "CellBench",
    "Shape",
    "Targets",
    "flops",
    "make_problem",
]

Shape = tuple[int, int, int, int]  # (N, T, D, H)
Problem = dict[str, np.ndarray]  # x, Wx, Wh, b, dhs
Gradients = tuple[np.ndarray, np.ndarray, np.ndarray]  # dWx, dWh, db


@dataclass(frozen=True)
class Targets:
    """What a shape aims for; None: no aim on that measure."""

    numpy_ratio: float | None = None  # NumPy time / rnnkit time at least this
    torch_ratio: float | None = None  # PyTorch time / rnnkit time at least this
    peak_share: float | None = None  # rnnkit's GFLOP/s at least this share of the GEMM peak


@dataclass(frozen=True)
class CellBench:
    """One cell as the benchmark sees it."""

    name: str  # "rnn", "lstm", "gru": the --cell value and the rnnkit.ops prefix
    gates: int  # blocks of H columns in Wx and Wh
    bias_rows: int  # 1: b is (G·H,); 2: b is (2, G·H) (the GRU's input and recurrent rows)
    shapes: tuple[tuple[Shape, Targets], ...]  # the default shapes and their targets
    kernel_forward: Callable[..., Any]  # rnnkit.ops.<cell>_forward; the cache comes last
    kernel_backward: Callable[..., dict[str, np.ndarray]]  # rnnkit.ops.<cell>_backward
    numpy_module: ModuleType  # forward(x, Wx, Wh, b) and backward(fwd, dhs)

    def targets(self, shape: Sequence[int]) -> Targets:
        """The targets of ``shape`` if it is one of the defaults, else none."""
        return next((t for s, t in self.shapes if s == tuple(shape)), Targets())

    def rnnkit_step(self, p: Problem) -> Callable[[], dict[str, np.ndarray]]:
        """One forward+backward of rnnkit's kernels on ``p``, as a call with no arguments."""

        def run() -> dict[str, np.ndarray]:
            cache = self.kernel_forward(p["x"], p["Wx"], p["Wh"], p["b"])[-1]
            return self.kernel_backward(cache, p["dhs"])

        return run

    def numpy_step(self, p: Problem) -> Callable[[], tuple[np.ndarray, ...]]:
        """One forward+backward of the NumPy formulation on ``p``: ``(dx, dWx, dWh, db)``."""
        module = self.numpy_module

        def run() -> tuple[np.ndarray, ...]:
            return module.backward(module.forward(p["x"], p["Wx"], p["Wh"], p["b"]), p["dhs"])

        return run

    def weight_gradient_gap(self, p: Problem) -> float:
        """Largest difference of rnnkit's weight gradients from the NumPy formulation's,
        relative to the largest magnitude (at least 1): a sanity check of the timed code."""
        mine = self.rnnkit_step(p)()
        _, *theirs = self.numpy_step(p)()
        return max(
            float(np.abs(mine[key] - ref).max() / max(1.0, float(np.abs(ref).max())))
            for key, ref in zip(("Wx", "Wh", "b"), theirs)
        )


def flops(cell: CellBench, shape: Sequence[int]) -> float:
    """FLOPs of the products of one forward (2·N·T·G·H·(D+H)) and one backward (twice that)."""
    n, t, d, h = shape
    return 3.0 * 2.0 * n * t * cell.gates * h * (d + h)


def make_problem(
    cell: CellBench, shape: Sequence[int], seed: int = 0, dtype: Any = np.float32
) -> Problem:
    """Random inputs, weights and upstream gradients of ``cell`` at ``shape`` (N, T, D, H). The
    recurrent weights are orthogonal per gate, scaled by 0.9, so states neither die nor saturate
    over long sequences and every contender computes on values of the same range."""
    n, t, d, h = shape
    g = cell.gates
    rng = np.random.default_rng(seed)
    bias_shape = (g * h,) if cell.bias_rows == 1 else (cell.bias_rows, g * h)
    Wh = np.concatenate([np.linalg.qr(rng.standard_normal((h, h)))[0] for _ in range(g)], axis=1)
    return {
        "x": rng.standard_normal((n, t, d)).astype(dtype),
        "Wx": (rng.standard_normal((d, g * h)) / np.sqrt(d)).astype(dtype),
        "Wh": (0.9 * Wh).astype(dtype),
        "b": (0.1 * rng.standard_normal(bias_shape)).astype(dtype),
        "dhs": rng.standard_normal((n, t, h)).astype(dtype),
    }


RNN = CellBench(
    "rnn",
    gates=1,
    bias_rows=1,
    # docs/performance.md, "The NumPy anchor", with the speed-up over NumPy aimed for.
    shapes=(
        ((1, 25, 65, 100), Targets(numpy_ratio=5.0)),  # min-char-rnn
        ((32, 50, 1, 32), Targets(numpy_ratio=8.0)),  # sine-wave regression
        ((1, 1000, 1, 32), Targets(numpy_ratio=15.0)),  # one long series
        ((64, 100, 128, 256), Targets(numpy_ratio=1.5)),  # a mid-sized model
        ((64, 50, 256, 512), Targets(numpy_ratio=1.2)),  # a large model
    ),
    kernel_forward=ops.rnn_forward,
    kernel_backward=ops.rnn_backward,
    numpy_module=numpy_rnn,
)

LSTM = CellBench(
    "lstm",
    gates=4,
    bias_rows=1,
    shapes=(
        ((1, 200, 16, 64), Targets(torch_ratio=2.0)),  # one sequence: per-step costs
        ((32, 50, 32, 128), Targets(torch_ratio=2.0)),  # a small batch
        ((64, 100, 128, 256), Targets(torch_ratio=1.0, peak_share=0.75)),  # GEMM-bound
    ),
    kernel_forward=ops.lstm_forward,
    kernel_backward=ops.lstm_backward,
    numpy_module=numpy_lstm,
)

GRU = CellBench(
    "gru",
    gates=3,
    bias_rows=2,
    shapes=(
        ((1, 200, 16, 64), Targets(torch_ratio=3.0)),
        ((32, 50, 32, 128), Targets(torch_ratio=3.0)),
        ((64, 100, 128, 256), Targets(torch_ratio=3.0, peak_share=0.75)),
    ),
    kernel_forward=ops.gru_forward,
    kernel_backward=ops.gru_backward,
    numpy_module=numpy_gru,
)

CELLS: dict[str, CellBench] = {cell.name: cell for cell in (RNN, LSTM, GRU)}

# The vanilla RNN's shapes with the speed-up over NumPy aimed for, as (shape, ratio) pairs: what
# the RNN-only scripts in benchmarks/ iterate over.
DEFAULT_SHAPES: tuple[tuple[Shape, float], ...] = tuple(
    (shape, t.numpy_ratio) for shape, t in RNN.shapes if t.numpy_ratio is not None
)
