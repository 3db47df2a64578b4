"""Issue #11's promise, tested: short Keras 3 programs, written once for these tests as Keras
source, run on rnnkit with only the imports changed, and on Keras itself when it is installed.

Each program is Keras source text using only the module names a Keras user writes
(``import keras``, ``from keras import layers, callbacks, ...``). :func:`run_program` executes it

* on rnnkit, with its import lines rewritten ``keras`` -> ``rnnkit`` (``import keras`` becomes
  ``import rnnkit as keras``) and one more documented rewrite: a weights file named
  ``*.weights.h5`` is named ``*.weights.npz`` (rnnkit writes no HDF5; README, "Keras training
  features not supported"). Nothing else in a program is changed;
* on Keras 3 (JAX backend, as CI installs it), as written.

A program ends by binding ``result``, a dict of what it produced (histories, predictions,
evaluations). Each program's ``check`` asserts on it -- losses fall, a learnable task is learnt,
and exact equalities where the semantics are deterministic (the same model's predictions through
two routes, a reloaded checkpoint's loss, ``pad_sequences`` values) -- for whichever library
ran it; the rnnkit run always happens. When Keras is installed the two results must also have
the same structure (keys, types, shapes, dtypes), and ``exact`` keys must be equal.
"""

from __future__ import annotations

import os
import re
import textwrap
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rnnkit import _seeding

Result = dict[str, Any]


@dataclass
class Program:
    source: str
    check: Callable[[Result], None]
    exact: tuple[str, ...] = ()  # keys whose values must equal Keras's
    loose: tuple[str, ...] = ()  # keys compared by type only (e.g. histories cut by EarlyStopping)


PROGRAMS: dict[str, Program] = {}


def program(
    name: str, source: str, *, exact: tuple[str, ...] = (), loose: tuple[str, ...] = ()
) -> Callable[[Callable[[Result], None]], Callable[[Result], None]]:
    """Register ``source`` under ``name``; the decorated function checks its result."""

    def register(check: Callable[[Result], None]) -> Callable[[Result], None]:
        PROGRAMS[name] = Program(textwrap.dedent(source), check, exact, loose)
        return check

    return register


# -- running a program ------------------------------------------------------------------------

_IMPORT = re.compile(r"^(\s*)import keras\s*$", re.MULTILINE)
_FROM = re.compile(r"^(\s*)from keras(\.[\w.]+)? import ", re.MULTILINE)


def to_rnnkit(source: str) -> str:
    """The only changes a program gets: its imports, and the weights-file suffix."""
    source = _IMPORT.sub(r"\1import rnnkit as keras", source)
    source = _FROM.sub(lambda m: f"{m.group(1)}from rnnkit{m.group(2) or ''} import ", source)
    return source.replace(".weights.h5", ".weights.npz")


def run_program(name: str, library: str, workdir: Path) -> Result:
    source = PROGRAMS[name].source
    if library == "rnnkit":
        source = to_rnnkit(source)
        assert not re.search(r"^\s*(import|from) keras\b", source, re.MULTILINE)  # all mapped
    namespace: dict[str, Any] = {"__name__": f"program_{name}", "workdir": str(workdir)}
    with warnings.catch_warnings():
        if library == "keras":  # Keras's own, from Variable.numpy() under NumPy 2
            warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
            warnings.filterwarnings("ignore", "`shuffle=True` was passed", UserWarning)
        exec(compile(source, f"<{name} on {library}>", "exec"), namespace)
    result = namespace["result"]
    assert isinstance(result, dict)
    return result


@pytest.fixture(autouse=True)
def _forget_default_seeds() -> Iterator[None]:
    yield
    _seeding.set_random_seed(None)  # a program's set_random_seed must not leak into other tests


def _keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def structure(value: Any) -> Any:
    """What must agree between the libraries: containers, keys, array shapes and dtypes."""
    if isinstance(value, dict):
        return {key: structure(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [structure(item) for item in value]
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return ("array", value.shape, value.dtype.kind)
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.number, np.ndarray)):
        return "number"
    return type(value).__name__


def _history_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return sorted(value)
    return structure(value)


# -- (1) the functional API ---------------------------------------------------------------------


