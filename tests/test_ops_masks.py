"""Keras's step masks in the kernels (``mask=`` on every cell's forward): any steps of a row may
be masked; a masked step carries the states through unchanged and its output repeats the
previous output (zeros before the row's first valid step). Checked against the NumPy twins
(:mod:`rnnkit.reference.masking`, which runs the cell one step at a time and chooses per row, as
Keras does), numerically in float64, and against the same sequences without padding."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest

from _cell_testing import GRU, GRU_RESET_BEFORE, LN_RNN, LSTM, RNN, Cell, random_case
from rnnkit import _core, ops, reference
from rnnkit.gradcheck import check_gradients

CELLS = [RNN, LN_RNN, LSTM, GRU, GRU_RESET_BEFORE]
CELL_IDS = [c.label or c.name for c in CELLS]
U8 = np.uint8


def forward(cell: Cell, module: ModuleType, case: dict[str, Any], mask: Any, initial=None):
    """``(outputs, finals, cache)`` of ``module``'s kernel on ``case`` under ``mask``."""
    initial = case["initial"] if initial is None else initial
    out = getattr(module, f"{cell.name}_forward")(
        case["x"], case["Wx"], case["Wh"], case["b"],
        **{p: case[p] for p in cell.params},
        **dict(cell.options),
        **dict(zip(cell.states, initial)),
        **dict(zip(cell.activations, case["activations"])),
        recurrent_mask=case["recurrent_mask"],
        mask=mask,
    )  # fmt: skip
    return out[0], tuple(out[1:-1]), out[-1]


def run(cell: Cell, module: ModuleType, case: dict, mask: Any, truncate=None) -> dict:
    outputs, finals, cache = forward(cell, module, case, mask)
    grads = cell.backward(module, cache, case["dhs"], case["d_final"], truncate)
    return {"outputs": outputs, **{f"final{i}": f for i, f in enumerate(finals)}, **grads}


