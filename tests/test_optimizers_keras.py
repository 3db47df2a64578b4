"""Nadam (Keras 3's rule, its momentum schedule included) and Keras's clipping arguments on
every optimizer (clipnorm per gradient array, global_clipnorm over all, clipvalue; at most
one), checked against updates computed by hand and against Keras itself when installed."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pytest

from rnnkit import optimizers
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential
from rnnkit.optimizers import SGD, Adagrad, Adam, Nadam, RMSprop

rng = np.random.default_rng(0)


@pytest.fixture
def keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def nadam_by_hand(
    p: float, grads: list[float], lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-7
) -> list[float]:
    """Dozat's Nadam as Keras 3 states it, one scalar at a time: the parameter after each step."""
    m = v = 0.0
    product = 1.0  # u_1 ... u_t
    out = []
    for t, g in enumerate(grads, start=1):
        u_t = b1 * (1 - 0.5 * 0.96**t)
        u_next = b1 * (1 - 0.5 * 0.96 ** (t + 1))
        product *= u_t
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = u_next * m / (1 - product * u_next) + (1 - u_t) * g / (1 - product)
        v_hat = v / (1 - b2**t)
        p -= lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(p)
    return out


def test_nadam_matches_the_rule_by_hand() -> None:
    grads = rng.standard_normal((12, 3))
    start = rng.standard_normal(3)
    params = {"w": start.copy()}
    opt = Nadam(learning_rate=0.05, beta_1=0.8, beta_2=0.99, epsilon=1e-6)
    steps = []
    for g in grads:
        opt.step(params, {"w": g.copy()})
        steps.append(params["w"].copy())
    for j in range(3):
        expected = nadam_by_hand(start[j], list(grads[:, j]), 0.05, 0.8, 0.99, 1e-6)
        np.testing.assert_allclose([s[j] for s in steps], expected, rtol=1e-13, atol=1e-15)


def test_nadam_first_step_by_hand() -> None:
    """Step 1: m = 0.1 g, v = 0.001 g², u_1 = 0.9 * 0.52, u_2 = 0.9 * (1 - 0.5 * 0.96²), so
    m_hat = (u_2 * 0.1 / (1 - u_1 u_2) + 1) g and v_hat = g²: the step is
    lr * (u_2 * 0.1 / (1 - u_1 u_2) + 1) * sign(g) (Keras's own test: [0.4686, ...])."""
    params = {"w": np.array([1.0, 2.0, 3.0, 4.0])}
    Nadam(learning_rate=0.5).step(params, {"w": np.array([1.0, 6.0, 7.0, 2.0])})
    u1, u2 = 0.9 * 0.52, 0.9 * (1 - 0.5 * 0.96**2)
    step = 0.5 * (u2 * 0.1 / (1 - u1 * u2) + 1)
    np.testing.assert_allclose(params["w"], np.array([1.0, 2.0, 3.0, 4.0]) - step, rtol=1e-6)
    np.testing.assert_allclose(params["w"], [0.4686, 1.4686, 2.4686, 3.4686], atol=1e-4)


def test_nadam_state_is_its_step_count_and_moments() -> None:
    """Snapshots, get_state/set_state and resuming give the same updates: the momentum
    schedule's product follows the step count."""
    grads = rng.standard_normal((8, 4))
    straight = Nadam(0.01)
    p_straight = {"w": np.zeros(4)}
    for g in grads:
        straight.step(p_straight, {"w": g.copy()})

    first = Nadam(0.01)
    p = {"w": np.zeros(4)}
    for g in grads[:3]:
        first.step(p, {"w": g.copy()})
    snap = first.snapshot()
    saved = first.get_state()
    p_saved = p["w"].copy()
    for g in grads[3:5]:
        first.step(p, {"w": g.copy()})
    first.restore(snap)  # back to step 3
    p["w"][:] = p_saved
    resumed = Nadam(0.01)
    resumed.set_state(saved)
    p_resumed = {"w": p_saved.copy()}
    for g in grads[3:]:
        first.step(p, {"w": g.copy()})
        resumed.step(p_resumed, {"w": g.copy()})
    np.testing.assert_array_equal(p["w"], p_straight["w"])
    np.testing.assert_array_equal(p_resumed["w"], p_straight["w"])


def test_nadam_by_name_config_and_training() -> None:
    opt = optimizers.get("nadam")
    assert isinstance(opt, Nadam) and opt.current_learning_rate() == 0.001
    again = optimizers.get(optimizers.serialize(Nadam(0.02, beta_1=0.8, clipnorm=1.0)))
    assert isinstance(again, Nadam)
    assert again.get_config() == Nadam(0.02, beta_1=0.8, clipnorm=1.0).get_config()
    t = np.arange(300)
    wave = np.sin(0.3 * t).astype(np.float32)
    x = np.stack([wave[i : i + 4] for i in range(len(wave) - 4)])[..., None]
    model = Sequential([SimpleRNN(8, input_shape=(4, 1), seed=0), Dense(1, seed=1)])
    model.compile(optimizer="nadam", loss="mse")
    loss = model.fit(x, wave[4:, None], epochs=15, verbose=0, seed=0).history["loss"]
    assert loss[-1] < 0.2 * loss[0]


