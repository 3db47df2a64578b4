"""rnnkit._checks: one rule for every argument check (wrong type: TypeError; right type, wrong
value: ValueError), one wording ("<name> must be <what>, got <value>")."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import _checks


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2)])
def test_positive_int_accepts_python_and_numpy_integers(value):
    out = _checks.positive_int(value, "units")
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 1.0, 2.5, "3", None, [1]])
def test_positive_int_refuses_other_types_with_type_error(value):
    with pytest.raises(TypeError, match=r"^units must be a positive int, got "):
        _checks.positive_int(value, "units")


@pytest.mark.parametrize("value", [0, -1, np.int32(-5)])
def test_positive_int_refuses_small_values_with_value_error(value):
    with pytest.raises(ValueError, match=rf"^units must be a positive int, got {int(value)}$"):
        _checks.positive_int(value, "units")


def test_integer_ranges_and_where():
    assert _checks.integer(5, "n", minimum=1, maximum=8) == 5
    with pytest.raises(ValueError, match=r"^layer 'a': n must be an int in \[1, 8\], got 9$"):
        _checks.integer(9, "n", minimum=1, maximum=8, where="layer 'a': ")
    with pytest.raises(ValueError, match="non-negative int"):
        _checks.non_negative_int(-1, "verbose")
    assert _checks.non_negative_int(0, "verbose") == 0
    assert _checks.optional_positive_int(None, "k") is None


@pytest.mark.parametrize("value", [0, 0.0, 0.5, np.float32(0.25)])
def test_probability_accepts_the_unit_interval(value):
    assert _checks.probability(value, "rate") == pytest.approx(float(value))


@pytest.mark.parametrize(
    "value, exc",
    [
        (1.0, ValueError),
        (-0.1, ValueError),
        (float("nan"), ValueError),
        (True, TypeError),
        ("0.5", TypeError),
        (None, TypeError),
    ],
)
def test_probability_refuses(value, exc):
    with pytest.raises(exc, match=r"rate must be a number in \[0, 1\)"):
        _checks.probability(value, "rate")
    assert _checks.probability(1.0, "p", allow_one=True) == 1.0


def test_real_number():
    assert _checks.real_number(np.float32(0.5), "lr") == 0.5
    with pytest.raises(TypeError, match="lr must be a real number"):
        _checks.real_number("1", "lr")
    with pytest.raises(ValueError, match="lr must be a finite real number"):
        _checks.real_number(float("inf"), "lr")


@pytest.mark.parametrize("value", ["sigmoid", "Tanh", "", None, ["tanh"], 3])
def test_choice_refuses_what_is_not_allowed(value):
    with pytest.raises(ValueError, match=r"^activation must be one of \('tanh', 'relu'\), got "):
        _checks.choice(value, "activation", ("tanh", "relu"))
    assert _checks.choice("relu", "activation", ("tanh", "relu")) == "relu"


def test_lengths():
    out = _checks.lengths([3, 0, 2], 3, 4)
    assert out.dtype == np.int64 and out.tolist() == [3, 0, 2]
    assert _checks.lengths(None, 3, 4) is None
    with pytest.raises(TypeError, match="lengths must hold integers"):
        _checks.lengths(np.array([1.0, 2.0, 0.0]), 3, 4)
    with pytest.raises(ValueError, match=r"lengths must have shape \(N,\) = \(3,\)"):
        _checks.lengths([1, 2], 3, 4)
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, T\] = \[0, 4\]"):
        _checks.lengths([1, 5, 0], 3, 4)


def test_lengths_without_a_known_number_of_steps_checks_the_sign_only():
    assert _checks.lengths([7, 0], 2, None).tolist() == [7, 0]
    with pytest.raises(
        ValueError, match=r"^lengths must lie in \[0, T\], got values in \[-1, 3\]$"
    ):
        _checks.lengths([3, -1], 2, None)


@pytest.mark.parametrize(
    "check, what",
    [
        (_checks.positive_real, "a positive real number"),
        (_checks.non_negative_real, "a non-negative real number"),
    ],
)
def test_bounded_reals(check, what):
    assert check(np.float32(0.5), "clip") == 0.5 and type(check(2, "clip")) is float
    for bad in (True, "1", None):
        with pytest.raises(TypeError, match=rf"^clip must be {what}, got "):
            check(bad, "clip")
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match=rf"^clip must be {what}, got "):
            check(bad, "clip")
    assert _checks.optional_positive_real(None, "clip") is None


def test_zero_is_non_negative_but_not_positive():
    assert _checks.non_negative_real(0, "learning_rate") == 0.0
    with pytest.raises(ValueError, match="clip_value must be a positive real number, got 0"):
        _checks.positive_real(0, "clip_value")


def test_real_array():
    x = np.arange(3)
    assert _checks.real_array(x, "x") is x
    assert _checks.real_array([True, False], "x").dtype == np.bool_
    with pytest.raises(TypeError, match=r"^x must hold real numbers, got dtype <U1$"):
        _checks.real_array(["a"], "x")


@pytest.mark.parametrize("value, exc", [(3, ValueError), (-1, ValueError), (True, TypeError)])
def test_verbosity(value, exc):
    assert [_checks.verbosity(v) for v in (0, 1, 2)] == [0, 1, 2]
    with pytest.raises(exc, match=r"^verbose must be an int in \[0, 2\], got "):
        _checks.verbosity(value)
