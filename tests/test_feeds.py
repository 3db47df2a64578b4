"""fit fed by a Python generator or a Keras-style Sequence: the same updates as the same
batches given as arrays, Keras's steps_per_epoch and running-out rules, weights per batch."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential
from rnnkit.training import Sequence


def data(n: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5, 2))
    return x, x.sum(axis=(1, 2))[:, None] / 5


def model(metrics: tuple[str, ...] = ()) -> Sequential:
    m = Sequential(
        [
            SimpleRNN(4, input_shape=(5, 2), dtype="float64", seed=0),
            Dense(1, dtype="float64", seed=1),
        ]
    )
    m.compile(loss="mse", optimizer="sgd", metrics=list(metrics))
    return m


class Batches(Sequence):
    def __init__(self, x: np.ndarray, y: np.ndarray, size: int, weights: np.ndarray | None = None):
        self.x, self.y, self.size, self.weights = x, y, size, weights
        self.epochs_ended = 0

    def __len__(self) -> int:
        return -(-len(self.x) // self.size)

    def __getitem__(self, i: int):  # type: ignore[no-untyped-def]
        rows = slice(i * self.size, (i + 1) * self.size)
        if self.weights is None:
            return self.x[rows], self.y[rows]
        return self.x[rows], self.y[rows], self.weights[rows]

    def on_epoch_end(self) -> None:
        self.epochs_ended += 1


def forever(x: np.ndarray, y: np.ndarray, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    while True:
        for start in range(0, len(x), size):
            yield x[start : start + size], y[start : start + size]


def test_generator_matches_arrays_without_shuffling() -> None:
    x, y = data()
    arrays, fed = model(("mae",)), model(("mae",))
    h1 = arrays.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    h2 = fed.fit(forever(x, y, 8), steps_per_epoch=3, epochs=3, verbose=0)
    assert h1.history == h2.history
    for a, b in zip(arrays.get_weights(), fed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_sequence_matches_arrays_and_calls_on_epoch_end() -> None:
    x, y = data()
    w = np.linspace(0.5, 2, 24)
    arrays, fed = model(), model()
    arrays.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, sample_weight=w)
    seq = Batches(x, y, 8, w)
    history = fed.fit(seq, epochs=2, shuffle=False, verbose=0, validation_data=(x, y))
    assert seq.epochs_ended == 2
    assert history.history["val_loss"][-1] == fed.evaluate(x, y, verbose=0)
    for a, b in zip(arrays.get_weights(), fed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_sequence_shuffles_batch_order_reproducibly() -> None:
    x, y = data()
    runs = []
    for _ in range(2):
        m = model()
        runs.append(m.fit(Batches(x, y, 4), epochs=2, seed=3, verbose=0).history["loss"])
    assert runs[0] == runs[1]
    unshuffled = model().fit(Batches(x, y, 4), epochs=2, shuffle=False, verbose=0)
    assert unshuffled.history["loss"] != runs[0]


def test_finite_generator_runs_out_with_a_warning() -> None:
    x, y = data()
    finite = ((x[i : i + 8], y[i : i + 8]) for i in range(0, 24, 8))
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model().fit(finite, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1  # epoch 1 consumed it; epoch 2 had nothing
    short = ((x[i : i + 8], y[i : i + 8]) for i in range(0, 24, 8))
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model().fit(short, steps_per_epoch=2, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 2  # the second epoch got one batch of two


def test_class_weight_per_generated_batch() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 5, 2))
    y = (x[:, :, 0].sum(1) > 0).astype(np.int64)

    def clf() -> Sequential:
        m = Sequential(
            [
                SimpleRNN(4, input_shape=(5, 2), dtype="float64", seed=0),
                Dense(2, dtype="float64", seed=1),
            ]
        )
        m.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
        return m

    a, b = clf(), clf()
    a.fit(x, y, batch_size=8, shuffle=False, verbose=0, class_weight={1: 3.0})
    b.fit(forever(x, y, 8), steps_per_epoch=2, verbose=0, class_weight={1: 3.0})
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(p, q)


def test_feed_argument_errors() -> None:
    x, y = data()
    m = model()
    with pytest.raises(ValueError, match="y must be None"):
        m.fit(forever(x, y, 8), y, steps_per_epoch=1, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        m.fit(forever(x, y, 8), steps_per_epoch=1, validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match=r"\(x, y\) or \(x, y, sample_weight\)"):
        m.fit(iter([x]), verbose=0)
    with pytest.raises(ValueError, match="tbptt"):
        m.fit(forever(x, y, 8), steps_per_epoch=1, tbptt=2, verbose=0)
    with pytest.raises(TypeError, match="steps_per_epoch"):
        m.fit(forever(x, y, 8), steps_per_epoch=1.5, verbose=0)


def test_evaluate_and_validation_fed_by_a_sequence_or_generator() -> None:
    x, y = data()
    w = np.linspace(0.5, 2, 24)
    m = model(("mae",))
    seq = Batches(x, y, 8, w)
    expected = m.evaluate(x, y, batch_size=8, sample_weight=w, verbose=0, return_dict=True)
    assert m.evaluate(seq, verbose=0, return_dict=True) == pytest.approx(expected, rel=1e-12)
    first_two = m.evaluate(x[:16], y[:16], batch_size=8, verbose=0)
    assert m.evaluate(forever(x, y, 8), steps=2, verbose=0)[0] == pytest.approx(first_two[0])
    history = m.fit(x, y, epochs=2, verbose=0, validation_data=seq, shuffle=False)
    assert history.history["val_loss"][-1] == pytest.approx(
        m.evaluate(x, y, batch_size=8, sample_weight=w, verbose=0)[0], rel=1e-12
    )
    # A generator continues from epoch to epoch: each evaluation takes the next 3 batches.
    history = m.fit(
        forever(x, y, 8),
        steps_per_epoch=3,
        epochs=1,
        verbose=0,
        validation_data=forever(x, y, 8),
        validation_steps=3,
    )
    assert history.history["val_loss"][0] == pytest.approx(
        m.evaluate(x, y, batch_size=8, verbose=0)[0], rel=1e-12
    )
    with pytest.raises(ValueError, match="validation_steps"):
        m.fit(x, y, verbose=0, validation_data=forever(x, y, 8))
    with pytest.raises(ValueError, match="no batch"):
        m.evaluate(iter([]), verbose=0)


def test_array_likes_are_data_not_feeds() -> None:
    from rnnkit.training.sources import is_feed

    class Frame:  # what a DataFrame looks like to the test: len, indexing and __array__
        def __init__(self, a: np.ndarray) -> None:
            self.a = a

        def __len__(self) -> int:
            return len(self.a)

        def __getitem__(self, i: int) -> np.ndarray:
            return self.a[i]

        def __array__(self, dtype=None, copy=None) -> np.ndarray:  # type: ignore[no-untyped-def]
            return self.a

    x, y = data()
    assert not is_feed(Frame(x)) and not is_feed(x) and not is_feed([x, x])
    assert is_feed(Batches(x, y, 8)) and is_feed(forever(x, y, 8))
