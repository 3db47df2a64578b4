"""rnnkit.utils: pad_sequences, to_categorical and set_random_seed with Keras's results (checked
against hand-written expectations, and against Keras itself when it is installed), and the
top-level Keras spellings (``rnnkit.Sequential``, ``rnnkit.utils``, ...)."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import rnnkit
from rnnkit import _seeding
from rnnkit.layers import Dense, Dropout, SimpleRNN
from rnnkit.utils import pad_sequences, set_random_seed, to_categorical


@pytest.fixture
def keras() -> Any:
    """Keras 3 on a CPU backend when installed (never required)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


@pytest.fixture(autouse=True)
def _forget_default_seeds() -> Iterator[None]:
    yield
    _seeding.set_random_seed(None)


# -- pad_sequences ------------------------------------------------------------------------------

SEQS = [[1, 2, 3, 4], [5], [], [6, 7]]


def test_pad_sequences_defaults_pad_and_truncate_at_the_front() -> None:
    out = pad_sequences(SEQS)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[1, 2, 3, 4], [0, 0, 0, 5], [0, 0, 0, 0], [0, 0, 6, 7]])
    np.testing.assert_array_equal(pad_sequences(SEQS, maxlen=2), [[3, 4], [0, 5], [0, 0], [6, 7]])


@pytest.mark.parametrize(
    "padding,truncating,expected",
    [
        ("pre", "pre", [[2, 3, 4], [0, 0, 5], [0, 0, 0], [0, 6, 7]]),
        ("post", "pre", [[2, 3, 4], [5, 0, 0], [0, 0, 0], [6, 7, 0]]),
        ("pre", "post", [[1, 2, 3], [0, 0, 5], [0, 0, 0], [0, 6, 7]]),
        ("post", "post", [[1, 2, 3], [5, 0, 0], [0, 0, 0], [6, 7, 0]]),
    ],
)
def test_pad_sequences_padding_and_truncating(
    padding: str, truncating: str, expected: list[list[int]]
) -> None:
    out = pad_sequences(SEQS, maxlen=3, padding=padding, truncating=truncating)
    np.testing.assert_array_equal(out, expected)


