"""Example 3 - a stacked RNN: SimpleRNN(return_sequences=True) -> SimpleRNN -> Dense.

The first layer hands its whole state sequence ``(N, 5, H)`` to the second, which keeps only
its last state for the ``Dense`` head. The task needs all 5 steps: the signal is the sum of two
sine waves (periods of 8 and 20 steps), so the next value depends on both phases; at least four
past values are needed to pin them down (a sum of two sinusoids obeys a 4-term linear
recurrence). The last 20% of the windows (later in time) are the test set; the naive "same as
the last value" forecast is reported beside the model.

Run: ``python examples/03_stacked_rnn.py`` (``--quick`` for the test-sized run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import plot
from ..data import make_windows, sine_wave, train_test_split_by_time
from ..layers import Dense, SimpleRNN
from ..models import Sequential
from ..optimizers import Adam
from ._common import Stopwatch, figure_path, parse_and_run, print_paths, resolve_config


@dataclass(frozen=True)
class Config:
    """Settings of the stacked-RNN example."""

    n_points: int = 600
    window: int = 5
    units: tuple[int, int] = (16, 16)  # hidden sizes of the two SimpleRNN layers
    epochs: int = 60
    batch_size: int = 16
    learning_rate: float = 0.005
    test_fraction: float = 0.2


DEFAULT = Config()
SMALL = Config(n_points=300, epochs=50)


def two_tone(n: int) -> np.ndarray:
    """``0.7·sin(2π t/8) + 0.5·sin(2π t/20)``: two periods, so the pattern repeats only every
    40 steps and a window must be read whole to place it."""
    return 0.7 * sine_wave(n, 1 / 8) + 0.5 * sine_wave(n, 1 / 20)


def build_model(config: Config, seed: int) -> Sequential:
    """Two stacked SimpleRNN layers and a Dense(1) head, compiled with MSE and Adam."""
    first, second = config.units
    model = Sequential(
        [
            SimpleRNN(first, return_sequences=True, input_shape=(config.window, 1), seed=seed),
            SimpleRNN(second, seed=seed + 1),
            Dense(1, seed=seed + 2),
        ]
    )
    model.compile(loss="mse", optimizer=Adam(config.learning_rate))
    return model


def run(
    config: Config | Mapping[str, Any] | None = None,
    out_dir: str = "examples/output",
    verbose: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Train and evaluate; return ``mse_before``, ``mse_after``, ``mse_naive`` (test),
    ``seconds`` and ``figures``."""
    config = resolve_config(DEFAULT, config)
    clock = Stopwatch()
    x, y = make_windows(two_tone(config.n_points), config.window)  # (N, 5, 1), (N, 1)
    x_train, x_test, y_train, y_test = train_test_split_by_time(x, y, config.test_fraction)

    model = build_model(config, seed)
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
    pred = model.predict(x_test)
    mse_after = float(np.mean((pred - y_test) ** 2))
    mse_naive = float(np.mean((x_test[:, -1] - y_test) ** 2))

    figures = {
        "predictions": figure_path(out_dir, "03_stacked_predictions.png"),
        "loss": figure_path(out_dir, "03_stacked_loss.png"),
    }
    plot.predictions(
        y_test[:, 0],
        {"stacked RNN": pred[:, 0], "naive (last value)": x_test[:, -1, 0]},
        figures["predictions"],
        xlabel="test window",
        ylabel="next value",
        title="Stacked SimpleRNN: next value of a two-tone signal (test span)",
    )
    plot.history(history, figures["loss"], title="Stacked RNN: mean squared error")
    return {
        "mse_before": mse_before,
        "mse_after": mse_after,
        "mse_naive": mse_naive,
        "epochs": config.epochs,
        "seconds": clock.elapsed,
        "figures": {k: str(v) for k, v in figures.items()},
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: train, then say what was learned and where the figures are."""
    config, r = parse_and_run(argv, __doc__, DEFAULT, SMALL, run)
    print(
        f"Stacked RNN: SimpleRNN({config.units[0]}, return_sequences=True) -> "
        f"SimpleRNN({config.units[1]}) -> Dense(1), {config.window} steps in, "
        "the next value out."
    )
    print(
        f"  test MSE {r['mse_before']:.4f} before training -> {r['mse_after']:.2e} after "
        f"{config.epochs} epochs ({r['mse_before'] / r['mse_after']:.0f}x lower; the naive "
        f"last-value forecast scores {r['mse_naive']:.4f}), in {r['seconds']:.1f} s"
    )
    print_paths(r["figures"])
    return r


if __name__ == "__main__":
    main()
