"""The layers and arguments Keras programs use beyond the core set: RepeatVector, Masking,
Keras 2's ``Embedding(input_length=)`` / ``Dense(input_dim=)``, ``unroll=`` on recurrent layers,
and the Embedding gradient's scatter-add. Each new layer: a float64 gradient check, a config
round trip, save/load, summary, and its Keras semantics (against Keras itself when installed).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _layer_testing import TOL, check_layer
from rnnkit.gradcheck import check_gradients
from rnnkit.layers import (
    GRU,
    LSTM,
    Dense,
    Embedding,
    Masking,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
    check_stack,
    deserialize_layer,
    serialize_layer,
)
from rnnkit.layers.embedding import scatter_add_rows
from rnnkit.models import Sequential, load_model

rng = np.random.default_rng(0)


@pytest.fixture
def keras() -> Any:
    """Keras 3 on a CPU backend when installed (never required)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def _round_trip(layer: Any, x: np.ndarray) -> None:
    """get_config -> JSON -> from_config gives the same layer and the same outputs."""
    out = layer(x)
    clone = deserialize_layer(json.loads(json.dumps(serialize_layer(layer))))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(clone(x), out)


# -- RepeatVector -------------------------------------------------------------------------------


def test_repeat_vector_repeats_and_sums_back() -> None:
    x = rng.standard_normal((2, 3))
    layer = RepeatVector(4, dtype="float64")
    out = layer.forward(x)
    assert out.shape == (2, 4, 3) and out.flags.writeable and out.flags.c_contiguous
    for t in range(4):
        np.testing.assert_array_equal(out[:, t], x)
    dy = rng.standard_normal((2, 4, 3))
    np.testing.assert_array_equal(layer.backward(dy), dy.sum(axis=1))
    assert layer.output_lengths(np.array([1, 2])) is None
    assert layer.compute_output_shape((3,)) == (4, 3)


def test_repeat_vector_gradient_check() -> None:
    check_layer(RepeatVector(3, dtype="float64"), rng.standard_normal((2, 5)))


