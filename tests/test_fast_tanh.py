"""The float32 kernels' rational tanh against the exact tanh (docs/performance.md, "Vectorised
tanh": it replaced std::tanh, which cost 17–28 ns per element, and must stay within float32's own
rounding)."""

from __future__ import annotations

import numpy as np

from rnnkit._native import _core


def fast_tanh(values: np.ndarray) -> np.ndarray:
    out = np.array(values, dtype=np.float32)
    _core.fast_tanh(out)
    return out


def test_relative_error_over_the_whole_range():
    # Dense near 0, where relative error is hardest, and out to the clamp and beyond.
    grid = np.concatenate(
        [
            np.linspace(-10, 10, 400_001),
            np.geomspace(1e-30, 1e-2, 20_001),
            -np.geomspace(1e-30, 1e-2, 20_001),
        ]
    ).astype(np.float32)
    exact = np.tanh(grid.astype(np.float64))
    got = fast_tanh(grid).astype(np.float64)
    rel = np.abs(got - exact) / np.maximum(np.abs(exact), np.finfo(np.float32).tiny)
    # Measured max ≈ 3e-7 (a few float32 ulps); 1e-6 leaves room across compilers/ISAs.
    assert rel.max() <= 1e-6, (rel.max(), grid[rel.argmax()])


def test_saturates_to_plus_minus_one_and_is_exactly_odd():
    # Within 2 ulps of ±1 (the clamp sits where tanh rounds to 1 - 1 ulp). Oddness is exact: the
    # kernel evaluates |x| and restores the sign, so the vector body and the scalar tail (which
    # may round the last ulp differently) cannot break it; the clamp bound itself is sampled.
    big = np.array([7.90531110763549805, 8.0, 20.0, 1e30, np.inf], dtype=np.float32)
    assert np.all(np.abs(fast_tanh(big) - 1) <= 2.5e-7)
    assert np.all(np.abs(fast_tanh(-big) + 1) <= 2.5e-7)
    x = np.concatenate([np.linspace(0, 9, 1001), big]).astype(np.float32)
    for n in (len(x), 3, 17):  # vector body and scalar tail both
        np.testing.assert_array_equal(fast_tanh(-x[:n]), -fast_tanh(x[:n]))


def test_nan_stays_nan_and_zero_stays_zero():
    out = fast_tanh(np.array([np.nan, 0.0, -0.0, 1.0], dtype=np.float32))
    assert np.isnan(out[0])
    assert out[1] == 0 and out[2] == 0
    assert abs(out[3] - np.tanh(1.0)) < 1e-7


def test_every_length_including_vector_tails():
    # The loop is vectorised; lengths that are not a multiple of the vector width use a tail.
    rng = np.random.default_rng(0)
    for n in range(70):
        x = rng.uniform(-4, 4, n).astype(np.float32)
        np.testing.assert_allclose(fast_tanh(x), np.tanh(x), rtol=1e-6, atol=1e-7)
