"""rnnkit.generate's step runner (rnnkit._generation) gives exactly the text of the path that
feeds each character through model.forward, for every model kind it runs; other models take
that path; the sampler draws what Generator.choice draws; the model's states are left alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import rnnkit
from rnnkit import ops
from rnnkit._generation import Sampler, StepRunner
from rnnkit.layers import (
    GRU,
    LSTM,
    Activation,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Input,
    SimpleRNN,
    TimeDistributed,
)
from rnnkit.layers.recurrent import scoped_states
from rnnkit.models import Model, Sequential
from rnnkit.text import CharVocab, recurrent_layers, sample_logits

VOCAB = CharVocab("abcdefghij \n")
V = len(VOCAB)


def stack(*layers: Any, dtype: str = "float32") -> Sequential:
    """A char model on ids (or one-hot rows when the first layer is not an Embedding), with
    logits sharpened so that sampling is far from uniform."""
    model = Sequential(list(layers))
    first = layers[0]
    model.build((None,) if isinstance(first, Embedding) else (None, V))
    rng = np.random.default_rng(5)
    model.set_weights(
        [w + rng.normal(0, 0.3, w.shape).astype(w.dtype) for w in model.get_weights()]
    )
    return model


def head(td: bool = True, dtype: str = "float32") -> Any:
    dense = Dense(V, seed=3, dtype=dtype)
    return TimeDistributed(dense) if td else dense


MODELS: dict[str, Callable[[], Sequential]] = {
    "simple_rnn": lambda: stack(
        Embedding(V, 8, seed=1), SimpleRNN(16, return_sequences=True, seed=2), head()
    ),
    "lstm": lambda: stack(
        Embedding(V, 8, seed=1), LSTM(16, return_sequences=True, seed=2), head(td=False)
    ),
    "gru_with_dropout": lambda: stack(
        Embedding(V, 8, seed=1),
        GRU(12, return_sequences=True, dropout=0.3, recurrent_dropout=0.3, seed=2),
        head(),
    ),
    "gru_reset_before": lambda: stack(
        Embedding(V, 8, seed=1),
        GRU(12, return_sequences=True, reset_after=False, go_backwards=True, seed=2),
        head(),
    ),
    "stacked_one_hot": lambda: stack(
        SimpleRNN(16, return_sequences=True, seed=2, input_shape=(None, V)),
        Dropout(0.3),
        LSTM(8, return_sequences=True, seed=4),
        Dense(10, activation="tanh", seed=5),
        Activation("relu"),
        head(),
    ),
    "layer_norm_float64": lambda: stack(
        Embedding(V, 6, seed=1, dtype="float64"),
        SimpleRNN(10, return_sequences=True, layer_norm=True, seed=2, dtype="float64"),
        head(dtype="float64"),
    ),
    "numpy_backend": lambda: stack(
        Embedding(V, 8, seed=1), GRU(8, return_sequences=True, seed=2, backend="numpy"), head()
    ),
}


def generate_by_forward(monkeypatch: pytest.MonkeyPatch, *args: Any, **kwargs: Any) -> str:
    """rnnkit.generate on its model.forward path (the text of every release before the runner)."""
    with monkeypatch.context() as patch:
        patch.setattr(StepRunner, "for_model", classmethod(lambda cls, model, size: None))
        return rnnkit.generate(*args, **kwargs)


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_step_runner_gives_the_text_of_the_forward_path(kind, monkeypatch):
    model = MODELS[kind]()
    assert StepRunner.for_model(model, V) is not None  # the fast path is the one under test
    for seed, temperature in ((0, 0.0), (1, 0.5), (2, 1.0), (3, 2.0)):
        fast = rnnkit.generate(model, "abc d", 60, temperature, seed=seed, vocab=VOCAB)
        slow = generate_by_forward(monkeypatch, model, "abc d", 60, temperature, seed, VOCAB)
        assert fast == slow, (kind, seed, temperature)
        assert len(fast) == 60
    # Temperature 1 draws vary with the seed (the comparison above is not of constant text).
    texts = {rnnkit.generate(model, "a", 30, 1.0, seed=s, vocab=VOCAB) for s in range(4)}
    assert len(texts) > 1


@pytest.mark.parametrize("kind", ["lstm", "stacked_one_hot", "layer_norm_float64"])
def test_each_step_gives_the_logits_of_a_one_step_forward_bit_for_bit(kind):
    model = MODELS[kind]()
    ids = VOCAB.encode("abcj \nhe")
    one_hot = not isinstance(model.layers[0], Embedding)
    x = np.eye(V, dtype=model.dtype)[ids][None] if one_hot else ids[None]
    with scoped_states(recurrent_layers(model), stateful=True):
        want = [model.forward(x[:, t : t + 1])[0, 0].copy() for t in range(len(ids))]
    with scoped_states(recurrent_layers(model), stateful=True):
        np.testing.assert_array_equal(model.forward(x[:, :1])[0, 0], want[0])
        runner = StepRunner.for_model(model, V)
        assert runner is not None
        for t in range(1, len(ids)):
            logits = runner.step(int(ids[t]))
            assert logits.dtype == want[t].dtype
            np.testing.assert_array_equal(logits, want[t])
        assert not np.array_equal(want[1], want[2])  # the steps differ: the state moves on


def test_models_without_a_step_path_take_the_forward_path(monkeypatch):
    inputs = Input((None,), dtype="int64")
    h = SimpleRNN(8, return_sequences=True, seed=2)(Embedding(V, 4, seed=1)(inputs))
    functional = Model(inputs, TimeDistributed(Dense(V, seed=3))(h))
    masked = stack(Embedding(V, 4, mask_zero=True, seed=1), LSTM(8, return_sequences=True), head())
    both_ways = stack(
        Embedding(V, 4, seed=1), Bidirectional(SimpleRNN(4, return_sequences=True)), head()
    )

    class OwnForward(Dense):
        def forward(self, x, training=False, lengths=None):
            return super().forward(x, training, lengths) * 2

    subclassed = stack(Embedding(V, 4, seed=1), GRU(6, return_sequences=True), OwnForward(V))
    wrapped = stack(
        Embedding(V, 4, seed=1), GRU(6, return_sequences=True), TimeDistributed(OwnForward(V))
    )
    for model in (functional, masked, both_ways, subclassed, wrapped):
        assert StepRunner.for_model(model, V) is None
        fast = rnnkit.generate(model, "ab", 25, 0.8, seed=4, vocab=VOCAB)
        assert fast == generate_by_forward(monkeypatch, model, "ab", 25, 0.8, 4, VOCAB)
    assert SimpleRNN(4).step_function(1) is None  # not built
    last_only = SimpleRNN(4, input_shape=(None, 3))
    assert last_only.step_function(1) is None  # a last-state output has no step to give


@pytest.mark.parametrize("stateful", [False, True])
def test_generate_restores_stateful_flags_and_carried_states(stateful):
    model = MODELS["stacked_one_hot"]()
    layers = recurrent_layers(model)
    carried = []
    for layer in layers:
        layer.stateful = stateful
        carried.append([np.full((1, layer.units), 0.25, dtype=layer.dtype)] * (
            2 if isinstance(layer, LSTM) else 1
        ))  # fmt: skip
        layer.states = carried[-1] if stateful else None
    before = [None if s is None else [a.copy() for a in s] for s in (la.states for la in layers)]
    rnnkit.generate(model, "hi cafe", 20, 0.5, seed=0, vocab=VOCAB)
    for layer, saved in zip(layers, before):
        assert layer.stateful is stateful
        if saved is None:
            assert layer.states is None
        else:
            assert all(np.array_equal(a, b) for a, b in zip(layer.states, saved))


def test_sampler_draws_what_generator_choice_draws():
    rng = np.random.default_rng(0)
    for size in (1, 2, 7, 96, 300):
        for temperature in (1e-3, 0.3, 1.0, 4.0):
            logits = (rng.standard_normal(size) * 5).astype(np.float32)
            sampler = Sampler(size, temperature, np.random.default_rng(size))
            reference = np.random.default_rng(size)
            got = [sampler(logits) for _ in range(40)]
            want = [sample_logits(logits, temperature, reference) for _ in range(40)]
            assert got == want, (size, temperature)
    assert Sampler(3, 0.0, rng)(np.array([0.5, 2.0, 2.0], np.float32)) == 1  # greedy, ties first
    with pytest.raises(ValueError, match="not finite"):
        Sampler(3, 1.0, rng)(np.array([0.0, np.nan, 1.0], np.float32))


def test_embedding_step_refuses_ids_out_of_range():
    layer = Embedding(5, 3, input_shape=(None,))
    step = layer.step_function(1)
    assert step is not None
    np.testing.assert_array_equal(step(np.array([4])), layer.params["embeddings"][[4]])
    for bad in (5, -1):
        with pytest.raises(ValueError, match=r"\[0, 5\)"):
            step(np.array([bad]))
    rows = layer.step_function(3)(np.array([0, 2, 2]))  # several rows: the take path
    np.testing.assert_array_equal(rows, layer.params["embeddings"][[0, 2, 2]])
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        layer.step_function(2)(np.array([1, 7]))


@pytest.mark.parametrize(
    ("forward", "states", "kwargs"),
    [
        (ops.rnn_forward, ("h0",), {"activation": "relu"}),
        (ops.lstm_forward, ("h0", "c0"), {}),
        (ops.gru_forward, ("h0",), {"reset_after": False}),
    ],
)
def test_repeat_forward_is_the_first_calls_kernel_on_new_inputs(forward, states, kwargs):
    rng = np.random.default_rng(1)
    n, d, h = 3, 4, 5
    gates = {"rnn_forward": 1, "lstm_forward": 4, "gru_forward": 3}[forward.__name__]
    Wx, Wh = rng.normal(size=(d, gates * h)), rng.normal(size=(h, gates * h))
    b = rng.normal(size=gates * h)
    first = forward(rng.normal(size=(n, 2, d)), Wx, Wh, b, **kwargs)
    cache = first[-1]
    x = rng.normal(size=(n, 1, d))
    initial = {name: rng.normal(size=(n, h)) for name in states}
    want = forward(x, Wx, Wh, b, **initial, **kwargs)
    hs, finals = ops.repeat_forward(cache, x, tuple(initial.values()))
    np.testing.assert_array_equal(hs, want[0])
    for got, expected in zip(finals, want[1:-1]):
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(TypeError, match="float64"):
        ops.repeat_forward(cache, x.astype(np.float32), tuple(initial.values()))
