"""The kernels' large outputs and scratch come from a store that recycles freed blocks
(cpp/rnnkit/recycled_memory.cpp): a block is handed out again only after NumPy has freed the
array that held it, and outputs computed into recycled memory are the same as into fresh."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit import ops

SHAPE = (16, 64, 8, 160)  # float64 hs of 1.3 MiB, saved larger: large enough to be recycled


def _problem(seed: int):
    n, t, d, h = SHAPE
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((n, t, d)),
        rng.standard_normal((d, 4 * h)) / np.sqrt(d),
        rng.standard_normal((h, 4 * h)) / np.sqrt(h),
        0.1 * rng.standard_normal(4 * h),
    )


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


@pytest.mark.skipif(rnnkit.build_info()["sanitized"], reason="a sanitizer build recycles nothing")
def test_a_freed_output_block_is_handed_out_again():
    first = ops.lstm_forward(*_problem(0))
    address = _address(first[0])
    del first  # the outputs and the cache, which holds hs too
    again, *_ = ops.lstm_forward(*_problem(1))
    assert _address(again) == address


def test_live_outputs_are_never_reused():
    first = ops.lstm_forward(*_problem(0))
    kept = first[0].copy(), first[-1].saved.copy()
    grads = ops.lstm_backward(first[-1], np.ones_like(first[0]))
    kept_dx = grads["x"].copy()
    for seed in range(1, 6):  # other calls, whose blocks come and go around the live ones
        out = ops.lstm_forward(*_problem(seed))
        ops.lstm_backward(out[-1], np.full_like(out[0], seed))
    np.testing.assert_array_equal(first[0], kept[0])
    np.testing.assert_array_equal(first[-1].saved, kept[1])
    np.testing.assert_array_equal(grads["x"], kept_dx)


def test_recycled_memory_gives_the_same_results():
    problem = _problem(7)
    reference = ops.lstm_forward(*problem)
    reference_grads = ops.lstm_backward(reference[-1], np.ones_like(reference[0]))
    for _ in range(3):  # each round frees its arrays for the next
        out = ops.lstm_forward(*problem)
        grads = ops.lstm_backward(out[-1], np.ones_like(out[0]))
        np.testing.assert_array_equal(out[0], reference[0])
        for key, value in reference_grads.items():
            np.testing.assert_array_equal(grads[key], value)
