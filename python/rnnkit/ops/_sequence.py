"""The functional kernels of every cell, written once: argument checks and conversion, one call
into ``rnnkit._core`` per direction, and the cache the backward takes. Each cell's module
(``rnn.py``, ...) describes its cell with a :class:`CellSpec` and names its arguments the way its
users know them.

Shapes (batch-first; ``G`` gates, ``S`` states)::

    x (N, T, D)   Wx (D, G·H)   Wh (H, G·H)   b (G·H,)   states (N, H) each
    hs (N, T, H)  saved (N, T, W): what the cell keeps for its backward (None when W = 0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .. import _checks
from .._native import _core
from ._arguments import (
    float_input,
    kernel_layout,
    kernel_ready,
    require_shape,
    shape_text,
    truncation,
    weight_arrays,
)

if TYPE_CHECKING:  # protocols of the stub only: the compiled module does not define them
    from .._core import SequenceBackward, SequenceForward

_WEIGHT_NAMES = ("Wx", "Wh", "b")


class CellSpec(NamedTuple):
    """What the Python side knows of a C++ cell (``cpp/rnnkit/cells/``)."""

    name: str  # prefix of its _core functions: <name>_forward, <name>_backward
    gates: int  # blocks of H columns in Wx, Wh and b
    state_names: tuple[str, ...]  # initial-state argument names, h first: ("h0",), ("h0", "c0")
    activation_names: tuple[str, ...]  # argument names of its activations
    activations: tuple[str, ...]  # the activation functions the kernels implement
    bias_rows: int  # 1: b is (G·H,); 2: b is (2, G·H), input and recurrent biases
    param_names: tuple[str, ...]  # the cell's own (H,) parameters, e.g. ("gamma", "beta")
    forward: SequenceForward  # _core.<name>_forward
    backward: SequenceBackward  # _core.<name>_backward


def cell_spec(
    name: str,
    gates: int,
    state_names: tuple[str, ...],
    activation_names: tuple[str, ...],
    activations: tuple[str, ...],
    bias_rows: int = 1,
    param_names: tuple[str, ...] = (),
) -> CellSpec:
    """The spec of the C++ cell registered as ``name`` in ``_core``."""
    return CellSpec(
        name,
        gates,
        state_names,
        activation_names,
        activations,
        bias_rows,
        param_names,
        getattr(_core, f"{name}_forward"),
        getattr(_core, f"{name}_backward"),
    )


class SequenceCache(NamedTuple):
    """What :func:`sequence_backward` needs from a forward pass: the converted inputs, ``hs`` and
    the cell's saved array. A NamedTuple rather than a frozen dataclass: as immutable, at a third
    of the cost per call."""

    cell: CellSpec
    x: np.ndarray
    Wx: np.ndarray
    Wh: np.ndarray
    b: np.ndarray
    initial: tuple[np.ndarray | None, ...]
    hs: np.ndarray
    saved: np.ndarray | None
    lengths: np.ndarray | None
    activations: tuple[str, ...]
    recurrent_mask: np.ndarray | None
    cell_params: np.ndarray | None
    step_mask: np.ndarray | None  # (N, T) uint8, or None: no step is masked
    seen: np.ndarray | None  # (N, T) bool: a valid step came at or before t; None: all True


def _step_mask(
    mask: Any, lengths: Any, n: int, t: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(step_mask, seen)`` for the kernels and the outputs: the mask as a private uint8 copy
    (None when every step is valid: the plain path is the same computation), and where each
    row has had a valid step (None when every row's first step is valid)."""
    if mask is None:
        return None, None
    if lengths is not None:
        raise ValueError("give lengths or mask, not both (lengths is a mask of leading steps)")
    checked = _checks.step_mask(mask, n, t)
    assert checked is not None  # a given mask is never None
    if checked.all():
        return None, None
    seen = None if t == 0 or checked[:, 0].all() else np.logical_or.accumulate(checked, axis=1)
    return checked.astype(np.uint8), seen


def _all_none(items: tuple[Any, ...]) -> bool:
    for item in items:  # noqa: SIM110 (all() over a generator costs 0.3 µs more per call)
        if item is not None:
            return False
    return True


