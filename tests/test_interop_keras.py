"""rnnkit.interop.from_keras / to_keras: Keras 3's outputs, the same weights back, refusals.

Keras runs on its JAX backend here (as in tests/test_layers_keras.py) unless KERAS_BACKEND says
otherwise. JAX computes in float32 unless ``jax_enable_x64`` is set before it starts, which would
change every other Keras test in the process; the float64 comparison runs in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

from rnnkit.interop import from_keras, to_keras
from rnnkit.layers import (
    GRU,
    LSTM,
    Add,
    Bidirectional,
    Dense,
    Embedding,
    Input,
    SimpleRNN,
)
from rnnkit.models import Model, Sequential

# Keras's own get_weights() hands its variables to NumPy 2, which warns (not rnnkit's concern).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
# Relative error max|a - b| / max|b| allowed between rnnkit's and Keras's outputs.
TOLERANCE = {"float32": 1e-5, "float64": 1e-10}
# Options compared after a round trip (initialisers change form: a name becomes its class).
NOT_COMPARED = {"kernel_initializer", "recurrent_initializer", "bias_initializer", "seed"}


@pytest.fixture(scope="module")
def keras() -> Any:
    """Keras 3 on a CPU backend when installed (never required)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def randomise(model: Any, seed: int) -> Any:
    """Every weight U(-0.6, 0.6), biases included (Keras's zero biases would hide a bias bug)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(w.dtype) for w in weights])
    return model


def relative_error(a: Any, b: Any) -> float:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def keras_outputs(model: Any, x: np.ndarray) -> Any:
    """The model called eagerly (inference mode): faster than predict for tiny models."""
    import keras

    out = model(x, training=False)
    if isinstance(out, (list, tuple)):
        return [keras.ops.convert_to_numpy(o) for o in out]
    return keras.ops.convert_to_numpy(out)


def assert_same_weights(keras_model: Any, model: Any) -> None:
    """Layer by layer, the same arrays bit for bit (either side may be Keras or rnnkit, a model
    or a list of layers)."""
    first, second = (getattr(m, "layers", m) for m in (keras_model, model))
    assert len(first) == len(second)
    for theirs, ours in zip(first, second):
        assert theirs.name == ours.name
        for a, b in zip(theirs.get_weights(), ours.get_weights(), strict=True):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


def assert_same_configs(model: Any, again: Any) -> None:
    for layer, copy in zip(model.layers, again.layers, strict=True):
        assert type(copy) is type(layer)
        mine = {k: v for k, v in layer.get_config().items() if k not in NOT_COMPARED}
        theirs = {k: v for k, v in copy.get_config().items() if k not in NOT_COMPARED}
        assert theirs == mine


def check_both_ways(keras_model: Any, x: np.ndarray, valid: np.ndarray | None = None) -> Any:
    """Keras -> rnnkit gives Keras's outputs (at the ``valid`` steps when given) and weights;
    rnnkit -> Keras -> rnnkit gives the same weights and options. Returns the rnnkit model."""
    expected = keras_outputs(keras_model, x)
    model = from_keras(keras_model)
    assert model.name == keras_model.name
    assert_same_weights(keras_model, model)
    got = model.predict(x, verbose=0)
    if isinstance(expected, list):
        for a, b in zip(got, expected, strict=True):
            assert relative_error(a, b) <= TOLERANCE["float32"]
    elif valid is not None:
        assert relative_error(got[valid], expected[valid]) <= TOLERANCE["float32"]
    else:
        assert relative_error(got, expected) <= TOLERANCE["float32"]
    back = to_keras(model)
    assert_same_weights(back, model)
    assert_same_weights(keras_model, back)
    for theirs, ours in zip(keras_model.layers, back.layers):
        assert type(ours) is type(theirs)
    again = from_keras(back)
    assert_same_weights(again, model)
    assert_same_configs(model, again)
    return model


# -- recurrent layers, every option ------------------------------------------------------------
# The many small models below unroll in Keras (``unroll=True``, a carried option with no effect
# on the outputs): JAX then runs a few eager steps instead of compiling a scan for each model,
# ten times faster. The tests of masks, functional chains and the encoder-decoder keep Keras's
# default scan.
CELLS = {
    "rnn_tanh": lambda k, **o: k.layers.SimpleRNN(4, unroll=True, **o),
    "rnn_relu": lambda k, **o: k.layers.SimpleRNN(4, activation="relu", unroll=True, **o),
    "lstm": lambda k, **o: k.layers.LSTM(4, unroll=True, **o),
    "gru": lambda k, **o: k.layers.GRU(4, unroll=True, **o),
    "gru_reset_before": lambda k, **o: k.layers.GRU(4, reset_after=False, unroll=True, **o),
}


@pytest.mark.parametrize("cell", list(CELLS))
def test_stacked_recurrent_layers(keras: Any, cell: str) -> None:
    """Two layers of one cell: the first with a bias, the second without and backwards."""
    make = CELLS[cell]
    keras_model = keras.Sequential(
        [
            keras.Input((6, 3)),
            make(keras, return_sequences=True, name="first"),
            make(keras, go_backwards=True, use_bias=False, name="second"),
            keras.layers.Dense(2, activation="tanh"),
        ],
        name="stack",
    )
    x = np.random.default_rng(1).normal(size=(5, 6, 3)).astype("float32")
    model = check_both_ways(randomise(keras_model, seed=2), x)
    first, second = model.layers[0], model.layers[1]
    assert first.return_sequences and not first.go_backwards and first.use_bias
    assert not second.return_sequences and second.go_backwards and not second.use_bias
    assert first.activation == ("relu" if cell == "rnn_relu" else "tanh")
    if cell.startswith("gru"):
        assert first.reset_after == (cell == "gru")


def test_options_that_change_no_output_travel_too(keras: Any) -> None:
    """Dropout inside the cell, unroll, unit_forget_bias, seeds, initialisers, trainable."""
    lstm = keras.layers.LSTM(
        3,
        dropout=0.25,
        recurrent_dropout=0.5,
        unroll=True,
        unit_forget_bias=False,
        seed=7,
        kernel_initializer=keras.initializers.HeNormal(seed=3),
        return_sequences=True,
    )
    lstm.trainable = False
    gru = keras.layers.GRU(2, recurrent_activation="hard_sigmoid", activation="relu", unroll=True)
    keras_model = keras.Sequential([keras.Input((4, 3)), lstm, keras.layers.Dropout(0.5), gru])
    x = np.random.default_rng(3).normal(size=(2, 4, 3)).astype("float32")
    model = check_both_ways(randomise(keras_model, seed=4), x)
    converted = model.layers[0]
    assert (converted.dropout, converted.recurrent_dropout, converted.unroll) == (0.25, 0.5, True)
    assert not converted.unit_forget_bias and converted.seed == 7 and not converted.trainable
    assert converted.get_config()["kernel_initializer"] == {
        "class_name": "HeNormal",
        "config": {"seed": 3},
    }
    assert model.layers[1].rate == 0.5
    assert model.layers[2].get_config()["recurrent_activation"] == "hard_sigmoid"
    back = to_keras(model).layers[0]
    assert (back.dropout, back.recurrent_dropout, back.unroll, back.trainable) == (
        0.25,
        0.5,
        True,
        False,
    )
    assert back.get_config()["kernel_initializer"]["class_name"] == "HeNormal"


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_every_merge_mode(keras: Any, merge_mode: str | None) -> None:
    last = merge_mode is None  # two outputs: only the model's last layer can give them
    layers = [
        keras.Input((5, 3)),
        keras.layers.Bidirectional(
            keras.layers.GRU(4, return_sequences=True, unroll=True, name="gru"),
            merge_mode=merge_mode or "sum",
        ),
        keras.layers.Bidirectional(
            keras.layers.LSTM(
                3, return_sequences=not last, use_bias=False, unroll=True, name="lstm"
            ),
            merge_mode=merge_mode,
        ),
    ]
    x = np.random.default_rng(5).normal(size=(4, 5, 3)).astype("float32")
    model = check_both_ways(randomise(keras.Sequential(layers), seed=6), x)
    outer = model.layers[1]
    assert isinstance(outer, Bidirectional) and outer.merge_mode == merge_mode
    assert outer.forward_layer.name == "forward_lstm"
    assert outer.backward_layer.name == "backward_lstm" and outer.backward_layer.go_backwards
    assert not outer.forward_layer.use_bias


def test_repeat_vector_time_distributed_activation(keras: Any) -> None:
    """An encoder-decoder: the last state repeated, a decoder, a softmax at every step."""
    keras_model = keras.Sequential(
        [
            keras.Input((5, 3)),
            keras.layers.LSTM(4),
            keras.layers.RepeatVector(3),
            keras.layers.SimpleRNN(4, return_sequences=True),
            keras.layers.TimeDistributed(keras.layers.Dense(3)),
            keras.layers.Activation("softmax"),
            keras.layers.Dense(2, use_bias=False),  # on every step, as Keras applies it
        ]
    )
    x = np.random.default_rng(7).normal(size=(3, 5, 3)).astype("float32")
    model = check_both_ways(randomise(keras_model, seed=8), x)
    assert model.layers[1].n == 3 and model.layers[3].layer.units == 3


# -- masks ------------------------------------------------------------------------------------
def padded_ids(rng: np.random.Generator, lengths: list[int], steps: int, pre: bool) -> np.ndarray:
    ids = np.zeros((len(lengths), steps), dtype="int32")
    for row, n in enumerate(lengths):
        tokens = rng.integers(1, 9, size=n)
        if pre:
            ids[row, steps - n :] = tokens
        else:
            ids[row, :n] = tokens
    return ids


@pytest.mark.parametrize("pre_padding", [False, True])
def test_embedding_mask_zero_with_padded_sequences(keras: Any, pre_padding: bool) -> None:
    keras_model = keras.Sequential(
        [
            keras.Input((7,), dtype="int32"),
            keras.layers.Embedding(9, 4, mask_zero=True),
            keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True)),
            keras.layers.LSTM(3),
            keras.layers.Dense(2),
        ]
    )
    ids = padded_ids(np.random.default_rng(9), [7, 4, 1, 5], 7, pre_padding)
    model = check_both_ways(randomise(keras_model, seed=10), ids)
    assert model.layers[0].mask_zero
    # Without the mask the padding would count: the mask really reached the recurrent layers.
    unmasked = keras.Sequential([keras.Input((7,), dtype="int32")])
    for layer in to_keras(model).layers:
        if isinstance(layer, keras.layers.Embedding):
            layer = keras.layers.Embedding(9, 4)
        unmasked.add(layer)
    unmasked.layers[0].set_weights(model.layers[0].get_weights())
    assert relative_error(keras_outputs(unmasked, ids), model.predict(ids, verbose=0)) > 1e-3


@pytest.mark.parametrize("pre_padding", [False, True])
def test_masking_with_padded_sequences(keras: Any, pre_padding: bool) -> None:
    """Every valid step equals Keras's (the padded steps of a sequence output may differ:
    module docstring of rnnkit.interop.keras)."""
    rng = np.random.default_rng(11)
    lengths = [6, 3, 5]
    x = rng.normal(size=(3, 6, 2)).astype("float32")
    valid = padded_ids(rng, lengths, 6, pre_padding) > 0
    x[~valid] = 0.0
    keras_model = keras.Sequential(
        [
            keras.Input((6, 2)),
            keras.layers.Masking(0.0),
            keras.layers.SimpleRNN(3, return_sequences=True),
            keras.layers.GRU(3, return_sequences=True),
        ]
    )
    check_both_ways(randomise(keras_model, seed=12), x, valid=valid)


# -- functional chains ---------------------------------------------------------------------------
def test_a_functional_keras_chain(keras: Any) -> None:
    inputs = keras.Input((5, 3))
    hidden = keras.layers.LSTM(4, return_sequences=True)(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.GRU(3)(hidden))
    keras_model = randomise(keras.Model(inputs, outputs, name="chain"), seed=13)
    x = np.random.default_rng(14).normal(size=(2, 5, 3)).astype("float32")
    model = from_keras(keras_model)
    assert isinstance(model, Sequential) and [type(l) for l in model.layers] == [LSTM, GRU, Dense]
    assert relative_error(model.predict(x, verbose=0), keras_outputs(keras_model, x)) <= 1e-5
    assert_same_weights(keras_model.layers[1:], model)


def test_an_rnnkit_functional_chain_and_a_stateful_model(keras: Any) -> None:
    inputs = Input((5, 3), batch_size=2)
    hidden = SimpleRNN(4, return_sequences=True, stateful=True, seed=1)(inputs)
    model = Model(inputs, Dense(2, activation="sigmoid", seed=2)(hidden), name="functional")
    x = np.random.default_rng(15).normal(size=(2, 5, 3)).astype("float32")
    keras_model = to_keras(model)
    assert keras_model.layers[0].stateful and keras_model.inputs[0].shape == (2, 5, 3)
    assert_same_weights(keras_model, model)
    assert relative_error(model.predict(x, verbose=0), keras_outputs(keras_model, x)) <= 1e-5
    assert from_keras(keras_model).layers[0].stateful


def test_a_batch_size_fixed_by_keras_binds_only_stateful_layers(keras: Any) -> None:
    """A Keras model built by a call on data has that batch size in its input shape; rnnkit
    keeps it only where a stateful layer needs it."""
    keras_model = keras.Sequential([keras.layers.SimpleRNN(2, unroll=True)])
    keras_model(np.zeros((1, 4, 3), dtype="float32"))
    assert keras_model.inputs[0].shape == (1, 4, 3)
    x = np.random.default_rng(18).normal(size=(3, 4, 3)).astype("float32")
    model = from_keras(randomise(keras_model, seed=19))
    assert relative_error(model.predict(x, verbose=0), keras_outputs(keras_model, x)) <= 1e-5
    stateful = keras.Sequential(
        [keras.Input((4, 3), batch_size=3), keras.layers.GRU(2, stateful=True)]
    )
    with pytest.raises(ValueError, match="batch"):
        from_keras(stateful).predict(x[:2], verbose=0)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_last_layer_returning_its_states(keras: Any, bidirectional: bool) -> None:
    """Keras's [output, *states] outputs: a functional rnnkit Model, and back to Keras."""
    lstm = keras.layers.LSTM(3, return_state=True, unroll=True)
    last = keras.layers.Bidirectional(lstm, merge_mode="ave") if bidirectional else lstm
    inputs = keras.Input((5, 2))
    outputs = last(keras.layers.SimpleRNN(4, return_sequences=True, unroll=True)(inputs))
    keras_model = randomise(keras.Model(inputs, outputs), seed=20)
    x = np.random.default_rng(21).normal(size=(3, 5, 2)).astype("float32")
    expected = keras_outputs(keras_model, x)
    model = from_keras(keras_model)
    assert isinstance(model, Model) and not isinstance(model, Sequential)
    got = model.predict(x, verbose=0)
    assert len(got) == len(expected) == (5 if bidirectional else 3)
    for a, b in zip(got, expected, strict=True):
        assert relative_error(a, b) <= TOLERANCE["float32"]
    back = to_keras(model)
    assert isinstance(back, keras.Sequential) and back.layers[-1].return_state
    assert_same_weights(keras_model.layers[1:], back)  # Keras lists a functional's Input
    for a, b in zip(keras_outputs(back, x), expected, strict=True):
        np.testing.assert_array_equal(a, b)


