"""Inputs changed behind the kernels' back, and sizes at the edges: arrays another thread writes
during a call, inputs the caller reuses between forward and backward, zero units, degenerate
batch/time/feature sizes, and sizes past the BLAS's 32-bit index range."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from _cell_testing import GRU, GRU_RESET_BEFORE, LN_RNN, LSTM, RNN, Cell, random_case
from rnnkit import _core, ops, reference

CELLS = [RNN, LN_RNN, LSTM, GRU, GRU_RESET_BEFORE]
CELL_IDS = [c.label or c.name for c in CELLS]


def run_cell(cell: Cell, module, case: dict) -> dict[str, np.ndarray]:
    hs, finals, cache = cell.forward(module, case)
    grads = cell.backward(module, cache, case["dhs"], case["d_final"], None)
    return {"hs": hs, **{f"final{i}": f for i, f in enumerate(finals)}, **grads}


@pytest.mark.stress
def test_lengths_written_by_another_thread_during_calls():
    # The bindings checked `lengths` with the GIL held, then the kernel read the caller's array
    # again without it: another thread writing it made the kernel read out of bounds (a crash).
    # The kernels now work from a copy taken while the checks run. In a process of its own,
    # calling _core directly (rnnkit.ops would hand over a private copy anyway).
    script = textwrap.dedent(
        """
        import threading, time
        import numpy as np
        from rnnkit import _core
        rng = np.random.default_rng(0)
        n, t, d, h = 16, 200, 4, 32
        x = rng.standard_normal((n, t, d))
        Wx, Wh = rng.standard_normal((d, h)) * 0.3, rng.standard_normal((h, h)) * 0.1
        b = np.zeros(h)
        lengths = np.full(n, t, dtype=np.int64)
        stop = threading.Event()
        def scribble():
            while not stop.is_set():
                lengths[:] = 10**12
                lengths[:] = -(10**12)
                lengths[:] = t
        writer = threading.Thread(target=scribble)
        writer.start()
        calls = errors = 0
        deadline = time.monotonic() + 3
        try:
            while time.monotonic() < deadline:
                try:
                    hs, finals, saved = _core.rnn_forward(
                        x, Wx, Wh, b, [None], lengths, ["tanh"], None, None)
                    _core.rnn_backward(hs, [None], x, Wx, Wh, [None], hs, saved, lengths,
                                       ["tanh"], None, None, 0)
                except ValueError:
                    errors += 1  # caught by the checks: fine
                calls += 1
        finally:
            stop.set()
            writer.join()
        print(calls, errors)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    calls, _ = (int(v) for v in result.stdout.strip().splitlines()[-1].split())
    assert calls > 100


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_inputs_changed_between_forward_and_backward_do_not_change_gradients(cell):
    # The cache used to keep the caller's x and lengths: a data loader refilling its buffers
    # between forward and backward silently changed the gradients.
    case = random_case(cell, 11, (4, 6, 3, 5), lengths=[6, 3, 0, 5], recurrent_dropout=0.3)
    expected = run_cell(cell, ops, case)
    _, _, cache = cell.forward(ops, case)
    case["x"][:] = 7.0
    case["lengths"][:] = 1
    for state in case["initial"]:
        state[:] = -3.0
    case["recurrent_mask"][:] = 0.0
    grads = cell.backward(ops, cache, case["dhs"], case["d_final"], None)
    for key, value in grads.items():
        np.testing.assert_array_equal(value, expected[key], err_msg=key)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("d", [1, 3])