def _cell_params(
    cell: CellSpec, params: tuple[Any, ...], dtype: np.dtype, h: int
) -> np.ndarray | None:
    """The cell's own parameter vectors stacked as the kernels take them, ``(P, H)``."""
    if not cell.param_names:
        return None
    rows = [float_input(name, p, dtype) for name, p in zip(cell.param_names, params)]
    for name, row in zip(cell.param_names, rows):
        require_shape(name, row, (h,), "(H,) = ({},)")
    return np.stack(rows)


def owned(converted: np.ndarray, given: Any) -> np.ndarray:
    """``converted`` itself when converting ``given`` made a new array of its own, else a copy
    (``given`` itself, or a view of the caller's memory)."""
    if converted is given or not converted.flags.owndata:
        return converted.copy()
    return converted


def _state_input(
    name: str, value: Any, dtype: np.dtype, n: int, h: int, like: str = ""
) -> np.ndarray | None:
    """A state (or a state's gradient) as an (N, H) array of ``dtype``, or None."""
    if value is None:
        return None
    array = float_input(name, value, dtype)
    require_shape(name, array, (n, h), "(N, H) = ({}, {})" + (f" {like}" if like else ""))
    return array


class SequenceGrads(NamedTuple):
    """What :func:`sequence_backward` returns, each shaped like its input."""

    x: np.ndarray
    Wx: np.ndarray
    Wh: np.ndarray
    b: np.ndarray
    initial: tuple[np.ndarray, ...]  # one (N, H) per state, also where none was given
    cell_params: np.ndarray | None  # (P, H), rows in the order of ``cell.param_names``


def _gates_legend(cell: CellSpec) -> str:
    return "H" if cell.gates == 1 else f"{cell.gates}·H"


def sequence_forward(
    cell: CellSpec,
    x: Any,
    weights: tuple[Any, Any, Any],
    initial: tuple[Any, ...],
    lengths: Any,
    activations: tuple[Any, ...],
    recurrent_mask: Any = None,
    cell_params: tuple[Any, ...] = (),
    mask: Any = None,
) -> tuple[np.ndarray, tuple[np.ndarray, ...], SequenceCache]:
    """``(hs, final_states, cache)`` of ``cell`` over whole sequences. ``recurrent_mask``
    ``(N, H)`` (recurrent dropout): each row's ``h_{t-1}`` is multiplied by it where it enters
    the recurrent product, at every step. ``cell_params``: the cell's own parameter vectors
    ``(H,)`` each (a layer norm's scale and offset), named by ``cell.param_names``. ``mask``
    ``(N, T)``: Keras's step mask (see :mod:`rnnkit.ops`)."""
    allowed = cell.activations
    for i, value in enumerate(activations):
        if value not in allowed:
            _checks.choice(value, cell.activation_names[i], allowed)  # raises, naming it
    Wx, Wh, b = weight_arrays(_WEIGHT_NAMES, weights)
    dtype = Wx.dtype
    x_given = x
    x = float_input("x", x, dtype)
    require_shape("x", x, (None, None, None), "(N, T, D)")
    n, t, d = x.shape
    columns = _gates_legend(cell)
    require_shape("Wx", Wx, (d, None), f"(D, {columns}) with D = x.shape[2] = {{}}")
    h, rest = divmod(Wx.shape[1], cell.gates)
    if h == 0 and not rest:
        raise ValueError(
            f"Wx must have shape (D, {columns}) with H >= 1 (a layer needs at least one unit), "
            f"got {shape_text(Wx.shape)}"
        )
    if rest:
        raise ValueError(
            f"Wx must have shape (D, {columns}): {Wx.shape[1]} columns do not split "
            f"into {cell.gates} gates"
        )
    g = cell.gates * h
    require_shape("Wh", Wh, (h, g), f"(H, {columns}) = ({{}}, {{}}) to match Wx")
    if cell.bias_rows == 1:
        require_shape("b", b, (g,), f"({columns},) = ({{}},) to match Wx")
    else:
        legend = f"({cell.bias_rows}, {columns}) = ({{}}, {{}}) to match Wx"
        require_shape("b", b, (cell.bias_rows, g), legend)
    states = initial
    if not _all_none(initial):
        states = tuple(
            _state_input(name, s, dtype, n, h) for name, s in zip(cell.state_names, initial)
        )
    if lengths is not None:
        checked = _checks.lengths(lengths, n, t)
        assert checked is not None  # given lengths are never None
        lengths = owned(kernel_layout(checked), lengths)
    if recurrent_mask is not None:
        recurrent_mask = owned(float_input("recurrent_mask", recurrent_mask, dtype), recurrent_mask)
        require_shape("recurrent_mask", recurrent_mask, (n, h), "(N, H) = ({}, {})")
    own = _cell_params(cell, cell_params, dtype, h)
    steps, seen = _step_mask(mask, lengths, n, t)
    # Forward and backward read the same private copies of the per-call inputs, so a caller that
    # reuses its buffers between the two (a data loader) cannot change the gradients.
    x = owned(x, x_given)
    if not _all_none(initial):
        states = tuple(
            owned(s, given) if s is not None else None for s, given in zip(states, initial)
        )
    hs, finals, saved = cell.forward(
        x, Wx, Wh, b, states, lengths, activations, recurrent_mask, own, steps
    )
    cache = SequenceCache(
        cell, x, Wx, Wh, b, states, hs, saved, lengths, activations, recurrent_mask, own, steps,
        seen,
    )  # fmt: skip
    # Under a mask hs holds the carried states; the outputs are zeros before a row's first
    # valid step (Keras's "previous output" starts at zeros), the carried h after it.
    outputs = hs if seen is None else hs * seen[:, :, None]
    return outputs, finals, cache


