"""The NumPy reference (the oracle of every other RNN test) against central differences, and the
gradient checker itself against known derivatives."""

from __future__ import annotations

import numpy as np
import pytest

from _rnn_testing import MIXED_LENGTHS, T, check_rnn_gradients, kink_free_case, random_case
from rnnkit import gradcheck, reference

ACTIVATIONS = ["tanh", "relu"]
UPSTREAMS = ["dhs", "dh_last", "both"]
TRUNCATES = [None, 1, 2]


# --- rnnkit.gradcheck -----------------------------------------------------------------------


def test_numerical_gradient_of_sum_sin_is_cos():
    x = np.random.default_rng(0).standard_normal((3, 4))
    before = x.copy()
    numeric = gradcheck.numerical_gradient(lambda: np.sum(np.sin(x)), x)
    assert gradcheck.rel_error(numeric, np.cos(x)) < 1e-9
    np.testing.assert_array_equal(x, before)  # every entry restored exactly


def test_numerical_gradient_non_contiguous_view():
    base = np.random.default_rng(1).standard_normal((6, 5))
    view = base[::2, ::-1]
    numeric = gradcheck.numerical_gradient(lambda: np.sum(view**3), view)
    assert gradcheck.rel_error(numeric, 3 * view**2) < 1e-9


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.arange(3.0)

    def f():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        gradcheck.numerical_gradient(f, x)
    np.testing.assert_array_equal(x, np.arange(3.0))


def test_numerical_gradient_rejects_non_float64_and_read_only():
    with pytest.raises(TypeError, match="float64"):
        gradcheck.numerical_gradient(lambda: 0.0, np.zeros(3, np.float32))
    read_only = np.zeros(3)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        gradcheck.numerical_gradient(lambda: 0.0, read_only)


def test_rel_error_definition():
    a = np.array([1.0, -2.0, 0.0])
    b = np.array([1.0, -2.5, 1e-3])
    # max|a-b| = 0.5; max(|a|+|b|) = 4.5
    assert gradcheck.rel_error(a, b) == pytest.approx(0.5 / 4.5)
    assert gradcheck.rel_error(np.zeros(4), np.zeros(4)) == 0.0
    assert gradcheck.rel_error(np.zeros(2), np.full(2, 1e-12)) == pytest.approx(1e-4)  # floor 1e-8
    assert gradcheck.rel_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0
    assert gradcheck.rel_error(np.array([np.nan]), np.array([np.nan])) == np.inf
    with pytest.raises(ValueError, match="shape"):
        gradcheck.rel_error(np.zeros(2), np.zeros(3))


def test_check_gradients_passes_and_reports():
    rng = np.random.default_rng(2)
    W = rng.standard_normal((3, 4))
    x = rng.standard_normal((5, 3))
    dy = rng.standard_normal((5, 4))

    def loss():
        return np.sum(np.tanh(x @ W) * dy)

    dA = dy * (1 - np.tanh(x @ W) ** 2)
    errors = gradcheck.check_gradients(loss, {"W": W, "x": x}, {"W": x.T @ dA, "x": dA @ W.T})
    assert set(errors) == {"W", "x"}
    assert max(errors.values()) < 1e-7


def test_check_gradients_names_the_failing_key():
    x = np.random.default_rng(3).standard_normal(4)
    y = np.random.default_rng(4).standard_normal(4)

    def loss():
        return np.sum(np.sin(x) + y**2)

    with pytest.raises(AssertionError, match=r"'y'.*rel_error") as info:
        gradcheck.check_gradients(loss, {"x": x, "y": y}, {"x": np.cos(x), "y": 3 * y})
    assert "'x'" not in str(info.value)
    with pytest.raises(AssertionError, match="'y'"):  # NaN never passes
        gradcheck.check_gradients(loss, {"y": y}, {"y": np.full(4, np.nan)})
    with pytest.raises(KeyError, match="y"):
        gradcheck.check_gradients(loss, {"y": y}, {"x": np.cos(x)})
    with pytest.raises(ValueError, match="shape"):
        gradcheck.check_gradients(loss, {"y": y}, {"y": np.zeros(3)})


