"""The packed per-step products (cpp/rnnkit/packed_product.cpp): every cell, at shapes where the
kernels pack the recurrent weights (K·N ≥ 32 Ki elements, two rows and more per product), against
the NumPy twins in float64 and float32 against float64, with row counts and column counts that
leave partial tiles and panels; then the same checks in fresh processes that force each micro-kernel
this CPU can run, and the BLAS path (``RNNKIT_PACKED_KERNEL``), so that every path is tested on a
CPU that would pick only one."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import rnnkit
from _cell_testing import GRU, GRU_RESET_BEFORE, LN_RNN, LSTM, RNN, random_case
from _rnn_testing import max_rel_diff
from rnnkit import ops, reference

# Hidden sizes just past the packing threshold, none a multiple of a panel's 8–32 columns, so
# both Wh's and Whᵀ's last panels are partial: K·N = G·H² ≥ 32 768.
PACKED = [(RNN, 190), (LN_RNN, 190), (LSTM, 93), (GRU, 107), (GRU_RESET_BEFORE, 107)]
IDS = [cell.label or cell.name for cell, _ in PACKED]


def run(cell, module, case, truncate):
    hs, finals, cache = cell.forward(module, case)
    grads = cell.backward(module, cache, case["dhs"], case["d_final"], truncate)
    return {"hs": hs, **{f"final_{i}": f for i, f in enumerate(finals)}, **grads}


@pytest.fixture(params=[1, 2], ids=["one_thread", "two_threads"])
def threads(request):
    original = rnnkit.get_num_threads()
    rnnkit.set_num_threads(request.param)
    yield request.param
    rnnkit.set_num_threads(original)


@pytest.mark.parametrize(("cell", "hidden"), PACKED, ids=IDS)
@pytest.mark.parametrize("rows", [2, 13, 29])  # one tile; 7 + 6 rows; three tiles
def test_packed_products_match_the_twin(cell, hidden, rows, threads):
    rng = np.random.default_rng(rows)
    case = random_case(
        cell,
        rows,
        (rows, 6, 3, hidden),
        activations=("tanh",) if cell in (RNN, LN_RNN) else ("tanh", "sigmoid"),
        lengths=rng.integers(0, 7, rows),
        recurrent_dropout=0.25 if rows == 13 else 0.0,
    )
    ours, ref = run(cell, ops, case, 4), run(cell, reference, case, 4)
    errors = {k: max_rel_diff(ours[k], ref[k]) for k in ref}
    assert max(errors.values()) <= 1e-12, errors


@pytest.mark.parametrize(("cell", "hidden"), PACKED, ids=IDS)
def test_packed_float32_matches_float64(cell, hidden):
    activations = ("tanh",) if cell in (RNN, LN_RNN) else ("tanh", "sigmoid")
    case32 = random_case(cell, 5, (9, 5, 4, hidden), activations=activations, dtype=np.float32)
    case64 = random_case(cell, 5, (9, 5, 4, hidden), activations=activations)
    out32, out64 = run(cell, ops, case32, None), run(cell, ops, case64, None)
    errors = {k: max_rel_diff(out32[k], out64[k]) for k in out64}
    assert max(errors.values()) <= 1e-4, errors


# One sequence reads Wh packed from 8 steps on, through the one-row kernel: hidden sizes whose
# G·H columns fill 1 to 5+ panels (8–32 columns each), partial ones included, and inner dimensions
# K (H forward, G·H backward) below and past its interleaved partial sums (4 for one panel).
ONE_ROW = [(cell, h) for cell in (RNN, LN_RNN, LSTM, GRU, GRU_RESET_BEFORE) for h in (3, 21, 70)]


@pytest.mark.parametrize(
    ("cell", "hidden"), ONE_ROW, ids=[f"{c.label or c.name}-{h}" for c, h in ONE_ROW]
)
@pytest.mark.parametrize("length", [11, 6])  # a full sequence; padded steps after the sixth
def test_one_sequence_packed_matches_the_twin(cell, hidden, length):
    case = random_case(
        cell,
        hidden,
        (1, 11, 4, hidden),
        activations=("tanh",) if cell in (RNN, LN_RNN) else ("tanh", "sigmoid"),
        lengths=np.array([length]),
        recurrent_dropout=0.25 if hidden == 21 else 0.0,
    )
    ours, ref = run(cell, ops, case, 4), run(cell, reference, case, 4)
    errors = {k: max_rel_diff(ours[k], ref[k]) for k in ref}
    assert max(errors.values()) <= 1e-12, errors
    case32 = {k: v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float64
              else v for k, v in case.items()}  # fmt: skip
    case32["initial"] = tuple(s.astype(np.float32) for s in case["initial"])
    case32["d_final"] = tuple(s.astype(np.float32) for s in case["d_final"])
    out32 = run(cell, ops, case32, 4)
    errors32 = {k: max_rel_diff(out32[k], ours[k]) for k in ours}
    assert max(errors32.values()) <= 1e-4, errors32


def test_an_unknown_kernel_name_gets_the_blas():
    env = {**os.environ, "RNNKIT_PACKED_KERNEL": "AVX2"}  # names are lower case
    chosen = subprocess.run(
        [sys.executable, "-c", "import rnnkit; print(rnnkit.build_info()['packed_kernel'])"],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    ).stdout.split()[-1]  # fmt: skip
    assert chosen == "off"


def _kernels_this_cpu_runs() -> list[str]:
    best = rnnkit.build_info()["packed_kernel"]
    return {"avx512": ["avx512", "avx2", "off"], "avx2": ["avx2", "off"]}.get(best, ["off"])


@pytest.mark.parametrize("kernel", ["avx512", "avx2", "off"])
def test_each_kernel_in_a_fresh_process(kernel):
    if kernel not in _kernels_this_cpu_runs():
        pytest.skip(f"this CPU cannot run the {kernel} kernel")
    env = {**os.environ, "RNNKIT_PACKED_KERNEL": kernel}
    chosen = subprocess.run(
        [sys.executable, "-c", "import rnnkit; print(rnnkit.build_info()['packed_kernel'])"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()[-1]  # fmt: skip  (an editable install may print its rebuild first)
    assert chosen == kernel
    result = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
         "-k", "not fresh_process"],
        env=env, capture_output=True, text=True, timeout=600,
        cwd=os.path.dirname(__file__),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