# -- float64 -----------------------------------------------------------------------------------
FLOAT64_SCRIPT = """
import numpy as np, keras
from rnnkit.interop import from_keras, to_keras
keras.config.set_floatx("float64")
L = keras.layers
x = np.random.default_rng(0).normal(size=(3, 6, 2))
k = keras.Sequential([keras.Input((6, 2)),
    L.Bidirectional(L.LSTM(3, activation="linear", return_sequences=True, unroll=True)),
    L.GRU(4, activation="relu", reset_after=False, return_sequences=True, unroll=True),
    L.GRU(4, activation="linear", return_sequences=True, unroll=True),
    L.SimpleRNN(3, activation="relu", return_sequences=True, unroll=True),
    L.SimpleRNN(3, activation="linear", unroll=True), L.Dense(2, activation="sigmoid")])
rng = np.random.default_rng(1)
for layer in k.layers:
    layer.set_weights([rng.uniform(-0.6, 0.6, w.shape) for w in layer.get_weights()])
model = from_keras(k)
assert all(w.dtype == np.float64 for w in model.get_weights())
expected = np.asarray(k(x))
assert expected.dtype == np.float64 and np.std(expected) > 1e-3, expected
error = np.max(np.abs(model.predict(x, verbose=0) - expected)) / np.max(np.abs(expected))
back = to_keras(model)
assert all(np.array_equal(a, b) for a, b in zip(k.get_weights(), back.get_weights()))
print(error)
"""