@program(
    "encoder_decoder",
    """
    import numpy as np
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    source = rng.standard_normal((128, 5, 3)).astype("float32")
    target = source[:, ::-1]
    target_in = np.concatenate([np.zeros_like(target[:, :1]), target[:, :-1]], axis=1)

    encoder_inputs = keras.Input(shape=(None, 3))
    _, state_h, state_c = layers.LSTM(32, return_state=True)(encoder_inputs)
    decoder_inputs = keras.Input(shape=(None, 3))
    decoder_lstm = layers.LSTM(32, return_sequences=True, return_state=True)
    decoder_seq, _, _ = decoder_lstm(decoder_inputs, initial_state=[state_h, state_c])
    decoder_dense = layers.Dense(3)
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_dense(decoder_seq))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    history = model.fit([source, target_in], target, epochs=25, batch_size=32, verbose=0)

    # Inference models sharing the trained layers; greedy decoding one step at a time.
    encoder_model = keras.Model(encoder_inputs, [state_h, state_c])
    h_in, c_in = keras.Input(shape=(32,)), keras.Input(shape=(32,))
    step_seq, h, c = decoder_lstm(decoder_inputs, initial_state=[h_in, c_in])
    decoder_model = keras.Model([decoder_inputs, h_in, c_in], [decoder_dense(step_seq), h, c])

    states = encoder_model.predict(source[:8], verbose=0)
    step = np.zeros((8, 1, 3), "float32")
    decoded = []
    for _ in range(5):
        y, h, c = decoder_model.predict([step, *states], verbose=0)
        decoded.append(y[:, 0])
        step, states = y, [h, c]
    teacher_forced = model.predict([source[:8], target_in[:8]], verbose=0)
    result = {
        "history": history.history,
        "states": states,
        "decoded": np.stack(decoded, axis=1),
        "teacher_forced": teacher_forced,
    }
    """,
)
def _encoder_decoder(result: Result) -> None:
    loss = result["history"]["loss"]
    assert len(loss) == 25 and loss[-1] < 0.7 * loss[0]
    assert result["decoded"].shape == result["teacher_forced"].shape == (8, 5, 3)
    assert [s.shape for s in result["states"]] == [(8, 32), (8, 32)]
    # The first decoder input is zeros either way: the shared layers give the same first step.
    np.testing.assert_allclose(
        result["decoded"][:, 0], result["teacher_forced"][:, 0], rtol=1e-4, atol=1e-5
    )


@program(
    "two_inputs",
    """
    import numpy as np
    import keras
    from keras import layers

    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    series = rng.standard_normal((256, 10, 1)).astype("float32")
    extra = rng.standard_normal((256, 2)).astype("float32")
    y = series.mean(axis=(1, 2)) * 3 + extra[:, 0] - 0.5 * extra[:, 1]

    series_in = keras.Input(shape=(10, 1), name="series")
    extra_in = keras.Input(shape=(2,), name="extra")
    x = layers.GRU(16)(series_in)
    x = layers.Concatenate()([x, extra_in])
    x = layers.Dense(16, activation="relu")(x)
    output = layers.Dense(1)(x)
    model = keras.Model(inputs=[series_in, extra_in], outputs=output)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    history = model.fit(
        {"series": series, "extra": extra}, y, validation_split=0.25, epochs=20, verbose=0
    )
    result = {
        "history": history.history,
        "evaluate": model.evaluate([series, extra], y, verbose=0),
        "predictions": model.predict([series[:4], extra[:4]], verbose=0),
        "variance": float(y.var()),
    }
    """,
)
def _two_inputs(result: Result) -> None:
    history = result["history"]
    assert sorted(history) == ["loss", "mae", "val_loss", "val_mae"]
    assert history["val_loss"][-1] < 0.3 * result["variance"] < history["val_loss"][0]
    loss, mae = result["evaluate"]
    assert loss < 0.3 * result["variance"] and 0 < mae < 1
    assert result["predictions"].shape == (4, 1)


# -- (2) a subclassed model with only __init__ and call() ---------------------------------------


