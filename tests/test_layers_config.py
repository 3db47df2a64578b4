"""Layer configs (get_config/from_config round trips), initialisers, activations, losses and
metrics by name, and the errors a user sees for bad shapes and settings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit import activations, initializers, losses, metrics
from rnnkit.layers import (
    Activation,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Input,
    InputLayer,
    Layer,
    SimpleRNN,
    TimeDistributed,
    check_stack,
    deserialize_layer,
    serialize_layer,
    set_random_seed,
)

N, T, D = 2, 4, 3
X = np.random.default_rng(0).standard_normal((N, T, D))
IDS = np.array([[1, 2, 3, 0], [4, 0, 0, 0]])


def _layers():
    return [
        (
            "simple_rnn",
            lambda: SimpleRNN(
                5,
                activation="relu",
                return_sequences=True,
                go_backwards=True,
                recurrent_initializer="identity",
                seed=1,
            ),
            X,
        ),
        (
            "simple_rnn_state",
            lambda: SimpleRNN(
                5,
                return_state=True,
                use_bias=False,
                kernel_initializer=initializers.RandomNormal(stddev=0.3),
                seed=2,
            ),
            X,
        ),
        ("dense", lambda: Dense(4, activation="softmax", seed=3), X),
        ("activation", lambda: Activation("sigmoid"), X),
        ("time_distributed", lambda: TimeDistributed(Dense(2, activation="tanh", seed=4)), X),
        ("embedding", lambda: Embedding(6, 3, mask_zero=True, seed=5), IDS),
        ("dropout", lambda: Dropout(0.25, seed=6), X),
        (
            "bidirectional",
            lambda: Bidirectional(SimpleRNN(3, return_sequences=True, seed=7), merge_mode="ave"),
            X,
        ),
        ("bidirectional_none", lambda: Bidirectional(SimpleRNN(3, seed=8), merge_mode=None), X),
        ("input", lambda: InputLayer((None, D), name="series"), X),
        ("input_ids", lambda: InputLayer(shape=(T,), dtype="int32"), IDS),
    ]


def _same(a, b):
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name,make,x", _layers(), ids=[c[0] for c in _layers()])
def test_config_round_trip(name, make, x):
    layer = make()
    out = layer(x)
    spec = json.loads(json.dumps(serialize_layer(layer)))  # JSON-able
    clone = deserialize_layer(spec)
    assert type(clone) is type(layer) and clone.name == layer.name
    clone(x)  # builds
    assert list(clone.params) == list(layer.params)
    clone.set_weights(layer.get_weights())
    _same(clone(x), out)
    assert clone.get_config() == layer.get_config()


def test_seeded_layers_are_reproducible():
    a, b = SimpleRNN(4, seed=3, input_shape=(None, 2)), SimpleRNN(4, seed=3, input_shape=(None, 2))
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    set_random_seed(42)
    c = Dense(3, input_shape=(2,))
    set_random_seed(42)
    d = Dense(3, input_shape=(2,))
    set_random_seed(None)
    np.testing.assert_array_equal(c.params["W"], d.params["W"])


def test_default_names_are_snake_case():
    assert SimpleRNN(2).name.startswith("simple_rnn_")
    assert TimeDistributed(Dense(2)).name.startswith("time_distributed_")


def test_bidirectional_copies_have_separate_weights():
    layer = Bidirectional(SimpleRNN(3, seed=1), input_shape=(None, 2))
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards
    assert not np.array_equal(layer.params["forward_Wx"], layer.params["backward_Wx"])
    layer.truncate = 3
    assert layer.forward_layer.truncate == layer.backward_layer.truncate == 3


# -- initialisers -----------------------------------------------------------------------------


def test_initializers():
    rng = np.random.default_rng(0)
    w = initializers.get("glorot_uniform")((30, 50), rng)
    assert np.abs(w).max() <= np.sqrt(6 / 80)
    q = initializers.get("orthogonal")((6, 6), rng)
    np.testing.assert_allclose(q.T @ q, np.eye(6), atol=1e-12)
    wide = initializers.get("orthogonal")((3, 7), rng)
    np.testing.assert_allclose(wide @ wide.T, np.eye(3), atol=1e-12)
    assert np.abs(initializers.get("torch")((4, 16), rng)).max() <= 0.25
    assert np.abs(initializers.get("uniform")((100,), rng)).max() <= 0.05
    assert abs(initializers.get("random_normal")((5000,), rng).std() - 0.05) < 0.005
    np.testing.assert_array_equal(initializers.Identity(gain=2.0)((3, 3), rng), 2 * np.eye(3))
    assert initializers.get("zeros")((2,), rng).sum() == 0
    assert initializers.get("ones")((2,), rng).sum() == 2
    a = initializers.get("orthogonal")((4, 4), np.random.default_rng(5))
    b = initializers.get("orthogonal")((4, 4), np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="unknown initializer 'he_magic'"):
        initializers.get("he_magic")


# -- activations, losses and metrics by name ------------------------------------------------------


def test_stable_activations():
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    s = activations.get("sigmoid").forward(x)
    assert np.all(np.isfinite(s)) and s[0] == 0.0 and s[-1] == 1.0
    sm = activations.get("softmax").forward(np.array([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(sm, [[1.0, 0.0, 0.0]])
    assert isinstance(activations.get(None), activations.Linear)
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        activations.get("swishy")


def test_losses_by_name_and_values():
    for name, cls in [
        ("mse", losses.MeanSquaredError),
        ("mean_squared_error", losses.MeanSquaredError),
        ("mae", losses.MeanAbsoluteError),
        ("mean_absolute_error", losses.MeanAbsoluteError),
        ("binary_crossentropy", losses.BinaryCrossentropy),
        ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
        ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ]:
        assert isinstance(losses.get(name), cls)
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get("hinge_of_doom")
    # Values: extreme logits stay finite; sparse CE of uniform logits is log(C).
    bce = losses.BinaryCrossentropy()
    assert np.isfinite(bce(np.array([[1e4], [-1e4]]), np.array([[0.0], [1.0]])))
    ce = losses.SparseCategoricalCrossentropy()
    assert np.isclose(ce(np.zeros((3, 5)), np.array([0, 1, 4])), np.log(5))
    mse = losses.MeanSquaredError()
    y = np.ones((2, 3, 1))
    p = np.zeros((2, 3, 1))
    p[0, 2] = 100.0  # padded step of sample 0: must not count
    assert mse(p, y, lengths=np.array([2, 3])) == 1.0


def test_loss_shape_errors():
    with pytest.raises(ValueError, match=r"y_pred has shape \(2, 3\).*y_true has shape \(3, 2\)"):
        losses.MeanSquaredError()(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="y_true must have shape"):
        losses.SparseCategoricalCrossentropy()(np.zeros((2, 3, 4)), np.zeros((2, 4), int))
    with pytest.raises(ValueError, match="class ids must lie in"):
        losses.SparseCategoricalCrossentropy()(np.zeros((2, 4)), np.array([0, 4]))
    with pytest.raises(ValueError, match="no time axis"):
        losses.MeanSquaredError()(np.zeros((2, 3)), np.zeros((2, 3)), lengths=np.array([1, 2]))


def test_metrics():
    logits = np.array([[[2.0, 0.0], [0.0, 1.0], [5.0, 0.0]], [[0.0, 3.0], [1.0, 0.0], [0.0, 1.0]]])
    y = np.array([[0, 0, 1], [1, 0, 0]])
    acc = metrics.get("accuracy")
    assert acc(logits, y) == 3 / 6
    assert acc(logits, y, lengths=np.array([1, 2])) == 1.0  # only valid steps count
    assert metrics.get("accuracy")(np.array([[0.3], [-2.0]]), np.array([1, 1])) == 0.5
    assert metrics.get("accuracy")(np.array([0.3, -2.0, 1.0]), np.array([1, 0, 0])) == 2 / 3
    ppl = metrics.get("perplexity")
    assert np.isclose(ppl(np.zeros((4, 7)), np.zeros(4, int)), 7.0)
    m = metrics.get("mae")
    m.update_state(np.zeros((2, 1)), np.ones((2, 1)))
    m.update_state(np.zeros((6, 1)), np.zeros((6, 1)))
    assert m.result() == 2 / 8  # weighted by count, not a mean of batch means
    assert metrics.get("mse")(np.zeros(3), np.full(3, 2.0)) == 4.0
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.get("f1_of_doom")


# -- errors users see -------------------------------------------------------------------------


def test_simple_rnn_bad_input_shapes():
    layer = SimpleRNN(4, name="enc")
    with pytest.raises(ValueError, match=r"'enc'.*\(T, D\)"):
        layer(np.zeros((2, 3)))  # 2-D input: no time axis
    layer = SimpleRNN(4, name="enc2", input_shape=(None, 3))
    with pytest.raises(ValueError, match=r"'enc2'.*\(N, T, 3\).*got \(2, 5, 2\)"):
        layer(np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match="initial_state must have shape"):
        layer(np.zeros((2, 5, 3)), initial_state=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="lengths must lie"):
        layer(np.zeros((2, 5, 3)), lengths=np.array([1, 6]))


def test_dense_feature_mismatch_after_build():
    layer = Dense(2, name="head", input_shape=(4,))
    with pytest.raises(ValueError, match=r"'head'.*\(N, \.\.\., 4\).*got \(3, 5\)"):
        layer(np.zeros((3, 5)))


def test_bad_configs():
    with pytest.raises(ValueError, match="activation"):
        SimpleRNN(4, activation="softmax")  # not one of the kernels' activations
    with pytest.raises(ValueError, match="unknown activation"):
        Dense(3, activation="nope")
    with pytest.raises(ValueError, match="unknown initializer"):
        SimpleRNN(4, kernel_initializer="nope")
    with pytest.raises(ValueError, match="units"):
        Dense(0)
    for rate in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            Dropout(rate)
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(SimpleRNN(2), merge_mode="max")
    with pytest.raises(TypeError, match=r"wraps a recurrent layer .*got Dense"):
        Bidirectional(Dense(2))
    with pytest.raises(ValueError, match="dtype"):
        Dense(2, dtype="float16")


def test_stateful_batch_size_change():
    layer = SimpleRNN(3, stateful=True, name="carry", input_shape=(None, 2))
    layer(np.zeros((4, 5, 2)))
    with pytest.raises(ValueError, match=r"'carry'.*batch size 4.*batch size 3"):
        layer(np.zeros((3, 5, 2)))
    layer.reset_state()
    assert layer(np.zeros((3, 5, 2))).shape == (3, 3)


def test_embedding_errors_and_mask():
    layer = Embedding(5, 2, mask_zero=True, name="emb")
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        layer(np.array([[1, 5]]))
    with pytest.raises(ValueError, match="non-integer"):
        layer(np.array([[1.5, 2.0]]))
    with pytest.raises(TypeError, match="integer"):
        layer(np.array([["a", "b"]]))
    layer(np.array([[1, 2, 0], [0, 3, 0]]))  # pre-padding: the mask itself
    np.testing.assert_array_equal(layer.output_lengths(None), [[1, 1, 0], [0, 1, 0]])
    layer(np.array([[1, 2, 0], [3, 0, 0], [0, 0, 0]]))
    np.testing.assert_array_equal(layer.output_lengths(None), [2, 1, 0])
    assert Embedding(5, 2).output_lengths(None) is None


def test_output_lengths():
    lengths = np.array([2, 3])
    assert SimpleRNN(2, return_sequences=True).output_lengths(lengths) is lengths
    assert SimpleRNN(2).output_lengths(lengths) is None
    assert Dense(2).output_lengths(lengths) is lengths


def test_check_stack():
    ok = [
        Embedding(10, 4),
        SimpleRNN(4, return_sequences=True),
        Dropout(0.1),
        SimpleRNN(4),
        Dense(2),
    ]
    check_stack(ok)
    bad = [SimpleRNN(4, name="first"), Dropout(0.1), SimpleRNN(3, name="second")]
    with pytest.raises(
        ValueError,
        match=r"layer 2 \('second'.*layer 0 \('first'.*"
        r"set return_sequences=True on 'first'",
    ):
        check_stack(bad)
    with pytest.raises(ValueError, match="set return_sequences=True on 'enc'"):
        check_stack([SimpleRNN(4, name="enc"), TimeDistributed(Dense(2))])
    with pytest.raises(ValueError, match="set return_sequences=True on 'bi'"):
        check_stack([Bidirectional(SimpleRNN(4), name="bi"), SimpleRNN(2)])
    with pytest.raises(ValueError, match="return_state"):
        check_stack([SimpleRNN(4, return_state=True)])
    with pytest.raises(TypeError):
        check_stack([object()])
    assert issubclass(SimpleRNN, Layer)


def test_input_layer_is_a_parameter_free_identity_that_checks_shapes():
    inp = InputLayer((T, D), dtype="float64", name="x_in")
    assert isinstance(inp, InputLayer) and inp.built and inp.params == {}
    assert inp.shape == (T, D) and inp.dtype == np.float64 and inp.name == "x_in"
    assert inp(X) is X and inp.backward(X) is X
    assert inp.compute_output_shape((T, D)) == (T, D)
    assert Input(5).shape == (None, 5)  # Keras's symbolic tensor: the batch axis first
    assert Input(5).node.layer.shape == (5,)
    assert InputLayer(input_shape=[None, 2]).shape == (None, 2)  # the Keras 2 spelling
    with pytest.raises(ValueError, match=r"per-sample shape \(4, 3\)"):
        inp(X[:, :2])
    for bad in ((0, 3), ()):
        with pytest.raises(ValueError, match="shape"):
            Input(bad)
    with pytest.raises(TypeError, match=r"^Input: shape\[0\] must be a positive int, got float"):
        Input((2.5,))
    with pytest.raises(TypeError, match="shape"):
        Input(True)
    with pytest.raises(ValueError, match="needs a shape"):
        InputLayer()


def test_check_stack_takes_an_input_first_only():
    check_stack([InputLayer((T, D)), SimpleRNN(4), Dense(2)])
    with pytest.raises(ValueError, match=r"layer 1 \('late'\) is an Input"):
        check_stack([SimpleRNN(4, return_sequences=True), InputLayer((T, 4), name="late")])
