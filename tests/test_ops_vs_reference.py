"""The C++ kernels (rnnkit.ops) against the NumPy reference on randomised shapes and options.

Metric: ``max_rel_diff(ops, ref) = max|ops - ref| / max(1, max|ref|)`` over each output array —
an absolute error for arrays of values below 1, relative to the largest value above that, so
that tiny entries and all-zero arrays cannot inflate it. Bounds: 1e-10 in float64, 1e-4 in float32
(the float32 kernels use a rational tanh with ~3e-7 relative error, and a different summation
order than NumPy).

relu cases are drawn kink-free (every pre-activation at least 1e-4 from 0, see _rnn_testing):
otherwise a pre-activation within rounding distance of 0 may fall on different sides of the kink
in the two implementations, which changes a gradient entry by O(1) without either being wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnkit
from _rnn_testing import kink_free_case, max_rel_diff
from rnnkit import ops, reference

TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}
SETTINGS = settings(max_examples=150, deadline=None, database=None)
GRAD_KEYS = ("x", "Wx", "Wh", "b", "h0")


def run(module: Any, case: dict[str, Any], activation: str, upstream: str, truncate: int | None):
    """Forward and backward of ``module`` on ``case``: dict of every output array."""
    hs, h_last, cache = module.rnn_forward(
        case["x"], case["Wx"], case["Wh"], case["b"], case["h0"], activation, case["lengths"]
    )
    dhs = case["dhs"] if upstream in ("dhs", "both") else None
    dh_last = case["dh_last"] if upstream in ("dh_last", "both") else None
    grads = module.rnn_backward(cache, dhs, dh_last, truncate)
    out = {"hs": hs, "h_last": h_last}
    out.update({f"d{key}": grads[key] for key in GRAD_KEYS})
    return out


def assert_close(actual: dict, expected: dict, tol: float, dtype: Any) -> None:
    assert actual.keys() == expected.keys()
    errors = {key: max_rel_diff(actual[key], expected[key]) for key in expected}
    bad = {key: err for key, err in errors.items() if not err <= tol}
    assert not bad, f"over {tol:g}: {bad}"
    for key, value in actual.items():
        assert value.dtype == dtype, (key, value.dtype)
        assert value.shape == expected[key].shape, (key, value.shape, expected[key].shape)


@st.composite
def rnn_cases(draw: st.DrawFn, dtypes: tuple = (np.float32, np.float64)) -> dict[str, Any]:
    n, t, d, h = (draw(st.integers(1, 16)) for _ in range(4))
    activation = draw(st.sampled_from(ops.ACTIVATIONS))
    lengths = draw(st.one_of(st.none(), st.lists(st.integers(0, t), min_size=n, max_size=n)))
    truncate = draw(st.one_of(st.none(), st.integers(1, t + 1)))
    return {
        "shape": (n, t, d, h),
        "dtype": draw(st.sampled_from(dtypes)),
        "activation": activation,
        "with_h0": draw(st.booleans()),
        "lengths": lengths,
        "truncate": truncate,
        "upstream": draw(st.sampled_from(["dhs", "dh_last", "both", "none"])),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def make_case(p: dict[str, Any]) -> dict[str, Any]:
    return kink_free_case(
        p["seed"],
        p["activation"],
        shape=p["shape"],
        dtype=p["dtype"],
        with_h0=p["with_h0"],
        lengths=p["lengths"],
    )


@SETTINGS
@given(rnn_cases())
def test_ops_matches_reference(p):
    case = make_case(p)
    args = (p["activation"], p["upstream"], p["truncate"])
    dtype = np.dtype(p["dtype"])
    assert_close(run(ops, case, *args), run(reference, case, *args), TOL[dtype], dtype)


@SETTINGS
@given(rnn_cases(dtypes=(np.float32,)))
def test_ops_float32_matches_ops_float64(p):
    case32 = make_case(p)
    case64 = {
        k: v.astype(np.float64) if isinstance(v, np.ndarray) and v.dtype == np.float32 else v
        for k, v in case32.items()
    }
    args = (p["activation"], p["upstream"], p["truncate"])
    out64 = run(ops, case64, *args)
    out32 = run(ops, case32, *args)
    assert_close(out32, {k: v.astype(np.float32) for k, v in out64.items()}, 1e-4, np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_h0", [True, False])
@pytest.mark.parametrize("lengths", ["none", "given"])
@pytest.mark.parametrize("truncate", [None, 2])
@pytest.mark.parametrize(
    "shape", [(3, 0, 4, 5), (0, 5, 4, 5), (0, 0, 2, 3)], ids=["T0", "N0", "N0T0"]
)
def test_ops_matches_reference_on_empty_shapes(shape, truncate, lengths, with_h0, dtype):
    n = shape[0]
    case = kink_free_case(
        40,
        "tanh",
        shape=shape,
        dtype=dtype,
        with_h0=with_h0,
        lengths=None if lengths == "none" else np.zeros(n, np.int64),
    )
    args = ("tanh", "both", truncate)
    expected = run(reference, case, *args)
    actual = run(ops, case, *args)
    assert_close(actual, expected, 0.0, np.dtype(dtype))
    assert actual["hs"].shape == (n, shape[1], shape[3])


@pytest.fixture
def two_threads():
    original = rnnkit.get_num_threads()
    rnnkit.set_num_threads(2)
    yield
    rnnkit.set_num_threads(original)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("truncate", [None, 7], ids=["full_bptt", "trunc7"])
@pytest.mark.parametrize("shape", [(32, 50, 16, 64), (1, 60, 5, 40)], ids=["split", "N1"])
def test_ops_matches_reference_medium(two_threads, shape, truncate, activation, dtype):
    # The hypothesis shapes above are too small for the kernels to split the batch over threads
    # (or to leave their one-row paths); these take both paths. At 10^5 pre-activations a 1e-4
    # margin is out of reach, so relu uses 2e-5 here: still 10x float32's rounding of them.
    n, t = shape[:2]
    lengths = np.random.default_rng(41).integers(0, t + 1, n)
    lengths[: min(n, 2)] = [t, 0][: min(n, 2)]
    case = kink_free_case(41, activation, 2e-5, shape=shape, dtype=dtype, lengths=lengths)
    args = (activation, "both", truncate)
    assert_close(
        run(ops, case, *args), run(reference, case, *args), TOL[np.dtype(dtype)], np.dtype(dtype)
    )