def test_repeat_vector_config_and_errors() -> None:
    _round_trip(RepeatVector(2, name="rep"), rng.standard_normal((3, 4)))
    with pytest.raises(ValueError, match="n must be a positive int"):
        RepeatVector(0)
    with pytest.raises(TypeError, match="n must be a positive int"):
        RepeatVector(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        RepeatVector(2)(rng.standard_normal((3, 4, 5)))


def _encoder_decoder() -> Sequential:
    """Keras's vector-to-sequence listing: encoder, RepeatVector, decoder, per-step head."""
    return Sequential(
        [
            SimpleRNN(6, input_shape=(5, 2), seed=0),
            RepeatVector(4),
            SimpleRNN(6, return_sequences=True, seed=1),
            TimeDistributed(Dense(3, seed=2)),
        ],
        name="encoder_decoder",
    )


def test_repeat_vector_in_a_stack_saves_and_summarises(tmp_path: Path) -> None:
    model = _encoder_decoder()
    x = rng.standard_normal((7, 5, 2)).astype(np.float32)
    out = model.predict(x)
    assert out.shape == (7, 4, 3)
    text = model.summary(print_fn=None)
    assert "repeat_vector" in text and "(None, 4, 6)" in text
    restored = load_model(model.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(restored.predict(x), out)
    assert restored.get_config() == model.get_config()


def test_check_stack_accepts_a_sequence_again_after_repeat_vector() -> None:
    check_stack([SimpleRNN(2), RepeatVector(3), SimpleRNN(2)])
    with pytest.raises(ValueError, match="return_sequences=True"):
        check_stack([SimpleRNN(2), RepeatVector(3), SimpleRNN(2), Dense(2), SimpleRNN(2)])


def test_repeat_vector_trains_an_encoder_decoder() -> None:
    """The model learns to spell a sequence from one vector: a copy task through the
    bottleneck (Keras's classic addition/reversal listings are this shape)."""
    x = rng.standard_normal((64, 5, 2)).astype(np.float32)
    y = np.repeat(x[:, :1, :1], 4, axis=1) * np.arange(1, 5)[None, :, None]  # steps of x[0]
    model = Sequential(
        [
            SimpleRNN(16, input_shape=(5, 2), seed=0),
            RepeatVector(4),
            SimpleRNN(16, return_sequences=True, seed=1),
            TimeDistributed(Dense(1, seed=2)),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=60, batch_size=16, verbose=0, seed=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]


def test_repeat_vector_matches_keras(keras: Any) -> None:
    x = rng.standard_normal((2, 3)).astype(np.float32)
    theirs = np.asarray(keras.layers.RepeatVector(4)(x))
    np.testing.assert_array_equal(RepeatVector(4)(x), theirs)


# -- Masking ------------------------------------------------------------------------------------


def _post_padded(lengths: list[int], t: int, d: int, value: float = 0.0) -> np.ndarray:
    x = rng.standard_normal((len(lengths), t, d))
    for row, n in enumerate(lengths):
        x[row, n:] = value
    return x


def test_masking_zeroes_padding_and_passes_the_mask_on() -> None:
    x = _post_padded([3, 1, 0], 4, 2, value=-1.0)
    layer = Masking(mask_value=-1.0, dtype="float64")
    out = layer.forward(x)
    np.testing.assert_array_equal(layer.output_lengths(None), [3, 1, 0])
    np.testing.assert_array_equal(layer.output_lengths(np.array([2, 4, 4])), [2, 1, 0])
    np.testing.assert_array_equal(out[0, :3], x[0, :3])
    assert not out[0, 3:].any() and not out[2].any()  # Keras: the masked steps are zeroed
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx[:, :, 0], [[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])


def test_masking_gradient_check() -> None:
    """float64 central differences. A padded entry sits exactly on the mask's edge (any nudge
    makes its step valid), so the check nudges the valid entries, with the padded ones held at
    mask_value: their gradient must be exactly zero."""
    x = _post_padded([4, 2], 4, 3)
    x[0, 1] = 0.0  # one zero feature is not a masked step: all must equal mask_value
    x[0, 1, 1] = 0.5
    check_layer(Masking(dtype="float64"), x[:1])  # no padding at all
    layer = Masking(dtype="float64")
    valid = np.arange(4)[None, :, None] < np.array([4, 2])[:, None, None]
    free = x.copy()
    dy = rng.standard_normal(x.shape)
    layer.forward(x)
    dx = layer.backward(dy)
    assert not dx[~np.broadcast_to(valid, x.shape)].any()
    check_gradients(
        lambda: float(np.sum(layer.forward(np.where(valid, free, x)) * dy)),
        {"x": free},
        {"x": dx},
        tol=TOL,
    )


def test_masking_compares_in_the_input_dtype() -> None:
    x = np.full((1, 3, 2), 0.1, dtype=np.float32)
    x[0, 0] = 1.0
    layer = Masking(mask_value=0.1)  # 0.1 is not a float32 value: compared as float32(0.1)
    layer.forward(x)
    np.testing.assert_array_equal(layer.output_lengths(None), [1])


def test_masking_gives_a_step_mask_unless_post_padded() -> None:
    x = _post_padded([3, 3], 4, 2)
    x[1, 0] = 0.0  # pre-padding-like: a masked step before valid ones
    layer = Masking(name="mask")
    layer(x)
    np.testing.assert_array_equal(
        layer.output_lengths(None), [[1, 1, 1, 0], [0, 1, 1, 0]]
    )  # an (N, T) mask: its valid steps are no prefix of row 1
    np.testing.assert_array_equal(
        layer.output_lengths(np.array([2, 4])), [[1, 1, 0, 0], [0, 1, 1, 0]]
    )


def test_masking_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"\(N, T, D\)"):
        Masking()(rng.standard_normal((2, 3)))
    with pytest.raises(TypeError, match="mask_value must be a real number"):
        Masking(mask_value="0")  # type: ignore[arg-type]


def test_masking_config_and_save(tmp_path: Path) -> None:
    _round_trip(Masking(mask_value=-1.0, name="m"), _post_padded([2, 3], 3, 2, value=-1.0))
    model = Sequential(
        [Masking(-1.0, input_shape=(4, 2)), SimpleRNN(3, seed=0), Dense(1, seed=1)], name="masked"
    )
    x = _post_padded([4, 2, 1], 4, 2, value=-1.0).astype(np.float32)
    out = model.predict(x)
    assert "masking" in model.summary(print_fn=None)
    restored = load_model(model.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(restored.predict(x), out)


@pytest.mark.parametrize("cell", [SimpleRNN, LSTM, GRU])
def test_masked_batch_equals_each_sequence_unpadded(cell: Any) -> None:
    """Keras's meaning of a mask: a padded batch gives each sequence's own result."""
    lengths = [5, 2, 3]
    x = _post_padded(lengths, 5, 3)
    model = Sequential([Masking(input_shape=(None, 3)), cell(4, dtype="float64", seed=0)])
    batch = model.predict(x)
    for row, n in enumerate(lengths):
        alone = model.predict(x[row : row + 1, :n])
        np.testing.assert_allclose(batch[row], alone[0], rtol=1e-12, atol=1e-14)


def test_masked_steps_carry_no_loss_and_no_gradient() -> None:
    """Training on padded, masked batches equals training on the valid steps: the loss
    ignores the padded steps (whatever their targets) and their inputs get no gradient."""
    x = _post_padded([4, 2], 4, 2).astype(np.float32)
    model = Sequential(
        [
            Masking(input_shape=(4, 2)),
            SimpleRNN(3, return_sequences=True, seed=0),
            TimeDistributed(Dense(1, seed=1)),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    y = rng.standard_normal((2, 4, 1)).astype(np.float32)
    y_other = y.copy()
    y_other[1, 2:] = 100.0  # targets of padded steps: must not matter
    assert model.evaluate(x, y, verbose=0) == model.evaluate(x, y_other, verbose=0)
    out = model.predict(x)
    valid_errors = np.concatenate([(out[0] - y[0]) ** 2, (out[1, :2] - y[1, :2]) ** 2])
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), valid_errors.mean(), rtol=1e-5)
    model.forward(x)
    dx = model.backward(np.ones((2, 4, 1), dtype=np.float32))
    assert dx is not None and not dx[1, 2:].any() and dx[1, :2].all()


def test_masking_matches_keras(keras: Any) -> None:
    """Masking -> SimpleRNN with the same weights: Keras and rnnkit agree on every sample."""
    x = _post_padded([5, 2, 3, 1], 5, 3).astype(np.float32)
    ours = Sequential([Masking(input_shape=(5, 3)), SimpleRNN(4, seed=0)])
    theirs = keras.Sequential(
        [keras.Input((5, 3)), keras.layers.Masking(), keras.layers.SimpleRNN(4)]
    )
    theirs.layers[-1].set_weights(ours.layers[-1].get_weights())
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs(x)), rtol=1e-5, atol=1e-6)
    masked = np.asarray(keras.layers.Masking()(x))
    np.testing.assert_array_equal(Masking()(x), masked)


# -- Keras 2 arguments --------------------------------------------------------------------------


def test_embedding_input_length_is_input_shape() -> None:
    layer = Embedding(10, 4, input_length=6)
    assert layer.built and layer.input_shape == (6,)
    assert "input_length" not in layer.get_config()  # it is input_shape from here on
    assert Embedding(10, 4, input_length=6, input_shape=(6,)).input_shape == (6,)
    with pytest.raises(ValueError, match=r"input_length=6 and input_shape=.*disagree"):
        Embedding(10, 4, input_length=6, input_shape=(5,))
    with pytest.raises(ValueError, match="input_length must be a positive int"):
        Embedding(10, 4, input_length=0)
    model = Sequential([Embedding(10, 4, input_length=6, seed=0), SimpleRNN(3, seed=1)])
    assert model.built and model.predict(np.ones((2, 6), dtype=int)).shape == (2, 3)


def test_dense_input_dim_is_input_shape() -> None:
    layer = Dense(3, input_dim=5, seed=0)
    assert layer.built and layer.input_shape == (5,) and layer.params["W"].shape == (5, 3)
    assert "input_dim" not in layer.get_config()
    with pytest.raises(ValueError, match=r"input_dim=5 and input_shape=.*disagree"):
        Dense(3, input_dim=5, input_shape=(4,))
    with pytest.raises(TypeError, match="input_dim must be a positive int"):
        Dense(3, input_dim=5.0)  # type: ignore[arg-type]
    model = Sequential([Dense(8, input_dim=5, activation="relu"), Dense(1)])
    assert model.built and model.predict(np.ones((3, 5))).shape == (3, 1)


@pytest.mark.parametrize("cell", [SimpleRNN, LSTM, GRU])
def test_unroll_is_accepted_kept_and_changes_nothing(cell: Any) -> None:
    x = rng.standard_normal((3, 4, 2))
    plain = cell(5, seed=0, return_sequences=True)
    unrolled = cell(5, seed=0, return_sequences=True, unroll=True)
    np.testing.assert_array_equal(plain(x), unrolled(x))
    assert unrolled.get_config()["unroll"] is True and plain.get_config()["unroll"] is False
    _round_trip(unrolled, x)


# -- Embedding's gradient -----------------------------------------------------------------------


@pytest.mark.parametrize("vocab", [1, 7, 100, 10_000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_add_rows_equals_add_at(vocab: int, dtype: type) -> None:
    ids = rng.integers(0, vocab, 2048)
    rows = rng.standard_normal((2048, 16)).astype(dtype)
    out = np.full((vocab, 16), np.nan, dtype=dtype)  # every entry must be written
    scatter_add_rows(out, ids, rows)
    exact = np.zeros((vocab, 16))
    np.add.at(exact, ids, rows.astype(np.float64))
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(out, exact, rtol=tol, atol=tol)
    unused = np.setdiff1d(np.arange(vocab), ids)
    assert not out[unused].any()


def test_scatter_add_rows_edge_cases() -> None:
    out = np.ones((3, 2))
    scatter_add_rows(out, np.array([], dtype=np.int64), np.zeros((0, 2)))
    assert not out.any()
    scatter_add_rows(out, np.array([2, 2, 2]), np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    np.testing.assert_array_equal(out, [[0, 0], [0, 0], [9, 12]])
    scatter_add_rows(out, np.array([1, 0]), np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(out, [[3, 4], [1, 2], [0, 0]])


def test_embedding_gradient_keeps_its_mask_zero_semantics() -> None:
    """The padding id 0 is an ordinary row for the gradient (as in Keras): the layer above
    decides what reaches it; only the summation changed."""
    ids = np.array([[1, 2, 2, 0], [3, 1, 0, 0]])
    layer = Embedding(5, 3, mask_zero=True, dtype="float64", seed=5)
    layer(ids)
    dy = rng.standard_normal((2, 4, 3))
    layer.backward(dy)
    expected = np.zeros((5, 3))
    np.add.at(expected, ids.ravel(), dy.reshape(-1, 3))
    np.testing.assert_allclose(layer.grads["embeddings"], expected, rtol=1e-14)
    np.testing.assert_array_equal(layer.output_lengths(None), [3, 2])
