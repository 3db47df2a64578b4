"""Keras's initializer classes by name: the VarianceScaling family (Glorot, He, LeCun; uniform,
truncated and untruncated normals), TruncatedNormal and Constant, with Keras's fans and
formulas checked on the statistics of large draws, seeds as Keras's, and serialisation."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rnnkit import initializers
from rnnkit.initializers import (
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
    compute_fans,
)
from rnnkit.layers import LSTM, Dense
from rnnkit.models import Sequential, load_model

SHAPE = (120, 400)  # fan_in 120, fan_out 400: 48 000 draws, std known to ~0.4 %
FAN_IN, FAN_OUT = SHAPE
FAN_AVG = (FAN_IN + FAN_OUT) / 2
TRUNCATED_STD = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


@pytest.fixture
def keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def _draw(init: Any, shape: tuple[int, ...] = SHAPE, seed: int = 0) -> np.ndarray:
    return init(shape, np.random.default_rng(seed))


# (initializer, variance it must give, "uniform" | "truncated" | "normal")
FAMILY = [
    (GlorotUniform(), 1 / FAN_AVG, "uniform"),
    (GlorotNormal(), 1 / FAN_AVG, "truncated"),
    (HeNormal(), 2 / FAN_IN, "truncated"),
    (HeUniform(), 2 / FAN_IN, "uniform"),
    (LecunNormal(), 1 / FAN_IN, "truncated"),
    (LecunUniform(), 1 / FAN_IN, "uniform"),
    (VarianceScaling(3.0, "fan_out", "untruncated_normal"), 3 / FAN_OUT, "normal"),
    (VarianceScaling(0.5, "fan_avg", "uniform"), 0.5 / FAN_AVG, "uniform"),
    (VarianceScaling(2.0, "fan_in", "normal"), 2 / FAN_IN, "truncated"),  # "normal": truncated
]


@pytest.mark.parametrize("init,variance,kind", FAMILY, ids=lambda v: getattr(v, "name", None))
def test_variance_scaling_family_statistics(init: Any, variance: float, kind: str) -> None:
    values = _draw(init)
    std = math.sqrt(variance)
    assert abs(values.mean()) < 0.02 * std
    assert values.std() == pytest.approx(std, rel=0.02)
    if kind == "uniform":  # U(-l, l), l = sqrt(3 variance)
        limit = math.sqrt(3 * variance)
        assert np.abs(values).max() <= limit and np.abs(values).max() > 0.99 * limit
    elif kind == "truncated":  # normal of std sqrt(variance) / 0.8796, cut at 2 of those
        bound = 2 * std / TRUNCATED_STD
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.98 * bound
    else:  # untruncated: tails beyond 2.5 std exist (about 1.2 % of the draws)
        assert np.mean(np.abs(values) > 2.5 * std) == pytest.approx(0.0124, abs=0.003)


def test_truncated_normal_redraws_beyond_two_standard_deviations() -> None:
    values = _draw(TruncatedNormal(mean=1.0, stddev=0.5))
    assert values.min() >= 0.0 and values.max() <= 2.0
    assert values.max() > 1.98 and values.min() < 0.02
    assert values.mean() == pytest.approx(1.0, abs=0.005)
    assert values.std() == pytest.approx(0.5 * TRUNCATED_STD, rel=0.02)


def test_fans_are_keras_fans() -> None:
    assert compute_fans((7, 20)) == (7, 20)  # an LSTM kernel (D, 4H): fan_out counts all gates
    assert compute_fans((9,)) == (9, 9)
    assert compute_fans(()) == (1, 1)
    assert compute_fans((3, 5, 7, 11)) == (3 * 5 * 7, 3 * 5 * 11)
    # He: variance 2 / fan_in of the kernel's first axis, whatever the number of gates.
    kernel = LSTM(50, kernel_initializer="he_normal", seed=0)
    kernel.build((None, 200))
    assert kernel.params["Wx"].std() == pytest.approx(math.sqrt(2 / 200), rel=0.02)


def test_glorot_uniform_keeps_its_exact_draws() -> None:
    """The class moved into the VarianceScaling family; seeded weights did not change."""
    rng = np.random.default_rng(5)
    limit = math.sqrt(6.0 / (3 + 7))
    expected = np.random.default_rng(5).uniform(-limit, limit, size=(3, 7))
    np.testing.assert_array_equal(GlorotUniform()((3, 7), rng), expected)


def test_constant() -> None:
    np.testing.assert_array_equal(
        Constant(2.5)((2, 3), np.random.default_rng()), np.full((2, 3), 2.5)
    )
    assert Constant()((2,), np.random.default_rng()).tolist() == [0.0, 0.0]
    layer = Dense(3, bias_initializer=initializers.Constant(0.1), input_shape=(4,))
    np.testing.assert_allclose(layer.params["b"], 0.1, rtol=1e-7)
    with pytest.raises(TypeError, match="value must be a real number"):
        Constant("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="value must be a finite real number"):
        Constant(float("nan"))


@pytest.mark.parametrize(
    "make",
    [HeNormal, GlorotNormal, LecunUniform, TruncatedNormal, RandomNormal, RandomUniform],
    ids=lambda c: c.__name__,
)
def test_seeds_are_keras_seeds(make: Any) -> None:
    """An int seed: the same values on every call whatever the layer's generator; None: the
    generator passed in."""
    seeded = make(seed=7)
    a = seeded((5, 4), np.random.default_rng(1))
    b = seeded((5, 4), np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    unseeded = make()
    c, d = unseeded((5, 4), np.random.default_rng(1)), unseeded((5, 4), np.random.default_rng(2))
    assert not np.array_equal(c, d)
    np.testing.assert_array_equal(c, unseeded((5, 4), np.random.default_rng(1)))
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        make(seed=-1)


@pytest.mark.parametrize(
    "name,cls",
    [
        ("glorot_normal", GlorotNormal),
        ("he_normal", HeNormal),
        ("he_uniform", HeUniform),
        ("lecun_normal", LecunNormal),
        ("lecun_uniform", LecunUniform),
        ("truncated_normal", TruncatedNormal),
        ("variance_scaling", VarianceScaling),
        ("constant", Constant),
        ("HeNormal", HeNormal),
        ("VarianceScaling", VarianceScaling),
        ("Constant", Constant),
    ],
)
def test_names_and_class_names(name: str, cls: type) -> None:
    assert type(initializers.get(name)) is cls


@pytest.mark.parametrize(
    "init",
    [
        VarianceScaling(2.0, "fan_out", "uniform", seed=3),
        HeUniform(seed=1),
        Constant(-0.5),
        TruncatedNormal(0.1, 0.2),
        initializers.Orthogonal(gain=2.0, seed=4),
    ],
    ids=lambda i: type(i).__name__,
)
def test_serialisation_round_trip(init: Any) -> None:
    spec = json.loads(json.dumps(initializers.serialize(init)))
    again = initializers.get(spec)
    assert type(again) is type(init) and again.get_config() == init.get_config()
    np.testing.assert_array_equal(_draw(again, (6, 5)), _draw(init, (6, 5)))


def test_layers_with_keras_initializers_save_and_load(tmp_path: Path) -> None:
    model = Sequential(
        [
            LSTM(4, kernel_initializer=HeNormal(seed=0), input_shape=(3, 2), seed=1),
            Dense(2, kernel_initializer="lecun_uniform", bias_initializer=Constant(0.2)),
        ]
    )
    x = np.random.default_rng(0).standard_normal((5, 3, 2)).astype(np.float32)
    restored = load_model(model.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(restored.predict(x), model.predict(x))
    assert restored.get_config() == model.get_config()


@pytest.mark.parametrize(
    "call,exception,words",
    [
        (lambda: VarianceScaling(scale=0.0), ValueError, "scale must be a positive real"),
        (lambda: VarianceScaling(mode="fan"), ValueError, "mode must be one of"),
        (lambda: VarianceScaling(distribution="gamma"), ValueError, "distribution must be"),
        (lambda: HeNormal(seed=1.5), TypeError, "seed must be a non-negative int"),
    ],
)
def test_bad_arguments(call: Any, exception: type[Exception], words: str) -> None:
    with pytest.raises(exception, match=words):
        call()


@pytest.mark.parametrize(
    "name",
    ["GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform", "TruncatedNormal"],
)
def test_matches_keras(keras: Any, name: str) -> None:
    """The same config keys as Keras's class (but the axes options of Keras 3.15's fans for
    kernels of more than 2 axes, which rnnkit's layers do not have), and draws of the same
    distribution."""
    ours, theirs = getattr(initializers, name)(), getattr(keras.initializers, name)(seed=0)
    assert set(ours.get_config()) == set(theirs.get_config()) - {"input_axes", "output_axes"}
    mine, keras_values = _draw(ours), np.asarray(theirs(SHAPE), dtype=np.float64)
    assert mine.std() == pytest.approx(keras_values.std(), rel=0.03)
    assert np.abs(mine).max() == pytest.approx(np.abs(keras_values).max(), rel=0.03)
