"""Optimizers against hand-computed updates (two steps, so state matters), schedules, clipping,
and state save/restore."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rnnkit import optimizers
from rnnkit.optimizers import (
    SGD,
    Adagrad,
    Adam,
    ExponentialDecay,
    RMSprop,
    StepDecay,
    clip_by_global_norm,
    clip_by_value,
)

P0 = np.array([1.0, -2.0, 0.5])
G1 = np.array([0.1, -0.3, 2.0])
G2 = np.array([-0.2, 0.4, 1.0])


def two_steps(opt):
    params = {"layer_1/W": P0.copy()}
    history = []
    for g in (G1, G2):
        opt.step(params, {"layer_1/W": g.copy()})
        history.append(params["layer_1/W"].copy())
    return history


def test_sgd_plain():
    p1, p2 = two_steps(SGD(learning_rate=0.1))
    np.testing.assert_allclose(p1, P0 - 0.1 * G1, rtol=1e-15)
    np.testing.assert_allclose(p2, P0 - 0.1 * G1 - 0.1 * G2, rtol=1e-15)


def test_sgd_momentum():
    lr, m = 0.1, 0.9
    p1, p2 = two_steps(SGD(learning_rate=lr, momentum=m))
    v1 = -lr * G1
    v2 = m * v1 - lr * G2
    np.testing.assert_allclose(p1, P0 + v1, rtol=1e-15)
    np.testing.assert_allclose(p2, P0 + v1 + v2, rtol=1e-15)


def test_sgd_nesterov():
    lr, m = 0.1, 0.9
    p1, p2 = two_steps(SGD(learning_rate=lr, momentum=m, nesterov=True))
    v1 = -lr * G1
    q1 = P0 + m * v1 - lr * G1
    v2 = m * v1 - lr * G2
    np.testing.assert_allclose(p1, q1, rtol=1e-15)
    np.testing.assert_allclose(p2, q1 + m * v2 - lr * G2, rtol=1e-15)


def test_adagrad_keras_defaults():
    p1, p2 = two_steps(Adagrad())  # lr 0.001, accumulator starts at 0.1, eps 1e-7
    a1 = 0.1 + G1**2
    q1 = P0 - 0.001 * G1 / np.sqrt(a1 + 1e-7)
    a2 = a1 + G2**2
    np.testing.assert_allclose(p1, q1, rtol=1e-15)
    np.testing.assert_allclose(p2, q1 - 0.001 * G2 / np.sqrt(a2 + 1e-7), rtol=1e-15)


def test_adagrad_min_char_rnn():
    """Karpathy's min-char-rnn: mem += g*g; p += -lr * g / sqrt(mem + 1e-8), lr 0.1."""
    opt = Adagrad(learning_rate=0.1, epsilon=1e-8, initial_accumulator_value=0.0)
    p1, p2 = two_steps(opt)
    mem, p = np.zeros(3), P0.copy()
    for g, got in ((G1, p1), (G2, p2)):
        mem += g * g
        p += -0.1 * g / np.sqrt(mem + 1e-8)
        np.testing.assert_allclose(got, p, rtol=1e-15)


def test_rmsprop():
    lr, rho, eps = 0.01, 0.9, 1e-7
    p1, p2 = two_steps(RMSprop(learning_rate=lr))
    v1 = (1 - rho) * G1**2
    q1 = P0 - lr * G1 / np.sqrt(v1 + eps)
    v2 = rho * v1 + (1 - rho) * G2**2
    np.testing.assert_allclose(p1, q1, rtol=1e-15)
    np.testing.assert_allclose(p2, q1 - lr * G2 / np.sqrt(v2 + eps), rtol=1e-15)


def test_rmsprop_centered_momentum():
    lr, rho, mu, eps = 0.01, 0.9, 0.5, 1e-7
    p1, p2 = two_steps(RMSprop(learning_rate=lr, momentum=mu, centered=True))
    v, mg, mom, p = np.zeros(3), np.zeros(3), np.zeros(3), P0.copy()
    for g, got in ((G1, p1), (G2, p2)):
        v = rho * v + (1 - rho) * g * g
        mg = rho * mg + (1 - rho) * g
        mom = mu * mom + lr * g / np.sqrt(v - mg * mg + eps)
        p = p - mom
        np.testing.assert_allclose(got, p, rtol=1e-14)


