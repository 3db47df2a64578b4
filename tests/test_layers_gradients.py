"""Float64 numerical gradient checks of every layer (params and input) and every loss.

Each check builds a layer in float64, runs ``forward`` and ``backward(dy)`` once for the analytic
gradients, and compares them with central differences of the scalar ``sum(forward(x) * dy)``
(rnnkit.gradcheck: step 1e-6, rel_error <= 1e-7; see the numerical conventions of
docs/architecture.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from _layer_testing import TOL, check_layer
from _rnn_testing import kink_free_case, random_case
from rnnkit import losses
from rnnkit.gradcheck import check_gradients
from rnnkit.layers import (
    Activation,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    SimpleRNN,
    TimeDistributed,
)

N, T, D, H = 3, 5, 4, 5
LENGTHS = np.array([0, T, 2])  # an empty sample, a full one, a short one


def rnn_with_case(case: dict[str, Any], **kwargs: Any) -> SimpleRNN:
    """A float64 SimpleRNN holding the case's (well-scaled) weights."""
    layer = SimpleRNN(H, dtype="float64", input_shape=(None, D), seed=0, **kwargs)
    layer.params["Wx"][...] = case["Wx"]
    layer.params["Wh"][...] = case["Wh"]
    if "b" in layer.params:
        layer.params["b"][...] = case["b"]
    return layer


# -- SimpleRNN ----------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
def test_simple_rnn(activation, return_sequences, lengths):
    # relu: weights and data from a case whose pre-activations all stay 1e-4 away from the kink
    # (see _rnn_testing.RELU_MARGIN), so central differences are exact there.
    case = kink_free_case(11, activation, with_h0=False, lengths=lengths)
    layer = rnn_with_case(case, activation=activation, return_sequences=return_sequences)
    check_layer(layer, case["x"], lengths=case["lengths"])


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
def test_simple_rnn_go_backwards(return_sequences, lengths):
    case = random_case(3, with_h0=False, lengths=lengths)
    layer = rnn_with_case(case, go_backwards=True, return_sequences=return_sequences)
    check_layer(layer, case["x"], lengths=case["lengths"])


@pytest.mark.parametrize("return_sequences", [False, True])
def test_simple_rnn_return_state(return_sequences):
    case = random_case(4, with_h0=False, lengths=LENGTHS)
    layer = rnn_with_case(case, return_sequences=return_sequences, return_state=True)
    out = layer.forward(case["x"], lengths=case["lengths"])
    assert isinstance(out, list) and len(out) == 2
    check_layer(layer, case["x"], lengths=case["lengths"])


