"""Sequential and Model: building, summary, params views, predict, the Keras surface
(compile/fit/evaluate), the classic Keras listings learning the sine task, and a custom
encoder-decoder Model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rnnkit import optimizers
from rnnkit.gradcheck import check_gradients
from rnnkit.layers import GRU, Bidirectional, Dense, Embedding, Input, SimpleRNN, TimeDistributed
from rnnkit.models import Model, Sequential
from rnnkit.training import Trainer


def sine(n: int = 400) -> np.ndarray:
    """sin(2π·0.125·t), t = 0..n-1 (period 8 steps), float32."""
    return np.sin(2 * np.pi * 0.125 * np.arange(n)).astype(np.float32)


def many_to_one(T: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of T values -> the next value: X (M, T, 1), Y (M, 1)."""
    s = sine()
    X = np.stack([s[i : i + T] for i in range(len(s) - T)])[..., None]
    return X, s[T:, None]


def many_to_many(T: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of T values -> the same windows one step ahead: X, Y (M, T, 1)."""
    s = sine()
    X = np.stack([s[i : i + T] for i in range(len(s) - T - 1)])[..., None]
    Y = np.stack([s[i + 1 : i + T + 1] for i in range(len(s) - T - 1)])[..., None]
    return X, Y


# -- the classic Keras listings, only the imports changed --------------------------------------


def test_keras_listing_many_to_one_learns_sine() -> None:
    X, Y = many_to_one(3)
    model = Sequential()
    model.add(SimpleRNN(10, input_shape=(3, 1), seed=0))
    model.add(Dense(1, seed=1))
    model.compile(loss="mean_squared_error", optimizer="adam")
    before = model.evaluate(X, Y, verbose=0)
    history = model.fit(X, Y, epochs=100, batch_size=32, verbose=0, seed=0)
    after = history.history["loss"][-1]
    assert len(history.history["loss"]) == 100
    assert after <= before / 10, (before, after)
    assert model.evaluate(X, Y, verbose=0) <= before / 10


def test_keras_listing_many_to_many_learns_sine() -> None:
    X, Y = many_to_many(3)
    model = Sequential()
    model.add(SimpleRNN(10, return_sequences=True, input_shape=(3, 1), seed=0))
    model.add(TimeDistributed(Dense(1, seed=1)))
    model.compile(loss="mse", optimizer="adam")
    before = model.evaluate(X, Y, verbose=0)
    history = model.fit(X, Y, epochs=100, batch_size=32, verbose=0, seed=0)
    after = history.history["loss"][-1]
    # The first step of each window is ambiguous (one sine value has two successors), which
    # bounds the loss below near 0.09; the later steps are learnt almost exactly.
    assert after <= before / 10, (before, after)
    last_step = float(np.mean((model.predict(X)[:, -1] - Y[:, -1]) ** 2))
    assert last_step < 0.02


def test_keras_listing_stacked_learns_sine() -> None:
    X, Y = many_to_one(5)
    model = Sequential()
    model.add(SimpleRNN(32, return_sequences=True, input_shape=(5, 1), seed=0))
    model.add(SimpleRNN(32, seed=2))
    model.add(Dense(1, seed=1))
    model.compile(loss="mse", optimizer="adam")
    before = model.evaluate(X, Y, verbose=0)
    history = model.fit(X, Y, epochs=100, batch_size=32, verbose=0, seed=0)
    assert history.history["loss"][-1] <= before / 10


def test_keras_listing_repeating_input_shape_on_every_layer_learns_sine() -> None:
    """The classic stacked listing that gives input_shape=(T, 1) to its second SimpleRNN too:
    Keras ignores input_shape on all but the first layer, and so does rnnkit (silently, as
    Keras 3): the second layer is built for the (T, 32) it really gets."""
    X, Y = many_to_one(5)
    model = Sequential()
    model.add(SimpleRNN(32, return_sequences=True, input_shape=(5, 1), seed=0))
    model.add(SimpleRNN(32, input_shape=(5, 1), seed=2))
    model.add(Dense(1, input_shape=(7,), seed=1))
    second, head = model.layers[1:]
    assert second.input_shape == (5, 32) and second.params["Wx"].shape == (32, 32)
    assert head.input_shape == (32,) and head.params["W"].shape == (32, 1)
    reference = Sequential(
        [
            SimpleRNN(32, return_sequences=True, input_shape=(5, 1), seed=0),
            SimpleRNN(32, seed=2),
            Dense(1, seed=1),
        ]
    )
    for ours, theirs in zip(model.layers, reference.layers):  # same seeds, same weights
        for key, value in theirs.params.items():
            np.testing.assert_array_equal(ours.params[key], value, err_msg=key)
    model.compile(loss="mse", optimizer="adam")
    before = model.evaluate(X, Y, verbose=0)
    history = model.fit(X, Y, epochs=100, batch_size=32, verbose=0, seed=0)
    assert history.history["loss"][-1] <= before / 10


def test_input_shape_on_a_later_layer_is_ignored_also_when_built_on_first_call() -> None:
    model = Sequential([Dense(4, seed=0), Dense(1, input_shape=(7,), seed=1)])
    assert model.layers[1].params["W"].shape == (7, 1)  # built for its own argument so far
    out = model.predict(np.ones((2, 3), np.float32))
    assert out.shape == (2, 1) and model.layers[1].params["W"].shape == (4, 1)
    wrapped = Sequential(
        [
            SimpleRNN(3, return_sequences=True, input_shape=(5, 2)),
            TimeDistributed(Dense(1, input_shape=(7,))),
        ]
    )
    assert wrapped.layers[1].layer.params["W"].shape == (3, 1)
    fitting = Dense(1, input_shape=(4,), seed=1)
    weights = fitting.get_weights()
    Sequential([Dense(4, input_shape=(3,), seed=0), fitting])  # agrees: kept as it was
    np.testing.assert_array_equal(fitting.get_weights()[0], weights[0])


def test_keras3_listing_with_input_learns_sine() -> None:
    """Keras 3 writes the input shape as a leading keras.Input."""
    X, Y = many_to_one(3)
    model = Sequential([Input((3, 1)), SimpleRNN(10, seed=0), Dense(1, seed=1)])
    assert model.built and [type(layer).__name__ for layer in model.layers] == [
        "SimpleRNN",
        "Dense",
    ]
    text = model.summary(print_fn=None)
    assert "Total params: 131" in text and "InputLayer" not in text  # as Keras 3 shows it
    model.compile(loss="mean_squared_error", optimizer="adam")
    before = model.evaluate(X, Y, verbose=0)
    history = model.fit(X, Y, epochs=100, batch_size=32, verbose=0, seed=0)
    assert history.history["loss"][-1] <= before / 10


def test_input_with_add_builds_at_once_and_must_come_first() -> None:
    model = Sequential(name="m")
    model.add(Input(shape=(5, 2), name="series"))
    model.add(SimpleRNN(4, return_sequences=True))
    assert model.built and model.input_layer is not None and model.input_layer.name == "series"
    model.add(TimeDistributed(Dense(1)))
    assert model.predict(np.zeros((3, 5, 2), np.float32)).shape == (3, 5, 1)
    assert model.count_params() == 2 * 4 + 4 * 4 + 4 + 4 + 1
    with pytest.raises(ValueError, match="per-sample shape"):
        model.predict(np.zeros((3, 5, 3), np.float32))  # the Input checks the data
    with pytest.raises(ValueError, match="only be the first layer"):
        model.add(Input((5, 1)))
    with pytest.raises(ValueError, match="only be the first layer"):
        Sequential([SimpleRNN(4, input_shape=(5, 2)), Input((5, 4))])
    with pytest.raises(ValueError, match="Input has shape"):
        Sequential([Input((5, 2)), SimpleRNN(4, input_shape=(5, 3))])
    assert len(model.layers) == 2  # the refused layers were not kept
    ids = Sequential([Input((6,), dtype="int32"), Embedding(9, 3), SimpleRNN(2)])
    assert ids.predict(np.ones((2, 6), np.int32)).shape == (2, 2)


def test_sequential_list_constructor_name_and_summary(capsys: pytest.CaptureFixture) -> None:
    model = Sequential(
        [SimpleRNN(10, input_shape=(3, 1), name="rnn"), Dense(1, name="out")], name="sine_model"
    )
    text = model.summary()
    printed = capsys.readouterr().out
    assert printed.strip() == text.strip()
    assert 'Model: "sine_model"' in text
    assert "rnn (SimpleRNN)" in text and "out (Dense)" in text
    assert "(None, 10)" in text and "(None, 1)" in text
    # SimpleRNN: 1*10 + 10*10 + 10 = 120; Dense: 10 + 1 = 11
    assert "120" in text and "11" in text
    assert "Total params: 131" in text and "Trainable params: 131" in text
    assert model.count_params() == 131
    assert model.summary(print_fn=None) == text


def test_summary_shapes_of_sequence_layers() -> None:
    model = Sequential(
        [SimpleRNN(8, return_sequences=True, input_shape=(None, 2)), TimeDistributed(Dense(3))]
    )
    text = model.summary(print_fn=None)
    assert "(None, None, 8)" in text and "(None, None, 3)" in text


def test_shapes_inferred_at_first_call() -> None:
    model = Sequential()
    model.add(SimpleRNN(4, seed=0))
    model.add(Dense(2, seed=1))
    assert not model.built
    with pytest.raises(ValueError, match="not yet been built"):
        model.summary()
    x = np.random.default_rng(0).standard_normal((5, 7, 3)).astype(np.float32)
    y = model.predict(x)
    assert y.shape == (5, 2) and model.built
    assert model.layers[0].params["Wx"].shape == (3, 4)
    assert "(None, 2)" in model.summary(print_fn=None)


def test_explicit_build() -> None:
    model = Sequential([SimpleRNN(4), Dense(2)])
    model.build((6, 3))
    assert model.built and model.count_params() == 3 * 4 + 16 + 4 + 4 * 2 + 2


@pytest.mark.parametrize("with_shape", [True, False])
def test_stacking_error_names_the_layer(with_shape: bool) -> None:
    model = Sequential()
    model.add(SimpleRNN(32, input_shape=(5, 1) if with_shape else None, name="first"))
    with pytest.raises(ValueError, match="return_sequences=True on 'first'"):
        model.add(SimpleRNN(32, name="second"))
    assert [layer.name for layer in model.layers] == ["first"]  # the bad layer is not kept
    model.add(Dense(1))  # a Dense after the last-state RNN is fine


def test_unmerged_bidirectional_must_be_last() -> None:
    layers = [Input((None, 3)), Bidirectional(GRU(3, return_sequences=True), merge_mode=None)]
    Sequential(list(layers)).build()  # last: its two outputs are the model's
    with pytest.raises(ValueError, match="merge_mode=None: it returns a list"):
        Sequential([*layers, GRU(2)])


def test_duplicate_layer_names_rejected() -> None:
    model = Sequential([Dense(2, name="d", input_shape=(3,))])
    with pytest.raises(ValueError, match="already has a layer named 'd'"):
        model.add(Dense(2, name="d"))


def test_params_and_grads_are_views_with_unique_names() -> None:
    model = Sequential(
        [
            SimpleRNN(4, return_sequences=True, input_shape=(5, 2), name="rnn"),
            TimeDistributed(Dense(1), name="td"),
        ]
    )
    params, grads = model.params, model.grads
    assert list(params) == ["rnn/Wx", "rnn/Wh", "rnn/b", "td/W", "td/b"]
    assert list(grads) == list(params)
    assert params["rnn/Wx"] is model.layers[0].params["Wx"]
    assert grads["td/W"] is model.layers[1].layer.grads["W"]
    x = np.ones((2, 5, 2), np.float32)
    before = model.predict(x)
    params["td/b"] += 1.0  # in place: the layer sees it
    np.testing.assert_allclose(model.predict(x), before + 1.0, rtol=1e-6)


def test_forward_backward_chain_and_predict_batches() -> None:
    rng = np.random.default_rng(1)
    model = Sequential(
        [
            SimpleRNN(6, return_sequences=True, input_shape=(4, 3), seed=0),
            SimpleRNN(5, seed=1),
            Dense(2, seed=2),
        ]
    )
    x = rng.standard_normal((37, 4, 3)).astype(np.float32)
    y = model.forward(x)
    dx = model.backward(np.ones_like(y))
    assert dx.shape == x.shape
    assert all(np.any(g != 0) for g in model.grads.values())
    np.testing.assert_allclose(model.predict(x, batch_size=5), y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x), y, rtol=1e-5, atol=1e-6)


def test_lengths_flow_through_output_lengths() -> None:
    model = Sequential(
        [
            Embedding(10, 4, mask_zero=True, input_shape=(5,), seed=0),
            SimpleRNN(3, return_sequences=True, seed=1),
            TimeDistributed(Dense(2)),
        ]
    )
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]])
    out = model.forward(ids)
    np.testing.assert_array_equal(model.output_lengths(None), [3, 5])
    assert np.all(out[0, 3:] == model.layers[2].params["b"])  # padded steps: zero state


def test_compile_defaults_match_keras() -> None:
    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile(loss="mse", optimizer="sgd")
    assert isinstance(model.trainer.optimizer, optimizers.SGD)
    assert model.trainer.optimizer.learning_rate == 0.01
    model.compile(loss="mse", optimizer="adam")
    assert model.trainer.optimizer.learning_rate == 0.001
    model.compile(loss="mse")  # Keras's default optimizer
    assert isinstance(model.trainer.optimizer, optimizers.RMSprop)
    opt = optimizers.Adam(learning_rate=0.5)
    model.compile(loss="mae", optimizer=opt, metrics=["mse"])
    assert model.trainer.optimizer is opt


def test_fit_before_compile_is_a_clear_error() -> None:
    model = Sequential([Dense(1, input_shape=(2,))])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0)


def test_evaluate_returns_keras_shapes() -> None:
    X, Y = many_to_one(3)
    model = Sequential([SimpleRNN(4, input_shape=(3, 1), seed=0), Dense(1, seed=1)])
    model.compile(loss="mse", optimizer="adam")
    assert isinstance(model.evaluate(X, Y, verbose=0), float)
    model.compile(loss="mse", optimizer="adam", metrics=["mae"])
    _loss, mae = model.evaluate(X, Y, verbose=0)
    assert mae == pytest.approx(float(np.mean(np.abs(model.predict(X) - Y))), rel=1e-5)
    assert set(model.evaluate(X, Y, verbose=0, return_dict=True)) == {"loss", "mae"}


def test_fit_history_keys_and_model_history() -> None:
    X, Y = many_to_one(3)
    model = Sequential([SimpleRNN(4, input_shape=(3, 1), seed=0), Dense(1, seed=1)])
    model.compile(loss="mse", optimizer="adam", metrics=["mae"])
    history = model.fit(X, Y, epochs=3, verbose=0, validation_split=0.25, seed=1)
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert all(len(v) == 3 for v in history.history.values())
    assert model.history is history and history.epoch == [0, 1, 2]


# -- a custom Model: encoder-decoder -----------------------------------------------------------


class EncoderDecoder(Model):
    """The encoder's final state is the decoder's initial state."""

    def __init__(
        self, units: int = 5, out_dim: int = 2, dtype: str = "float64", name: str | None = None
    ) -> None:
        super().__init__(name=name)
        self.units, self.out_dim, self.dtype_name = units, out_dim, dtype
        self.encoder = SimpleRNN(units, return_state=True, dtype=dtype, seed=0)
        self.decoder = SimpleRNN(units, return_sequences=True, dtype=dtype, seed=1)
        self.head = TimeDistributed(Dense(out_dim, dtype=dtype, seed=2))

    def forward(self, x: Any, training: bool = False, lengths: Any = None) -> np.ndarray:
        source, target_in = x
        _, h = self.encoder(source, training=training)
        hs = self.decoder(target_in, training=training, initial_state=h)
        return self.head(hs, training=training)

    def backward(self, dy: np.ndarray) -> None:
        dhs = self.head.backward(dy)
        self.decoder.backward(dhs)
        self.encoder.backward([None, self.decoder.d_initial_state])
        return

    def get_config(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "out_dim": self.out_dim,
            "dtype": self.dtype_name,
            "name": self.name,
        }


def seq2seq_data(n: int = 6, seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    source = rng.standard_normal((n, 4, 3))
    target_in = rng.standard_normal((n, 3, 2))
    y = rng.standard_normal((n, 3, 2))
    return (source, target_in), y


def test_custom_model_tracks_layers_in_order() -> None:
    model = EncoderDecoder()
    assert [type(layer).__name__ for layer in model.layers] == [
        "SimpleRNN",
        "SimpleRNN",
        "TimeDistributed",
    ]
    x, _ = seq2seq_data()
    assert model.predict(x).shape == (6, 3, 2)
    assert model.built and "(None, 3, 2)" in model.summary(print_fn=None)


def test_custom_model_needs_super_init() -> None:
    class Broken(Model):
        def __init__(self) -> None:
            self.layer = Dense(1)

    with pytest.raises(RuntimeError, match="super"):
        Broken()


def test_custom_encoder_decoder_gradient_check() -> None:
    """float64: the decoder's d_initial_state reaches the encoder's weights exactly."""
    model = EncoderDecoder()
    x, y = seq2seq_data()
    trainer = Trainer(model, loss="mse", optimizer="sgd")
    _, grads = trainer.compute_gradients(x, y)
    assert np.any(grads[f"{model.encoder.name}/Wx"] != 0)

    def loss() -> float:
        return trainer.loss.forward(model.forward(x), y)

    check_gradients(loss, model.params, grads)


def test_custom_model_fits_with_tuple_inputs() -> None:
    model = EncoderDecoder()
    x, y = seq2seq_data(n=64)
    model.compile(loss="mse", optimizer="adam")
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0, seed=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_named_crossentropy_after_sigmoid_or_softmax_takes_probabilities_like_keras():
    from rnnkit.layers import Dense, SimpleRNN, TimeDistributed
    from rnnkit.models import Sequential

    for last, loss in [
        (Dense(1, activation="sigmoid"), "binary_crossentropy"),
        (Dense(3, activation="softmax"), "sparse_categorical_crossentropy"),
        (TimeDistributed(Dense(3, activation="softmax")), "sparse_categorical_crossentropy"),
    ]:
        model = Sequential(
            [
                SimpleRNN(
                    4,
                    return_sequences=isinstance(last, TimeDistributed),
                    input_shape=(5, 2),
                    seed=0,
                ),
                last,
            ]
        )
        model.compile(loss=loss, optimizer="adam")
        assert model.trainer.loss.from_logits is False
        if loss == "binary_crossentropy":
            model.compile(loss=loss, optimizer="adam", metrics=["accuracy"])
            assert model.trainer.metrics[0].threshold == 0.5
    logits_model = Sequential([SimpleRNN(4, input_shape=(5, 2), seed=0), Dense(1)])
    logits_model.compile(loss="binary_crossentropy", optimizer="adam")
    assert logits_model.trainer.loss.from_logits is True


def test_keras_binary_classifier_with_sigmoid_output_learns():
    from rnnkit.layers import Dense, SimpleRNN
    from rnnkit.models import Sequential

    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 6, 1)).astype(np.float32)
    y = (x.sum(axis=(1, 2)) > 0).astype(np.float32)[:, None]  # sign of the sequence's sum
    model = Sequential(
        [SimpleRNN(8, input_shape=(6, 1), seed=1), Dense(1, activation="sigmoid", seed=2)]
    )
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x, y, epochs=60, batch_size=32, verbose=0, seed=0)
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert accuracy > 0.8, (loss, accuracy)  # measured 0.867 (chance: 0.5)
