"""Example 1 - many-to-one: three steps of a sine wave predict the next value.

The classic first RNN listing: windows of 3 steps of ``sin(2π·0.125·t)`` (one period is 8
steps), a ``SimpleRNN(10)`` reads them and a ``Dense(1)`` outputs the next value; mean squared
error, Adam, the Keras-style ``Sequential``/``compile``/``fit``. The last 20% of the windows (a
later stretch of time) are the test set. Figures: the test predictions before and after
training, and the loss curve.

Run: ``python examples/01_sine_many_to_one.py`` (``--quick`` for the test-sized run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import plot
from ..data import make_windows, sine_wave, train_test_split_by_time
from ..layers import Dense, SimpleRNN
from ..models import Sequential
from ..optimizers import Adam
from ._common import Stopwatch, figure_path, parse_and_run, print_paths, resolve_config


@dataclass(frozen=True)
class Config:
    """Settings of the sine many-to-one example."""

    n_points: int = 400  # length of the sampled sine wave
    freq: float = 0.125  # cycles per step: 8 steps per period
    window: int = 3  # input steps per sample
    units: int = 10  # SimpleRNN hidden size
    epochs: int = 60
    batch_size: int = 16
    learning_rate: float = 0.01
    test_fraction: float = 0.2


DEFAULT = Config()
SMALL = Config(n_points=160, epochs=40)


def build_model(config: Config, seed: int) -> Sequential:
    """SimpleRNN(units) -> Dense(1), compiled with MSE and Adam (the classic listing)."""
    model = Sequential()
    model.add(SimpleRNN(config.units, input_shape=(config.window, 1), seed=seed))
    model.add(Dense(1, seed=seed + 1))
    model.compile(loss="mean_squared_error", optimizer=Adam(config.learning_rate))
    return model


def run(
    config: Config | Mapping[str, Any] | None = None,
    out_dir: str = "examples/output",
    verbose: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Train and evaluate; return ``mse_before``, ``mse_after`` (test MSE), ``seconds`` and
    ``figures`` (name -> PNG path)."""
    config = resolve_config(DEFAULT, config)
    clock = Stopwatch()
    series = sine_wave(config.n_points, config.freq)
    x, y = make_windows(series, config.window)  # (N, 3, 1), (N, 1)
    x_train, x_test, y_train, y_test = train_test_split_by_time(x, y, config.test_fraction)

    model = build_model(config, seed)
    before = model.predict(x_test)
    mse_before = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["loss"]
    history = model.fit(
        x_train,
        y_train,
        epochs=config.epochs,
        batch_size=config.batch_size,
        validation_data=(x_test, y_test),
        verbose=verbose,
        seed=seed,
    )
    after = model.predict(x_test)
    mse_after = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["loss"]

    figures = {
        "predictions": figure_path(out_dir, "01_sine_predictions.png"),
        "loss": figure_path(out_dir, "01_sine_loss.png"),
    }
    plot.predictions(
        y_test[:, 0],
        {"before training": before[:, 0], "after training": after[:, 0]},
        figures["predictions"],
        ylabel="sin(2π·0.125·t)",
        xlabel="test window",
        title=f"Next value of a sine wave from {config.window} steps (test span)",
    )
    plot.history(history, figures["loss"], title="Sine, many-to-one: mean squared error")
    return {
        "mse_before": mse_before,
        "mse_after": mse_after,
        "improvement": mse_before / max(mse_after, 1e-12),
        "epochs": config.epochs,
        "seconds": clock.elapsed,
        "figures": {k: str(v) for k, v in figures.items()},
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: train, then say what was learned and where the figures are."""
    config, results = parse_and_run(argv, __doc__, DEFAULT, SMALL, run)
    print(
        f"Sine wave, many-to-one: a SimpleRNN({config.units}) learned to predict the next value "
        f"from {config.window} steps."
    )
    print(
        f"  test MSE {results['mse_before']:.4f} before training -> "
        f"{results['mse_after']:.2e} after {config.epochs} epochs "
        f"({results['improvement']:.3g}x lower), in {results['seconds']:.1f} s"
    )
    print_paths(results["figures"])
    return results


if __name__ == "__main__":
    main()
