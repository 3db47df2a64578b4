"""The non-recurrent kernels (rnnkit.ops.layer_math, cpp/rnnkit/layer_math/): float64 gradient
checks at rel_error <= 1e-7 and agreement with the NumPy formulations they replace (the
layers', losses' and optimizers' own NumPy code) on random shapes, float32 and float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit import activations, losses
from rnnkit._loss_base import Loss
from rnnkit.gradcheck import check_gradients
from rnnkit.ops import layer_math as lm

SETTINGS = settings(max_examples=40, deadline=None, database=None)
ACTS = lm.DENSE_ACTIVATIONS
# float32 agreement: the products' rounding (sums of up to ~40 terms) and the rational tanh.
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def _numpy_dense(x, W, b, act):
    return activations.get(act).forward(x @ W + b)


# -- gradient checks (float64, rel_error <= 1e-7) -----------------------------------------------


@pytest.mark.parametrize("act", ACTS)
def test_dense_gradients(act):
    rng = np.random.default_rng(1)
    x, W, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    x[0, 0] = 0.3  # relu's kink away from the finite-difference steps
    r = rng.standard_normal((6, 5))
    y = lm.dense_forward(x, W, b, act)
    dW, db = np.empty_like(W), np.empty_like(b)
    dx = lm.dense_backward(x, W, y, r, act, dW=dW, db=db)
    check_gradients(
        lambda: float(np.sum(lm.dense_forward(x, W, b, act) * r)),
        {"x": x, "W": W, "b": b},
        {"x": dx, "W": dW, "b": db},
    )


@pytest.mark.parametrize("from_logits", [True, False])
def test_cross_entropy_gradients(from_logits):
    rng = np.random.default_rng(2)
    rows, classes = 7, 5
    # Probabilities well inside the clip range: the loss is smooth there.
    scores = (
        rng.standard_normal((rows, classes))
        if from_logits
        else rng.uniform(0.5, 1.5, (rows, classes))
    )
    labels = rng.integers(0, classes, rows)
    weights = rng.uniform(0.2, 2.0, rows)
    valid = np.array([1, 1, 0, 1, 1, 0, 1], dtype=bool)

    def f():
        return lm.sparse_softmax_cross_entropy(scores, labels, weights, valid, from_logits)[0]

    _, grad = lm.sparse_softmax_cross_entropy(scores, labels, weights, valid, from_logits)
    check_gradients(f, {"scores": scores}, {"scores": grad})
    assert np.all(grad[~valid] == 0)


def test_sum_of_squares_gradient():
    g = np.random.default_rng(3).standard_normal((9, 4))
    check_gradients(lambda: lm.sum_of_squares(g), {"g": g}, {"g": 2 * g})


def test_embedding_scatter_add_is_the_lookups_gradient():
    rng = np.random.default_rng(4)
    table = rng.standard_normal((6, 3))
    ids = np.array([[1, 4, 1], [0, 1, 5]])
    r = rng.standard_normal((2, 3, 3))
    out = np.empty_like(table)
    lm.embedding_scatter_add(out, ids, r.reshape(-1, 3))
    check_gradients(lambda: float(np.sum(table[ids] * r)), {"table": table}, {"table": out})


def test_adam_matches_its_formula_in_float64():
    rng = np.random.default_rng(5)
    p, g = rng.standard_normal(50), rng.standard_normal(50)
    m, v = rng.standard_normal(50), rng.uniform(0, 1, 50)
    want_m = m + 0.1 * (g - m)
    want_v = v + 0.001 * (g * g - v)
    want_p = p - 0.01 * want_m / (np.sqrt(want_v) + 1e-7)
    lm.adam_update(p, g, m, v, 0.01, 0.9, 0.999, 1e-7)
    for got, want in ((m, want_m), (v, want_v), (p, want_p)):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)


# -- agreement with the NumPy formulations, random shapes ---------------------------------------

dtypes = st.sampled_from([np.float32, np.float64])


@SETTINGS
@given(
    rows=st.integers(0, 70),
    d=st.integers(1, 40),
    units=st.integers(1, 40),
    act=st.sampled_from(ACTS),
    dtype=dtypes,
    seed=st.integers(0, 2**31),
)
def test_dense_matches_numpy(rows, d, units, act, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, d)).astype(dtype)
    W = (rng.standard_normal((d, units)) / math.sqrt(d)).astype(dtype)
    b = rng.standard_normal(units).astype(dtype)
    dy = rng.standard_normal((rows, units)).astype(dtype)
    y = lm.dense_forward(x, W, b, act)
    a = x @ W + b
    want_y = activations.get(act).forward(a)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, want_y, rtol=TOL[dtype], atol=TOL[dtype])
    dW, db = np.full_like(W, np.nan), np.full_like(b, np.nan)
    dx = lm.dense_backward(x, W, y, dy, act, dW=dW, db=db)
    da = activations.get(act).backward(dy, a, want_y)
    scale = TOL[dtype] * max(1.0, math.sqrt(rows))
    np.testing.assert_allclose(dx, da @ W.T, rtol=scale, atol=scale)
    np.testing.assert_allclose(dW, x.T @ da, rtol=scale, atol=scale)
    np.testing.assert_allclose(db, da.sum(axis=0), rtol=scale, atol=scale)


@SETTINGS
@given(
    n=st.integers(1, 6),
    t=st.integers(1, 9),
    classes=st.integers(1, 40),
    from_logits=st.booleans(),
    masked=st.booleans(),
    weighted=st.sampled_from([None, "sample", "step"]),
    dtype=dtypes,
    seed=st.integers(0, 2**31),
)
def test_cross_entropy_loss_matches_numpy(
    n, t, classes, from_logits, masked, weighted, dtype, seed
):
    rng = np.random.default_rng(seed)
    if from_logits:
        y_pred = (3 * rng.standard_normal((n, t, classes))).astype(dtype)
    else:
        y_pred = rng.dirichlet(np.ones(classes), (n, t)).astype(dtype)
    y_true = rng.integers(0, classes, (n, t))
    lengths = rng.integers(0, t + 1, n) if masked else None
    weights = {None: None, "sample": rng.uniform(0, 2, n), "step": rng.uniform(0, 2, (n, t))}
    sample_weight = weights[weighted]
    kernel = losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    reference = losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    got = kernel.forward(y_pred, y_true, lengths, sample_weight)
    want = Loss.forward(reference, y_pred, y_true, lengths, sample_weight)  # the NumPy path
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert got == pytest.approx(want, rel=tol, abs=tol)
    assert kernel.backward().dtype == dtype
    np.testing.assert_allclose(kernel.backward(), reference.backward(), rtol=tol, atol=tol)


@SETTINGS
@given(size=st.integers(0, 5000), dtype=dtypes, nesterov=st.booleans(), seed=st.integers(0, 2**31))
def test_optimizer_updates_match_numpy(size, dtype, nesterov, seed):
    rng = np.random.default_rng(seed)
    p, g, m = (rng.standard_normal(size).astype(dtype) for _ in range(3))
    v = rng.uniform(0, 1, size).astype(dtype)
    want_m, want_v, want_p = m.copy(), v.copy(), p.copy()  # Adam's NumPy formulas
    want_m += (1 - 0.9) * (g - want_m)
    want_v += (1 - 0.999) * (g * g - want_v)
    want_p -= 0.003 * want_m / (np.sqrt(want_v) + 1e-7)
    got_p, got_m, got_v = p.copy(), m.copy(), v.copy()
    lm.adam_update(got_p, g, got_m, got_v, 0.003, 0.9, 0.999, 1e-7)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    for got, want in ((got_m, want_m), (got_v, want_v), (got_p, want_p)):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    vel, want_vel, want_p = m.copy(), m.copy(), p.copy()  # SGD's NumPy formulas
    want_vel *= 0.8
    want_vel -= 0.05 * g
    want_p += 0.8 * want_vel - 0.05 * g if nesterov else want_vel
    got_p = p.copy()
    lm.sgd_momentum_update(got_p, g, vel, 0.05, 0.8, nesterov)
    np.testing.assert_allclose(vel, want_vel, rtol=tol, atol=tol)
    np.testing.assert_allclose(got_p, want_p, rtol=tol, atol=tol)
    want = float(np.sum(np.square(g, dtype=np.float64)))
    assert lm.sum_of_squares(g) == pytest.approx(want, rel=1e-12, abs=1e-300)


@SETTINGS
@given(
    vocab=st.integers(1, 30),
    n=st.integers(0, 200),
    d=st.integers(1, 20),
    dtype=dtypes,
    seed=st.integers(0, 2**31),
)
def test_embedding_scatter_add_matches_add_at(vocab, n, d, dtype, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, n)
    rows = rng.standard_normal((n, d)).astype(dtype)
    out = np.full((vocab, d), np.nan, dtype)
    lm.embedding_scatter_add(out, ids, rows)
    want = np.zeros((vocab, d), dtype)
    np.add.at(want, ids, rows)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)


# -- non-finite values, as NumPy's formulation treats them --------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_non_finite_values(dtype):
    scores = np.zeros((3, 4), dtype)
    scores[1, 2] = np.nan  # a masked row: never read
    labels = np.zeros(3, np.int64)
    total, grad = lm.sparse_softmax_cross_entropy(scores, labels, valid=np.array([1, 0, 1]))
    assert total == pytest.approx(2 * math.log(4)) and np.all(np.isfinite(grad))
    scores[0, 1] = np.inf  # a valid row: NaN, as NumPy's log-softmax gives it
    total, grad = lm.sparse_softmax_cross_entropy(scores, labels, valid=np.array([1, 0, 1]))
    assert math.isnan(total) and np.isnan(grad[0]).all() and np.isfinite(grad[2]).all()
    big = np.array([[1000.0, -1000.0, 0.0]], dtype)  # large finite logits stay exact
    total, _ = lm.sparse_softmax_cross_entropy(big, np.array([1]))
    assert total == pytest.approx(2000.0, rel=1e-6)


# -- bad arguments: ValueError/TypeError naming the argument ------------------------------------


def test_fractional_ids_labels_and_flags_are_refused_not_truncated():
    scores = np.zeros((2, 3))
    with pytest.raises(TypeError, match="labels must hold integers"):
        lm.sparse_softmax_cross_entropy(scores, np.array([1.7, 2.9]))
    with pytest.raises(TypeError, match="valid must hold integers"):
        lm.sparse_softmax_cross_entropy(scores, np.array([1, 2]), valid=np.array([0.4, 1]))
    with pytest.raises(TypeError, match="ids must hold integers"):
        lm.embedding_scatter_add(np.zeros((3, 2)), np.array([0.9, 2.5]), np.ones((2, 2)))
    # Integer flags other than 0/1 count as valid (a uint8 cast would wrap 256 to 0).
    total, _ = lm.sparse_softmax_cross_entropy(scores, np.array([1, 2]), valid=np.array([256, 0]))
    assert total == pytest.approx(np.log(3.0))


def test_bad_arguments_name_the_argument():
    x, W = np.zeros((3, 4)), np.zeros((4, 2))
    with pytest.raises(ValueError, match="activation"):
        lm.dense_forward(x, W, None, "gelu")
    with pytest.raises(ValueError, match="x must have shape"):
        lm.dense_forward(np.zeros((3, 5)), W)
    with pytest.raises(ValueError, match="b must have shape"):
        lm.dense_forward(x, W, np.zeros(3))
    with pytest.raises(TypeError, match="W must have dtype"):
        lm.dense_forward(x, W.astype(np.int32))
    with pytest.raises(TypeError, match="dW must have dtype"):
        lm.dense_backward(x, W, np.zeros((3, 2)), np.zeros((3, 2)), dW=np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="dy must have shape"):
        lm.dense_backward(x, W, np.zeros((3, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="labels must lie in"):
        lm.sparse_softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="weights must have shape"):
        lm.sparse_softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1]), np.ones(3))
    p = np.zeros(4)
    with pytest.raises(ValueError, match="m must have 4 entries"):
        lm.adam_update(p, p.copy(), np.zeros(3), np.zeros(4), 0.1, 0.9, 0.999, 1e-7)
    with pytest.raises(ValueError, match="v must be C-contiguous"):
        lm.adam_update(p, p.copy(), np.zeros(4), np.zeros(8)[::2], 0.1, 0.9, 0.999, 1e-7)
    with pytest.raises(ValueError, match="ids must lie in"):
        lm.embedding_scatter_add(np.zeros((2, 3)), np.array([2]), np.zeros((1, 3)))
