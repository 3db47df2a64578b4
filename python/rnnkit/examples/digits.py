"""Example 6 - many-to-one classification: handwritten digits read row by row.

scikit-learn's bundled 8x8 digits (1,797 images, no download): each image is a sequence of 8
steps (its rows) of 8 features (the pixels of a row). A ``SimpleRNN`` reads the rows top to
bottom and a ``Dense(10)`` turns its last state into class logits; sparse categorical
cross-entropy, accuracy as the metric. A stratified quarter of the images is held out for
testing. Figures: the training curves, a confusion matrix of the test set, and a few test
digits with the predicted labels.

Run: ``python examples/06_digits_classification.py`` (``--quick`` for the test-sized run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import plot
from ..data import load_digits_sequences
from ..layers import Dense, SimpleRNN
from ..models import Sequential
from ..optimizers import Adam
from ._common import Stopwatch, figure_path, parse_and_run, print_paths, resolve_config


@dataclass(frozen=True)
class Config:
    """Settings of the digits example."""

    units: int = 64
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 0.003
    test_fraction: float = 0.25


DEFAULT = Config()
SMALL = Config(units=32, epochs=15)


def build_model(config: Config, seed: int) -> Sequential:
    """SimpleRNN(units) over the 8 rows -> Dense(10) logits; cross-entropy from logits."""
    model = Sequential(
        [SimpleRNN(config.units, input_shape=(8, 8), seed=seed), Dense(10, seed=seed + 1)]
    )
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=Adam(config.learning_rate),
        metrics=["accuracy"],
    )
    return model


def draw_samples(
    images: np.ndarray, truth: np.ndarray, predicted: np.ndarray, path: Path, count: int = 16
) -> None:
    """A grid of test digits titled "predicted (true)", mistakes in red."""
    cols = 8
    rows = -(-count // cols)
    fig, axes = plot.new_figure(rows, cols, width=1.3, height=1.5)
    for i, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if i >= min(count, len(images)):
            continue
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
        right = predicted[i] == truth[i]
        ax.set_title(f"{predicted[i]} ({truth[i]})", color="black" if right else "red", fontsize=10)
    fig.suptitle("Test digits: predicted (true), read as 8 rows of 8 pixels")
    plot.save_figure(fig, path)


def run(
    config: Config | Mapping[str, Any] | None = None,
    out_dir: str = "examples/output",
    verbose: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Train and evaluate; return ``accuracy_before``, ``accuracy`` (test), ``test_loss``,
    ``n_train``, ``n_test``, ``seconds`` and ``figures``."""
    config = resolve_config(DEFAULT, config)
    clock = Stopwatch()
    data = load_digits_sequences(config.test_fraction, seed=seed)

    model = build_model(config, seed)
    accuracy_before = float(np.mean(model.predict(data.x_test).argmax(-1) == data.y_test))
    history = model.fit(
        data.x_train,
        data.y_train,
        epochs=config.epochs,
        batch_size=config.batch_size,
        validation_data=(data.x_test, data.y_test),
        verbose=verbose,
        seed=seed,
    )
    logs = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)
    predicted = model.predict(data.x_test).argmax(-1)

    figures = {
        "training": figure_path(out_dir, "06_digits_training.png"),
        "confusion": figure_path(out_dir, "06_digits_confusion.png"),
        "samples": figure_path(out_dir, "06_digits_samples.png"),
    }
    plot.history(history, figures["training"], title="Digits, row by row: training curves")
    plot.confusion_matrix(
        data.y_test, predicted, figures["confusion"], title=f"Test set ({len(predicted)} digits)"
    )
    draw_samples(data.x_test, data.y_test, predicted, figures["samples"])
    return {
        "accuracy_before": accuracy_before,
        "accuracy": float(logs["accuracy"]),
        "test_loss": float(logs["loss"]),
        "n_train": len(data.y_train),
        "n_test": len(data.y_test),
        "epochs": config.epochs,
        "seconds": clock.elapsed,
        "figures": {k: str(v) for k, v in figures.items()},
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: train, then say what was learned and where the figures are."""
    config, r = parse_and_run(argv, __doc__, DEFAULT, SMALL, run)
    print(
        f"Digits read row by row: a SimpleRNN({config.units}) classifies 8x8 images as "
        f"8-step sequences of 8 pixels."
    )
    print(
        f"  test accuracy {r['accuracy_before']:.1%} before training (chance: 10%) -> "
        f"{r['accuracy']:.1%} after {config.epochs} epochs on {r['n_train']} images "
        f"({r['n_test']} test images), in {r['seconds']:.1f} s"
    )
    print_paths(r["figures"])
    return r


if __name__ == "__main__":
    main()