@program(
    "subclassed_call",
    """
    import numpy as np
    import keras
    from keras import layers

    class SignClassifier(keras.Model):
        def __init__(self, units=16, **kwargs):
            super().__init__(**kwargs)
            self.rnn = layers.SimpleRNN(units)
            self.dropout = layers.Dropout(0.1)
            self.classifier = layers.Dense(1, activation="sigmoid")

        def call(self, inputs, training=False):
            x = self.rnn(inputs)
            x = self.dropout(x, training=training)
            return self.classifier(x)

    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((512, 8, 1)).astype("float32")
    y = (x.sum(axis=(1, 2)) > 0).astype("float32")
    model = SignClassifier()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=32, validation_split=0.2, verbose=0)
    probabilities = model.predict(x[:5], verbose=0)
    result = {
        "history": history.history,
        "evaluate": model.evaluate(x, y, verbose=0),
        "probabilities": probabilities,
        "layers": len(model.layers),
    }
    """,
)
def _subclassed_call(result: Result) -> None:
    history = result["history"]
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.85
    assert result["evaluate"][1] > 0.85
    p = result["probabilities"]
    assert p.shape == (5, 1) and ((p > 0) & (p < 1)).all()
    assert result["layers"] == 3


# -- (3) masks: pre-padded token ids, and padded float series -----------------------------------


@program(
    "text_classifier",
    """
    import numpy as np
    import keras
    from keras import layers
    from keras.utils import pad_sequences

    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    texts, labels = [], []
    for _ in range(400):
        words = list(rng.integers(2, 20, rng.integers(2, 12)))
        label = int(rng.integers(0, 2))
        if label:  # the positive class contains word 1 somewhere
            words[int(rng.integers(0, len(words)))] = 1
        texts.append(words)
        labels.append(label)
    x = pad_sequences(texts, maxlen=12)  # pre-padding: zeros in front
    y = np.array(labels)

    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            layers.Embedding(20, 8, mask_zero=True),
            layers.LSTM(16),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=12, batch_size=32, verbose=0)

    padded = model.predict(x[:6], verbose=0)
    alone = np.concatenate(
        [model.predict(np.array([texts[i]]), verbose=0) for i in range(6)]
    )
    result = {"history": history.history, "padded": padded, "alone": alone}
    """,
)
def _text_classifier(result: Result) -> None:
    history = result["history"]
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["accuracy"][-1] > 0.9
    # The mask makes the front padding invisible: each row predicts as its sequence alone.
    np.testing.assert_allclose(result["padded"], result["alone"], rtol=1e-4, atol=1e-6)


@program(
    "masked_series",
    """
    import numpy as np
    import keras
    from keras import layers

    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    series = [rng.uniform(0.1, 1.0, (int(rng.integers(2, 10)), 1)) for _ in range(300)]
    x = keras.utils.pad_sequences(series, maxlen=10, dtype="float32", value=0.0)
    y = np.array([s.sum() for s in series], "float32")

    model = keras.Sequential(
        [
            keras.Input(shape=(10, 1)),
            layers.Masking(mask_value=0.0),
            layers.GRU(16),
            layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    history = model.fit(x, y, epochs=20, batch_size=32, verbose=0)

    # The same weights in a model for unpadded series of any length.
    unpadded = keras.Sequential([keras.Input(shape=(None, 1)), layers.GRU(16), layers.Dense(1)])
    unpadded.set_weights(model.get_weights())
    alone = np.concatenate(
        [unpadded.predict(series[i][None].astype("float32"), verbose=0) for i in range(6)]
    )
    result = {
        "history": history.history,
        "padded": model.predict(x[:6], verbose=0),
        "alone": alone,
        "variance": float(y.var()),
        "weights": [w.shape for w in model.get_weights()],
    }
    """,
)
def _masked_series(result: Result) -> None:
    loss = result["history"]["loss"]
    assert loss[-1] < 0.2 * result["variance"]
    np.testing.assert_allclose(result["padded"], result["alone"], rtol=1e-4, atol=1e-5)


# -- (4) utils, callbacks, weights, batches, stateful layers ------------------------------------