def test_adam_keras_epsilon_hat():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    p1, p2 = two_steps(Adam(learning_rate=lr))
    m1, v1 = (1 - b1) * G1, (1 - b2) * G1**2
    q1 = P0 - lr * math.sqrt(1 - b2) / (1 - b1) * m1 / (np.sqrt(v1) + eps)
    m2, v2 = b1 * m1 + (1 - b1) * G2, b2 * v1 + (1 - b2) * G2**2
    q2 = q1 - lr * math.sqrt(1 - b2**2) / (1 - b1**2) * m2 / (np.sqrt(v2) + eps)
    np.testing.assert_allclose(p1, q1, rtol=1e-14)
    np.testing.assert_allclose(p2, q2, rtol=1e-14)


def test_updates_are_in_place_and_keep_dtype():
    p = np.ones(3, np.float32)
    params = {"a": p}
    Adam().step(params, {"a": np.ones(3, np.float32)})
    assert params["a"] is p and p.dtype == np.float32 and np.all(p < 1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: SGD(0.1, momentum=0.9, nesterov=True),
        lambda: Adagrad(0.1),
        lambda: RMSprop(0.01, centered=True, momentum=0.3),
        lambda: Adam(0.01),
    ],
    ids=["sgd", "adagrad", "rmsprop", "adam"],
)
def test_state_round_trip_gives_identical_steps(make):
    rng = np.random.default_rng(0)
    grads = [{"x/W": rng.standard_normal((2, 3)), "x/b": rng.standard_normal(3)} for _ in range(4)]
    params = {"x/W": rng.standard_normal((2, 3)), "x/b": rng.standard_normal(3)}
    a = make()
    for g in grads[:2]:
        a.step(params, {k: v.copy() for k, v in g.items()})
    saved_state, saved_params = a.get_state(), {k: v.copy() for k, v in params.items()}
    assert all(isinstance(v, np.ndarray) for v in saved_state.values())
    assert saved_state["iterations"].shape == () and int(saved_state["iterations"]) == 2
    b = optimizers.get(optimizers.serialize(a))  # a fresh optimizer from the config
    b.set_state(saved_state)
    params_b = {k: v.copy() for k, v in saved_params.items()}
    for g in grads[2:]:
        a.step(params, {k: v.copy() for k, v in g.items()})
        b.step(params_b, {k: v.copy() for k, v in g.items()})
    for k in params:
        np.testing.assert_array_equal(params[k], params_b[k])
    json.dumps(optimizers.serialize(a))  # configs are JSON-able


def _state_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize(
    "make",
    [
        lambda: SGD(0.1, momentum=0.9),
        lambda: RMSprop(0.01, momentum=0.5, centered=True),
        lambda: Adam(0.01),
    ],
    ids=["sgd", "rmsprop", "adam"],
)
def test_snapshot_and_restore_undo_steps_in_place(make):
    """restore(snapshot()) brings back the step count and every slot, in the live arrays (a
    reference held to one stays valid), and drops slots created after the snapshot."""
    rng = np.random.default_rng(1)
    params = {"x/W": rng.standard_normal((2, 3))}
    opt = make()
    opt.step(params, {"x/W": rng.standard_normal((2, 3))})
    before = opt.get_state()
    live = dict(opt._state[opt.slots[0]])["x/W"]
    snap = opt.snapshot()
    params["x/b"] = rng.standard_normal(3)  # a parameter the next step sees first
    for _ in range(2):
        opt.step(params, {k: rng.standard_normal(v.shape) for k, v in params.items()})
    assert opt.iterations == 3 and any(key.endswith("/x/b") for key in opt.get_state())
    opt.restore(snap)
    _state_equal(opt.get_state(), before)
    assert opt._state[opt.slots[0]]["x/W"] is live
    assert opt.snapshot(reuse=snap) is snap  # the buffers are reused, not reallocated
    assert snap.slots[opt.slots[0]]["x/W"] is not live


