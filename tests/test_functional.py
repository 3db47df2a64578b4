"""The functional API: Input tensors, layer calls recorded as nodes, Model(inputs, outputs) run
forward and backward over the graph (shared layers, initial_state edges, several inputs and
outputs), against the hand-written Model subclass and float64 central differences."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rnnkit.gradcheck import check_gradients
from rnnkit.layers import (
    GRU,
    LSTM,
    Add,
    Concatenate,
    Dense,
    Embedding,
    Input,
    Masking,
    SimpleRNN,
    TimeDistributed,
)
from rnnkit.models import Model, Sequential, load_model

N, S, T, D, H = 6, 5, 4, 3, 5


class HandWritten(Model):
    """The encoder-decoder of rnnkit.models' docstring, with fixed seeds and names."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name)
        self.encoder = SimpleRNN(H, return_state=True, seed=1, name="encoder")
        self.decoder = SimpleRNN(H, return_sequences=True, seed=2, name="decoder")
        self.head = TimeDistributed(Dense(2, seed=3), name="head")

    def forward(self, x: Any, training: bool = False, lengths: Any = None) -> Any:
        source, target_in = x
        _, h = self.encoder(source, training=training)
        hs = self.decoder(target_in, training=training, initial_state=h)
        return self.head(hs, training=training)

    def backward(self, dy: Any) -> None:
        dhs = self.head.backward(dy)
        self.decoder.backward(dhs)
        self.encoder.backward([None, self.decoder.d_initial_state])


def functional_seq2seq() -> tuple[Model, Any, Any, Any]:
    """Keras's encoder-decoder listing; returns the model and the layers for inference."""
    encoder_inputs = Input((None, D), name="encoder_inputs")
    decoder_inputs = Input((None, D), name="decoder_inputs")
    encoder = SimpleRNN(H, return_state=True, seed=1, name="encoder")
    _, state_h = encoder(encoder_inputs)
    decoder = SimpleRNN(H, return_sequences=True, return_state=True, seed=2, name="decoder")
    decoder_outputs, _ = decoder(decoder_inputs, initial_state=[state_h])
    head = TimeDistributed(Dense(2, seed=3), name="head")
    model = Model([encoder_inputs, decoder_inputs], head(decoder_outputs))
    return model, (encoder_inputs, state_h), decoder, head


def data(seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    x = [rng.standard_normal((N * 4, S, D)), rng.standard_normal((N * 4, T, D))]
    y = rng.standard_normal((N * 4, T, 2))
    return [a.astype(np.float32) for a in x], y.astype(np.float32)


def test_functional_encoder_decoder_trains_like_the_hand_written_subclass() -> None:
    x, y = data()
    losses = []
    for model in (HandWritten(), functional_seq2seq()[0]):
        model.compile(optimizer="adam", loss="mse")
        history = model.fit(x, y, epochs=3, batch_size=8, seed=0, verbose=0)
        losses.append(history.history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)


def test_inference_models_share_the_trained_layers() -> None:
    model, (encoder_inputs, state_h), decoder, head = functional_seq2seq()
    model.compile(optimizer="adam", loss="mse")
    x, y = data()
    model.fit(x, y, epochs=1, batch_size=8, seed=0, verbose=0)
    encoder_model = Model(encoder_inputs, state_h)
    state_input = Input((H,), name="state_input")
    step_input = Input((None, D), name="step_input")
    outputs, h = decoder(step_input, initial_state=[state_input])
    decoder_model = Model([step_input, state_input], [head(outputs), h])
    assert decoder_model.layers == [decoder, head]
    h0 = encoder_model.predict(x[0])
    out, _ = decoder_model.predict([x[1], h0])
    np.testing.assert_allclose(out, model.predict(x), rtol=1e-5, atol=1e-6)


def shared_two_in_two_out() -> Model:
    """Two inputs through one shared LSTM (two calls), merged; two outputs."""
    a = Input((T, D), name="a")
    b = Input((T, D), name="b")
    shared = LSTM(H, return_sequences=True, seed=4, dtype="float64", name="shared")
    ha, hb = shared(a), shared(b)
    summed = Add(name="add")([ha, hb])
    joined = Concatenate(name="cat")([ha, summed])
    last = SimpleRNN(3, seed=5, dtype="float64", name="rnn")(joined)
    out_seq = TimeDistributed(Dense(2, seed=6, dtype="float64"), name="seq_head")(summed)
    out_vec = Dense(1, seed=7, dtype="float64", name="vec_head")(
        Concatenate(name="cat2")([last, SimpleRNN(2, seed=8, dtype="float64", name="r2")(hb)])
    )
    return Model([a, b], [out_seq, out_vec])


def test_gradients_of_a_graph_with_a_shared_layer_two_inputs_two_outputs() -> None:
    model = shared_two_in_two_out()
    assert [layer.name for layer in model.layers].count("shared") == 1
    rng = np.random.default_rng(1)
    x = [rng.standard_normal((N, T, D)), rng.standard_normal((N, T, D))]
    dy = [rng.standard_normal((N, T, 2)), rng.standard_normal((N, 1))]

    def f() -> float:
        out = model.forward(x, training=True)
        return float(sum(np.sum(o * d) for o, d in zip(out, dy)))

    f()
    dx = model.backward(dy)
    analytic = {k: g.copy() for k, g in model.grads.items()}
    analytic.update({"x0": dx[0], "x1": dx[1]})
    params = {**model.params, "x0": x[0], "x1": x[1]}
    errors = check_gradients(f, params, analytic)
    assert max(errors.values()) <= 1e-7


def test_initial_state_gradient_flows_to_the_tensor_that_gave_it() -> None:
    seq = Input((T, D), name="seq")
    h0 = Input((H,), name="h0")
    c0 = Input((H,), name="c0")
    out = LSTM(H, seed=9, dtype="float64", name="lstm")(seq, initial_state=[h0, c0])
    model = Model([seq, h0, c0], Dense(1, seed=1, dtype="float64")(out))
    rng = np.random.default_rng(2)
    x = [rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))]
    dy = rng.standard_normal((N, 1))

    def f() -> float:
        return float(np.sum(model.forward(x) * dy))

    f()
    dx = model.backward(dy)
    params = {**model.params, **{f"x{i}": a for i, a in enumerate(x)}}
    analytic = {**model.grads, **{f"x{i}": g for i, g in enumerate(dx)}}
    assert max(check_gradients(f, params, analytic).values()) <= 1e-7