def test_float64_matches_keras_on_jax_with_x64(keras: Any) -> None:
    """Keras 3.15's ``ops.tanh`` computes in float32 even on float64 input (its
    ``result_type(float64, float)`` is float32), so its float64 tanh cells are float32-accurate;
    the float64 model uses the activations Keras computes in float64 (linear, relu, sigmoid)."""
    pytest.importorskip("jax")
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_ENABLE_X64": "1"}
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FLOAT64_SCRIPT)],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert float(run.stdout.split()[-1]) <= TOLERANCE["float64"]


@pytest.mark.filterwarnings("ignore:Explicitly requested dtype float64:UserWarning")
def test_to_keras_warns_when_the_backend_rounds_float64(keras: Any) -> None:
    model = Sequential([Input((4, 2)), LSTM(3, dtype="float64", seed=0)])
    stored = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, dtype="float64")])
    kernel = keras.ops.convert_to_numpy(stored.layers[0].kernel.value)
    if kernel.dtype == np.float64:  # a backend that keeps float64 (not JAX without x64)
        assert_same_weights(to_keras(model), model)
    else:
        with pytest.warns(RuntimeWarning, match="rounds them"):
            to_keras(model)


# -- refusals ------------------------------------------------------------------------------------
def keras_refusals(keras: Any) -> list[tuple[Any, type[Exception], str]]:
    layers = keras.layers

    class MyDense(layers.Dense):
        pass

    def sequential(*stack: Any, shape: tuple[int | None, ...] = (5, 3)) -> Any:
        return keras.Sequential([keras.Input(shape), *stack])

    inputs = keras.Input((5, 3))
    lstm = layers.LSTM(2, return_sequences=True)
    branch = keras.Model(
        inputs, layers.Add()([lstm(inputs), layers.GRU(2, return_sequences=True)(inputs)])
    )
    shared = layers.Dense(3)
    twice = keras.Model(inputs, shared(shared(inputs)))
    mid_states = keras.Model(inputs, layers.Dense(1)(layers.GRU(2, return_state=True)(inputs)[0]))
    h, c = layers.LSTM(2, return_state=True)(inputs)[1:]
    states = keras.Model(inputs, [c, h])  # not [output, *states] in order
    return [
        (sequential(MyDense(2)), TypeError, "MyDense"),
        (sequential(layers.Conv1D(2, 2)), TypeError, "Conv1D"),
        (sequential(layers.LSTM(2, kernel_regularizer="l2")), ValueError, "kernel_regularizer"),
        (sequential(layers.GRU(2, bias_constraint="non_neg")), ValueError, "bias_constraint"),
        (sequential(layers.Dense(2, dtype="mixed_float16")), ValueError, "mixed_float16"),
        (sequential(layers.Dense(2, activation="gelu")), ValueError, "'dense.*gelu"),
        (sequential(layers.Dropout(0.5, noise_shape=(None, 1, 3))), ValueError, "noise_shape"),
        (mid_states, ValueError, "return_state=True before the last layer"),
        (keras.Sequential([layers.Dense(2)]), ValueError, "build the Keras model"),
        (branch, ValueError, "not a chain"),
        (twice, ValueError, "more than once"),
        (states, ValueError, "2 outputs"),
        (layers.Dense(2), TypeError, "Sequential or functional"),
        (keras.Model(inputs, inputs), ValueError, "no layers"),
    ]


