"""Data helpers for the examples and for quick experiments: toy signals, windowing, splits by
time, and small real data sets that ship inside scikit-learn and statsmodels (nothing is ever
downloaded).

Shapes follow the package's batch-first convention: windows are ``(N, T, F)``; a many-to-one
target is ``(N, F_out)``, a many-to-many target ``(N, T, F_out)``.

Everything here is deterministic: the only randomness (the digits split) takes a seed.
scikit-learn and statsmodels are optional dependencies (``pip install "rnnkit[examples]"``),
imported only by the loaders that need them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from . import _checks

Columns = int | Sequence[int] | None
SeriesName = Literal["co2", "sunspots", "macrodata"]  # the series load_series knows

__all__ = [
    "DigitsSplit",
    "Forecast",
    "Scaler",
    "TimeSeries",
    "forecast_split",
    "load_digits_sequences",
    "load_series",
    "make_windows",
    "sine_wave",
    "train_test_split_by_time",
]


# -- toy signals and windowing ------------------------------------------------------------------
def sine_wave(
    n: int, freq: float = 0.125, phase: float = 0.0, amplitude: float = 1.0, dtype: str = "float32"
) -> np.ndarray:
    """``amplitude * sin(2π·freq·t + phase)`` for ``t = 0..n-1``, shape ``(n,)``.

    With the default ``freq = 0.125`` one period spans 8 steps, so a 3-step window sees a
    distinctive slice of it: the classic many-to-one set-up of the Keras RNN tutorials.
    """
    n = _checks.non_negative_int(n, "n")
    t = np.arange(n, dtype=np.float64)
    return (amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(dtype)


def _as_2d(series: np.ndarray) -> np.ndarray:
    """A series as ``(T, F)``: a ``(T,)`` series becomes one feature."""
    series = np.asarray(series)
    if series.ndim == 1:
        return series[:, None]
    if series.ndim != 2:
        raise ValueError(f"series must be (T,) or (T, F), got shape {series.shape}")
    return series


def _column_list(columns: Columns, n_features: int) -> list[int]:
    if columns is None:
        return list(range(n_features))
    cols = [int(columns)] if isinstance(columns, (int, np.integer)) else [int(c) for c in columns]
    for c in cols:
        if not -n_features <= c < n_features:
            raise IndexError(f"target column {c} out of range for {n_features} features")
    return cols


def make_windows(
    series: np.ndarray,
    window: int,
    horizon: int = 1,
    targets: Literal["next", "sequence"] = "next",
    target_columns: Columns = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a series into overlapping input windows and their targets (stride 1).

    Args:
        series: ``(T,)`` or ``(T, F)``; a ``(T,)`` series counts as one feature.
        window: steps per input window.
        horizon: how far ahead the targets are, in steps (``>= 1``).
        targets: ``"next"`` (many-to-one): the value ``horizon`` steps after each window's last
            step, shape ``(N, F_out)``. ``"sequence"`` (many-to-many): every input step's
            value ``horizon`` steps later, shape ``(N, window, F_out)``; with
            ``horizon == window`` that is "the next ``window`` values".
        target_columns: the features to predict (an index or a list; default all), e.g. one
            column of a multivariate series.

    Returns:
        ``(x, y)`` with ``x`` of shape ``(N, window, F)``, ``N = T - window - horizon + 1``,
        both contiguous copies in the series' dtype. Sample ``i``'s input is
        ``series[i : i + window]``.
    """
    data = _as_2d(series)
    window = _checks.positive_int(window, "window")
    horizon = _checks.positive_int(horizon, "horizon")
    if targets not in ("next", "sequence"):
        raise ValueError(f"targets must be 'next' or 'sequence', got {targets!r}")
    n = data.shape[0] - window - horizon + 1
    if n < 1:
        raise ValueError(
            f"a series of {data.shape[0]} steps is too short for window {window} "
            f"and horizon {horizon}"
        )
    cols = _column_list(target_columns, data.shape[1])
    starts = np.arange(n)[:, None]
    x = data[starts + np.arange(window)]  # (N, window, F)
    if targets == "next":
        y = data[starts[:, 0] + window + horizon - 1][:, cols]  # (N, F_out)
    else:
        y = data[starts + np.arange(window) + horizon][..., cols]  # (N, window, F_out)
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


