"""Keras's subclassed models that write only ``call()``: forward and backward derived from the
layer calls ``call()`` makes (rnnkit.functional.traced)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rnnkit.gradcheck import check_gradients
from rnnkit.layers import Add, Concatenate, Dense, Dropout, Input, SimpleRNN, TimeDistributed
from rnnkit.models import Model, load_model

N, S, T, D, H = 6, 5, 4, 3, 5


class CallSeq2Seq(Model):
    """The encoder-decoder of rnnkit.models' docstring, written as Keras users write it."""

    def __init__(self, units: int = H, name: str | None = None) -> None:
        super().__init__(name=name)
        self.units = units
        self.encoder = SimpleRNN(units, return_state=True, seed=1, name="encoder")
        self.decoder = SimpleRNN(units, return_sequences=True, seed=2, name="decoder")
        self.head = TimeDistributed(Dense(2, seed=3), name="head")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        source, target_in = inputs
        _, h = self.encoder(source)
        hs = self.decoder(target_in, initial_state=h)
        return self.head(hs)

    def get_config(self) -> dict[str, Any]:
        return {"units": self.units, "name": self.name}


def functional_seq2seq() -> Model:
    source, target_in = Input((S, D)), Input((T, 2))
    _, h = SimpleRNN(H, return_state=True, seed=1, name="encoder")(source)
    hs = SimpleRNN(H, return_sequences=True, seed=2, name="decoder")(target_in, initial_state=h)
    return Model([source, target_in], TimeDistributed(Dense(2, seed=3), name="head")(hs))


def seq2seq_data(n: int = 16) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((n, S, D)), rng.standard_normal((n, T, 2))]
    return x, rng.standard_normal((n, T, 2))


class SharedTwoInputs(Model):
    """Two inputs (a list) through one shared recurrent layer, merged, then a head."""

    def __init__(self, dtype: str = "float32", name: str | None = None) -> None:
        super().__init__(name=name)
        self.dtype_name = dtype
        self.rnn = SimpleRNN(H, seed=4, dtype=dtype, name="shared_rnn")
        self.merge = Concatenate()
        self.add = Add()
        self.out = Dense(1, seed=5, dtype=dtype, name="out")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        a, b = inputs
        ha, hb = self.rnn(a), self.rnn(b)
        return self.out(self.merge([self.add([ha, hb]), hb]))

    def get_config(self) -> dict[str, Any]:
        return {"dtype": self.dtype_name, "name": self.name}


def two_inputs(dtype: str = "float32") -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.standard_normal((N, T, D)).astype(dtype) for _ in range(2)]


def test_call_model_trains_like_the_functional_model() -> None:
    x, y = seq2seq_data()
    histories = []
    for model in (CallSeq2Seq(), functional_seq2seq()):
        model.compile(optimizer="adam", loss="mse")
        histories.append(model.fit(x, y, epochs=4, batch_size=4, seed=3, verbose=0))
    np.testing.assert_allclose(
        histories[0].history["loss"], histories[1].history["loss"], rtol=1e-6
    )
    assert [layer.name for layer in CallSeq2Seq().layers] == ["encoder", "decoder", "head"]


def test_two_inputs_with_a_shared_layer() -> None:
    model = SharedTwoInputs()
    x = two_inputs()
    out = model.predict(x)
    assert out.shape == (N, 1)
    assert len(model.layers) == 4 and model.count_params() == 4 * 0 + (
        D * H + H * H + H + 2 * H + 1
    )
    model.compile(optimizer="sgd", loss="mse")
    before = model.evaluate(x, np.zeros((N, 1)), verbose=0)
    model.fit(x, np.zeros((N, 1)), epochs=5, batch_size=N, verbose=0)
    assert model.evaluate(x, np.zeros((N, 1)), verbose=0) < before


def test_gradients_of_a_call_model_with_a_shared_layer() -> None:
    model = SharedTwoInputs(dtype="float64")
    x = two_inputs("float64")
    dy = np.random.default_rng(2).standard_normal((N, 1))

    def f() -> float:
        return float(np.sum(model.forward(x) * dy))

    f()
    dx = model.backward(dy)
    analytic = {**{k: g.copy() for k, g in model.grads.items()}, "x0": dx[0], "x1": dx[1]}
    params = {**model.params, "x0": x[0], "x1": x[1]}
    assert max(check_gradients(f, params, analytic).values()) <= 1e-7