def test_nadam_matches_keras(keras: Any) -> None:
    grads = rng.standard_normal((6, 5)).astype(np.float32)
    start = rng.standard_normal(5).astype(np.float32)
    theirs = keras.Variable(start.copy())
    keras_opt = keras.optimizers.Nadam(learning_rate=0.1)
    ours = {"w": start.copy()}
    opt = Nadam(0.1)
    for g in grads:
        keras_opt.apply_gradients([(g, theirs)])
        opt.step(ours, {"w": g.copy()})
        np.testing.assert_allclose(ours["w"], np.asarray(theirs), rtol=2e-5, atol=2e-6)


# -- clipping -----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [SGD, Adagrad, RMSprop, Adam, Nadam], ids=lambda c: c.__name__)
def test_every_optimizer_takes_keras_clipping_arguments(make: Any) -> None:
    for kwargs in ({"clipnorm": 1.0}, {"global_clipnorm": 2.0}, {"clipvalue": 0.5}):
        opt = make(**kwargs)
        config = opt.get_config()
        assert {k: config[k] for k in ("clipnorm", "global_clipnorm", "clipvalue")} == {
            "clipnorm": None,
            "global_clipnorm": None,
            "clipvalue": None,
            **kwargs,
        }
        assert type(optimizers.get(optimizers.serialize(opt))).__name__ == make.__name__
    with pytest.raises(ValueError, match="only one of clipnorm, clipvalue and global_clipnorm"):
        make(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="only one of"):
        make(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(ValueError, match="only one of"):
        make(global_clipnorm=1.0, clipvalue=1.0)


def _sgd_step(grads: dict[str, np.ndarray], **clipping: float) -> dict[str, np.ndarray]:
    """The update of SGD(1.0) from zero: minus the clipped gradients."""
    params = {k: np.zeros_like(g) for k, g in grads.items()}
    SGD(1.0, **clipping).step(params, {k: g.copy() for k, g in grads.items()})
    return {k: -p for k, p in params.items()}


def test_clipnorm_clips_each_array_by_its_own_norm() -> None:
    grads = {"big": np.array([3.0, 4.0]), "small": np.array([0.3, 0.4]), "zero": np.zeros(2)}
    clipped = _sgd_step(grads, clipnorm=1.0)
    np.testing.assert_allclose(clipped["big"], [0.6, 0.8], rtol=1e-15)
    np.testing.assert_array_equal(clipped["small"], [0.3, 0.4])  # within the norm: untouched
    np.testing.assert_array_equal(clipped["zero"], [0.0, 0.0])
    np.testing.assert_allclose(
        _sgd_step({"g": np.array([100.0, 100.0])}, clipnorm=1.0)["g"], [2**-0.5, 2**-0.5]
    )


def test_global_clipnorm_is_keras_exact() -> None:
    grads = {"a": np.array([3.0, 4.0]), "b": np.array([12.0])}  # global norm 13
    clipped = _sgd_step(grads, global_clipnorm=1.0)
    np.testing.assert_allclose(clipped["a"], [3 / 13, 4 / 13], rtol=1e-15)  # no epsilon
    np.testing.assert_allclose(clipped["b"], [12 / 13], rtol=1e-15)
    np.testing.assert_array_equal(_sgd_step(grads, global_clipnorm=20.0)["a"], [3.0, 4.0])


def test_clipvalue() -> None:
    clipped = _sgd_step({"a": np.array([-3.0, 0.2, 7.0])}, clipvalue=0.5)
    np.testing.assert_array_equal(clipped["a"], [-0.5, 0.2, 0.5])


@pytest.mark.parametrize(
    "clipping", [{"clipnorm": 1.0}, {"global_clipnorm": 1.5}, {"clipvalue": 0.3}], ids=str
)
def test_clipping_matches_keras(keras: Any, clipping: dict[str, float]) -> None:
    grads = {"a": rng.standard_normal(3).astype(np.float32) * 3, "b": rng.standard_normal(2) * 2}
    grads["b"] = grads["b"].astype(np.float32)
    ours = _sgd_step(grads, **clipping)
    variables = [keras.Variable(np.zeros_like(g)) for g in grads.values()]
    keras.optimizers.SGD(1.0, **clipping).apply_gradients(zip(grads.values(), variables))
    for (key, _), var in zip(grads.items(), variables):
        np.testing.assert_allclose(ours[key], -np.asarray(var), rtol=1e-6)
