"""Keras's losses beyond the core set: Huber, MAPE and MSLE (hand-computed values, float64
gradient checks), Keras's loss *functions* (per-sample values, Keras's argument order), and the
clear refusal of custom loss functions. Compared with Keras itself when it is installed."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

import rnnkit
from rnnkit import losses
from rnnkit.gradcheck import check_gradients
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential

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
    assert losses.mse is losses.mean_squared_error
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