def test_zero_units_are_refused(cell, d):
    # H = 0 with D = 1 used to return uninitialised memory as dx (a gemv with lda = 0).
    case = random_case(cell, 12, (2, 4, d, 1))
    g = 0
    case["Wx"] = np.zeros((d, g))
    case["Wh"] = np.zeros((0, g))
    case["b"] = np.zeros(g if cell.bias_rows == 1 else (cell.bias_rows, g))
    case["initial"] = tuple(None for _ in cell.states)
    for name in cell.params:
        case[name] = np.zeros(0)
    with pytest.raises(ValueError, match="H >= 1"):
        cell.forward(ops, case)


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "gru_reset_before", "ln_rnn"])
def test_zero_units_are_refused_by_the_bindings(name):
    forward = getattr(_core, f"{name}_forward")
    gates = {"rnn": 1, "ln_rnn": 1, "lstm": 4}.get(name, 3)
    rows = 2 if name == "gru" else 1
    x = np.zeros((2, 4, 1))
    b = np.zeros(0) if rows == 1 else np.zeros((2, 0))
    params = np.zeros((2, 0)) if name == "ln_rnn" else None
    activations = ["tanh"] if gates == 1 else ["tanh", "sigmoid"]
    states = [None, None] if name == "lstm" else [None]
    with pytest.raises(ValueError, match="H ≥ 1"):
        forward(x, np.zeros((1, 0)), np.zeros((0, 0)), b, states, None, activations, None, params)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("shape", [(0, 4, 3, 5), (3, 0, 3, 5), (3, 4, 0, 5), (1, 3, 0, 2)])
def test_empty_batch_time_or_features_match_the_reference(cell, shape):
    # N = 0, T = 0 and D = 0 are well defined (no rows, no steps, no input): same as NumPy's.
    case = random_case(cell, 13, shape)
    got, want = run_cell(cell, ops, case), run_cell(cell, reference, case)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key].shape == want[key].shape, key
        np.testing.assert_allclose(got[key], want[key], rtol=1e-12, atol=1e-12, err_msg=key)


def test_weights_past_the_blas_index_range_name_the_product():
    # H·H ≥ 2**31: the message used to name N·T or T·(widest row) instead of Wh's size. np.empty
    # reserves the 8.6 GB without touching it; the check runs before anything is read.
    h = 46341  # h·h > 2**31
    try:
        Wh = np.empty((h, h), np.float32)
    except MemoryError:
        pytest.skip("cannot reserve an 8.6 GB address range here")
    x = np.zeros((1, 1, 1), np.float32)
    Wx, b = np.zeros((1, h), np.float32), np.zeros(h, np.float32)
    with pytest.raises(ValueError, match=r"H·\(gate columns\), the size of Wh, = 2147488281"):
        _core.rnn_forward(x, Wx, Wh, b, [None], None, ["tanh"], None, None)


@pytest.mark.skipif(os.name != "posix", reason="POSIX only")
def test_negative_and_huge_lengths_are_refused_by_the_bindings():
    x = np.zeros((2, 3, 1))
    args = (np.zeros((1, 2)), np.zeros((2, 2)), np.zeros(2), [None])
    for bad in ([-1, 2], [4, 0], [2**62, 1]):
        with pytest.raises(ValueError, match="lengths must lie in"):
            _core.rnn_forward(x, *args, np.array(bad, np.int64), ["tanh"], None, None)


def misaligned(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``a`` one byte off its dtype's alignment."""
    raw = np.zeros(a.nbytes + 1, np.uint8)
    view = raw[1:].view(a.dtype).reshape(a.shape)
    view[...] = a
    assert view.flags.c_contiguous and not view.flags.aligned
    return view


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_misaligned_inputs_are_copied_by_ops(cell):
    # Contiguous views at a byte offset passed np.ascontiguousarray unchanged and reached the
    # kernels' loads misaligned (undefined behaviour, which UBSan reported); ops now copies them.
    case = random_case(cell, 14, (3, 5, 4, 6), lengths=[5, 2, 0], recurrent_dropout=0.2)
    expected = run_cell(cell, ops, case)
    for key in ("x", "Wx", "Wh", "b", "dhs", "recurrent_mask", *cell.params):
        case[key] = misaligned(case[key])
    case["initial"] = tuple(misaligned(s) for s in case["initial"])
    case["lengths"] = misaligned(case["lengths"])
    got = run_cell(cell, ops, case)
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)


def test_misaligned_arrays_are_refused_by_the_bindings():
    x, Wx, Wh, b = np.ones((2, 3, 4)), np.ones((4, 5)), np.eye(5), np.zeros(5)
    for name in ("x", "Wx", "Wh", "b"):
        args = {"x": x, "Wx": Wx, "Wh": Wh, "b": b}
        args[name] = misaligned(args[name])
        with pytest.raises(TypeError, match=f"{name} must be aligned"):
            _core.rnn_forward(*args.values(), [None], None, ["tanh"], None, None)