def test_pad_sequences_value_dtype_and_steps_with_features() -> None:
    series = [np.array([[0.5, 1.0], [1.5, 2.0]]), np.array([[3.0, 4.0]])]
    out = pad_sequences(series, dtype="float32", padding="post", value=-1.0)
    assert out.shape == (2, 2, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(out[1], [[3.0, 4.0], [-1.0, -1.0]])
    words = pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert words.tolist() == [["a", "b"], ["<pad>", "c"]]


def test_pad_sequences_empty_inputs() -> None:
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([], maxlen=3).shape == (0, 3)
    np.testing.assert_array_equal(pad_sequences([[], []]), np.zeros((2, 0)))
    np.testing.assert_array_equal(pad_sequences([[1, 2]], maxlen=0), np.zeros((1, 0)))
    np.testing.assert_array_equal(pad_sequences(np.array([[1, 2], [3, 4]])), [[1, 2], [3, 4]])


@pytest.mark.parametrize(
    "call,exception,words",
    [
        (lambda: pad_sequences([[0.5, 2.0]]), ValueError, "non-integer values (e.g. 0.5)"),
        (lambda: pad_sequences([[1.0, np.nan]]), ValueError, "non-integer values"),
        (lambda: pad_sequences([["a", "b"]]), TypeError, "holds strings"),
        (lambda: pad_sequences([[1]], value="x"), ValueError, "value 'x' is a string"),
        (lambda: pad_sequences([[1]], value=0.5), ValueError, "value holds non-integer"),
        (lambda: pad_sequences([[2**40]]), ValueError, "outside the range of dtype 'int32'"),
        (lambda: pad_sequences([[1]], dtype="no such dtype"), TypeError, "dtype must be"),
        (lambda: pad_sequences([[1]], padding="middle"), ValueError, "padding must be one of"),
        (lambda: pad_sequences([[1]], truncating="x"), ValueError, "truncating must be one of"),
        (lambda: pad_sequences([[1]], maxlen=-1), ValueError, "maxlen must be a non-negative"),
        (lambda: pad_sequences([[1]], maxlen=2.0), TypeError, "maxlen must be"),
        (lambda: pad_sequences([1, 2]), ValueError, "sequences[0] is int 1"),
        (lambda: pad_sequences(["abc"]), ValueError, "sequences[0] is str"),
        (lambda: pad_sequences(5), TypeError, "sequences must be a list"),
        (lambda: pad_sequences([[1], [[1, 2]]]), ValueError, "steps of sequences[1]"),
        (lambda: pad_sequences([[[1], [1, 2]]]), ValueError, "sequences[0] is not a regular"),
    ],
)
def test_pad_sequences_refuses_what_it_would_change(
    call: Any, exception: type[Exception], words: str
) -> None:
    with pytest.raises(exception) as info:
        call()
    assert words in str(info.value) and "pad_sequences" in str(info.value)


def test_pad_sequences_matches_keras(keras: Any) -> None:
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(1, 50, rng.integers(0, 9))) for _ in range(20)]
    for maxlen in (None, 0, 3, 12):
        for padding in ("pre", "post"):
            for truncating in ("pre", "post"):
                kwargs = {"maxlen": maxlen, "padding": padding, "truncating": truncating}
                ours = pad_sequences(seqs, value=7, **kwargs)
                if maxlen == 0:
                    assert ours.shape == (20, 0)  # Keras fails on maxlen=0
                    continue
                theirs = keras.utils.pad_sequences(seqs, value=7, **kwargs)
                assert ours.dtype == theirs.dtype
                np.testing.assert_array_equal(ours, theirs)
    series = [rng.standard_normal((n, 3)) for n in (4, 1, 6)]
    np.testing.assert_array_equal(
        pad_sequences(series, maxlen=5, dtype="float64", padding="post"),
        keras.utils.pad_sequences(series, maxlen=5, dtype="float64", padding="post"),
    )


# -- to_categorical -----------------------------------------------------------------------------


def test_to_categorical_shapes() -> None:
    out = to_categorical([0, 2, 1])
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    column = to_categorical(np.array([[1], [3]]), num_classes=5)  # (N, 1): the 1 is dropped
    assert column.shape == (2, 5)
    np.testing.assert_array_equal(column[1], [0, 0, 0, 1, 0])
    steps = to_categorical(np.array([[1, 2], [0, 0]]))
    assert steps.shape == (2, 2, 3)
    np.testing.assert_array_equal(to_categorical(3, 5), [0, 0, 0, 1, 0])
    np.testing.assert_array_equal(to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    assert to_categorical([], num_classes=4).shape == (0, 4)


@pytest.mark.parametrize(
    "call,exception,words",
    [
        (lambda: to_categorical([-1, 2]), ValueError, "non-negative"),
        (lambda: to_categorical([0, 3], num_classes=3), ValueError, "[0, 3)"),
        (lambda: to_categorical([0.5]), ValueError, "fractions"),
        (lambda: to_categorical(["a"]), TypeError, "integer class ids"),
        (lambda: to_categorical([]), ValueError, "pass num_classes"),
        (lambda: to_categorical([1], num_classes=0), ValueError, "num_classes must be"),
        (lambda: to_categorical([1], num_classes=2.0), TypeError, "num_classes must be"),
    ],
)
def test_to_categorical_errors(call: Any, exception: type[Exception], words: str) -> None:
    with pytest.raises(exception, match="to_categorical") as info:
        call()
    assert words in str(info.value)


def test_to_categorical_matches_keras(keras: Any) -> None:
    for y, classes in (([0, 2, 1], None), (np.array([[1], [3]]), 5), (np.eye(3, dtype=int), 4)):
        ours, theirs = to_categorical(y, classes), keras.utils.to_categorical(y, classes)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


# -- set_random_seed ----------------------------------------------------------------------------


def _draws() -> tuple[Any, ...]:
    """What a program draws after seeding: its own data, and rnnkit's default-seeded weights
    and dropout masks."""
    rnn, dense, dropout = SimpleRNN(3), Dense(2), Dropout(0.5)
    rnn.build((4, 2))
    dense.build((3,))
    mask = dropout.forward(np.ones((2, 5)), training=True)
    drawn = np.random.rand()  # noqa: NPY002 (the global generator user code draws from)
    return (random.random(), drawn, rnn.get_weights(), dense.get_weights(), mask)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(u, v) for u, v in zip(a, b))
    return bool(np.array_equal(a, b))