@pytest.mark.parametrize("layer", [Concatenate(axis=-1), Concatenate(axis=1), Add()])
def test_merge_layer_gradients(layer: Any) -> None:
    rng = np.random.default_rng(3)
    x = [rng.standard_normal((N, T, D)), rng.standard_normal((N, T, D))]
    out = layer.forward(x)
    dy = rng.standard_normal(out.shape)
    dx = layer.backward(dy)

    def f() -> float:
        return float(np.sum(layer.forward(x) * dy))

    errors = check_gradients(f, {"a": x[0], "b": x[1]}, {"a": dx[0], "b": dx[1]})
    assert max(errors.values()) <= 1e-7


def test_merge_layers_refuse_bad_inputs() -> None:
    a, b = Input((T, D)), Input((T + 1, D))
    with pytest.raises(ValueError, match="one shape"):
        Add()([a, b])
    with pytest.raises(ValueError, match="agree on every other axis"):
        Concatenate()([a, b])
    assert Concatenate(axis=1)([a, b]).shape == (None, 2 * T + 1, D)
    with pytest.raises(ValueError, match="at least two"):
        Add()(a)
    with pytest.raises(ValueError, match="batch axis"):
        Concatenate(axis=0)


def test_symbolic_tensors_shapes_and_return_state() -> None:
    inputs = Input((None, D))
    assert inputs.shape == (None, None, D)
    out, h, c = LSTM(H, return_sequences=True, return_state=True)(inputs)
    assert out.shape == (None, None, H) and h.shape == c.shape == (None, H)
    assert Input(batch_shape=(4, T, D)).shape == (4, T, D)


def test_keras_sequential_with_input_still_works() -> None:
    model = Sequential([Input((T, D)), SimpleRNN(H), Dense(1)])
    assert model.input_layer is not None and len(model.layers) == 2
    x = np.zeros((N, T, D), np.float32)
    assert model.predict(x).shape == (N, 1)