@program(
    "utils",
    """
    import numpy as np
    from keras import utils

    sequences = [[1, 2, 3, 4, 5], [6], [], [7, 8]]
    result = {
        "pre": utils.pad_sequences(sequences),
        "maxlen": utils.pad_sequences(sequences, maxlen=3),
        "post": utils.pad_sequences(sequences, maxlen=3, padding="post", truncating="post",
                                    value=-1),
        "float": utils.pad_sequences([[0.5, 1.5], [2.5]], dtype="float32", padding="post"),
        "vectors": utils.pad_sequences([np.ones((2, 3)), np.ones((1, 3))], dtype="float32"),
        "one_hot": utils.to_categorical([0, 2, 1, 2]),
        "one_hot_classes": utils.to_categorical(np.array([[1], [3]]), num_classes=5),
    }
    """,
    exact=("pre", "maxlen", "post", "float", "vectors", "one_hot", "one_hot_classes"),
)
def _utils(result: Result) -> None:
    assert result["pre"].shape == (4, 5) and result["pre"].dtype == np.int32
    np.testing.assert_array_equal(result["maxlen"][0], [3, 4, 5])
    np.testing.assert_array_equal(result["post"][0], [1, 2, 3])
    np.testing.assert_array_equal(result["post"][1], [6, -1, -1])
    assert result["vectors"].shape == (2, 2, 3) and result["vectors"][1, 0].sum() == 0
    assert result["one_hot"].shape == (4, 3) and result["one_hot_classes"].shape == (2, 5)


@program(
    "vector_to_sequence_callbacks",
    """
    import os
    import numpy as np
    import keras
    from keras import callbacks, layers

    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    start_slope = rng.uniform(-1, 1, (320, 2)).astype("float32")
    steps = np.arange(6, dtype="float32")
    ramps = (start_slope[:, :1] + start_slope[:, 1:] * steps / 5)[..., None]  # (N, 6, 1)

    model = keras.Sequential(
        [
            keras.Input(shape=(2,)),
            layers.RepeatVector(6),
            layers.SimpleRNN(16, return_sequences=True),
            layers.TimeDistributed(layers.Dense(1)),
        ]
    )
    model.compile(optimizer=keras.optimizers.RMSprop(0.005), loss="mse")

    def schedule(epoch, lr):
        return lr if epoch < 5 else lr * 0.9

    best_path = os.path.join(workdir, "best.weights.h5")
    history = model.fit(
        start_slope[:256], ramps[:256],
        validation_data=(start_slope[256:], ramps[256:]),
        epochs=40, batch_size=32, verbose=0,
        callbacks=[
            callbacks.LearningRateScheduler(schedule),
            callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2),
            callbacks.ModelCheckpoint(best_path, monitor="val_loss", save_best_only=True,
                                      save_weights_only=True),
            callbacks.EarlyStopping(monitor="val_loss", patience=4, min_delta=1e-4),
        ],
    )
    model.load_weights(best_path)
    result = {
        "history": history.history,
        "best_val_loss": min(history.history["val_loss"]),
        "reloaded_val_loss": model.evaluate(start_slope[256:], ramps[256:], verbose=0),
        "predictions": model.predict(start_slope[:3], verbose=0),
    }
    """,
    loose=("history",),
)
def _vector_to_sequence_callbacks(result: Result) -> None:
    history = result["history"]
    assert sorted(history) == ["learning_rate", "loss", "val_loss"]
    assert history["val_loss"][-1] < 0.3 * history["val_loss"][0]
    lr = history["learning_rate"]
    assert lr[0] == pytest.approx(0.005) and lr[-1] < lr[0]  # the schedule decays it
    # The checkpoint holds the best epoch's weights: reloaded, they give its validation loss.
    assert result["reloaded_val_loss"] == pytest.approx(result["best_val_loss"], rel=1e-4)
    assert result["predictions"].shape == (3, 6, 1)


