"""Keras's losses and metrics beyond the core set: Huber, MAPE and MSLE (hand-computed values,
float64 gradient checks), Keras's loss and metric *functions* (per-sample values, Keras's
argument order), custom metric functions in ``compile``, names logged as written (``"acc"``),
RootMeanSquaredError, and the clear refusal of custom loss functions. Compared with Keras itself
when it is installed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rnnkit
from rnnkit import losses, metrics
from rnnkit.gradcheck import check_gradients
from rnnkit.layers import Dense, SimpleRNN, TimeDistributed
from rnnkit.models import Sequential, load_model

rng = np.random.default_rng(0)
TOL = 1e-7


@pytest.fixture
def keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


# -- the new losses: values -----------------------------------------------------------------------


def test_huber_values() -> None:
    y_true = np.array([[0.0, 0.0, 0.0]])
    y_pred = np.array([[0.5, -2.0, 3.0]])
    # |e| <= 1: e²/2; beyond: |e| - 1/2
    assert losses.Huber()(y_pred, y_true) == pytest.approx((0.125 + 1.5 + 2.5) / 3)
    # delta 2: 0.125, 2 (= 4/2, on the edge), 2*3 - 2 = 4
    assert losses.Huber(delta=2.0)(y_pred, y_true) == pytest.approx((0.125 + 2.0 + 4.0) / 3)
    np.testing.assert_allclose(losses.huber(y_true, y_pred), [(0.125 + 1.5 + 2.5) / 3])
    with pytest.raises(ValueError, match="delta must be a positive real"):
        losses.Huber(delta=0)


def test_mape_values_with_keras_epsilon() -> None:
    y_true = np.array([[2.0, -4.0], [0.0, 1.0]])
    y_pred = np.array([[1.0, -2.0], [1e-3, 1.0]])
    expected = 100 * np.array([[0.5, 0.5], [1e-3 / 1e-7, 0.0]])  # |y_true| clipped to 1e-7
    np.testing.assert_allclose(losses.mape(y_true, y_pred), expected.mean(axis=-1))
    assert losses.MeanAbsolutePercentageError()(y_pred, y_true) == pytest.approx(expected.mean())


def test_msle_values() -> None:
    y_true, y_pred = np.array([[1.0, 3.0]]), np.array([[3.0, 1.0]])
    assert losses.msle(y_true, y_pred)[0] == pytest.approx(np.log(2) ** 2)
    # values below 1e-7 are clipped: -5 and 0 both count as 1e-7, no gradient at -5
    loss = losses.MeanSquaredLogarithmicError()
    assert loss(np.array([[-5.0]]), np.array([[0.0]])) == 0.0
    assert loss.backward()[0, 0] == 0.0
    assert loss(np.array([[-5.0]]), np.array([[1.0]])) == pytest.approx(np.log(2) ** 2, rel=1e-6)


# -- the new losses: gradients ------------------------------------------------------------------


def _loss_cases() -> list[tuple[str, Any, np.ndarray, np.ndarray]]:
    y_true = rng.standard_normal((4, 3, 2))
    # Keep away from the kinks (|e| = delta, y_pred = y_true, y_pred = 1e-7): differences there
    # are not derivatives.
    e = rng.choice([-1, 1], size=y_true.shape) * rng.uniform(0.1, 2.5, size=y_true.shape)
    e[np.abs(np.abs(e) - 1.0) < 0.05] += 0.2
    positive_true = np.abs(y_true) + 0.1
    positive_pred = positive_true * rng.uniform(0.3, 3.0, size=y_true.shape)
    positive_pred[0, 0] = -0.5  # clipped: a zero gradient, checked too
    return [
        ("huber", losses.Huber(), y_true + e, y_true),
        ("huber_delta", losses.Huber(delta=0.7), y_true + e, y_true),
        ("mape", losses.MeanAbsolutePercentageError(), y_true + e, y_true),
        ("msle", losses.MeanSquaredLogarithmicError(), positive_pred, positive_true),
    ]


@pytest.mark.parametrize("lengths", [None, np.array([3, 1, 0, 2])], ids=["full", "masked"])
@pytest.mark.parametrize("name,loss,y_pred,y_true", _loss_cases(), ids=lambda v: str(v)[:10])
def test_new_losses_gradient_check(
    name: str, loss: Any, y_pred: np.ndarray, y_true: np.ndarray, lengths: Any
) -> None:
    loss.forward(y_pred, y_true, lengths)
    grad = loss.backward().copy()
    assert grad.dtype == np.float64 and grad.shape == y_pred.shape
    check_gradients(
        lambda: loss.forward(y_pred, y_true, lengths), {"y_pred": y_pred}, {"y_pred": grad}, TOL
    )


def test_new_losses_by_name_and_serialisation() -> None:
    for name, cls in [
        ("huber", losses.Huber),
        ("huber_loss", losses.Huber),
        ("Huber", losses.Huber),
        ("mape", losses.MeanAbsolutePercentageError),
        ("mean_absolute_percentage_error", losses.MeanAbsolutePercentageError),
        ("msle", losses.MeanSquaredLogarithmicError),
        ("MeanSquaredLogarithmicError", losses.MeanSquaredLogarithmicError),
    ]:
        assert type(losses.get(name)) is cls
    again = losses.get(losses.serialize(losses.Huber(delta=0.3)))
    assert isinstance(again, losses.Huber) and again.delta == 0.3


# -- Keras's loss functions -----------------------------------------------------------------------


def test_loss_functions_return_per_sample_values() -> None:
    y_true, y_pred = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    np.testing.assert_allclose(
        losses.mean_squared_error(y_true, y_pred), ((y_pred - y_true) ** 2).mean(-1)
    )
    np.testing.assert_allclose(losses.mae(y_true, y_pred), np.abs(y_pred - y_true).mean(-1))
    assert losses.mse is losses.mean_squared_error and metrics.mse is losses.mse
    seq_true, seq_pred = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    assert losses.mse(seq_true, seq_pred).shape == (2, 3)
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy(np.array([0, 2]), probs), -np.log([0.7, 0.8])
    )
    np.testing.assert_allclose(
        losses.categorical_crossentropy(np.eye(3)[[0, 2]], probs), -np.log([0.7, 0.8])
    )
    p = np.array([[0.9, 0.2]])
    np.testing.assert_allclose(
        losses.binary_crossentropy(np.array([[1.0, 0.0]]), p), [-(np.log(0.9) + np.log(0.8)) / 2]
    )


def _keras_pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    y = rng.standard_normal((6, 5)).astype(np.float32)
    p = (y + rng.standard_normal((6, 5))).astype(np.float32)
    positive = np.abs(y) + 0.1
    probs = rng.dirichlet(np.ones(5), size=6).astype(np.float32)
    onehot = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 6)]
    return [
        ("mean_squared_error", y, p),
        ("mean_absolute_error", y, p),
        ("mean_absolute_percentage_error", y, p),
        ("mean_squared_logarithmic_error", positive, np.abs(p)),
        ("huber", y, p),
        ("binary_crossentropy", (y > 0).astype(np.float32), 1 / (1 + np.exp(-p))),
        ("categorical_crossentropy", onehot, probs),
        ("sparse_categorical_crossentropy", onehot.argmax(-1), probs),
    ]


@pytest.mark.parametrize("name,y_true,y_pred", _keras_pairs(), ids=lambda v: str(v)[:12])
def test_loss_functions_match_keras(keras: Any, name: str, y_true: Any, y_pred: Any) -> None:
    ours = getattr(losses, name)(y_true, y_pred)
    theirs = np.asarray(getattr(keras.losses, name)(y_true, y_pred))
    np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=1e-6)


def test_loss_classes_match_keras(keras: Any) -> None:
    y = rng.standard_normal((6, 5)).astype(np.float32)
    p = (y + 2 * rng.standard_normal((6, 5))).astype(np.float32)
    for ours, theirs in [
        (losses.Huber(delta=0.5), keras.losses.Huber(delta=0.5)),
        (losses.MeanAbsolutePercentageError(), keras.losses.MeanAbsolutePercentageError()),
        (losses.MeanSquaredLogarithmicError(), keras.losses.MeanSquaredLogarithmicError()),
    ]:
        assert ours(p, y) == pytest.approx(float(theirs(y, p)), rel=2e-5)


# -- losses in compile --------------------------------------------------------------------------


def _sine_model() -> Sequential:
    return Sequential([SimpleRNN(6, input_shape=(4, 1), seed=0), Dense(1, seed=1)])


def _sine_data() -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(200)
    wave = np.sin(0.3 * t).astype(np.float32)
    x = np.stack([wave[i : i + 4] for i in range(len(wave) - 4)])[..., None]
    return x, wave[4:, None]


@pytest.mark.parametrize("name", ["mse", "mape", "huber"])
def test_compile_with_a_keras_loss_function_equals_its_name(name: str) -> None:
    x, y = _sine_data()
    runs = []
    for loss in (name, getattr(losses, name)):
        model = _sine_model()
        model.compile(optimizer="adam", loss=loss)
        runs.append(model.fit(x, y, epochs=2, verbose=0, seed=0).history["loss"])
    assert runs[0] == runs[1]


def test_compile_refuses_a_custom_loss_function_with_the_way_out() -> None:
    def my_loss(y_true: Any, y_pred: Any) -> Any:
        return (y_pred - y_true) ** 2

    model = _sine_model()
    with pytest.raises(TypeError, match="loss=my_loss is a function") as info:
        model.compile(optimizer="adam", loss=my_loss)
    assert "subclass of rnnkit.losses.Loss" in str(info.value)
    with pytest.raises(TypeError, match="no automatic differentiation"):
        rnnkit.training.Trainer(model, loss=lambda a, b: a, optimizer="sgd")


def test_the_loss_subclass_the_error_message_shows_works() -> None:
    class QuarticLoss(losses.Loss):
        def _compute(self, y_pred: np.ndarray, y_true: np.ndarray) -> Any:
            return (y_pred - y_true) ** 4, 4 * (y_pred - y_true) ** 3

    y_pred, y_true = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    loss = QuarticLoss()
    assert loss(y_pred, y_true) == pytest.approx(np.mean((y_pred - y_true) ** 4))
    grad = loss.backward().copy()
    check_gradients(lambda: loss(y_pred, y_true), {"y_pred": y_pred}, {"y_pred": grad}, TOL)
    x, y = _sine_data()
    model = _sine_model()
    model.compile(optimizer="adam", loss=QuarticLoss())
    assert np.isfinite(model.fit(x, y, epochs=1, verbose=0).history["loss"][0])


# -- metrics ------------------------------------------------------------------------------------


def test_metrics_are_logged_under_the_name_written() -> None:
    x, y = _sine_data()
    model = _sine_model()
    model.compile(optimizer="adam", loss="mse", metrics=["acc", "mean_squared_error", "rmse"])
    history = model.fit(x, y, epochs=1, verbose=0, validation_split=0.2, seed=0).history
    assert {"acc", "val_acc", "mean_squared_error", "rmse", "val_rmse"} <= set(history)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["rmse"] == pytest.approx(np.sqrt(logs["mean_squared_error"]), rel=1e-6)
    assert logs["mean_squared_error"] == pytest.approx(logs["loss"], rel=1e-6)


def test_acc_keeps_its_name_after_a_sigmoid_output() -> None:
    model = Sequential([SimpleRNN(3, input_shape=(4, 1), seed=0), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["acc"])
    (metric,) = model.trainer.metrics  # type: ignore[union-attr]
    assert metric.name == "acc" and isinstance(metric, metrics.Accuracy)
    assert metric.threshold == 0.5


def test_custom_metric_function_in_compile() -> None:
    def within_tenth(y_true: Any, y_pred: Any) -> Any:
        return np.mean(np.abs(y_true - y_pred) < 0.1, axis=-1)

    x, y = _sine_data()
    model = _sine_model()
    model.compile(optimizer="adam", loss="mse", metrics=[within_tenth, metrics.mean_absolute_error])
    history = model.fit(x, y, epochs=1, verbose=0, seed=0).history
    assert "within_tenth" in history and "mean_absolute_error" in history
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    pred = model.predict(x)
    assert logs["within_tenth"] == pytest.approx(np.mean(np.abs(y - pred) < 0.1))
    assert logs["mean_absolute_error"] == pytest.approx(np.mean(np.abs(y - pred)), rel=1e-5)


def test_function_metric_with_a_sequence_mask() -> None:
    metric = metrics.get(metrics.mean_squared_error)
    y_pred, y_true = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 3))
    lengths = np.array([4, 1])
    squared = ((y_pred - y_true) ** 2).mean(-1)
    assert metric(y_pred, y_true, lengths) == pytest.approx(
        np.concatenate([squared[0], squared[1, :1]]).mean()
    )
    scalar = metrics.FunctionMetric(lambda a, b: float(np.mean(a)), name="scalar")
    with pytest.raises(ValueError, match="one value per sample and step"):
        scalar(y_pred, y_true, lengths)
    assert scalar(y_pred, y_true) == pytest.approx(float(np.mean(y_true)))


def test_sequence_model_with_a_custom_metric_masks_padded_steps() -> None:
    x = rng.standard_normal((4, 5, 2)).astype(np.float32)
    y = rng.standard_normal((4, 5, 1)).astype(np.float32)
    lengths = np.array([5, 2, 3, 1])
    model = Sequential(
        [SimpleRNN(3, return_sequences=True, input_shape=(5, 2), seed=0), TimeDistributed(Dense(1))]
    )
    model.compile(optimizer="sgd", loss="mse", metrics=[losses.mean_absolute_error, "mae"])
    logs = model.evaluate(x, y, verbose=0, lengths=lengths, return_dict=True)
    assert logs["mean_absolute_error"] == pytest.approx(logs["mae"], rel=1e-6)


def test_root_mean_squared_error_accumulates_before_the_root() -> None:
    rmse = metrics.RootMeanSquaredError()
    a, b = np.array([[1.0], [3.0]]), np.array([[2.0]])
    rmse.update_state(a, np.zeros_like(a))
    rmse.update_state(b, np.zeros_like(b))
    assert rmse.result() == pytest.approx(np.sqrt((1 + 9 + 4) / 3))
    assert rmse.name == "root_mean_squared_error"
    assert metrics.RootMeanSquaredError(name="rmse_val").name == "rmse_val"


def test_metric_classes_and_names() -> None:
    assert type(metrics.get(metrics.RootMeanSquaredError)) is metrics.RootMeanSquaredError
    for name, cls in [
        ("mape", metrics.MeanAbsolutePercentageError),
        ("rmse", metrics.RootMeanSquaredError),
        ("msle", metrics.MeanSquaredLogarithmicError),
        ("binary_accuracy", metrics.BinaryAccuracy),
        ("sparse_categorical_accuracy", metrics.SparseCategoricalAccuracy),
    ]:
        made = metrics.get(name)
        assert type(made) is cls and made.name == name
    assert metrics.MeanSquaredError().name == "mean_squared_error"
    assert metrics.MeanSquaredErrorMetric().name == "mse"  # rnnkit's earlier spelling stays
    with pytest.raises(TypeError):
        metrics.get(3)  # type: ignore[arg-type]


def test_accuracy_functions() -> None:
    probs = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    np.testing.assert_array_equal(
        metrics.sparse_categorical_accuracy(np.array([[1], [2]]), probs), [1, 0]
    )
    np.testing.assert_array_equal(metrics.categorical_accuracy(np.eye(3)[[1, 0]], probs), [1, 1])
    np.testing.assert_array_equal(
        metrics.binary_accuracy(np.array([[1.0, 0.0]]), np.array([[0.6, 0.7]])), [[1.0, 0.0]]
    )


def test_metric_names_survive_a_checkpoint(tmp_path: Path) -> None:
    x, y = _sine_data()
    model = _sine_model()
    model.compile(optimizer="adam", loss="mse", metrics=["acc", "rmse", "mape"])
    model.fit(x, y, epochs=1, verbose=0, seed=0)
    restored = load_model(model.save(tmp_path / "m.npz"))
    assert [m.name for m in restored.trainer.metrics] == ["acc", "rmse", "mape"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "name", ["binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy"]
)
def test_accuracy_functions_match_keras(keras: Any, name: str) -> None:
    probs = rng.dirichlet(np.ones(4), size=8).astype(np.float32)
    ids = rng.integers(0, 4, 8)
    y_true = {
        "binary_accuracy": (rng.random((8, 4)) > 0.5).astype(np.float32),
        "categorical_accuracy": np.eye(4, dtype=np.float32)[ids],
        "sparse_categorical_accuracy": ids[:, None],
    }[name]
    ours = getattr(metrics, name)(y_true, probs)
    theirs = np.asarray(getattr(keras.metrics, name)(y_true, probs))
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs)


def test_rmse_and_mape_metrics_match_keras(keras: Any) -> None:
    batches = [rng.standard_normal((5, 3)).astype(np.float32) for _ in range(4)]
    for ours, theirs in [
        (metrics.RootMeanSquaredError(), keras.metrics.RootMeanSquaredError()),
        (metrics.MeanAbsolutePercentageError(), keras.metrics.MeanAbsolutePercentageError()),
    ]:
        for y_true, y_pred in zip(batches[::2], batches[1::2]):
            ours.update_state(y_pred, y_true)
            theirs.update_state(y_true, y_pred)
        assert ours.result() == pytest.approx(float(theirs.result()), rel=1e-5)
