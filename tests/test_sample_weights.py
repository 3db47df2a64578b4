"""fit's sample_weight and class_weight with Keras's semantics (weights multiply per-sample
losses, the reduction divides by the number of samples or valid steps), validation_data's
third element as validation sample weights, and the *_on_batch methods."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import losses
from rnnkit.gradcheck import check_gradients
from rnnkit.layers import Dense, SimpleRNN, TimeDistributed
from rnnkit.models import Sequential
from rnnkit.training import Trainer

F64 = "float64"


def regression(n: int = 24, t: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, t, 2))
    return x, x.sum(axis=(1, 2))[:, None] / t


def classes(n: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5, 2)).astype(np.float32)
    return x, (x[:, :, 0].sum(axis=1) > 0).astype(np.int64)


def rnn(out: int = 1, dtype: str = "float32", seed: int = 0) -> Sequential:
    return Sequential(
        [SimpleRNN(4, input_shape=(5, 2), dtype=dtype, seed=seed), Dense(out, dtype=dtype, seed=1)]
    )


def seq_model() -> Sequential:
    return Sequential(
        [
            SimpleRNN(3, return_sequences=True, input_shape=(5, 2), dtype=F64, seed=0),
            TimeDistributed(Dense(1, dtype=F64, seed=1)),
        ]
    )


# -- the loss: Keras's "sum_over_batch_size" ------------------------------------------------------


def test_weighted_loss_divides_by_the_number_of_samples_not_the_weights() -> None:
    rng = np.random.default_rng(1)
    y_pred, y_true = rng.standard_normal((6, 1)), rng.standard_normal((6, 1))
    w = np.array([0.0, 1.0, 2.0, 0.5, 3.0, 1.0])
    loss = losses.MeanSquaredError()
    value = loss(y_pred, y_true, sample_weight=w)
    assert value == pytest.approx(np.sum(w * (y_pred - y_true)[:, 0] ** 2) / 6, rel=1e-12)
    np.testing.assert_allclose(
        loss.backward()[:, 0], 2 * w * (y_pred - y_true)[:, 0] / 6, rtol=1e-12
    )


def test_weighted_sequence_loss_with_lengths() -> None:
    # A per-sample weight multiplies every valid step; the divisor is the number of valid
    # steps (Keras's apply_mask rescaling), whatever the weights.
    rng = np.random.default_rng(2)
    y_pred, ids = rng.standard_normal((3, 4, 5)), rng.integers(0, 5, (3, 4))
    lengths, w = np.array([4, 2, 0]), np.array([2.0, 0.5, 7.0])
    loss = losses.SparseCategoricalCrossentropy()
    per_step = -np.take_along_axis(
        y_pred - np.log(np.exp(y_pred).sum(-1, keepdims=True)), ids[..., None], -1
    )[..., 0]
    valid = np.arange(4) < lengths[:, None]
    expected = np.sum(per_step * w[:, None] * valid) / valid.sum()
    assert loss(y_pred, ids, lengths, w) == pytest.approx(expected, rel=1e-12)
    per_step_w = rng.random((3, 4))
    expected = np.sum(per_step * per_step_w * valid) / valid.sum()
    assert loss(y_pred, ids, lengths, per_step_w) == pytest.approx(expected, rel=1e-12)


def test_weight_shapes_are_checked() -> None:
    loss = losses.MeanSquaredError()
    with pytest.raises(ValueError, match="sample_weight has shape"):
        loss(np.zeros((4, 1)), np.zeros((4, 1)), sample_weight=np.ones(3))
    x, y = regression()
    model = rnn()
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(24,\)"):
        model.fit(x, y, verbose=0, sample_weight=np.ones(23))
    with pytest.raises(ValueError, match="finite"):
        model.fit(x, y, verbose=0, sample_weight=np.full(24, np.nan))
    with pytest.raises(ValueError, match="together"):
        model.fit(x, y, verbose=0, sample_weight=np.ones(24), class_weight={0: 1.0})
    with pytest.raises(TypeError, match="class_weight must be a dict"):
        model.fit(x, y, verbose=0, class_weight=[1.0, 2.0])
    with pytest.raises(TypeError, match="int class ids"):
        model.fit(x, y, verbose=0, class_weight={"a": 1.0})
    with pytest.raises(ValueError, match="with tbptt"):
        model.fit(x, y, verbose=0, tbptt=2, sample_weight=np.ones((24, 5)))


# -- gradients -----------------------------------------------------------------------------------


def test_weighted_gradients_match_central_differences() -> None:
    x, y = regression(n=6)
    y_seq = np.repeat(y[:, None, :], 5, axis=1)
    model = seq_model()
    trainer = Trainer(model, "mse", "sgd")
    lengths = np.array([5, 3, 1, 5, 2, 4])
    w = np.array([0.0, 1.0, 2.5, 0.3, 1.0, 4.0])

    def loss() -> float:
        return trainer.loss(model.forward(x, lengths=lengths), y_seq, lengths, w)

    _, grads = trainer.compute_gradients(x, y_seq, lengths=lengths, sample_weight=w)
    errors = check_gradients(loss, model.params, grads)
    assert max(errors.values()) < 1e-7


def test_zero_weight_removes_a_samples_influence() -> None:
    x, y = regression(n=8)
    trainer = Trainer(rnn(dtype=F64), "mse", "sgd")
    w = np.ones(8)
    w[3] = 0.0
    _, with_zero = trainer.compute_gradients(x, y, sample_weight=w)
    y_other = y.copy()
    y_other[3] = 1e3  # whatever sample 3's target, it no longer counts
    _, changed = trainer.compute_gradients(x, y_other, sample_weight=w)
    keep = np.arange(8) != 3
    _, without = trainer.compute_gradients(x[keep], y[keep])
    for key, g in with_zero.items():
        np.testing.assert_allclose(changed[key], g, rtol=1e-12, atol=1e-15)
        # Keras's reduction divides by all 8 samples: the gradient of the other 7 scaled 7/8.
        np.testing.assert_allclose(g, without[key] * 7 / 8, rtol=1e-10, atol=1e-14)


# -- class_weight --------------------------------------------------------------------------------


def test_class_weight_equals_the_equivalent_sample_weight_exactly() -> None:
    x, y = classes()
    runs = []
    for kwargs in (
        {"class_weight": {0: 1.0, 1: 3.0}},
        {"sample_weight": np.where(y == 1, 3.0, 1.0)},
    ):
        model = rnn(out=2)
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
        history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, seed=0, **kwargs)
        runs.append((history.history["loss"], model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_class_weight_reads_one_hot_and_column_targets_as_keras() -> None:
    from rnnkit.training.weights import class_sample_weights

    table = {0: 0.5, 2: 4.0}  # class 1 is missing: weight 1
    ids = np.array([0, 1, 2, 2])
    expected = [0.5, 1.0, 4.0, 4.0]
    np.testing.assert_array_equal(class_sample_weights(ids, table), expected)
    np.testing.assert_array_equal(class_sample_weights(np.eye(3)[ids], table), expected)
    np.testing.assert_array_equal(class_sample_weights(ids[:, None] + 0.0, table), expected)
    with pytest.raises(ValueError, match="per-step targets"):
        class_sample_weights(np.zeros((4, 5, 3)), table)


def test_weights_change_training_as_expected() -> None:
    # Doubling every weight doubles the loss, so SGD moves twice as far on the first step.
    x, y = regression(n=8)
    steps = []
    for scale in (1.0, 2.0):
        model = rnn(dtype=F64)
        before = model.get_weights()
        model.compile(loss="mse", optimizer="sgd")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, sample_weight=np.full(8, scale))
        steps.append([a - b for a, b in zip(model.get_weights(), before)])
    for one, two in zip(*steps):
        np.testing.assert_allclose(two, 2 * one, rtol=1e-9, atol=1e-15)


# -- validation_data's third element -------------------------------------------------------------


def test_validation_sample_weights_weigh_val_loss() -> None:
    x, y = regression()
    w = np.linspace(0, 2, 24)
    model = rnn(dtype=F64)
    model.compile(loss="mse", optimizer="sgd")
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y, w))
    weighted = model.evaluate(x, y, sample_weight=w, verbose=0)
    assert history.history["val_loss"][0] == weighted
    assert weighted != model.evaluate(x, y, verbose=0)
    with pytest.raises(ValueError, match="val_sample_weight"):
        model.fit(x, y, verbose=0, validation_data=(x, y, w, w))
    with pytest.raises(ValueError, match="validation sample_weight"):
        model.fit(x, y, verbose=0, validation_data=(x, y, w[:3]))


def test_validation_split_splits_the_weights_too() -> None:
    x, y = regression()
    w = np.linspace(0, 2, 24)
    model = rnn(dtype=F64)
    model.compile(loss="mse", optimizer="sgd")
    history = model.fit(x, y, epochs=1, verbose=0, sample_weight=w, validation_split=0.25)
    assert history.history["val_loss"][0] == model.evaluate(
        x[18:], y[18:], sample_weight=w[18:], verbose=0
    )


# -- *_on_batch ----------------------------------------------------------------------------------


def test_train_on_batch_returns_keras_values() -> None:
    x, y = regression(n=8)
    model = rnn(dtype=F64)
    model.compile(loss="mse", optimizer="sgd")
    expected = float(np.mean((model.predict(x) - y) ** 2))
    before = model.get_weights()
    loss = model.train_on_batch(x, y)
    assert isinstance(loss, float) and loss == pytest.approx(expected, rel=1e-12)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    model.compile(loss="mse", optimizer="sgd", metrics=["mae"])
    values = model.train_on_batch(x, y, sample_weight=np.ones(8))
    assert isinstance(values, list) and len(values) == 2
    logs = model.test_on_batch(x, y, return_dict=True)
    assert list(logs) == ["loss", "mae"]
    assert logs["loss"] == pytest.approx(model.evaluate(x, y, verbose=0, batch_size=8)[0])
    np.testing.assert_array_equal(model.predict_on_batch(x), model.predict(x))


def test_on_batch_metrics_do_not_accumulate_and_class_weight_works() -> None:
    x, y = classes(n=8)
    model = rnn(out=2)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    first = model.test_on_batch(x[:4], y[:4], return_dict=True)
    second = model.test_on_batch(x[:4], y[:4], return_dict=True)
    assert first == second  # each call reports its batch alone (Keras resets its metrics)
    a = model.test_on_batch(x, y, sample_weight=np.where(y == 1, 2.0, 1.0))
    model2 = rnn(out=2)
    model2.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    b = model2.train_on_batch(x, y, class_weight={1: 2.0})
    assert a[0] == pytest.approx(b)  # same weights, same weighted loss before the update
    with pytest.raises(RuntimeError, match="compile"):
        rnn().train_on_batch(x, y)