@program(
    "weights_and_batches",
    """
    import os
    import numpy as np
    import keras
    from keras import layers

    keras.utils.set_random_seed(6)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((400, 5, 3)).astype("float32")
    y = (rng.uniform(size=400) < 0.2).astype("int32")  # 20% positives, nothing to learn

    def build():
        return keras.Sequential(
            [keras.Input(shape=(5, 3)), layers.GRU(8), layers.Dense(1, activation="sigmoid")]
        )

    model = build()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=50, class_weight={0: 1.0, 1: 8.0},
                        verbose=0)
    mean_probability = float(model.predict(x, verbose=0).mean())

    train_loss = model.train_on_batch(x[:50], y[:50])
    test_logs = model.test_on_batch(x[:50], y[:50])
    evaluated = model.evaluate(x[:50], y[:50], batch_size=50, verbose=0)
    on_batch = model.predict_on_batch(x[:50])

    path = os.path.join(workdir, "model.weights.h5")
    model.save_weights(path)
    copy = build()
    copy.load_weights(path)
    result = {
        "history": history.history,
        "mean_probability": mean_probability,
        "train_on_batch": train_loss,
        "test_on_batch": test_logs,
        "evaluate": evaluated,
        "predict_on_batch": on_batch,
        "reloaded": copy.predict(x[:50], verbose=0),
    }
    """,
)
def _weights_and_batches(result: Result) -> None:
    assert len(result["history"]["loss"]) == 15
    # Class 1 weighs 8x: the weighted optimum of a constant is 8*0.2/(8*0.2+0.8) = 2/3, far from
    # the unweighted 0.2.
    assert 0.5 < result["mean_probability"] < 0.8
    assert len(result["test_on_batch"]) == 2  # loss, accuracy
    np.testing.assert_allclose(result["test_on_batch"], result["evaluate"], rtol=1e-5)
    assert result["predict_on_batch"].shape == (50, 1)
    np.testing.assert_allclose(result["reloaded"], result["predict_on_batch"], rtol=1e-6)


@program(
    "stateful",
    """
    import numpy as np
    import keras
    from keras import layers

    keras.utils.set_random_seed(7)
    wave = np.sin(np.arange(4 * 41) * 0.3).astype("float32").reshape(4, 41)
    x, y = wave[:, :-1, None], wave[:, 1:, None]  # 4 streams of 40 steps, next value

    rnn = layers.SimpleRNN(16, stateful=True, return_sequences=True)
    model = keras.Sequential([keras.Input(batch_shape=(4, None, 1)), rnn, layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    losses = []
    for epoch in range(15):
        for start in range(0, 40, 10):  # windows of 10 steps, state carried between them
            losses.append(model.train_on_batch(x[:, start:start + 10], y[:, start:start + 10]))
        rnn.reset_states()  # Keras 3 resets layers (Keras 2: model.reset_states())

    # Calling the model carries the state from call to call (Keras 3 on JAX does not carry it
    # through predict, which is stateless there).
    whole = np.asarray(model(x))
    rnn.reset_states()
    first = np.asarray(model(x[:, :20]))
    second = np.asarray(model(x[:, 20:]))  # carries on from `first`
    rnn.reset_states()
    second_fresh = np.asarray(model(x[:, 20:]))
    rnn.reset_states()
    result = {
        "losses": losses,
        "whole": whole,
        "in_two": np.concatenate([first, second], axis=1),
        "second_fresh": second_fresh,
    }
    """,
)
def _stateful(result: Result) -> None:
    losses = result["losses"]
    assert len(losses) == 60 and np.mean(losses[-4:]) < 0.2 * np.mean(losses[:4])
    np.testing.assert_allclose(result["in_two"], result["whole"], rtol=1e-4, atol=1e-5)
    assert not np.allclose(result["second_fresh"], result["whole"][:, 20:], atol=1e-3)


# -- (6) smaller habits: metric functions, "acc", clipnorm, dropout, seeds, generators ----------


@program(
    "habits",
    """
    import numpy as np
    import keras
    from keras import layers

    def abs_error(y_true, y_pred):  # a custom metric function
        return abs(y_true - y_pred)

    rng = np.random.default_rng(8)
    x = rng.standard_normal((256, 12, 2)).astype("float32")
    y = (x[:, :, 0].mean(axis=1) > x[:, :, 1].mean(axis=1)).astype("float32")[:, None]

    def train(seed):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential(
            [
                keras.Input(shape=(12, 2)),
                layers.SimpleRNN(16, dropout=0.1, recurrent_dropout=0.1),
                layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=0.01, clipnorm=1.0),
            loss="binary_crossentropy",
            metrics=["acc", abs_error],
        )
        history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
        return model, history.history

    model, history = train(seed=8)
    _, again = train(seed=8)
    _, other = train(seed=9)
    result = {
        "history": history,
        "again": again,
        "other": other,
        "evaluate": model.evaluate(x, y, verbose=0),
        "predictions": model.predict(x, verbose=0),
        "y": y,
    }
    """,
)
def _habits(result: Result) -> None:
    history = result["history"]
    assert sorted(history) == ["abs_error", "acc", "loss"]  # logged under the names written
    assert history["loss"][-1] < 0.7 * history["loss"][0] and history["acc"][-1] > 0.75
    # set_random_seed makes training (weights, dropout masks, shuffling) repeat exactly.
    np.testing.assert_allclose(result["again"]["loss"], history["loss"], rtol=1e-6)
    assert result["other"]["loss"] != history["loss"]
    _, acc, abs_error = result["evaluate"]
    y, predictions = result["y"], result["predictions"]
    assert acc > 0.85 and acc == pytest.approx(((predictions > 0.5) == y).mean())
    assert abs_error == pytest.approx(np.abs(y - predictions).mean(), rel=1e-4)