def test_dict_inputs_and_outputs_train_with_per_output_losses_and_logs() -> None:
    a = Input((T, D), name="a")
    b = Input((D,), name="b")
    h = SimpleRNN(H, seed=1, name="rnn")(a)
    joined = Concatenate()([h, b])
    outputs = {"reg": Dense(1, seed=2, name="reg")(joined), "cls": Dense(3, name="cls")(h)}
    model = Model({"a": a, "b": b}, outputs)
    model.compile(
        optimizer="adam",
        loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
        loss_weights={"reg": 2.0, "cls": 0.5},
        metrics={"cls": ["accuracy"]},
    )
    rng = np.random.default_rng(0)
    x = {"a": rng.standard_normal((20, T, D)), "b": rng.standard_normal((20, D))}
    y = {"reg": rng.standard_normal((20, 1)), "cls": rng.integers(0, 3, 20)}
    logs = model.fit(x, y, epochs=2, batch_size=5, verbose=0).history
    assert set(logs) == {"loss", "reg_loss", "cls_loss", "cls_accuracy"}
    result = model.evaluate(x, y, return_dict=True, verbose=0)
    np.testing.assert_allclose(
        result["loss"], 2.0 * result["reg_loss"] + 0.5 * result["cls_loss"], rtol=1e-5
    )
    predicted = model.predict([x["a"], x["b"]])
    assert set(predicted) == {"reg", "cls"} and predicted["reg"].shape == (20, 1)


def test_embedding_mask_reaches_the_recurrent_layer_as_in_sequential() -> None:
    ids = np.array([[3, 1, 2, 0, 0], [1, 1, 1, 1, 2], [4, 0, 0, 0, 0]])
    layers = [Embedding(5, 3, mask_zero=True, seed=1), SimpleRNN(4, seed=2), Dense(1, seed=3)]
    sequential = Sequential(layers)
    twin = [Embedding(5, 3, mask_zero=True, seed=1), SimpleRNN(4, seed=2), Dense(1, seed=3)]
    inputs = Input((None,), dtype="int64")
    x = inputs
    for layer in twin:
        x = layer(x)
    functional = Model(inputs, x)
    np.testing.assert_allclose(functional.predict(ids), sequential.predict(ids), rtol=1e-6)
    unmasked = [Embedding(5, 3, seed=1), SimpleRNN(4, seed=2), Dense(1, seed=3)]
    assert not np.allclose(Sequential(unmasked).predict(ids), sequential.predict(ids))


def test_save_and_load_rebuild_the_graph(tmp_path: Any) -> None:
    model = shared_two_in_two_out()
    rng = np.random.default_rng(4)
    x = [rng.standard_normal((N, T, D)), rng.standard_normal((N, T, D))]
    path = str(tmp_path / "graph.npz")
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is type(model)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert loaded.get_config() == model.get_config()
    for got, want in zip(loaded.predict(x), model.predict(x)):
        np.testing.assert_array_equal(got, want)


def test_compiled_models_save_and_load(tmp_path: Any) -> None:
    model, *_ = functional_seq2seq()
    model.compile(optimizer="adam", loss="mse")
    x, y = data()
    model.fit(x, y, epochs=1, batch_size=8, seed=0, verbose=0)
    loaded = load_model(model.save(str(tmp_path / "seq2seq.npz")))
    assert loaded.trainer is not None  # one output: the trainer checkpoint comes back
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    several = shared_two_in_two_out()
    several.compile(optimizer="adam", loss=["mse", "mae"], loss_weights=[1.0, 0.5])
    rebuilt = load_model(several.save(str(tmp_path / "several.npz")))
    assert rebuilt.trainer is None  # documented: compile it again
    x2 = [a.astype(np.float64) for a in data()[0]][:1] * 2
    for got, want in zip(
        rebuilt.predict([a[:, :T] for a in x2]), several.predict([a[:, :T] for a in x2])
    ):
        np.testing.assert_array_equal(got, want)


def test_gradients_of_a_masked_graph() -> None:
    ids = Input((None,), dtype="int64", name="ids")
    emb = Embedding(6, 4, mask_zero=True, seed=1, dtype="float64", name="emb")(ids)
    shared = SimpleRNN(4, return_sequences=True, seed=2, dtype="float64", name="shared")
    deep = shared(Dense(4, seed=3, dtype="float64", name="proj")(shared(emb)))
    out = TimeDistributed(Dense(2, seed=4, dtype="float64"), name="head")(deep)
    model = Model(ids, out)
    x = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [1, 1, 1, 1, 2]])
    rng = np.random.default_rng(5)
    dy = rng.standard_normal((3, 5, 2))

    def f() -> float:
        return float(np.sum(model.forward(x, training=True) * dy))

    f()
    np.testing.assert_array_equal(model.output_lengths(None), [3, 2, 5])
    model.backward(dy)
    analytic = {k: g.copy() for k, g in model.grads.items()}
    assert max(check_gradients(f, model.params, analytic).values()) <= 1e-7


