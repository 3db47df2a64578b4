"""``python -m rnnkit bench``: the NumPy formulations it times compute what rnnkit computes, the
PyTorch layers hold the same weights, and the command runs and prints a row per cell. Nothing
here is timed (timings are the benchmark's output, never a test's assertion)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import rnnkit.bench
from rnnkit.__main__ import main as rnnkit_main
from rnnkit.bench import CELLS, _problem, parse_shape
from rnnkit.bench.cells import Targets, make_problem
from rnnkit.bench.report import Row, environment_warning

SMALL_ARGS = ["--shape", "2,5,3,4", "--repeat", "1", "--rounds", "1", "--no-torch"]


def relative_gap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a) - b).max() / max(1.0, float(np.abs(b).max())))


def random_small_shape(seed: int) -> tuple[int, int, int, int]:
    rng = np.random.default_rng(seed)
    return tuple(int(v) for v in rng.integers(1, 8, size=4))  # type: ignore[return-value]


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize(
    "shape", [random_small_shape(1), random_small_shape(2), (3, 1, 2, 5), (2, 6, 1, 3)]
)
def test_numpy_formulation_matches_rnnkit_in_float64(cell, shape):
    bench = CELLS[cell]
    p = make_problem(bench, shape, seed=7, dtype=np.float64)
    p["b"] = p["b"] * 5  # biases of order one, so that gates and states are far from symmetric
    out = bench.kernel_forward(p["x"], p["Wx"], p["Wh"], p["b"])
    want = bench.kernel_backward(out[-1], p["dhs"])
    module = bench.numpy_module
    fwd = module.forward(p["x"], p["Wx"], p["Wh"], p["b"])
    dx, dWx, dWh, db = module.backward(fwd, p["dhs"])
    assert relative_gap(fwd.hs.transpose(1, 0, 2), out[0]) <= 1e-10
    for got, key in ((dx, "x"), (dWx, "Wx"), (dWh, "Wh"), (db, "b")):
        assert got.shape == want[key].shape, key
        assert got.dtype == np.float64, key
        assert relative_gap(got, want[key]) <= 1e-10, key


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_torch_layer_holds_the_problems_weights(cell):
    torch = pytest.importorskip("torch")
    from rnnkit.bench.torch_side import torch_layer

    bench = CELLS[cell]
    p = make_problem(bench, (2, 4, 3, 5), seed=3, dtype=np.float64)
    hs = bench.kernel_forward(p["x"], p["Wx"], p["Wh"], p["b"])[0]
    with torch.no_grad():
        out, _ = torch_layer(bench, p)(torch.from_numpy(p["x"]))
    assert relative_gap(out.numpy(), hs) <= 1e-10


@pytest.mark.parametrize("cell", [*sorted(CELLS), "all"])
def test_bench_command_prints_a_row_per_cell(cell, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(rnnkit.bench, "gemm_peak_gflops", lambda: 100.0)  # a second saved
    out_json = tmp_path / "rows.json"
    assert rnnkit_main(["bench", "--cell", cell, *SMALL_ARGS, "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    cells = sorted(CELLS) if cell == "all" else [cell]
    for name in cells:
        assert f"{name}: float32 forward+backward" in printed
    assert printed.count("(2, 5, 3, 4)") == len(cells)
    rows = json.loads(out_json.read_text(encoding="utf-8"))["rows"]
    assert sorted(r["cell"] for r in rows) == cells
    assert all(r["torch_ms"] is None and r["max_rel_diff"] < 1e-3 for r in rows)


def test_bench_runs_as_a_module():
    done = subprocess.run(
        [sys.executable, "-m", "rnnkit", "bench", "--cell", "gru", *SMALL_ARGS],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "gru: float32 forward+backward" in done.stdout
    assert "(2, 5, 3, 4)" in done.stdout


def test_environment_warning_names_the_skewing_variables():
    assert environment_warning({}) is None
    text = environment_warning({"OPENBLAS_CORETYPE": "Haswell", "PATH": "/bin"})
    assert text is not None
    assert "OPENBLAS_CORETYPE=Haswell" in text
    assert "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m rnnkit bench" in text
    assert "OPENBLAS_L2_SIZE=512" in environment_warning({"OPENBLAS_L2_SIZE": "512"})


def row(targets: Targets, torch_ms: float | None, peak_share: float) -> Row:
    gflops, peak = 100 * peak_share, 100.0
    return Row("lstm", (1, 2, 3, 4), 1.0, 3.0, 1, torch_ms, 1, gflops, peak, 0.0, targets)


def test_row_status_names_the_missed_targets():
    targets = Targets(torch_ratio=2.0, peak_share=0.75)
    assert row(targets, 2.5, 0.8).status() == "ok"
    assert row(targets, 1.5, 0.8).status() == "LOW (torch)"
    assert row(targets, 1.5, 0.5).status() == "LOW (torch, peak)"
    assert row(targets, None, 0.8).status() == "ok (torch not timed)"
    assert row(Targets(numpy_ratio=4.0), None, 0.1).status() == "LOW (numpy)"
    assert row(Targets(), None, 0.1).status() == "-"


def test_default_shapes_and_targets():
    assert [s for s, _ in CELLS["lstm"].shapes] == [(1, 200, 16, 64), (32, 50, 32, 128),
                                                    (64, 100, 128, 256)]  # fmt: skip
    assert CELLS["gru"].targets((64, 100, 128, 256)) == Targets(torch_ratio=3.0, peak_share=0.75)
    assert CELLS["lstm"].targets((1, 200, 16, 64)) == Targets(torch_ratio=2.0)
    assert CELLS["rnn"].targets((2, 5, 3, 4)) == Targets()


def test_public_names_of_the_old_module():
    from rnnkit.bench import DEFAULT_SHAPES, median_seconds

    assert DEFAULT_SHAPES[0] == ((1, 25, 65, 100), 5.0)
    assert parse_shape("2,5,3,4") == (2, 5, 3, 4)
    assert _problem((2, 5, 3, 4))["Wh"].shape == (4, 4)
    assert median_seconds(lambda: None, repeat=1, min_round_s=0.0) >= 0.0