def test_first_non_finite_state_names_the_slot_and_parameter():
    opt = Adagrad(0.1)
    opt.step({"x/W": np.ones(2), "x/b": np.ones(2)}, {"x/W": np.ones(2), "x/b": np.ones(2)})
    assert opt.first_non_finite_state() is None
    opt._state["accumulator"]["x/b"][1] = np.inf
    assert opt.first_non_finite_state() == "accumulator/x/b"


def test_set_state_rejects_unknown_slot():
    with pytest.raises(ValueError, match="unknown state key"):
        Adam().set_state({"iterations": np.array(1), "velocity/x": np.zeros(2)})


def test_step_key_mismatch():
    with pytest.raises(ValueError, match="same keys"):
        SGD().step({"a": np.zeros(2)}, {"b": np.zeros(2)})
    with pytest.raises(ValueError, match="shape"):
        SGD().step({"a": np.zeros(2)}, {"a": np.zeros(3)})


def test_get_by_name():
    assert isinstance(optimizers.get("adam"), Adam)
    assert isinstance(optimizers.get("SGD"), SGD)
    assert isinstance(optimizers.get("rmsprop"), RMSprop)
    assert optimizers.get("adagrad").learning_rate == 0.001
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimizers.get("adamw")


# -- schedules -----------------------------------------------------------------------------------


def test_step_decay():
    s = StepDecay(0.1, drop=0.5, every=10)
    assert [s(i) for i in (0, 9, 10, 25)] == [0.1, 0.1, 0.05, 0.025]


def test_exponential_decay():
    s = ExponentialDecay(0.1, decay_rate=0.5, decay_steps=4)
    assert s(0) == 0.1 and math.isclose(s(2), 0.1 * 0.5**0.5) and math.isclose(s(8), 0.025)
    st = ExponentialDecay(0.1, 0.5, 4, staircase=True)
    assert st(3) == 0.1 and st(4) == 0.05


def test_schedule_is_evaluated_per_step():
    opt = SGD(learning_rate=StepDecay(1.0, drop=0.5, every=1))
    params = {"p": np.zeros(1)}
    for _ in range(3):
        opt.step(params, {"p": np.ones(1)})
    np.testing.assert_allclose(params["p"], [-(1.0 + 0.5 + 0.25)])
    restored = optimizers.get(optimizers.serialize(opt))
    assert isinstance(restored.learning_rate, StepDecay)


# -- clipping ------------------------------------------------------------------------------------


def test_clip_by_global_norm():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    norm = clip_by_global_norm(grads, 1.0)
    assert norm == 5.0
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(grads["a"], [3 * scale, 0.0], rtol=1e-15)
    np.testing.assert_allclose(grads["b"], [[4 * scale]], rtol=1e-15)
    small = [np.array([0.3, 0.4])]
    assert math.isclose(clip_by_global_norm(small, 1.0), 0.5)
    np.testing.assert_array_equal(small[0], [0.3, 0.4])  # below the limit: untouched


def test_clip_by_value():
    g = {"a": np.array([-7.0, 2.0, 5.5])}
    clip_by_value(g, 5.0)
    np.testing.assert_array_equal(g["a"], [-5.0, 2.0, 5.0])
    with pytest.raises(ValueError):
        clip_by_value(g, 0)


def test_optimizer_clipping_arguments():
    params = {"p": np.zeros(2)}
    SGD(1.0, global_clipnorm=1.0).step(params, {"p": np.array([3.0, 4.0])})
    np.testing.assert_allclose(params["p"], [-0.6, -0.8], rtol=1e-5)
    params = {"p": np.zeros(2)}
    SGD(1.0, clipvalue=1.0).step(params, {"p": np.array([3.0, -0.5])})
    np.testing.assert_array_equal(params["p"], [-1.0, 0.5])