def test_summary_shows_inbound_connections() -> None:
    model, *_ = functional_seq2seq()
    text = model.summary(print_fn=None)
    assert "Connected to" in text
    assert "decoder (SimpleRNN)" in text and "decoder_inputs[0][0], encoder[0][1]" in text
    assert "head[0][0]" not in text and "decoder[0][0]" in text


def test_bad_graphs_raise_clear_errors() -> None:
    a, b = Input((T, D), name="a"), Input((T, D), name="b")
    out = Add()([SimpleRNN(H)(a), SimpleRNN(H)(b)])
    with pytest.raises(ValueError, match=r"not reachable .* Input 'b'.*add that Input"):
        Model(a, out)
    with pytest.raises(TypeError, match=r"symbolic tensor .* Add\(\) or Concatenate\(\)"):
        np.tanh(a)
    with pytest.raises(TypeError, match="Use a layer instead"):
        a + b
    with pytest.raises(TypeError, match="initial_state holds a ndarray"):
        SimpleRNN(H)(a, initial_state=[np.zeros((1, H))])
    with pytest.raises(TypeError, match="symbolic tensors"):
        Model(a, np.zeros(3))
    with pytest.raises(ValueError, match="must be the tensors Input"):
        Model(SimpleRNN(H)(a), a)
    shared = SimpleRNN(H)
    shared(a)
    with pytest.raises(ValueError, match="built for per-sample input"):
        shared(Input((T, D + 1)))
    model = Model([a, b], out)
    with pytest.raises(ValueError, match="2 input"):
        model.predict(np.zeros((2, T, D)))


def test_gradients_of_a_graph_with_a_shared_layer_two_inputs_two_outputs_and_masks() -> None:
    # The issue's own case, in one graph: a shared recurrent layer called on two inputs whose
    # masks pad before and between valid steps (Embedding's zeros, Masking's), two outputs.
    ids = Input((None,), dtype="int64", name="ids")
    series = Input((None, 4), dtype="float64", name="series")
    words = Embedding(6, 4, mask_zero=True, seed=1, dtype="float64", name="emb")(ids)
    values = Masking(0.0, dtype="float64", name="masking")(series)
    shared = LSTM(3, return_sequences=True, seed=2, dtype="float64", name="shared")
    a, b = shared(words), shared(values)
    out_seq = TimeDistributed(Dense(2, seed=3, dtype="float64"), name="seq_head")(a)
    last = GRU(2, seed=4, dtype="float64", name="gru")(Concatenate(name="cat")([a, b]))
    out_vec = Dense(1, seed=5, dtype="float64", name="vec_head")(last)
    model = Model([ids, series], [out_seq, out_vec])
    assert [layer.name for layer in model.layers].count("shared") == 1
    rng = np.random.default_rng(6)
    x_ids = np.array([[0, 0, 3, 4, 1], [2, 0, 5, 0, 1], [1, 2, 3, 4, 5], [0, 0, 0, 0, 0]])
    x_series = rng.standard_normal((4, 5, 4))
    x_series[0, 3:] = 0.0  # post-padded
    x_series[1, :2] = 0.0  # pre-padded
    x_series[2, 2] = 0.0  # a gap
    dy = [rng.standard_normal((4, 5, 2)), rng.standard_normal((4, 1))]

    def f() -> float:
        out = model.forward([x_ids, x_series], training=True)
        return float(sum(np.sum(o * d) for o, d in zip(out, dy)))

    f()
    dx = model.backward(dy)
    analytic = {k: g.copy() for k, g in model.grads.items()}
    assert max(check_gradients(f, model.params, analytic).values()) <= 1e-7
    # The series' gradient: Masking decides validity from exact zeros, so nudging a padded entry
    # would unmask its step; central differences on the valid entries, zeros on the padded ones.
    padded = np.all(x_series == 0.0, axis=-1)
    assert not dx[1][padded].any()
    eps = 1e-6
    for n, t in zip(*np.nonzero(~padded)):
        for k in range(4):
            x_series[n, t, k] += eps
            up = f()
            x_series[n, t, k] -= 2 * eps
            down = f()
            x_series[n, t, k] += eps
            numeric = (up - down) / (2 * eps)
            assert abs(numeric - dx[1][n, t, k]) <= 1e-7 * max(1.0, abs(numeric)), (n, t, k)