@program(
    "generators",
    """
    import math
    import numpy as np
    import keras
    from keras import layers

    keras.utils.set_random_seed(10)
    rng = np.random.default_rng(10)
    x = rng.standard_normal((200, 6, 1)).astype("float32")
    y = x[:, :, 0].sum(axis=1, keepdims=True) * 0.5

    def batches(batch_size=20):
        while True:  # infinite: fit needs steps_per_epoch
            order = np.random.permutation(len(x))
            for start in range(0, len(x), batch_size):
                index = order[start:start + batch_size]
                yield x[index], y[index]

    class Windows(keras.utils.PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, index):
            part = slice(index * self.batch_size, (index + 1) * self.batch_size)
            return self.x[part], self.y[part]

    def build():
        model = keras.Sequential([keras.Input(shape=(6, 1)), layers.LSTM(8), layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
        return model

    from_generator = build()
    generator_history = from_generator.fit(batches(), steps_per_epoch=10, epochs=10, verbose=0)

    from_dataset = build()
    dataset = Windows(x, y, batch_size=32)
    dataset_history = from_dataset.fit(dataset, epochs=10, verbose=0)
    result = {
        "generator": generator_history.history,
        "dataset": dataset_history.history,
        "evaluate_dataset": from_dataset.evaluate(dataset, verbose=0),
        "evaluate_arrays": from_dataset.evaluate(x, y, verbose=0),
        "variance": float(y.var()),
    }
    """,
)
def _generators(result: Result) -> None:
    for name in ("generator", "dataset"):
        loss = result[name]["loss"]
        assert len(loss) == 10 and loss[-1] < 0.2 * result["variance"] < loss[0], name
    assert result["evaluate_dataset"] == pytest.approx(result["evaluate_arrays"], rel=1e-4)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_runs_on_rnnkit(name: str, tmp_path: Path) -> None:
    PROGRAMS[name].check(run_program(name, "rnnkit", tmp_path))


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_matches_keras(name: str, tmp_path: Path) -> None:
    _keras()
    spec = PROGRAMS[name]
    (tmp_path / "keras").mkdir()
    (tmp_path / "rnnkit").mkdir()
    theirs = run_program(name, "keras", tmp_path / "keras")
    spec.check(theirs)  # the program and its checks are right for Keras itself
    ours = run_program(name, "rnnkit", tmp_path / "rnnkit")
    assert sorted(ours) == sorted(theirs)
    for key in ours:
        if key in spec.loose:
            assert _history_keys(ours[key]) == _history_keys(theirs[key]), key
        else:
            assert structure(ours[key]) == structure(theirs[key]), key
    for key in spec.exact:
        np.testing.assert_equal(ours[key], theirs[key], err_msg=key)


def test_the_rewrite_changes_only_imports_and_the_weights_suffix() -> None:
    source = textwrap.dedent(
        """
        import keras
        from keras import layers, callbacks
        from keras.utils import pad_sequences
        model = keras.Sequential([layers.Dense(1)])  # keras stays the program's name
        path = "best.weights.h5"
        """
    )
    assert to_rnnkit(source) == textwrap.dedent(
        """
        import rnnkit as keras
        from rnnkit import layers, callbacks
        from rnnkit.utils import pad_sequences
        model = keras.Sequential([layers.Dense(1)])  # keras stays the program's name
        path = "best.weights.npz"
        """
    )