def random_mask(rng: np.random.Generator, n: int, t: int) -> np.ndarray:
    """Random steps masked, plus the rows Keras code meets: pre-padded, post-padded, all
    masked, none masked."""
    mask = rng.random((n, t)) < 0.6
    special = [np.arange(t) >= t // 2, np.arange(t) < t - 1, np.zeros(t, bool), np.ones(t, bool)]
    for row, pattern in zip(range(n), special):
        mask[row] = pattern
    return mask


def assert_close(got: dict, want: dict, tol: float) -> None:
    assert got.keys() == want.keys()
    for key in want:
        scale = max(1.0, float(np.max(np.abs(want[key]), initial=0.0)))
        err = float(np.max(np.abs(got[key] - want[key]), initial=0.0)) / scale
        assert err <= tol, (key, err)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("seed", range(6))
def test_masked_kernels_match_the_reference(cell, seed):
    rng = np.random.default_rng(seed)
    n, t, d, h = (int(v) for v in rng.integers(1, 7, 4))
    n = max(n, 4)
    case = random_case(
        cell,
        seed,
        (n, t, d, h),
        with_initial=bool(seed % 2),
        recurrent_dropout=0.3 if seed % 3 == 0 else 0.0,
    )
    mask = random_mask(rng, n, t)
    for truncate in (None, 1, 2, 3):
        got = run(cell, ops, case, mask, truncate)
        want = run(cell, reference, case, mask, truncate)
        assert_close(got, want, 1e-12)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_masked_float32_matches_float64(cell):
    rng = np.random.default_rng(11)
    mask = random_mask(rng, 5, 9)
    case64 = random_case(cell, 11, (5, 9, 3, 6), recurrent_dropout=0.2)
    case32 = {
        k: (tuple(s.astype(np.float32) for s in v) if k in ("initial", "d_final") else
            v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float64 else v)
        for k, v in case64.items()
    }  # fmt: skip
    want, got = run(cell, ops, case64, mask), run(cell, ops, case32, mask)
    assert_close({k: v.astype(np.float64) for k, v in got.items()}, want, 2e-5)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_masked_gradients_are_numerically_exact(cell):
    rng = np.random.default_rng(12)
    case = random_case(cell, 12, (4, 6, 3, 4), recurrent_dropout=0.25)
    mask = random_mask(rng, 4, 6)
    _, _, cache = forward(cell, ops, case, mask)
    grads = cell.backward(ops, cache, case["dhs"], case["d_final"], None)
    params = {k: case[k] for k in ("x", "Wx", "Wh", "b", *cell.params)}
    params.update(zip(cell.states, case["initial"]))

    def loss() -> float:
        initial = tuple(params[s] for s in cell.states)
        outputs, finals, _ = forward(cell, ops, case, mask, initial)
        total = float(np.sum(case["dhs"] * outputs))
        return total + sum(float(np.sum(d * f)) for d, f in zip(case["d_final"], finals))

    errors = check_gradients(loss, params, grads, tol=1e-7)
    assert max(errors.values()) <= 1e-7, errors


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_padded_batch_gives_the_unpadded_sequences_results(cell, padding):
    # What pad_sequences + Embedding(mask_zero=True) feed a recurrent layer: each row's results
    # must be those of its sequence run alone, without any padding.
    t_max, sizes = 7, [7, 4, 1, 5]
    case = random_case(cell, 13, (len(sizes), t_max, 3, 5))
    mask = np.zeros((len(sizes), t_max), bool)
    for row, size in enumerate(sizes):
        mask[row, t_max - size :] = padding == "pre"
        mask[row, :size] = padding == "post"
        if padding == "pre":
            mask[row, : t_max - size] = False
    outputs, finals, _ = forward(cell, ops, case, mask)
    for row, size in enumerate(sizes):
        steps = np.flatnonzero(mask[row])
        alone = {
            k: (v[row : row + 1] if isinstance(v, np.ndarray) and v.ndim and k != "b"
                and k not in ("Wx", "Wh", *cell.params) else v)
            for k, v in case.items()
        }  # fmt: skip
        alone["x"] = case["x"][row : row + 1, steps]
        alone["initial"] = tuple(s[row : row + 1] for s in case["initial"])
        hs, finals_alone, _ = forward(cell, ops, alone, None)
        np.testing.assert_allclose(outputs[row, steps], hs[0], rtol=1e-13, atol=1e-13)
        for f, f_alone in zip(finals, finals_alone):
            np.testing.assert_allclose(f[row], f_alone[0], rtol=1e-13, atol=1e-13)
        if padding == "pre":  # zeros before the first valid step
            assert not outputs[row, : t_max - size].any()
        else:  # the last output repeats over the padding
            repeated = np.repeat(hs[:, -1], t_max - size, 0)
            np.testing.assert_allclose(outputs[row, size:], repeated, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_an_all_true_mask_is_no_mask(cell):
    case = random_case(cell, 14, (3, 5, 2, 4))
    mask = np.ones((3, 5), bool)
    assert_close(run(cell, ops, case, mask, 2), run(cell, ops, case, None, 2), 0.0)


def test_suffix_mask_and_lengths_agree_on_states_but_not_on_padded_outputs():
    # lengths (packed sequences) output zeros at padding; Keras's mask repeats the last output.
    cell = LSTM
    case = random_case(cell, 15, (3, 6, 2, 4))
    lengths = np.array([6, 2, 0])
    mask = np.arange(6) < lengths[:, None]
    by_mask = forward(cell, ops, case, mask)
    by_lengths = ops.lstm_forward(
        case["x"], case["Wx"], case["Wh"], case["b"], *case["initial"], lengths=lengths
    )
    for f_mask, f_lengths in zip(by_mask[1], by_lengths[1:3]):
        np.testing.assert_array_equal(f_mask, f_lengths)
    np.testing.assert_array_equal(by_mask[0][mask], by_lengths[0][mask])
    np.testing.assert_array_equal(by_mask[0][1, 2:], np.repeat(by_lengths[0][1:2, 1], 4, 0))
    assert not by_lengths[0][1, 2:].any()


@pytest.mark.parametrize(
    "mask, error, match",
    [
        (np.ones((2, 4), np.float64), TypeError, "mask must hold booleans"),
        (np.ones((2, 3), bool), ValueError, r"mask must have shape \(N, T\) = \(2, 4\)"),
        (np.full((2, 4), 2), ValueError, "mask must hold only 0 and 1"),
    ],
)
def test_bad_masks_are_refused(mask, error, match):
    x, Wx, Wh, b = np.ones((2, 4, 3)), np.ones((3, 5)), np.eye(5), np.zeros(5)
    with pytest.raises(error, match=match):
        ops.rnn_forward(x, Wx, Wh, b, mask=mask)


def test_mask_and_lengths_together_are_refused():
    x, Wx, Wh, b = np.ones((2, 4, 3)), np.ones((3, 5)), np.eye(5), np.zeros(5)
    mask, lengths = np.ones((2, 4), bool), np.array([4, 2])
    with pytest.raises(ValueError, match="lengths or mask, not both"):
        ops.rnn_forward(x, Wx, Wh, b, lengths=lengths, mask=mask)
    with pytest.raises(ValueError, match="lengths or step_mask, not both"):
        _core.rnn_forward(x, Wx, Wh, b, [None], lengths, ["tanh"], None, None, np.ones((2, 4), U8))
    with pytest.raises(ValueError, match=r"step_mask must have shape \(N, T\)"):
        _core.rnn_forward(x, Wx, Wh, b, [None], None, ["tanh"], None, None, np.ones((2, 5), U8))


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_masked_kernels_on_two_threads_match_one(cell):
    import rnnkit

    case = random_case(cell, 16, (16, 30, 8, 32))
    mask = random_mask(np.random.default_rng(16), 16, 30)
    before = rnnkit.get_num_threads()
    try:
        rnnkit.set_num_threads(1)
        one = run(cell, ops, case, mask, 7)
        rnnkit.set_num_threads(2)
        two = run(cell, ops, case, mask, 7)
    finally:
        rnnkit.set_num_threads(before)
    assert_close(two, one, 1e-12)
