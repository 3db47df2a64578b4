"""Example 2 - many-to-many: three steps of a sine wave in, the next three values out.

``SimpleRNN(return_sequences=True)`` gives a state per input step and ``TimeDistributed(Dense(1))``
turns each into one output, so output step ``k`` predicts the value 3 steps after input step
``k``. The RNN is causal: output 0 has seen a single value, and one value of a sine does not
say whether the wave is rising or falling. That step keeps an error no model can remove (the
"floor", measured from the data); outputs 1 and 2 have seen enough to be near exact. The
example reports the test error per output step next to that floor.

Run: ``python examples/02_sine_many_to_many.py`` (``--quick`` for the test-sized run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import plot
from ..data import make_windows, sine_wave, train_test_split_by_time
from ..layers import Dense, SimpleRNN, TimeDistributed
from ..models import Sequential
from ..optimizers import Adam
from ._common import Stopwatch, figure_path, parse_and_run, print_paths, resolve_config


@dataclass(frozen=True)
class Config:
    """Settings of the sine many-to-many example."""

    n_points: int = 400
    freq: float = 0.125
    window: int = 3  # steps in, and steps out (the targets are the next `window`)
    units: int = 16
    epochs: int = 60
    batch_size: int = 16
    learning_rate: float = 0.01
    test_fraction: float = 0.2


DEFAULT = Config()
SMALL = Config(n_points=200, epochs=60)


def first_step_floor(x: np.ndarray, y: np.ndarray) -> float:
    """The lowest MSE any causal model can reach at output step 0, which has seen only
    ``x[:, 0]``: the spread of the targets among windows that start with the same value."""
    first = np.round(x[:, 0, 0].astype(np.float64), 6)
    target = y[:, 0, 0].astype(np.float64)
    floor = 0.0
    for value in np.unique(first):
        group = target[first == value]
        floor += float(np.sum((group - group.mean()) ** 2))
    return floor / len(target)


def run(
    config: Config | Mapping[str, Any] | None = None,
    out_dir: str = "examples/output",
    verbose: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Train and evaluate; return ``mse_before``, ``mse_after`` (test, all steps),
    ``mse_per_step`` (after, one per output step), ``floor_step0``, ``seconds``, ``figures``."""
    config = resolve_config(DEFAULT, config)
    clock = Stopwatch()
    series = sine_wave(config.n_points, config.freq)
    # Output step k of window i is series[i + k + window]: the next `window` values.
    x, y = make_windows(series, config.window, horizon=config.window, targets="sequence")
    x_train, x_test, y_train, y_test = train_test_split_by_time(x, y, config.test_fraction)

    model = Sequential(
        [
            SimpleRNN(
                config.units, return_sequences=True, input_shape=(config.window, 1), seed=seed
            ),
            TimeDistributed(Dense(1, seed=seed + 1)),
        ]
    )
    model.compile(loss="mse", optimizer=Adam(config.learning_rate))
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
    pred = model.predict(x_test)  # (N, window, 1)
    per_step = [float(np.mean((pred[:, k] - y_test[:, k]) ** 2)) for k in range(config.window)]

    figures = {
        "predictions": figure_path(out_dir, "02_sine_many_to_many.png"),
        "loss": figure_path(out_dir, "02_sine_many_to_many_loss.png"),
    }
    # Test windows every `window` steps: their targets tile a stretch of the wave end to end.
    # Each output step gets its own markers (NaN elsewhere), so step 0's misses stand out.
    starts = np.arange(0, len(x_test), config.window)
    truth = y_test[starts, :, 0].ravel()
    tiled = pred[starts, :, 0]
    curves = {}
    for k in range(config.window):
        only_k = np.full_like(tiled, np.nan)
        only_k[:, k] = tiled[:, k]
        curves[f"output step {k}"] = only_k.ravel()
    plot.predictions(
        truth,
        curves,
        figures["predictions"],
        xlabel="test step",
        ylabel="sin(2π·0.125·t)",
        title=f"Sine, many-to-many: {config.window} steps in, the next "
        f"{config.window} out (test windows laid end to end)",
    )
    plot.history(history, figures["loss"], title="Sine, many-to-many: mean squared error")
    return {
        "mse_before": mse_before,
        "mse_after": float(np.mean(per_step)),
        "mse_per_step": per_step,
        "floor_step0": first_step_floor(x_test, y_test),
        "epochs": config.epochs,
        "seconds": clock.elapsed,
        "figures": {k: str(v) for k, v in figures.items()},
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: train, then say what was learned and where the figures are."""
    config, r = parse_and_run(argv, __doc__, DEFAULT, SMALL, run)
    steps = ", ".join(f"{m:.2e}" for m in r["mse_per_step"])
    print(
        f"Sine wave, many-to-many: {config.window} steps in, the next {config.window} out "
        f"(SimpleRNN({config.units}) + TimeDistributed(Dense(1)))."
    )
    print(
        f"  test MSE {r['mse_before']:.4f} before training -> {r['mse_after']:.4f} after "
        f"{config.epochs} epochs, in {r['seconds']:.1f} s"
    )
    print(
        f"  per output step: {steps}; step 0 has seen one value only, and no causal model "
        f"can do better there than {r['floor_step0']:.4f}"
    )
    print_paths(r["figures"])
    return r


if __name__ == "__main__":
    main()
