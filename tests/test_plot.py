"""rnnkit.plot: figures from histories and series, saved as PNG files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from rnnkit import plot
from rnnkit.callbacks import History


def test_history_from_a_history_object(tmp_path: Path) -> None:
    history = History()
    for epoch, (loss, acc) in enumerate([(2.0, 0.2), (0.5, 0.7), (0.01, 0.95)]):
        history.on_epoch_end(epoch, {"loss": loss, "acc": acc, "val_loss": loss * 2})
    path = tmp_path / "sub" / "curves.png"
    fig = plot.history(history, path)
    assert path.stat().st_size > 1000
    axes = fig.get_axes()
    assert len(axes) == 2  # loss with val_loss, then acc
    assert [line.get_label() for line in axes[0].get_lines()] == ["loss", "val_loss"]
    assert axes[0].get_yscale() == "log"  # the loss fell by more than 10x


def test_history_keys_and_errors() -> None:
    logs = {"loss": [1.0, 0.9], "val_loss": [1.1, 1.0], "mse": [3.0, 2.0]}
    fig = plot.history(logs, keys=["loss"])
    assert len(fig.get_axes()) == 1 and len(fig.get_axes()[0].get_lines()) == 2
    with pytest.raises(KeyError, match="not in the history"):
        plot.history(logs, keys=["acc"])
    with pytest.raises(TypeError):
        plot.history([1, 2, 3])


def test_predictions_figure(tmp_path: Path) -> None:
    truth = np.sin(np.arange(20))
    fig = plot.predictions(
        truth, {"before": np.zeros(20), "after": truth}, tmp_path / "p.png", split=15
    )
    labels = [line.get_label() for line in fig.get_axes()[0].get_lines()]
    assert labels[:3] == ["truth", "before", "after"]
    assert (tmp_path / "p.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="values"):
        plot.predictions(truth, np.zeros(5))


def test_confusion_matrix_counts(tmp_path: Path) -> None:
    fig = plot.confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), tmp_path / "c.png")
    image = fig.get_axes()[0].get_images()[0].get_array()
    np.testing.assert_array_equal(image, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])


def test_missing_matplotlib_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(ImportError, match=r'pip install "rnnkit\[plot\]"'):
        plot.require_matplotlib()
