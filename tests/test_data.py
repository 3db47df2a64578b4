"""rnnkit.data: windowing, splits by time, scaling, and the bundled data sets."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import data


def test_sine_wave_period_and_dtype() -> None:
    s = data.sine_wave(17)
    assert s.shape == (17,) and s.dtype == np.float32
    np.testing.assert_allclose(s[:9], np.sin(2 * np.pi * 0.125 * np.arange(9)), atol=1e-6)
    np.testing.assert_allclose(s[8:16], s[:8], atol=1e-6)  # 8 steps per period


def test_make_windows_many_to_one() -> None:
    x, y = data.make_windows(np.arange(10.0), 3)
    assert x.shape == (7, 3, 1) and y.shape == (7, 1)
    np.testing.assert_array_equal(x[2, :, 0], [2, 3, 4])
    np.testing.assert_array_equal(y[:, 0], np.arange(3, 10))
    x, y = data.make_windows(np.arange(10.0), 3, horizon=2)
    assert len(x) == 6 and y[0, 0] == 4  # two steps after the window's last


def test_make_windows_many_to_many_and_multivariate() -> None:
    x, y = data.make_windows(np.arange(10.0), 3, horizon=3, targets="sequence")
    assert x.shape == (5, 3, 1) and y.shape == (5, 3, 1)
    np.testing.assert_array_equal(y[0, :, 0], [3, 4, 5])  # the next three values
    series = np.stack([np.arange(8.0), 10 * np.arange(8.0)], axis=1)  # (T, 2)
    x, y = data.make_windows(series, 2, target_columns=1)
    assert x.shape == (6, 2, 2) and y.shape == (6, 1)
    np.testing.assert_array_equal(y[:, 0], 10 * np.arange(2, 8))
    assert x.flags.c_contiguous and y.flags.c_contiguous


@pytest.mark.parametrize(
    "kwargs", [{"window": 0}, {"window": 9}, {"targets": "all"}, {"window": 2, "target_columns": 3}]
)
def test_make_windows_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises((ValueError, IndexError)):
        data.make_windows(np.arange(8.0), **{"window": 2, **kwargs})


def test_split_by_time_keeps_order() -> None:
    x, y = np.arange(10), np.arange(10) * 2
    x_train, x_test, _y_train, y_test = data.train_test_split_by_time(x, y, 0.3)
    np.testing.assert_array_equal(x_train, np.arange(7))
    np.testing.assert_array_equal(x_test, [7, 8, 9])
    np.testing.assert_array_equal(y_test, [14, 16, 18])
    with pytest.raises(ValueError):
        data.train_test_split_by_time(x, y, 1.0)


def test_scaler_round_trip_and_constant_column() -> None:
    values = np.array([[1.0, 5.0], [3.0, 5.0]])
    scaler = data.Scaler.fit(values)
    z = scaler.transform(values)
    np.testing.assert_allclose(z[:, 0], [-1, 1])
    np.testing.assert_allclose(z[:, 1], 0)  # constant: zeros, not NaN
    np.testing.assert_allclose(scaler.inverse_transform(z), values)
    np.testing.assert_allclose(scaler.inverse_transform(z[:, 1:], columns=1), values[:, 1:])


def test_digits_as_row_sequences() -> None:
    pytest.importorskip("sklearn")
    d = data.load_digits_sequences(seed=0)
    assert d.x_train.shape[1:] == (8, 8) and len(d.x_train) + len(d.x_test) == 1797
    assert d.x_train.min() >= 0 and d.x_train.max() == 1
    assert set(np.unique(d.y_test)) == set(range(10))


@pytest.mark.parametrize(
    "name, shape", [("co2", (526, 1)), ("sunspots", (309, 1)), ("macrodata", (203, 12))]
)
def test_bundled_series_are_clean(name: str, shape: tuple[int, int]) -> None:
    pytest.importorskip("statsmodels")
    series = data.load_series(name)
    assert series.values.shape == shape and series.values.dtype == np.float64
    assert np.all(np.isfinite(series.values)) and np.all(np.diff(series.time) > 0)
    assert len(series.columns) == shape[1]


def test_forecast_split_fits_the_scaler_on_the_training_span_only() -> None:
    pytest.importorskip("statsmodels")
    series = data.load_series("macrodata", columns=["unemp", "realgdp"])
    problem = data.forecast_split(series, window=4, target="unemp", test_fraction=0.25, log=True)
    changes = np.diff(np.log(series.values), axis=0)
    covered = len(problem.x_train) + 4  # rows of changes the training windows touch
    np.testing.assert_allclose(problem.scaler.mean, changes[:covered].mean(axis=0))
    # Test targets come after every training target; the naive forecast is the level before.
    assert problem.time_test[0] > series.time[covered]
    np.testing.assert_allclose(problem.naive_test[1:], problem.truth_test[:-1])
    # A perfect model (the true standardised changes) reproduces the true levels.
    np.testing.assert_allclose(problem.to_level(problem.y_test), problem.truth_test, rtol=1e-5)
    with pytest.raises(KeyError, match="no column"):
        data.forecast_split(series, window=4, target="nope")