def _split_index(n: int, test_fraction: float) -> int:
    """First test row of ``n`` time-ordered rows: at least one row on each side."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_test = round(n * test_fraction)
    if n < 2 or not 1 <= n_test <= n - 1:
        raise ValueError(f"cannot split {n} samples with test_fraction={test_fraction}")
    return n - n_test


def train_test_split_by_time(
    x: np.ndarray, y: np.ndarray, test_fraction: float = 0.2
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split time-ordered samples: the first ``1 - test_fraction`` train, the rest test.

    Nothing is shuffled, so every test target lies after every training target and the model
    is judged on a future it never saw (a shuffled split of overlapping windows would leak
    the test span into training). Returns ``(x_train, x_test, y_train, y_test)``, the order
    of scikit-learn's ``train_test_split``.
    """
    if len(x) != len(y):
        raise ValueError(f"x and y have {len(x)} and {len(y)} samples")
    cut = _split_index(len(x), test_fraction)
    return x[:cut], x[cut:], y[:cut], y[cut:]


@dataclass
class Scaler:
    """Per-column standardisation ``(v - mean) / std``, fitted once (on the training span)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Scaler:
        """Mean and standard deviation of each column of ``values`` (``(T,)`` or ``(T, F)``).
        A constant column gets std 1, so it maps to zeros instead of NaN."""
        values = _as_2d(np.asarray(values, dtype=np.float64))
        std = values.std(axis=0)
        return cls(mean=values.mean(axis=0), std=np.where(std > 0, std, 1.0))

    def transform(self, values: np.ndarray, columns: Columns = None) -> np.ndarray:
        """Standardise ``values`` whose last axis holds ``columns`` (default: all columns)."""
        cols = _column_list(columns, self.mean.size)
        return (values - self.mean[cols]) / self.std[cols]

    def inverse_transform(self, values: np.ndarray, columns: Columns = None) -> np.ndarray:
        """Back to the original units (the inverse of :meth:`transform`)."""
        cols = _column_list(columns, self.mean.size)
        return values * self.std[cols] + self.mean[cols]


# -- scikit-learn's digits ------------------------------------------------------------------------
@dataclass
class DigitsSplit:
    """The 8x8 digits as sequences: ``x`` ``(N, 8, 8)`` in [0, 1] (row ``t`` of the image is
    step ``t``, its 8 pixels the features), ``y`` integer labels 0-9."""

    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def load_digits_sequences(
    test_fraction: float = 0.25, seed: int = 0, dtype: str = "float32"
) -> DigitsSplit:
    """scikit-learn's bundled 1,797 handwritten digits, read row by row as 8-step sequences.

    Pixels (0-16 ink levels) are divided by 16 so inputs lie in [0, 1], the range where tanh
    units start unsaturated. The split is shuffled and stratified (the images have no time
    order), reproducible through ``seed``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(dtype)  # (1797, 8, 8): rows are time steps
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return DigitsSplit(x_train, x_test, y_train, y_test)


# -- real time series bundled with statsmodels --------------------------------------------------
@dataclass
class TimeSeries:
    """A clean multivariate series: ``values`` ``(T, F)`` float64 without gaps, ``columns``
    the feature names, ``time`` the time of each row (decimal years)."""

    name: str
    values: np.ndarray
    columns: list[str]
    time: np.ndarray

    def column(self, name: str) -> int:
        """Index of the feature called ``name``."""
        try:
            return self.columns.index(name)
        except ValueError:
            raise KeyError(f"{self.name} has no column {name!r}; columns: {self.columns}") from None


def _co2_monthly() -> tuple[np.ndarray, np.ndarray]:
    """Mauna Loa CO2 (ppm), weekly 1958-2001 with gaps, as monthly means with the few empty
    months filled by linear interpolation (a regular grid is what windows assume)."""
    import statsmodels.api as sm

    weekly = sm.datasets.co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate(limit_direction="both")
    time = monthly.index.year + (monthly.index.month - 1) / 12.0
    return monthly.to_numpy(np.float64)[:, None], np.asarray(time, dtype=np.float64)