# --- rnnkit.reference gradients ---------------------------------------------------------------


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("truncate", TRUNCATES)
@pytest.mark.parametrize("lengths", [None, MIXED_LENGTHS], ids=["full", "mixed"])
@pytest.mark.parametrize("with_h0", [True, False], ids=["h0", "no_h0"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_reference_gradients(activation, with_h0, lengths, truncate, upstream):
    case = kink_free_case(10, activation, with_h0=with_h0, lengths=lengths)
    errors = check_rnn_gradients(reference, case, activation, upstream, truncate)
    assert max(errors.values()) <= 1e-7


def test_reference_truncate_cuts_only_the_backward_links():
    case = random_case(20, (2, 7, 3, 4))
    args = [case[k] for k in ("x", "Wx", "Wh", "b", "h0")]
    _hs, _h_last, cache = reference.rnn_forward(*args)
    full = reference.rnn_backward(cache, case["dhs"], case["dh_last"])
    for k in (7, 100):  # no boundary inside the sequence: same as full BPTT
        same = reference.rnn_backward(cache, case["dhs"], case["dh_last"], truncate=k)
        for key in full:
            np.testing.assert_array_equal(same[key], full[key])
    cut = reference.rnn_backward(cache, case["dhs"], case["dh_last"], truncate=3)
    assert not np.allclose(cut["h0"], full["h0"])
    # steps 6 (the last chunk [6, 7)) receive the same gradient either way
    np.testing.assert_allclose(cut["x"][:, 6], full["x"][:, 6], rtol=1e-12)
    # truncate=1: every step sees only its own dhs (plus dh_last at the end)
    one = reference.rnn_backward(cache, case["dhs"], None, truncate=1)
    local = reference.rnn_backward(cache, case["dhs"] * (np.arange(7) == 4)[None, :, None], None)
    np.testing.assert_allclose(one["x"][:, 4], local["x"][:, 4], rtol=1e-12)


def test_reference_h0_none_equals_zeros():
    case = random_case(21, with_h0=False, lengths=MIXED_LENGTHS)
    args = [case[k] for k in ("x", "Wx", "Wh", "b")]
    zeros = np.zeros((3, 5))
    a = reference.rnn_forward(*args, None, "tanh", case["lengths"])
    b = reference.rnn_forward(*args, zeros, "tanh", case["lengths"])
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    ga = reference.rnn_backward(a[2], case["dhs"], case["dh_last"])
    gb = reference.rnn_backward(b[2], case["dhs"], case["dh_last"])
    for key in ga:
        np.testing.assert_array_equal(ga[key], gb[key])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_reference_lengths_semantics(activation):
    case = random_case(22, lengths=MIXED_LENGTHS)
    x = case["x"].copy()
    x[0, :] = np.nan  # sample 0 has no valid step
    x[2, 2:] = np.inf  # sample 2 has two
    hs, h_last, cache = reference.rnn_forward(
        x, case["Wx"], case["Wh"], case["b"], case["h0"], activation, case["lengths"]
    )
    grads = reference.rnn_backward(cache, case["dhs"], case["dh_last"], truncate=2)
    assert np.isfinite(hs).all() and np.isfinite(h_last).all()
    assert all(np.isfinite(g).all() for g in grads.values())
    np.testing.assert_array_equal(hs[0], 0)
    np.testing.assert_array_equal(hs[2, 2:], 0)
    np.testing.assert_array_equal(h_last[0], case["h0"][0])
    np.testing.assert_array_equal(h_last[1], hs[1, T - 1])
    np.testing.assert_array_equal(h_last[2], hs[2, 1])
    np.testing.assert_array_equal(grads["x"][0], 0)
    np.testing.assert_array_equal(grads["x"][2, 2:], 0)
    np.testing.assert_array_equal(grads["h0"][0], case["dh_last"][0])
    # same as running the short sample alone, truncated to its length
    alone = reference.rnn_forward(
        case["x"][2:, :2], case["Wx"], case["Wh"], case["b"], case["h0"][2:], activation
    )
    np.testing.assert_allclose(hs[2, :2], alone[0][0], rtol=1e-14)


def test_reference_dtype_follows_Wx():
    case = random_case(23, dtype=np.float32)
    hs, h_last, cache = reference.rnn_forward(
        case["x"].astype(np.float64), case["Wx"], case["Wh"], case["b"], case["h0"]
    )
    assert hs.dtype == h_last.dtype == np.float32
    grads = reference.rnn_backward(cache, case["dhs"].astype(np.float64))
    assert all(g.dtype == np.float32 for g in grads.values())


def test_reference_empty_shapes():
    case = random_case(24, (2, 0, 3, 4))
    hs, h_last, cache = reference.rnn_forward(
        case["x"], case["Wx"], case["Wh"], case["b"], case["h0"]
    )
    assert hs.shape == (2, 0, 4)
    np.testing.assert_array_equal(h_last, case["h0"])
    grads = reference.rnn_backward(cache, dh_last=case["dh_last"])
    np.testing.assert_array_equal(grads["h0"], case["dh_last"])
    for key in ("x", "Wx", "Wh", "b"):
        np.testing.assert_array_equal(grads[key], 0)
    case = random_case(25, (0, 4, 3, 2))
    hs, h_last, cache = reference.rnn_forward(case["x"], case["Wx"], case["Wh"], case["b"])
    assert hs.shape == (0, 4, 2) and h_last.shape == (0, 2)
    grads = reference.rnn_backward(cache)
    assert grads["h0"].shape == (0, 2)
    np.testing.assert_array_equal(grads["Wh"], 0)


def test_reference_unknown_activation():
    case = random_case(26)
    with pytest.raises(ValueError, match="activation"):
        reference.rnn_forward(case["x"], case["Wx"], case["Wh"], case["b"], activation="softmax")