def test_simple_rnn_return_state_partial_gradients():
    """dy may be [d_output, None] or [None, d_state]; also the output gradient alone."""
    case = random_case(5, with_h0=False)
    layer = rnn_with_case(case, return_sequences=True, return_state=True)
    out, state = layer.forward(case["x"])
    rng = np.random.default_rng(1)
    d_out, d_state = rng.standard_normal(out.shape), rng.standard_normal(state.shape)
    full = layer.backward([d_out, d_state]), layer.grads["Wh"].copy()
    only_out = layer.backward([d_out, None]), layer.grads["Wh"].copy()
    plain = layer.backward(d_out), layer.grads["Wh"].copy()
    only_state = layer.backward([None, d_state]), layer.grads["Wh"].copy()
    np.testing.assert_allclose(only_out[0], plain[0], rtol=0, atol=0)
    np.testing.assert_allclose(only_out[0] + only_state[0], full[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(only_out[1] + only_state[1], full[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_simple_rnn_initial_state_gradient(go_backwards):
    case = random_case(6, with_h0=True, lengths=LENGTHS)
    h0 = case["h0"]
    layer = rnn_with_case(case, return_sequences=True, go_backwards=go_backwards)
    check_layer(
        layer,
        case["x"],
        lengths=case["lengths"],
        initial=[h0],
    )
    assert layer.initial_state_grad() is layer.d_initial_state


def test_simple_rnn_no_bias():
    case = random_case(7, with_h0=False, lengths=LENGTHS)
    layer = rnn_with_case(case, use_bias=False, return_sequences=True)
    assert set(layer.params) == {"Wx", "Wh"}
    check_layer(layer, case["x"], lengths=case["lengths"])


def test_simple_rnn_truncate_matches_ops():
    """The layer passes ``truncate`` to the kernel (checked against rnnkit.ops directly)."""
    from rnnkit import ops

    case = random_case(8, with_h0=False)
    layer = rnn_with_case(case, return_sequences=True)
    layer.truncate = 2
    hs = layer.forward(case["x"])
    layer.backward(case["dhs"])
    _, _, cache = ops.rnn_forward(case["x"], case["Wx"], case["Wh"], case["b"])
    want = ops.rnn_backward(cache, dhs=case["dhs"], truncate=2)
    np.testing.assert_array_equal(layer.grads["Wh"], want["Wh"])
    assert hs.shape == (N, T, H)


def _numpy_rnn(x, Wx, Wh, b, lengths, go_backwards, h0=None):
    """Direct per-sample NumPy loop: the spec of go_backwards with valid-part reversal."""
    n, t, _ = x.shape
    hs = np.zeros((n, t, Wx.shape[1]))
    h_last = np.zeros((n, Wx.shape[1])) if h0 is None else h0.copy()
    for i in range(n):
        length = t if lengths is None else lengths[i]
        seq = x[i, :length][::-1] if go_backwards else x[i, :length]
        h = h_last[i].copy()
        for s in range(length):
            h = np.tanh(seq[s] @ Wx + h @ Wh + b)
            hs[i, s] = h
        h_last[i] = h
    return hs, h_last


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
def test_simple_rnn_forward_matches_numpy(go_backwards, lengths):
    case = random_case(9, with_h0=True, lengths=lengths)
    layer = rnn_with_case(case, return_sequences=True, return_state=True, go_backwards=go_backwards)
    hs, h_last = layer.forward(case["x"], lengths=lengths, initial_state=case["h0"])
    want_hs, want_last = _numpy_rnn(
        case["x"], case["Wx"], case["Wh"], case["b"], lengths, go_backwards, case["h0"]
    )
    np.testing.assert_allclose(hs, want_hs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_last, want_last, rtol=1e-12, atol=1e-12)


def test_stateful_carries_state_as_constant():
    """Two stateful calls on halves equal one call on the whole sequence; the carried state
    gets no gradient from the second call's backward into the first call's weights."""
    case = random_case(10, with_h0=False)
    whole = rnn_with_case(case, return_sequences=True)
    stateful = rnn_with_case(case, return_sequences=True, stateful=True)
    x = case["x"]
    want = whole.forward(x)
    first = stateful.forward(x[:, :3])
    second = stateful.forward(x[:, 3:])
    np.testing.assert_allclose(
        np.concatenate([first, second], axis=1), want, rtol=1e-12, atol=1e-12
    )
    stateful.reset_states()
    np.testing.assert_allclose(stateful.forward(x[:, :3]), first, rtol=0, atol=0)
    # Backward of the second chunk only: dx of the first chunk is not involved at all, and the
    # gradient w.r.t. the carried state is exposed but not propagated.
    stateful.forward(x[:, 3:])
    dx = stateful.backward(np.ones((N, 2, H)))
    assert dx.shape == (N, 2, D)
    assert stateful.d_initial_state.shape == (N, H)


# -- Dense, Activation, TimeDistributed ----------------------------------------------------------


@pytest.mark.parametrize("activation", [None, "tanh", "relu", "sigmoid", "softmax"])
@pytest.mark.parametrize("shape", [(N, D), (N, T, D)], ids=["2d", "3d"])
def test_dense(activation, shape):
    # relu: the inputs are shifted so that no pre-activation lies within 1e-3 of the kink.
    x = np.random.default_rng(1).standard_normal(shape)
    layer = Dense(3, activation=activation, dtype="float64", bias_initializer="normal", seed=2)
    layer.build(shape[1:])
    if activation == "relu":
        a = x.reshape(-1, D) @ layer.params["W"] + layer.params["b"]
        assert np.min(np.abs(a)) > 1e-3
    check_layer(layer, x)


def test_dense_no_bias():
    layer = Dense(3, use_bias=False, dtype="float64", seed=3)
    layer.build((D,))
    assert set(layer.params) == {"W"}
    check_layer(layer, np.random.default_rng(2).standard_normal((N, D)))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softmax", "linear", "relu"])
def test_activation_layer(activation):
    x = np.random.default_rng(3).standard_normal((N, T, D))
    layer = Activation(activation, dtype="float64")
    out = layer.forward(x)
    dy = np.random.default_rng(4).standard_normal(out.shape)
    dx = layer.backward(dy)
    # relu: standard normal inputs are > 1e-6 from 0 here (checked), so differences are exact.
    assert np.min(np.abs(x)) > 1e-6
    check_gradients(lambda: float(np.sum(layer.forward(x) * dy)), {"x": x}, {"x": dx}, tol=TOL)


def test_time_distributed_dense():
    x = np.random.default_rng(5).standard_normal((N, T, D))
    layer = TimeDistributed(Dense(3, activation="tanh", dtype="float64", seed=4))
    check_layer(layer, x)
    # Same maths as Dense applied to the 3-D input directly.
    plain = Dense(3, activation="tanh", dtype="float64", seed=4)
    np.testing.assert_allclose(layer.forward(x), plain.forward(x), rtol=1e-14, atol=1e-14)


# -- Embedding, Dropout --------------------------------------------------------------------------


def test_embedding_params():
    ids = np.array([[1, 2, 2, 0], [3, 1, 0, 0]])  # repeated ids: gradients must accumulate
    layer = Embedding(5, 3, dtype="float64", seed=5)
    check_layer(layer, ids, check_x=False)
    assert layer.backward(np.ones((2, 4, 3))) is None


def test_dropout_training_fixed_mask():
    x = np.random.default_rng(6).standard_normal((N, T, D))
    layer = Dropout(0.4, dtype="float64")

    def replay_mask():  # the same mask for every forward of the check
        layer.rng = np.random.default_rng(123)

    check_layer_no_params(layer, x, training=True, before_forward=replay_mask)
    assert layer.mask is not None and 0 < np.count_nonzero(layer.mask) < layer.mask.size


def check_layer_no_params(layer, x, **kwargs):
    before = kwargs.pop("before_forward", None)
    training = kwargs.pop("training", False)

    def run():
        if before is not None:
            before()
        return layer.forward(x, training=training)

    out = run()
    dy = np.random.default_rng(7).standard_normal(out.shape)
    dx = layer.backward(dy)
    check_gradients(lambda: float(np.sum(run() * dy)), {"x": x}, {"x": dx}, tol=TOL)


def test_dropout_inference_identity_and_seeded():
    x = np.random.default_rng(8).standard_normal((N, D))
    np.testing.assert_array_equal(Dropout(0.5, dtype="float64").forward(x), x)
    a = Dropout(0.5, seed=3, dtype="float64").forward(x, training=True)
    b = Dropout(0.5, seed=3, dtype="float64").forward(x, training=True)
    np.testing.assert_array_equal(a, b)
    kept = a != 0
    np.testing.assert_allclose(a[kept], 2 * x[kept])


# -- Bidirectional ------------------------------------------------------------------------------


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional(merge_mode, return_sequences):
    x = np.random.default_rng(9).standard_normal((N, T, D))
    layer = Bidirectional(
        SimpleRNN(
            H, return_sequences=return_sequences, dtype="float64", bias_initializer="normal", seed=6
        ),
        merge_mode=merge_mode,
    )
    check_layer(layer, x, lengths=LENGTHS)
    assert all(k.startswith(("forward_", "backward_")) for k in layer.params)


def test_bidirectional_return_state_and_initial_state():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((N, T, D))
    h0 = [0.5 * rng.standard_normal((N, H)), 0.5 * rng.standard_normal((N, H))]
    layer = Bidirectional(
        SimpleRNN(H, return_sequences=True, return_state=True, dtype="float64", seed=7)
    )
    out = layer.forward(x, lengths=LENGTHS, initial_state=h0)
    assert len(out) == 3 and out[0].shape == (N, T, 2 * H)
    check_layer(
        layer,
        x,
        lengths=LENGTHS,
        initial=h0,
    )


def test_bidirectional_aligns_backward_output_in_time():
    """The backward half at step t is the state after reading x[t:L] in reverse."""
    x = np.random.default_rng(11).standard_normal((N, T, D))
    layer = Bidirectional(
        SimpleRNN(H, return_sequences=True, dtype="float64", seed=8), merge_mode=None
    )
    _, y_b = layer.forward(x, lengths=LENGTHS)
    p = layer.backward_layer.params
    for i, length in enumerate(LENGTHS):
        for t in range(length):
            want, _ = _numpy_rnn(x[i : i + 1, t:length], p["Wx"], p["Wh"], p["b"], None, True)
            np.testing.assert_allclose(y_b[i, t], want[0, -1], rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(y_b[i, length:], 0)


# -- a stack, chained by hand -----------------------------------------------------------------


def test_stack_rnn_rnn_dense_end_to_end():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((N, T, D))
    stack = [
        SimpleRNN(H, return_sequences=True, dtype="float64", bias_initializer="normal", seed=9),
        SimpleRNN(4, dtype="float64", bias_initializer="normal", seed=10),
        Dense(2, dtype="float64", seed=11),
    ]
    targets = rng.integers(0, 2, N)
    loss_fn = losses.SparseCategoricalCrossentropy()

    def loss() -> float:
        h, lengths = x, LENGTHS
        for layer in stack:
            h = layer(h, lengths=lengths)
            lengths = layer.output_lengths(lengths)
        return loss_fn.forward(h, targets)

    loss()
    d = loss_fn.backward()
    for layer in reversed(stack):
        d = layer.backward(d)
    params = {f"{i}/{k}": v for i, layer in enumerate(stack) for k, v in layer.params.items()}
    analytic = {
        f"{i}/{k}": v.copy() for i, layer in enumerate(stack) for k, v in layer.grads.items()
    }
    params["x"], analytic["x"] = x, d
    check_gradients(loss, params, analytic, tol=TOL)


# -- losses --------------------------------------------------------------------------------------


def _loss_cases():
    rng = np.random.default_rng(13)
    logits3 = rng.standard_normal((N, T, 4))
    probs3 = rng.uniform(0.05, 1.0, (N, T, 4))  # positive, unnormalised: the loss normalises
    onehot = np.eye(4)[rng.integers(0, 4, (N, T))]
    return [
        (
            "mse",
            losses.MeanSquaredError(),
            rng.standard_normal((N, 3)),
            rng.standard_normal((N, 3)),
            None,
        ),
        (
            "mse_masked",
            losses.MeanSquaredError(),
            rng.standard_normal((N, T, 2)),
            rng.standard_normal((N, T, 2)),
            LENGTHS,
        ),
        (
            "mae",
            losses.MeanAbsoluteError(),
            rng.standard_normal((N, T, 2)),
            rng.standard_normal((N, T, 2)),
            LENGTHS,
        ),
        (
            "bce_logits",
            losses.BinaryCrossentropy(),
            3 * rng.standard_normal((N, 2)),
            rng.uniform(0, 1, (N, 2)),
            None,
        ),
        (
            "bce_probs",
            losses.BinaryCrossentropy(from_logits=False),
            rng.uniform(0.05, 0.95, (N, T, 1)),
            rng.integers(0, 2, (N, T, 1)),
            LENGTHS,
        ),
        (
            "sparse_ce",
            losses.SparseCategoricalCrossentropy(),
            rng.standard_normal((N, 4)),
            rng.integers(0, 4, N),
            None,
        ),
        (
            "sparse_ce_masked",
            losses.SparseCategoricalCrossentropy(),
            logits3,
            rng.integers(0, 4, (N, T)),
            LENGTHS,
        ),
        (
            "sparse_ce_probs",
            losses.SparseCategoricalCrossentropy(from_logits=False),
            probs3,
            rng.integers(0, 4, (N, T)),
            LENGTHS,
        ),
        ("ce", losses.CategoricalCrossentropy(), logits3, onehot, None),
        (
            "ce_masked_probs",
            losses.CategoricalCrossentropy(from_logits=False),
            probs3,
            onehot,
            LENGTHS,
        ),
    ]


@pytest.mark.parametrize(
    "name,loss,y_pred,y_true,lengths", _loss_cases(), ids=[c[0] for c in _loss_cases()]
)
def test_loss_gradient(name, loss, y_pred, y_true, lengths):
    loss.forward(y_pred, y_true, lengths)
    grad = loss.backward()
    assert grad.shape == y_pred.shape
    check_gradients(
        lambda: loss.forward(y_pred, y_true, lengths), {"y_pred": y_pred}, {"y_pred": grad}, tol=TOL
    )
    if lengths is not None:  # padded steps contribute nothing
        assert np.all(grad[0] == 0) and np.all(grad[2, 2:] == 0)