def repeat_forward(
    cache: SequenceCache, x: np.ndarray, initial: tuple[np.ndarray | None, ...]
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """``(hs, final_states)`` of the call that made ``cache`` (same cell, weights,
    activations and cell parameters; no mask, lengths or recurrent dropout) on new inputs ``x``
    and ``initial`` states, without the checks and conversions of a first call: for a caller
    that runs one short sequence after another, generation one step at a time. ``x`` must
    have the dtype of the weights and be C-contiguous (the kernel checks shapes and refuses
    other dtypes with TypeError); ``initial`` holds one ``(N, H)`` array or None per state."""
    if not kernel_ready(x) or x.dtype != cache.Wx.dtype:
        raise TypeError(
            f"x must be a C-contiguous {cache.Wx.dtype} array like the first call's, got {x.dtype}"
        )
    hs, finals, _ = cache.cell.forward(
        x, cache.Wx, cache.Wh, cache.b, initial, None, cache.activations, None,
        cache.cell_params, None,
    )  # fmt: skip
    return hs, finals


def sequence_backward(
    cache: SequenceCache,
    dhs: Any,
    d_final: tuple[Any, ...],
    d_final_names: tuple[str, ...],
    truncate: Any,
) -> SequenceGrads:
    """The gradients of the forward pass that made ``cache``."""
    n, t, h = cache.hs.shape
    dtype = cache.Wx.dtype
    if dhs is not None:
        dhs = float_input("dhs", dhs, dtype)
        require_shape("dhs", dhs, (n, t, h), "(N, T, H) = ({}, {}, {}) like hs")
        if cache.seen is not None:  # the zero outputs before a row's first valid step
            dhs = dhs * cache.seen[:, :, None]
    upstream = d_final
    if not _all_none(d_final):
        upstream = tuple(
            _state_input(name, d, dtype, n, h, "like the final state")
            for name, d in zip(d_final_names, d_final)
        )
    k = truncation(truncate, t)
    return SequenceGrads(
        *cache.cell.backward(
            dhs,
            upstream,
            cache.x,
            cache.Wx,
            cache.Wh,
            cache.initial,
            cache.hs,
            cache.saved,
            cache.lengths,
            cache.activations,
            cache.recurrent_mask,
            cache.cell_params,
            k,
            cache.step_mask,
        )
    )


def check_cache(
    cache: object, cells: CellSpec | tuple[CellSpec, ...], made_by: str
) -> SequenceCache:
    """``cache`` itself when one of ``cells`` made it, else TypeError naming ``made_by``."""
    names = {cells.name} if isinstance(cells, CellSpec) else {c.name for c in cells}
    if not isinstance(cache, SequenceCache) or cache.cell.name not in names:
        raise TypeError(f"cache must be what {made_by} returned, got {type(cache).__name__}")
    return cache
