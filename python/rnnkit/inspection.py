"""Look inside a character model: what do single hidden units respond to?

Karpathy's "Visualizing and Understanding Recurrent Networks" found cells that switch on inside
quotes, count bracket depth, or track the position in a line. This module gives the pieces:

* :func:`hidden_states` - the activations of a recurrent layer over a passage, ``(T, H)``;
* :func:`text_features` - per-character features of Python source (inside a string literal,
  bracket depth, column in the line);
* :func:`rank_units` - units ranked by the absolute correlation of their activation with a feature;
* :func:`render_html` / :func:`render_png` - the passage with each character coloured by one
  unit's activation (blue negative, red positive).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .layers.recurrent import scoped_states
from .text import CharVocab, get_vocab, recurrent_layers

if TYPE_CHECKING:  # annotations only
    from .network import Network

__all__ = ["hidden_states", "rank_units", "render_html", "render_png", "text_features"]

PathLike = str | Path


def hidden_states(
    model: Network, text: str, vocab: CharVocab | None = None, layer: int = 0
) -> np.ndarray:
    """Activations ``(len(text), H)`` of the ``layer``-th recurrent layer of ``model`` (at the
    top level) while it reads ``text`` from a zero state (one forward call; the model's carried
    states are untouched)."""
    vocab = vocab if vocab is not None else get_vocab(model)
    if vocab is None:
        raise ValueError("hidden_states needs the vocabulary: pass vocab=... or attach it")
    rnns = recurrent_layers(model)
    if not rnns:
        raise ValueError(f"model {model.name!r} has no recurrent layer")
    target = rnns[layer]
    with scoped_states(rnns, stateful=False):
        x: Any = vocab.encode(text)[None, :]
        for current in model.layers:  # run up to and including the chosen recurrent layer
            x = current.forward(x, training=False)
            if current is target:
                return np.asarray(x)[0]
    raise AssertionError("unreachable: the recurrent layer is one of model.layers")


def text_features(text: str) -> dict[str, np.ndarray]:
    """Per-character features of (Python) source, each ``(len(text),)`` float:

    * ``in_quotes``: 1 inside a string literal (quotes included; ``'``, ``"`` and their triple
      forms, backslash escapes honoured; ``#`` comments are not strings);
    * ``in_brackets``: 1 inside any ``()``, ``[]``, ``{}`` (outside strings and comments);
    * ``bracket_depth``: the nesting depth there;
    * ``position_in_line``: the column, 0 at each line start.
    """
    n = len(text)
    quotes, depth, column = np.zeros(n), np.zeros(n), np.zeros(n)
    delim: str | None = None  # the open string's delimiter: ', ", ''' or """
    comment, level, col = False, 0, 0
    i = 0
    while i < n:
        c = text[i]
        step = 1  # characters consumed together (escapes, triple quotes)
        if delim is not None:  # inside a string literal
            closing = False
            if c == "\\":
                step = 2  # the escaped character belongs to the string
            elif text.startswith(delim, i):
                step, closing = len(delim), True
            elif c == "\n" and len(delim) == 1:
                closing = True  # an unterminated one-line string ends at the line end
            quotes[i : i + step] = 1.0
            if closing:
                delim = None
        elif comment:
            comment = c != "\n"
        elif c == "#":
            comment = True
        elif c in "'\"":
            delim = c * 3 if text.startswith(c * 3, i) else c
            step = len(delim)
            quotes[i : i + step] = 1.0
        elif c in "([{":
            level += 1
        elif c in ")]}":
            level = max(level - 1, 0)
        for j in range(i, min(i + step, n)):
            depth[j] = level
            column[j] = col
            col = 0 if text[j] == "\n" else col + 1
        i += step
    return {
        "in_quotes": quotes,
        "in_brackets": (depth > 0).astype(np.float64),
        "bracket_depth": depth,
        "position_in_line": column,
    }


def rank_units(states: np.ndarray, feature: np.ndarray, top: int = 10) -> list[tuple[int, float]]:
    """Units ranked by ``|corr(states[:, unit], feature)|``, best first: ``[(unit, corr), ...]``
    (the signed Pearson correlation; constant units score 0)."""
    s = np.asarray(states, dtype=np.float64)
    f = np.asarray(feature, dtype=np.float64)
    if s.shape[0] != f.shape[0]:
        raise ValueError(f"states have {s.shape[0]} steps but the feature has {f.shape[0]}")
    s = s - s.mean(axis=0)
    f = f - f.mean()
    denom = np.sqrt((s * s).sum(axis=0) * (f * f).sum())
    corr = np.divide(s.T @ f, denom, out=np.zeros(s.shape[1]), where=denom > 0)
    order = np.argsort(-np.abs(corr), kind="stable")[:top]
    return [(int(u), float(corr[u])) for u in order]


def _rgb(value: float) -> tuple[int, int, int]:
    """Blue (-1) through white (0) to red (+1)."""
    v = float(np.clip(value, -1.0, 1.0))
    fade = round(255 * (1 - abs(v)))
    return (255, fade, fade) if v >= 0 else (fade, fade, 255)


def render_html(text: str, values: np.ndarray, path: PathLike, title: str = "") -> Path:
    """Write a standalone HTML page showing ``text`` with each character's background coloured
    by ``values`` (in [-1, 1], e.g. tanh activations). Returns the path."""
    if len(values) != len(text):
        raise ValueError(f"{len(values)} values for {len(text)} characters")
    spans = []
    for c, v in zip(text, values):
        r, g, b = _rgb(v)
        char = "\n" if c == "\n" else html.escape(c)
        spans.append(f'<span style="background:rgb({r},{g},{b})" title="{v:+.2f}">{char}</span>')
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n"
        f'<h3 style="font-family:sans-serif">{html.escape(title)}</h3>\n'
        '<pre style="font-family:monospace;font-size:13px;line-height:1.35">'
        + "".join(spans)
        + "</pre>\n</body></html>\n"
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def render_png(
    text: str,
    values: np.ndarray,
    path: PathLike,
    title: str = "",
    max_lines: int = 40,
    max_cols: int = 100,
) -> Path:
    """Write a PNG of ``text`` (first ``max_lines`` lines, ``max_cols`` columns) with each
    character on a cell coloured by ``values`` in [-1, 1]. Returns the path."""
    from . import plot

    lines = text.split("\n")[:max_lines]
    grid = np.full((len(lines), max_cols), np.nan)
    k = 0
    for row, line in enumerate(lines):
        for col in range(len(line) + 1):  # + the newline, which carries a value too
            if col < max_cols and k < len(values):
                grid[row, col] = values[k]
            k += 1
    fig, axes = plot.new_figure(width=max_cols * 0.11, height=len(lines) * 0.2 + 0.6)
    ax = axes[0, 0]
    ax.imshow(
        np.nan_to_num(grid),
        cmap="bwr",
        vmin=-1,
        vmax=1,
        aspect="auto",
        interpolation="nearest",
        alpha=0.85,
    )
    for row, line in enumerate(lines):
        for col, c in enumerate(line[:max_cols]):
            if c != " ":
                ax.text(col, row, c, ha="center", va="center", fontsize=7, family="monospace")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    out = plot.save_figure(fig, path)
    assert out is not None
    return out
