"""LSTM and GRU layers: float64 gradient checks of every option (sequences, states, initial
states and their gradients, go_backwards, lengths, no bias, truncation), Keras's weight layouts
and initialisation (unit_forget_bias), stateful runs, Bidirectional, the NumPy backend, configs,
saving, and training through Model.fit with TBPTT and fit_stream."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import rnnkit
from _layer_testing import check_layer, random_like
from rnnkit.gradcheck import check_gradients
from rnnkit.layers import (
    GRU,
    LSTM,
    Bidirectional,
    Dense,
    SimpleRNN,
    deserialize_layer,
    serialize_layer,
)
from rnnkit.models import Sequential

N, T, D, H = 3, 5, 4, 3
LENGTHS = np.array([0, T, 2])


class GRUResetBefore(GRU):
    """Keras 2's GRU (reset_after=False) as a class of its own, so the tests run it like the
    others."""

    def __init__(self, units: int, reset_after: bool = False, **kwargs: Any) -> None:
        assert reset_after is False  # what get_config records
        super().__init__(units, reset_after=False, **kwargs)


LAYERS = pytest.mark.parametrize(
    "cls", [LSTM, GRU, GRUResetBefore], ids=["lstm", "gru", "gru_reset_before"]
)


def initial_states(cls, rng) -> list[np.ndarray]:
    return [0.5 * rng.standard_normal((N, H)) for _ in cls.state_names]


@LAYERS
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "mixed"])
def test_gradients(cls, return_sequences, go_backwards, lengths):
    rng = np.random.default_rng(0)
    layer = cls(
        H,
        return_sequences=return_sequences,
        go_backwards=go_backwards,
        return_state=True,
        dtype="float64",
        seed=1,
        bias_initializer="random_normal",
    )
    x = rng.standard_normal((N, T, D))
    out = check_layer(layer, x, initial=initial_states(cls, rng), lengths=lengths)
    assert len(out) == 1 + len(cls.state_names)


@LAYERS
@pytest.mark.parametrize(
    "activation, recurrent_activation", [("linear", "sigmoid"), ("sigmoid", "tanh")]
)
def test_gradients_other_activations_and_no_bias(cls, activation, recurrent_activation):
    rng = np.random.default_rng(2)
    layer = cls(
        H,
        activation=activation,
        recurrent_activation=recurrent_activation,
        use_bias=False,
        return_sequences=True,
        dtype="float64",
        seed=3,
    )
    check_layer(layer, rng.standard_normal((N, T, D)))
    assert set(layer.params) == {"Wx", "Wh"}


@LAYERS
def test_truncate_is_passed_to_the_kernel(cls):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((N, 8, D))
    layer = cls(H, return_sequences=True, dtype="float64", seed=5)
    dy = rng.standard_normal((N, 8, H))
    layer.forward(x)
    full = layer.backward(dy)
    layer.truncate = 3
    layer.forward(x)
    cut = layer.backward(dy)
    np.testing.assert_allclose(cut[:, 6:], full[:, 6:], rtol=1e-12)  # the last chunk is uncut
    assert np.abs(cut[:, :3] - full[:, :3]).max() > 1e-6


def test_keras_weight_layouts_and_unit_forget_bias():
    lstm = LSTM(5, input_shape=(None, 3), seed=0)
    assert [w.shape for w in lstm.get_weights()] == [(3, 20), (5, 20), (20,)]
    b = lstm.get_weights()[2]
    np.testing.assert_array_equal(b[5:10], 1.0)  # the forget gate's block
    np.testing.assert_array_equal(np.delete(b, np.s_[5:10]), 0.0)
    plain = LSTM(5, input_shape=(None, 3), unit_forget_bias=False, seed=0)
    np.testing.assert_array_equal(plain.get_weights()[2], 0.0)
    gru = GRU(5, input_shape=(None, 3), seed=0)
    assert [w.shape for w in gru.get_weights()] == [(3, 15), (5, 15), (2, 15)]
    before = GRU(5, input_shape=(None, 3), reset_after=False, seed=0)
    assert [w.shape for w in before.get_weights()] == [(3, 15), (5, 15), (15,)]


@LAYERS
def test_forward_matches_the_functional_kernels(cls):
    """A Keras-layout weight set gives exactly what ops computes with the same arrays."""
    rng = np.random.default_rng(6)
    layer = cls(H, return_sequences=True, input_shape=(None, D), dtype="float64")
    weights = [rng.standard_normal(w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    x = rng.standard_normal((N, T, D))
    if cls is LSTM:
        expected = rnnkit.ops.lstm_forward(x, *weights, lengths=LENGTHS)[0]
    else:
        expected = rnnkit.ops.gru_forward(
            x, *weights, lengths=LENGTHS, reset_after=layer.reset_after
        )[0]
    np.testing.assert_allclose(layer(x, lengths=LENGTHS), expected, rtol=1e-12)


@LAYERS
@pytest.mark.parametrize("go_backwards", [False, True])
def test_numpy_backend_matches_cpp(cls, go_backwards):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, T, D))
    layers = [
        cls(
            H,
            return_sequences=True,
            return_state=True,
            go_backwards=go_backwards,
            dtype="float64",
            seed=8,
            backend=b,
        )
        for b in ("cpp", "numpy")
    ]
    outs = [layer.forward(x, lengths=LENGTHS) for layer in layers]
    dy = random_like(outs[0], rng)
    dxs = [layer.backward(dy) for layer in layers]
    for a, b in zip(outs[0], outs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dxs[0], dxs[1], rtol=1e-10, atol=1e-12)
    for key in layers[0].grads:
        np.testing.assert_allclose(
            layers[0].grads[key], layers[1].grads[key], rtol=1e-9, atol=1e-12
        )


@LAYERS
def test_stateful_runs_continue_where_they_stopped(cls):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((N, 2 * T, D))
    whole = cls(H, return_state=True, dtype="float64", seed=10)
    expected = whole.forward(x)
    halves = cls(H, return_state=True, stateful=True, dtype="float64", seed=10)
    halves.forward(x[:, :T])
    got = halves.forward(x[:, T:])
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@LAYERS
def test_float32_matches_float64(cls):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((N, T, D))
    l64 = cls(H, return_sequences=True, dtype="float64", seed=12)
    l32 = cls(H, return_sequences=True, dtype="float32", seed=12)
    np.testing.assert_allclose(l32(x), l64(x), atol=1e-5)


@LAYERS
def test_bidirectional(cls):
    rng = np.random.default_rng(13)
    layer = Bidirectional(cls(H, return_sequences=True, dtype="float64", seed=14))
    out = check_layer(layer, rng.standard_normal((N, T, D)), lengths=LENGTHS)
    assert out.shape == (N, T, 2 * H)


@LAYERS
def test_config_round_trip_and_param_shapes(cls):
    layer = cls(
        H, return_sequences=True, input_shape=(None, D), recurrent_activation="tanh", seed=3
    )
    clone = deserialize_layer(serialize_layer(layer))
    assert type(clone) is cls and clone.get_config() == layer.get_config()
    shapes = cls.config_param_shapes(layer.get_config(), (None, D))
    assert shapes == {k: v.shape for k, v in layer.params.items()}
    with pytest.raises(ValueError, match="recurrent_activation must be one of"):
        cls(H, recurrent_activation="softmax")


@LAYERS
def test_model_trains_saves_and_loads(cls, tmp_path):
    rng = np.random.default_rng(15)
    x = rng.standard_normal((64, 12, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1, keepdims=True) > 0).astype(np.float32)
    model = Sequential([cls(8, input_shape=(None, 2), seed=16), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0, tbptt=4, seed=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = model.save(tmp_path / "m.npz")
    loaded = rnnkit.load_model(path)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)
    table = model.summary(print_fn=None)
    params = model.layers[0].count_params()
    assert f"({cls.__name__})" in table and f"{params:,}" in table
    assert params == cls.gates * 8 * (2 + 8) + int(np.prod(model.layers[0].bias_shape()))
    assert model.layers[0].bias_shape() == {LSTM: (32,), GRU: (2, 24), GRUResetBefore: (24,)}[cls]


@LAYERS
def test_fit_stream_carries_every_state(cls):
    rng = np.random.default_rng(17)
    ids = rng.integers(0, 5, 400)
    from rnnkit.layers import Embedding, TimeDistributed

    model = Sequential(
        [
            Embedding(5, 4, seed=1),
            cls(8, return_sequences=True, seed=2),
            TimeDistributed(Dense(5, activation="softmax", seed=3)),
        ]
    )
    trainer = rnnkit.Trainer(model, loss="sparse_categorical_crossentropy", optimizer="adam")
    history = trainer.fit_stream(ids, batch_size=4, bptt=10, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


# -- dropout and recurrent_dropout ---------------------------------------------------------------

ALL = pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU], ids=["rnn", "lstm", "gru"])


@ALL
@pytest.mark.parametrize("go_backwards", [False, True])
def test_dropout_gradients_with_fixed_masks(cls, go_backwards):
    """With the mask stream replayed before every call the masks are fixed, and the layer is a
    smooth function of everything: central differences check every gradient."""
    rng = np.random.default_rng(20)
    layer = cls(
        H,
        dropout=0.3,
        recurrent_dropout=0.4,
        return_sequences=True,
        go_backwards=go_backwards,
        dtype="float64",
        seed=21,
    )
    start = layer.rng.bit_generator.state
    x = rng.standard_normal((N, T, D))

    def run():
        layer.rng.bit_generator.state = start
        return layer.forward(x, training=True, lengths=LENGTHS)

    out = run()
    dy = rng.standard_normal(out.shape)
    dx = layer.backward(dy)
    analytic = {**{k: g.copy() for k, g in layer.grads.items()}, "x": dx}
    check_gradients(lambda: float(np.sum(run() * dy)), {**layer.params, "x": x}, analytic, tol=1e-7)
    input_mask, recurrent_mask = layer.masks
    assert input_mask.shape == (N, D) and recurrent_mask.shape == (N, H)


@ALL
def test_masks_per_sequence_fixed_in_time_redrawn_per_call_absent_at_inference(cls):
    rng = np.random.default_rng(22)
    x = rng.standard_normal((8, T, 32))  # 32 features: two rows' masks agree with p = 2**-32
    layer = cls(
        16, dropout=0.5, recurrent_dropout=0.5, return_sequences=True, dtype="float64", seed=23
    )
    plain = cls(16, return_sequences=True, dtype="float64", seed=23)
    plain.set_weights(layer.get_weights())
    np.testing.assert_array_equal(layer(x), plain(x))  # inference: no dropout at all
    assert layer.masks is None

    out = layer(x, training=True)
    input_mask, recurrent_mask = layer.masks
    for mask in (input_mask, recurrent_mask):
        assert set(np.unique(mask)) <= {0.0, 2.0}  # kept entries scaled by 1/(1-p)
        assert len({row.tobytes() for row in mask}) == len(mask)  # one mask per sequence
    # Fixed across time: the kernels with these (N, D) / (N, H) masks give the same output.
    kernel = {
        SimpleRNN: rnnkit.ops.rnn_forward,
        LSTM: rnnkit.ops.lstm_forward,
        GRU: rnnkit.ops.gru_forward,
    }[cls]
    expected = kernel(x * input_mask[:, None, :], *layer._weights(), recurrent_mask=recurrent_mask)[
        0
    ]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    layer(x, training=True)
    assert not np.array_equal(layer.masks[1], recurrent_mask)  # redrawn for the next batch


@ALL
def test_training_with_recurrent_dropout(cls):
    rng = np.random.default_rng(24)
    x = rng.standard_normal((96, 10, 2)).astype(np.float32)
    y = (x[:, :, 0].mean(axis=1, keepdims=True) > 0).astype(np.float32)
    model = Sequential(
        [
            cls(12, dropout=0.2, recurrent_dropout=0.2, input_shape=(None, 2), seed=25),
            Dense(1, activation="sigmoid", seed=26),
        ]
    )
    model.compile(
        optimizer=rnnkit.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"]
    )
    seen = []

    class Spy(rnnkit.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(model.layers[0].masks[1].copy())

    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0, callbacks=[Spy()], seed=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
    assert model.evaluate(x, y, verbose=0)[1] > 0.85  # at inference, without the masks
    assert len(seen) == 90 and not np.array_equal(seen[0], seen[1])
    model.predict(x)
    assert model.layers[0].masks is None
    config = model.layers[0].get_config()
    assert (config["dropout"], config["recurrent_dropout"]) == (0.2, 0.2)
    with pytest.raises(ValueError, match=r"recurrent_dropout must be a number in \[0, 1\)"):
        cls(4, recurrent_dropout=1.0)


# -- SimpleRNN(layer_norm=True) -------------------------------------------------------------------


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_layer_norm_rnn_gradients(return_sequences, go_backwards, backend):
    rng = np.random.default_rng(30)
    layer = SimpleRNN(
        H,
        layer_norm=True,
        return_sequences=return_sequences,
        return_state=True,
        go_backwards=go_backwards,
        dtype="float64",
        seed=31,
        backend=backend,
        bias_initializer="random_normal",
    )
    layer.build((None, D))
    layer.set_weights(
        [*layer.get_weights()[:3], 1 + 0.3 * rng.standard_normal(H), 0.2 * rng.standard_normal(H)]
    )
    x = rng.standard_normal((N, T, D))
    check_layer(layer, x, initial=[0.5 * rng.standard_normal((N, H))], lengths=LENGTHS)


def test_layer_norm_rnn_weights_config_and_the_normalised_states():
    layer = SimpleRNN(
        6,
        layer_norm=True,
        activation="linear",
        return_sequences=True,
        input_shape=(None, 3),
        seed=0,
        dtype="float64",
    )
    assert [w.shape for w in layer.get_weights()] == [(3, 6), (6, 6), (6,), (6,), (6,)]
    out = layer(np.random.default_rng(1).standard_normal((4, 7, 3)) * 5)
    # linear activation, gamma 1, beta 0: every state is normalised over its units
    np.testing.assert_allclose(out.mean(axis=-1), 0, atol=1e-12)
    # ... and has variance var/(var + 1e-3): within 1% of 1 for these large pre-activations
    np.testing.assert_allclose(out.var(axis=-1), 1, rtol=1e-2)
    clone = deserialize_layer(serialize_layer(layer))
    assert clone.layer_norm and SimpleRNN.config_param_shapes(layer.get_config(), (None, 3)) == {
        k: v.shape for k, v in layer.params.items()
    }


def test_layer_norm_rnn_trains_with_dropout():
    rng = np.random.default_rng(32)
    x = rng.standard_normal((96, 10, 2)).astype(np.float32)
    y = (x[:, :, 0].mean(axis=1, keepdims=True) > 0).astype(np.float32)
    model = Sequential(
        [
            SimpleRNN(12, layer_norm=True, recurrent_dropout=0.1, input_shape=(None, 2), seed=33),
            Dense(1, activation="sigmoid", seed=34),
        ]
    )
    model.compile(
        optimizer=rnnkit.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(x, y, epochs=20, batch_size=32, verbose=0, seed=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
    assert model.evaluate(x, y, verbose=0)[1] > 0.85
