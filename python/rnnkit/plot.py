"""Figures for training runs and examples: training curves, predictions against the truth.

matplotlib is an optional dependency (``pip install "rnnkit[plot]"``); nothing here imports it
until a figure is asked for. Figures are built with the object-oriented API
(:class:`matplotlib.figure.Figure`), never through ``pyplot``'s global figure manager: a script or
test that draws hundreds of figures then leaks none of them, and no GUI window opens on a
headless machine. Every drawing function returns the Figure and, given ``path``, writes a PNG
(creating the folder if needed).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .callbacks import History

if TYPE_CHECKING:  # only for annotations: importing matplotlib costs ~0.3 s
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PathLike = str | Path

_MISSING = 'plotting needs matplotlib: pip install "rnnkit[plot]"'


def require_matplotlib() -> Any:
    """Import and return the ``matplotlib`` module, set to the non-interactive Agg backend.

    The backend is chosen only when ``pyplot`` has not been imported yet, so a notebook or a
    program that already picked its own backend keeps it; the figures made here never need one
    (they render through Agg themselves).

    Raises:
        ImportError: matplotlib is not installed; the message says how to install it.
    """
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError(_MISSING) from err
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    return matplotlib


def new_figure(
    nrows: int = 1, ncols: int = 1, *, width: float = 6.4, height: float = 4.0
) -> tuple[Figure, np.ndarray]:
    """A Figure with an ``(nrows, ncols)`` grid of axes (always a 2-D array of Axes).

    ``width`` and ``height`` are per panel, in inches, so wide grids stay readable.
    """
    require_matplotlib()
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save_figure(fig: Figure, path: PathLike | None, dpi: int = 100) -> Path | None:
    """Write ``fig`` as a PNG at ``path`` (parent folders created); None when path is None."""
    if path is None:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def _history_dict(history: Any) -> Mapping[str, Sequence[float]]:
    """The per-epoch dict of a History (its ``.history``), or the mapping itself."""
    logs = history.history if isinstance(history, History) else history
    if not isinstance(logs, Mapping):
        raise TypeError(f"expected a History or a dict of per-epoch lists, got {type(history)!r}")
    return logs


def _panels(keys: Sequence[str]) -> list[list[str]]:
    """Group keys into panels: each figure ``k`` shares its panel with ``val_k`` when present."""
    panels: list[list[str]] = []
    seen: set[str] = set()
    for key in keys:
        base = key[4:] if key.startswith("val_") else key
        if base in seen:
            continue
        seen.add(base)
        panels.append([k for k in (base, "val_" + base) if k in keys])
    return panels


def history(
    history: Any,
    path: PathLike | None = None,
    keys: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Training curves, one panel per figure (``loss`` with ``val_loss``, ``acc`` with
    ``val_acc``...).

    Args:
        history: a :class:`rnnkit.callbacks.History` (what ``fit`` returns) or its
            ``.history`` dict: key -> one value per epoch.
        path: where to save the PNG; None to only return the Figure.
        keys: the figures to draw (default: all); a ``val_`` twin is drawn with its figure.
        title: a title over the whole figure.

    A loss panel whose values are all positive and span more than a decade gets a log scale,
    because that is where a loss curve's interesting part (the slow tail) is visible.
    """
    logs = _history_dict(history)
    wanted = list(logs) if keys is None else list(keys)
    missing = [k for k in wanted if k not in logs]
    if missing:
        raise KeyError(f"not in the history: {missing}; available: {sorted(logs)}")
    if not wanted:
        raise ValueError("the history is empty: nothing to draw")
    panels = _panels(
        wanted if keys is None else wanted + [f"val_{k}" for k in wanted if f"val_{k}" in logs]
    )
    from matplotlib.ticker import MaxNLocator

    fig, axes = new_figure(1, len(panels), width=5.0, height=3.6)
    for ax, panel in zip(axes[0], panels):
        for key in panel:
            values = np.asarray(logs[key], dtype=float)
            epochs = np.arange(1, len(values) + 1)
            ax.plot(
                epochs, values, marker="o" if len(values) <= 30 else None, markersize=3, label=key
            )
        _maybe_log_scale(ax, panel, logs)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.set_xlabel("epoch")
        ax.set_ylabel(panel[0])
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    save_figure(fig, path)
    return fig


def _maybe_log_scale(ax: Axes, panel: Sequence[str], logs: Mapping[str, Sequence[float]]) -> None:
    """Log y-axis for positive loss-like curves that fall by more than a factor of ten."""
    if "acc" in panel[0]:
        return
    values = np.concatenate([np.asarray(logs[k], dtype=float) for k in panel])
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 10:
        ax.set_yscale("log")


def predictions(
    truth: np.ndarray,
    predicted: np.ndarray | Mapping[str, np.ndarray],
    path: PathLike | None = None,
    *,
    x: np.ndarray | None = None,
    split: float | None = None,
    title: str | None = None,
    ylabel: str = "value",
    xlabel: str = "t",
) -> Figure:
    """One series against one or more predictions of it (e.g. before and after training).

    Args:
        truth: the true values, shape ``(T,)``.
        predicted: one ``(T,)`` array, or a dict label -> ``(T,)`` array drawn in that order.
        path: where to save the PNG; None to only return the Figure.
        x: the x coordinates (default ``0..T-1``).
        split: an x coordinate where the test span starts, marked by a dashed line.
        title, ylabel, xlabel: labels.
    """
    truth = np.asarray(truth, dtype=float).reshape(-1)
    curves = predicted if isinstance(predicted, Mapping) else {"predicted": predicted}
    x = np.arange(truth.size) if x is None else np.asarray(x)
    fig, axes = new_figure(1, 1, width=9.0, height=3.6)
    ax = axes[0, 0]
    ax.plot(x, truth, color="black", linewidth=2, label="truth")
    for label, values in curves.items():
        values = np.asarray(values, dtype=float).reshape(-1)
        if values.size != truth.size:
            raise ValueError(f"{label!r} has {values.size} values, the truth {truth.size}")
        ax.plot(x, values, linewidth=1.3, linestyle="--", marker=".", markersize=6, label=label)
    if split is not None:
        ax.axvline(split, color="grey", linestyle=":", label="train | test")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: never hides the curves
    if title:
        ax.set_title(title)
    save_figure(fig, path)
    return fig


def confusion_matrix(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    path: PathLike | None = None,
    *,
    labels: Sequence[Any] | None = None,
    title: str | None = None,
) -> Figure:
    """A confusion matrix of integer class labels, with counts written in the cells."""
    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred).reshape(-1)
    n = int(max(y_true.max(initial=0), y_pred.max(initial=0))) + 1
    if labels is not None:
        n = max(n, len(labels))
    counts = np.zeros((n, n), dtype=int)
    np.add.at(counts, (y_true, y_pred), 1)
    fig, axes = new_figure(1, 1, width=5.0, height=4.5)
    ax = axes[0, 0]
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    names = list(labels) if labels is not None else list(range(n))
    ax.set_xticks(range(n), [str(v) for v in names])
    ax.set_yticks(range(n), [str(v) for v in names])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    half = counts.max() / 2
    for i in range(n):
        for j in range(n):
            if counts[i, j]:
                ax.text(
                    j,
                    i,
                    str(counts[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if counts[i, j] > half else "black",
                )
    if title:
        ax.set_title(title)
    save_figure(fig, path)
    return fig


__all__ = [
    "confusion_matrix",
    "history",
    "new_figure",
    "predictions",
    "require_matplotlib",
    "save_figure",
]