def test_set_random_seed_makes_a_program_reproducible() -> None:
    set_random_seed(1234)
    first = _draws()
    set_random_seed(1234)
    again = _draws()
    set_random_seed(99)
    other = _draws()
    assert _equal(first, again)
    for a, b in zip(first, other):
        assert not _equal(a, b)


def test_set_random_seed_reaches_text_generation() -> None:
    vocab = rnnkit.text.CharVocab("abc")
    model = rnnkit.Sequential(
        [rnnkit.layers.Embedding(3, 4, seed=0), SimpleRNN(5, return_sequences=True, seed=1)]
    )
    model.add(rnnkit.layers.TimeDistributed(Dense(3, seed=2)))
    samples = []
    for seed in (5, 5, 6):
        set_random_seed(seed)
        samples.append(rnnkit.generate(model, "ab", 30, seed=None, vocab=vocab))
    assert samples[0] == samples[1] != samples[2]


def test_set_random_seed_reaches_fits_shuffling() -> None:
    # Keras's set_random_seed makes a whole training run reproducible: the shuffle order too.
    x = np.random.default_rng(0).standard_normal((40, 5, 2))
    y = np.random.default_rng(1).standard_normal((40, 3))

    def trained(seed: int) -> list[np.ndarray]:
        set_random_seed(seed)
        model = rnnkit.Sequential([SimpleRNN(4, seed=0), Dense(3, seed=1)])
        model.compile("sgd", "mse")
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=True)
        return model.get_weights()

    first, again, other = trained(7), trained(7), trained(8)
    assert _equal(first, again)
    assert not _equal(first, other)  # only the shuffle order differs: weights are seeded


@pytest.mark.parametrize(
    "seed,exception", [(None, TypeError), (1.0, TypeError), (True, TypeError), (-1, ValueError)]
)
def test_set_random_seed_takes_an_int(seed: Any, exception: type[Exception]) -> None:
    with pytest.raises(exception, match="seed must be an int"):
        set_random_seed(seed)


# -- top-level Keras spellings ------------------------------------------------------------------


def test_keras_spellings_at_the_top_level() -> None:
    import rnnkit as keras

    model = keras.Sequential(
        [keras.Input((5, 2)), keras.layers.SimpleRNN(4, seed=0), keras.layers.Dense(1, seed=1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    assert isinstance(model, keras.Model) and keras.Model is rnnkit.models.Model
    assert keras.utils.pad_sequences is pad_sequences
    assert {"Sequential", "Model", "Input", "utils"} <= set(dir(keras))
    x = keras.utils.pad_sequences([[1, 2]], maxlen=5, dtype="float32")[..., None].repeat(2, -1)
    assert model.predict(x).shape == (1, 1)


def test_keras_utils_names_the_batch_feed_base_classes() -> None:
    """``keras.utils.PyDataset``/``keras.utils.Sequence`` are where Keras users find them."""
    import rnnkit as keras

    assert keras.utils.PyDataset is keras.training.PyDataset
    assert keras.utils.Sequence is keras.training.Sequence

    class Batches(keras.utils.PyDataset):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)

        def __len__(self) -> int:
            return 2

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            return np.full((3, 4, 1), index, np.float32), np.full((3, 1), index, np.float32)

    model = keras.Sequential([keras.Input((4, 1)), SimpleRNN(2, seed=0), Dense(1, seed=1)])
    model.compile(optimizer="sgd", loss="mse")
    assert len(model.fit(Batches(), epochs=2, verbose=0).history["loss"]) == 2