def test_from_keras_refuses(keras: Any) -> None:
    for keras_model, error, match in keras_refusals(keras):
        with pytest.raises(error, match=match):
            from_keras(keras_model)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(TypeError, match="strict must be True or False"):
        from_keras(model, strict="no")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="strict must be True or False"):
        to_keras(from_keras(model), strict=None)  # type: ignore[arg-type]


def test_strict_false_drops_what_shapes_training_only(keras: Any) -> None:
    lstm = keras.layers.LSTM(2, kernel_regularizer="l2", recurrent_constraint="non_neg")
    keras_model = randomise(keras.Sequential([keras.Input((5, 3)), lstm]), seed=16)
    model = from_keras(keras_model, strict=False)
    x = np.random.default_rng(17).normal(size=(2, 5, 3)).astype("float32")
    assert relative_error(model.predict(x, verbose=0), keras_outputs(keras_model, x)) <= 1e-5


def rnnkit_refusals() -> list[tuple[Any, type[Exception], str]]:
    inputs = Input((5, 3))
    first, second = SimpleRNN(2, return_sequences=True), SimpleRNN(2, return_sequences=True)
    branch = Model(inputs, Add()([first(inputs), second(inputs)]))
    return [
        (Sequential([Input((5, 3)), SimpleRNN(2, layer_norm=True)]), ValueError, "layer_norm"),
        (Sequential([Input((5, 3)), GRU(2, stateful=True)]), ValueError, "batch_size"),
        (Sequential([Input((5, 3)), LSTM(2, kernel_initializer="torch")]), ValueError, "torch"),
        (Sequential([LSTM(2)]), ValueError, "build the model first"),
        (branch, ValueError, "not a chain"),
        (Embedding(3, 2), TypeError, "Sequential"),
    ]


@pytest.mark.parametrize(("model", "error", "match"), rnnkit_refusals())
def test_to_keras_refuses(keras: Any, model: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        to_keras(model)


def test_to_keras_strict_false_leaves_keras_s_initializer(keras: Any) -> None:
    model = Sequential([Input((5, 3)), LSTM(2, kernel_initializer="torch", seed=0)])
    assert_same_weights(to_keras(model, strict=False), model)


def test_without_keras_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keras", None)  # `import keras` now raises ImportError
    for convert in (from_keras, to_keras):
        with pytest.raises(ImportError, match=r'pip install "rnnkit\[keras\]"'):
            convert(None)


def test_importing_rnnkit_interop_does_not_import_keras() -> None:
    code = (
        "import sys, rnnkit, rnnkit.interop; "
        "assert not {'keras', 'jax'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
