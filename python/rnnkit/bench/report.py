"""What the benchmark prints and writes: the rows, their tables, the configuration of the BLAS
libraries and threads, and the warning about environment variables that skew the numbers."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..threads import build_info, get_num_threads
from .cells import Shape, Targets

__all__ = [
    "SKEWING_VARIABLES",
    "Row",
    "configuration_text",
    "environment_warning",
    "format_table",
    "write_json",
]

# OpenBLAS settings that these machines export for old builds: on AVX-512 hosts they force the
# AVX2 (Haswell) kernels and halve the GEMM peak, so every rate measured under them is skewed.
SKEWING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclass
class Row:
    """One cell at one shape: float32 forward+backward medians of every contender."""

    cell: str
    shape: Shape
    rnnkit_ms: float
    numpy_ms: float
    numpy_threads: int  # NumPy's BLAS threads in its faster timing
    torch_ms: float | None  # None: PyTorch not installed or not asked for
    torch_threads: int | None  # torch.set_num_threads of its faster timing
    gflops: float  # rnnkit's rate on the products' FLOPs
    peak_gflops: float  # the machine's GEMM peak, measured in the same run
    max_rel_diff: float  # rnnkit's weight gradients against the NumPy formulation's
    targets: Targets

    @property
    def peak_share(self) -> float:
        """rnnkit's GFLOP/s over the GEMM peak."""
        return self.gflops / self.peak_gflops if self.peak_gflops > 0 else float("nan")

    @property
    def numpy_ratio(self) -> float:
        """NumPy time over rnnkit time (above 1: rnnkit is faster)."""
        return self.numpy_ms / self.rnnkit_ms

    @property
    def torch_ratio(self) -> float | None:
        """PyTorch time over rnnkit time, when PyTorch was timed."""
        return None if self.torch_ms is None else self.torch_ms / self.rnnkit_ms

    def missed(self) -> list[str]:
        """The measures whose targets this row misses (a torch target counts as missed only when
        torch was timed)."""
        t, misses = self.targets, []
        if t.numpy_ratio is not None and self.numpy_ratio < t.numpy_ratio:
            misses.append("numpy")
        torch_ratio = self.torch_ratio
        if t.torch_ratio is not None and torch_ratio is not None and torch_ratio < t.torch_ratio:
            misses.append("torch")
        if t.peak_share is not None and self.peak_share < t.peak_share:
            misses.append("peak")
        return misses

    def status(self) -> str:
        """``ok``, ``LOW (what)``, or ``-`` for a shape without targets."""
        if self.targets == Targets():
            return "-"
        missed = self.missed()
        if missed:
            return f"LOW ({', '.join(missed)})"
        untimed = self.targets.torch_ratio is not None and self.torch_ms is None
        return "ok (torch not timed)" if untimed else "ok"

    def as_dict(self) -> dict:
        """The row with its ratios, missed targets and status, for JSON."""
        return {
            **asdict(self),
            "peak_share": self.peak_share,
            "numpy_ratio": self.numpy_ratio,
            "torch_ratio": self.torch_ratio,
            "missed": self.missed(),
            "status": self.status(),
        }


def environment_warning(
    environ: Mapping[str, str] = os.environ, command: str = "python -m rnnkit bench ..."
) -> str | None:
    """A warning line when a variable that skews OpenBLAS's speed is set, else None; it
    tells how to run ``command`` without them."""
    found = [name for name in SKEWING_VARIABLES if name in environ]
    if not found:
        return None
    settings = ", ".join(f"{name}={environ[name]}" for name in found)
    unset = " ".join(f"-u {name}" for name in SKEWING_VARIABLES)
    return (
        f"WARNING: {settings} is set: on AVX-512 hosts it forces OpenBLAS's AVX2 kernels and "
        f"halves the GEMM peak, so these numbers are skewed. Re-run with "
        f"`env {unset} {command}`"
    )


def configuration_text() -> str:
    """BLAS libraries (with the OpenBLAS core each runs), thread counts and build flags, as
    threadpoolctl and rnnkit see them."""
    from threadpoolctl import threadpool_info

    info = build_info()
    lines = [
        f"machine: {platform.machine()} {platform.processor() or ''} | "
        f"Python {platform.python_version()} | NumPy {np.__version__}",
        f"rnnkit: {get_num_threads()} thread(s) | BLAS core {info['blas_core']} | packed "
        f"products {info['packed_kernel']} | Eigen "
        f"{info['eigen_version']} | native build: {info['native']}",
    ]
    lines.extend(
        f"  {lib.get('user_api')}: {lib.get('internal_api')} {lib.get('version')} "
        f"{lib.get('architecture', '')} threads={lib.get('num_threads')} "
        f"({lib.get('filepath', '').rsplit('/', 1)[-1]})"
        for lib in threadpool_info()
    )
    return "\n".join(lines)


def _targets_text(t: Targets) -> str:
    parts = []
    if t.numpy_ratio is not None:
        parts.append(f"np>={t.numpy_ratio:g}x")
    if t.torch_ratio is not None:
        parts.append(f"torch>={t.torch_ratio:g}x")
    if t.peak_share is not None:
        parts.append(f"peak>={100 * t.peak_share:.0f}%")
    return " ".join(parts) or "-"


def _optional(value: float | None, spec: str, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"


def _ratio(value: float | None, width: int) -> str:
    """A ratio with two decimals below 10 (so that 0.95x next to a 1x target reads as below it),
    fewer above."""
    if value is None:
        return f"{'-':>{width}}"
    decimals = 2 if value < 10 else (1 if value < 100 else 0)
    return f"{value:>{width - 1}.{decimals}f}x"


def _row_text(r: Row) -> str:
    return (
        f"{r.shape!s:<19} {r.rnnkit_ms:>9.3f} {r.numpy_ms:>9.3f} {r.numpy_threads:>6} "
        f"{_ratio(r.numpy_ratio, 6)} {_optional(r.torch_ms, '.3f', 9)} "
        f"{_optional(r.torch_threads, 'd', 5)} {_ratio(r.torch_ratio, 8)} "
        f"{r.gflops:>7.1f} {100 * r.peak_share:>5.1f}% {r.max_rel_diff:>12.1e}  "
        f"{_targets_text(r.targets):<24} {r.status()}"
    )


def format_table(cell: str, rows: Sequence[Row]) -> str:
    """The rows of one cell as a text table under a title line naming the cell and the peak."""
    peak = max((r.peak_gflops for r in rows), default=0.0)
    header = (
        f"{'shape (N,T,D,H)':<19} {'rnnkit ms':>9} {'numpy ms':>9} {'np thr':>6} {'np/rk':>6} "
        f"{'torch ms':>9} {'t thr':>5} {'torch/rk':>8} {'GFLOP/s':>7} {'% peak':>6} "
        f"{'max rel diff':>12}  {'targets':<24} status"
    )
    lines = [
        f"{cell}: float32 forward+backward, medians; GEMM peak in this run: {peak:.1f} GFLOP/s",
        header,
    ]
    lines.extend(_row_text(r) for r in rows)
    return "\n".join(lines)


def write_json(path: str, rows: Sequence[Row]) -> None:
    """All rows (each with the GEMM peak of its run) as JSON."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"rows": [r.as_dict() for r in rows]}, f, indent=1)