def load_series(name: SeriesName, columns: Sequence[str] | None = None) -> TimeSeries:
    """Load a real time series that ships inside statsmodels (no network access).

    - ``"co2"``: monthly Mauna Loa CO2 concentration, 1958-2001 (526 months; trend + a yearly
      cycle). One column, ``"co2"``.
    - ``"sunspots"``: yearly mean sunspot number, 1700-2008 (309 years; the ~11-year cycle).
      One column, ``"sunactivity"``.
    - ``"macrodata"``: US quarterly macroeconomic data, 1959-2009 (203 quarters): ``realgdp``,
      ``realcons``, ``realinv``, ``realgovt``, ``realdpi``, ``cpi``, ``m1``, ``tbilrate``,
      ``unemp``, ``pop``, ``infl``, ``realint``.

    Args:
        name: which data set.
        columns: the features to keep, in this order (default: all).
    """
    import statsmodels.api as sm

    if name == "co2":
        values, time = _co2_monthly()
        names = ["co2"]
    elif name == "sunspots":
        frame = sm.datasets.sunspots.load_pandas().data
        values, time, names = (
            frame[["SUNACTIVITY"]].to_numpy(np.float64),
            frame["YEAR"].to_numpy(np.float64),
            ["sunactivity"],
        )
    elif name == "macrodata":
        frame = sm.datasets.macrodata.load_pandas().data
        names = [c for c in frame.columns if c not in ("year", "quarter")]
        values = frame[names].to_numpy(np.float64)
        time = (frame["year"] + (frame["quarter"] - 1) / 4.0).to_numpy(np.float64)
    else:
        raise ValueError(f"unknown series {name!r}; choose 'co2', 'sunspots' or 'macrodata'")
    series = TimeSeries(name, values, list(names), time)
    if columns is not None:
        keep = [series.column(c) for c in columns]
        series = TimeSeries(name, values[:, keep], [names[i] for i in keep], time)
    if not np.all(np.isfinite(series.values)):  # the loaders above must leave no gaps
        raise ValueError(f"{name}: non-finite values after cleaning")
    return series


@dataclass
class Forecast:
    """A one-step-ahead forecasting problem built by :func:`forecast_split`.

    ``x_*`` are standardised input windows ``(N, window, F)``; ``y_*`` the standardised target
    ``(N, 1)`` (the next change when the problem is differenced, else the next value).
    ``truth_test``, ``naive_test`` (the last observed value carried forward) and ``time_test``
    are in the original units, one per test window, so forecasts compare on the data's scale.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    truth_test: np.ndarray
    naive_test: np.ndarray
    time_test: np.ndarray
    scaler: Scaler
    target: int
    difference: bool
    log: bool

    def to_level(self, y_scaled: np.ndarray) -> np.ndarray:
        """Model outputs for the test windows (standardised targets) as forecasts of the
        series in its original units."""
        y = self.scaler.inverse_transform(
            np.asarray(y_scaled, dtype=np.float64).reshape(-1), self.target
        )
        if self.difference:  # add the predicted change to the last observed level
            y = y + (np.log(self.naive_test) if self.log else self.naive_test)
        return np.exp(y) if self.log else y


def forecast_split(
    series: TimeSeries,
    window: int,
    target: str | int = 0,
    test_fraction: float = 0.2,
    difference: bool = True,
    log: bool = False,
    dtype: str = "float32",
) -> Forecast:
    """Turn a series into a one-step-ahead forecasting problem, split by time.

    Args:
        series: from :func:`load_series`; every column is an input feature.
        window: input steps per sample.
        target: the column to forecast (name or index).
        test_fraction: the last fraction of the windows is the test span.
        difference: model the step-to-step changes instead of the levels. A trending series
            (CO2) leaves the training range in the test span; its changes do not, and the
            naive forecast "no change" becomes the zero prediction the model must beat.
        log: take logs first (all columns must be positive), so changes are relative
            (growth rates for GDP-like columns).
        dtype: dtype of the model arrays.

    The standardisation is fitted on the rows the training windows (inputs and targets) cover
    and nothing later, so no statistic of the test span leaks into training.
    """
    values = np.asarray(series.values, dtype=np.float64)
    col = series.column(target) if isinstance(target, str) else int(target)
    if log:
        if np.any(values <= 0):
            raise ValueError(f"{series.name}: log needs positive values in every column")
        values = np.log(values)
    levels = values[:, col]
    work = np.diff(values, axis=0) if difference else values  # row r+1 of values -> row r
    offset = 1 if difference else 0

    n_windows = work.shape[0] - window
    cut = _split_index(n_windows, test_fraction)
    # Training windows touch work rows [0, cut + window): the last one's target is row
    # cut + window - 1. Fit the scaler on exactly those rows.
    scaler = Scaler.fit(work[: cut + window])
    x, y = make_windows(scaler.transform(work), window, target_columns=col)
    x, y = x.astype(dtype), y.astype(dtype)

    # Test window i (global index cut + i) predicts work row cut + i + window, i.e. the level
    # at values row cut + i + window + offset; the naive forecast is the level one row before.
    rows = np.arange(cut, n_windows) + window + offset
    undo = np.exp if log else (lambda v: v)
    return Forecast(
        x_train=x[:cut],
        y_train=y[:cut],
        x_test=x[cut:],
        y_test=y[cut:],
        truth_test=undo(levels[rows]),
        naive_test=undo(levels[rows - 1]),
        time_test=np.asarray(series.time)[rows],
        scaler=scaler,
        target=col,
        difference=difference,
        log=log,
    )
