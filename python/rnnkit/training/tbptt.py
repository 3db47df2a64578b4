"""Truncated BPTT over batches of whole sequences (``fit(..., tbptt=k)``): which layers carry
the state, whether the model scores every step or only the last, and the windows of a batch.

Many-to-many models (one prediction per input step) get one update per window of ``k`` steps,
the state carried from window to window; many-to-one models get one update per batch whose
gradient the kernel cuts every ``k`` steps (``truncate=k``). See :mod:`rnnkit.training`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import _steps
from ..layers import RecurrentLayer, walk_layers
from ..layers.recurrent import scoped_states
from ..network import Inputs, Network

__all__ = ["carried_state", "check_tbptt_input", "per_step_model", "recurrent_layers", "windows"]

Window = tuple[np.ndarray, Any, np.ndarray | None]  # (x, y, lengths) of one update


def recurrent_layers(model: Network) -> list[RecurrentLayer]:
    """Every recurrent layer of ``model``, wrapped ones included; ValueError when one reads
    its sequences backwards (``go_backwards``, so any Bidirectional): windows walk time
    forwards."""
    rnns = [layer for layer in walk_layers(model.layers) if isinstance(layer, RecurrentLayer)]
    for layer in rnns:
        if layer.go_backwards:
            raise ValueError(
                f"truncated BPTT walks time forwards in windows, but layer {layer.name!r} "
                "reads sequences backwards (Bidirectional / go_backwards): train it on whole "
                "sequences (tbptt=None)"
            )
    return rnns


@contextlib.contextmanager
def carried_state(model: Network, truncate: int | None = None) -> Iterator[list[RecurrentLayer]]:
    """Make every recurrent layer of ``model`` stateful (state starts at zeros) for the
    duration, then restore each layer's own ``stateful`` flag and state. ``truncate``: also set
    the layers' ``truncate`` (the kernel's gradient cut every ``k`` steps), restored after.
    Yields the layers."""
    rnns = recurrent_layers(model)
    scope = (
        scoped_states(rnns, stateful=True)
        if truncate is None
        else scoped_states(rnns, stateful=True, truncate=truncate)
    )
    with scope:
        yield rnns


def check_tbptt_input(x: Inputs) -> np.ndarray:
    """A TBPTT input as the one array with a time axis, ``(N, T, ...)``, it must be."""
    if isinstance(x, (list, tuple)) or np.ndim(x) < 2:
        raise ValueError("tbptt needs one input array with a time axis, (N, T, ...)")
    return np.asarray(x)


def check_tbptt_lengths(lengths: np.ndarray | None) -> None:
    """ValueError for a given ``(N, T)`` step mask that is not post-padding: TBPTT's windows
    cut lengths, not masks (yet)."""
    if _steps.is_mask(lengths):
        raise ValueError(
            "tbptt does not take a step mask with padding before or between valid steps "
            "(lengths= given as an (N, T) mask) yet: pad after the steps "
            "(pad_sequences(..., padding='post')) and pass lengths, or train without tbptt"
        )


def per_step_model(
    model: Network, x: Inputs, y: np.ndarray, lengths: np.ndarray | None, k: int
) -> bool:
    """Whether the model gives one prediction per input step (many-to-many: every window
    is scored against its own steps of ``y``) rather than one per sequence (many-to-one).

    Decided from the model, not from ``y``'s shape (an output width may equal ``T``): a
    forward-only probe of one sample on windows of ``k`` and ``k + 1`` steps; the output is
    per step when its axis 1 follows the window length in both. With ``k >= T`` there is
    one window, scored against the whole ``y`` either way (False). Call inside
    :func:`carried_state`; the recurrent states are reset to zeros afterwards."""
    x = check_tbptt_input(x)
    check_tbptt_lengths(lengths)
    t = x.shape[1]
    if k >= t:
        return False
    first = x[:1]
    per_step = True
    for width in (k, k + 1):
        lw = None if lengths is None else np.clip(lengths[:1], 0, width)
        out = model.forward(first[:, :width], training=False, lengths=lw)
        if not (isinstance(out, np.ndarray) and out.ndim >= 2 and out.shape[1] == width):
            per_step = False
    for layer in recurrent_layers(model):
        layer.reset_state()
    if per_step and not (y.ndim >= 2 and y.shape[1] == t):
        raise ValueError(
            f"the model gives one prediction per input step (output (N, T, ...)), so "
            f"tbptt={k} scores each window against its own steps of y, which needs targets "
            f"of shape (N, {t}, ...) aligned with the input steps; got y of shape {y.shape}"
        )
    return per_step


def windows(
    x: Inputs, y: Any, lengths: np.ndarray | None, k: int, per_step: bool
) -> tuple[list[Window], int | None]:
    """The TBPTT updates of one batch, ``([(x_w, y_w, lengths_w), ...], truncate)``, to run
    inside ``carried_state(model, truncate)``; ``per_step`` from :func:`per_step_model`.

    Many-to-many (``per_step``): one update per window of ``k`` steps, the state carried
    from window to window, each window scored against its own steps; a window in which
    every sample is padding is skipped (nothing to score; the state passes through it
    unchanged anyway).

    Many-to-one: one update, on the last state. Its forward runs over the whole sequence
    (the same states as windows carrying the state), its backward cuts the gradient through
    the state every ``k`` steps (the kernel's ``truncate=k``: the window boundaries). So the
    gradient reaches back to the start of the window holding each sample's *own* last
    valid step: a sample whose padding fills the last window still trains the recurrent
    layers, exactly as ``ops.rnn_backward(..., truncate=k)``."""
    x = check_tbptt_input(x)
    check_tbptt_lengths(lengths)
    t = x.shape[1]
    if not per_step:
        return [(x, y, lengths)], k
    y = np.asarray(y)
    updates = []
    for start in range(0, t, k):
        stop = min(start + k, t)
        lw = None if lengths is None else np.clip(lengths - start, 0, stop - start)
        if lw is None or lw.any():
            updates.append((x[:, start:stop], y[:, start:stop], lw))
    return updates, None