class Branching(Model):
    """Dropout only while training (a Python branch on ``training``), and a mask= argument."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name)
        self.rnn = SimpleRNN(H, seed=6, name="rnn")
        self.dropout = Dropout(0.5, seed=7)
        self.out = Dense(1, seed=8, name="out")

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        h = self.rnn(inputs)
        if training:
            h = self.dropout(h, training=training)
        return self.out(h)


def test_training_branch_and_flag_reach_the_layers() -> None:
    model = Branching()
    x = np.random.default_rng(3).standard_normal((N, T, D)).astype("float32")
    inference = model.predict(x)
    np.testing.assert_array_equal(inference, model.predict(x))
    assert "dropout" not in model.summary(print_fn=None)
    trained = model.forward(x, training=True)
    assert not np.allclose(trained, inference)  # the dropout branch ran
    assert "Dropout" in model.summary(print_fn=None)  # the training trace
    model.backward(np.ones_like(trained))
    assert np.any(model.get_layer("rnn").grads["Wx"] != 0)
    np.testing.assert_array_equal(model.forward(x), inference)  # both traces kept


def test_another_sequence_length_retraces_with_a_relaxed_shape() -> None:
    model = CallSeq2Seq()
    x, _ = seq2seq_data(4)
    first = model.predict(x)
    longer = [np.concatenate([x[0], x[0]], axis=1), x[1]]
    assert model.predict(longer).shape == first.shape
    np.testing.assert_array_equal(model.predict(x), first)


def test_numpy_on_a_traced_tensor_names_the_layer_to_use() -> None:
    class Tanh(Model):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = SimpleRNN(H)

        def call(self, inputs: Any, training: bool | None = None) -> Any:
            return self.rnn(np.tanh(inputs))

    class Plus(Model):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = SimpleRNN(H)

        def call(self, inputs: Any, training: bool | None = None) -> Any:
            a, b = inputs
            return self.rnn(a + b)

    x = np.zeros((N, T, D), dtype="float32")
    with pytest.raises(TypeError, match=r"Tanh\.call\(\).*symbolic.*Use a layer instead: Add"):
        Tanh().predict(x)
    with pytest.raises(TypeError, match=r"Plus\.call\(\).*Add\(\) or Concatenate\(\)"):
        Plus().predict([x, x])


def test_call_must_return_tensors_and_use_tracked_layers() -> None:
    class ReturnsArray(Model):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = SimpleRNN(H)

        def call(self, inputs: Any, training: bool | None = None) -> Any:
            self.rnn(inputs)
            return np.zeros(3)

    class MakesLayers(Model):
        def call(self, inputs: Any, training: bool | None = None) -> Any:
            return Dense(1)(inputs)

    x = np.zeros((N, D), dtype="float32")
    with pytest.raises(TypeError, match=r"must return the output of a layer call.*ndarray"):
        ReturnsArray().predict(np.zeros((N, T, D), dtype="float32"))
    with pytest.raises(TypeError, match=r"not attributes of model.*in __init__"):
        MakesLayers().predict(x)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    for model, x in ((CallSeq2Seq(), seq2seq_data(4)[0]), (SharedTwoInputs(), two_inputs())):
        model.compile(optimizer="adam", loss="mse")
        y = np.zeros_like(model.predict(x))
        model.fit(x, y, epochs=2, batch_size=2, verbose=0)
        path = model.save(tmp_path / f"{model.name}.npz")
        loaded = load_model(path, custom_objects={type(model).__name__: type(model)})
        assert type(loaded) is type(model)
        assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
        np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
        loaded.fit(x, y, epochs=1, batch_size=2, verbose=0)  # the optimizer state came back


def test_summary_needs_a_first_call_then_shows_the_traced_graph() -> None:
    model = CallSeq2Seq(name="s2s")
    with pytest.raises(ValueError, match="not yet been built"):
        model.summary(print_fn=None)
    model.predict(seq2seq_data(2)[0])
    text = model.summary(print_fn=None)
    assert 'Model: "s2s"' in text and "decoder (SimpleRNN)" in text
    assert "encoder[0][1]" in text  # the decoder's initial state
    assert f"Total params: {model.count_params():,}" in text


def test_dict_inputs_and_lengths() -> None:
    class Named(Model):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = SimpleRNN(H, seed=9, name="rnn")
            self.out = Dense(1, seed=10, name="out")

        def call(self, inputs: Any, training: bool | None = None) -> Any:
            return self.out(self.rnn(inputs["series"]))

    model = Named()
    x = np.random.default_rng(4).standard_normal((N, T, D)).astype("float32")
    lengths = np.array([4, 3, 2, 4, 1, 3])
    masked = model.predict({"series": x}, lengths=lengths)
    cut = x.copy()
    cut[1, 3:] = 99.0  # beyond sample 1's length: no effect
    np.testing.assert_allclose(model.predict({"series": cut}, lengths=lengths), masked)


def test_a_model_without_call_or_forward_still_says_what_to_implement() -> None:
    class Empty(Model):
        pass

    with pytest.raises(NotImplementedError, match="forward"):
        Empty().predict(np.zeros((2, 3)))


def test_a_call_model_is_not_a_layer_of_another_graph() -> None:
    with pytest.raises(TypeError, match="nested models are not supported"):
        CallSeq2Seq()([Input((S, D)), Input((T, 2))])
