"""SimpleRNN, LSTM, GRU and Bidirectional as ONNX's ``RNN``, ``LSTM`` and ``GRU`` operators.

Each recurrent layer is one operator node (never unrolled), time-major inside: onnxruntime
refuses the operators' batch-first ``layout=1`` ("Batchwise recurrent operations (layout == 1)
are not supported"), so the batch-first ``(N, T, D)`` tensor is transposed to ``(T, N, D)``
before the node and the output back after it.

Weights: ONNX's ``W (dirs, G·H, D)`` and ``R (dirs, G·H, H)`` are the transposed Keras kernels
``Wx (D, G·H)`` and ``Wh (H, G·H)``; ``B (dirs, 2·G·H)`` is ``[Wb, Rb]``, the input and the
recurrent bias. Gate blocks: Keras's LSTM is i, f, c, o where ONNX's is i, o, f, c; the GRU is
z, r, h in both. Elman and LSTM cells have one bias (``Rb`` = 0); the reset-after GRU's
``(2, 3H)`` bias is ``[Wb; Rb]`` and it sets ``linear_before_reset=1``, the reset-before GRU
(one bias) ``linear_before_reset=0``.

Directions: ``go_backwards`` is ``direction="reverse"``; its final state is rnnkit's, and its
sequence output, which ONNX returns aligned with the input, is put back into rnnkit's (and
Keras's) processing order with ``ReverseSequence`` (the valid prefix of each row with
``lengths``, the whole row without). A Bidirectional is one ``direction="bidirectional"`` node
whose two halves are merged as ``merge_mode`` says. With ``lengths`` the node gets
``sequence_lens``: onnxruntime then outputs zeros at padded steps and runs the reverse direction
from each row's last valid step, which is rnnkit's packed semantics.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from ..layers import GRU, LSTM, Bidirectional, SimpleRNN
from ..layers.base import Layer
from ..layers.recurrent.cell_layer import CellLayer
from ._common import refusal
from .onnx_graph import GraphBuilder, Tensor

__all__ = ["recurrent_outputs", "refuse"]

_OPERATOR: dict[type, str] = {SimpleRNN: "RNN", LSTM: "LSTM", GRU: "GRU"}
# rnnkit's recurrent activation -> (ONNX activation, alpha, beta). Keras 3's hard_sigmoid is
# relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1): HardSigmoid with alpha 1/6, beta 1/2 (ONNX's
# default alpha is Keras 2's 0.2). "linear" is Affine(1, 0).
_ACTIVATIONS: dict[str, tuple[str, float | None, float | None]] = {
    "tanh": ("Tanh", None, None),
    "relu": ("Relu", None, None),
    "sigmoid": ("Sigmoid", None, None),
    "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5),
    "linear": ("Affine", 1.0, 0.0),
}
# Options with no ONNX form, and why (the options dropout and recurrent_dropout are inference
# no-ops, as in rnnkit's predict, and export as such).
_REFUSED = (
    ("return_state", "return_state (the graph has one output per model output)"),
    ("stateful", "stateful (an ONNX graph carries no state between runs)"),
    ("layer_norm", "layer_norm (the layer-normalised cell has no ONNX operator)"),
)


def refuse(layer: Layer, why: str) -> ValueError:
    """The error for an option that has no ONNX equivalent."""
    return refusal("to_onnx", layer.name, type(layer).__name__, why)


def _gate_order(layer: CellLayer) -> np.ndarray:
    """Column indices taking Keras's gate blocks to ONNX's (LSTM i,f,c,o -> i,o,f,c)."""
    h = layer.units
    if isinstance(layer, LSTM):
        return np.r_[0:h, 3 * h : 4 * h, h : 2 * h, 2 * h : 3 * h]
    return np.arange(layer.gates * h)


def _operator(layer: Layer) -> str:
    """The ONNX operator for a recurrent layer, or an error naming what cannot be exported."""
    operator = _OPERATOR.get(type(layer))
    if operator is None:
        raise TypeError(
            f"to_onnx: no ONNX operator for {type(layer).__name__} {layer.name!r} "
            "(SimpleRNN, LSTM and GRU export)"
        )
    config = layer.get_config()
    for option, why in _REFUSED:
        if config.get(option):
            raise refuse(layer, why)
    return operator


def _activation_names(layer: CellLayer) -> list[str]:
    """rnnkit's activations in ONNX's order: RNN f; GRU f (gates), g; LSTM f, g, h."""
    names = [layer.get_config()[name] for name in layer.activation_names]
    if isinstance(layer, LSTM):
        return [names[1], names[0], names[0]]
    if isinstance(layer, GRU):
        return [names[1], names[0]]
    return names


def _direction_weights(layer: CellLayer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ONNX's ``W (G·H, D)``, ``R (G·H, H)`` and ``B (2·G·H,)`` of one direction."""
    order = _gate_order(layer)
    w = layer.params["Wx"][:, order].T
    r = layer.params["Wh"][:, order].T
    columns = len(order)
    b = layer.params.get("b")
    if b is None:
        bias = np.zeros(2 * columns)
    elif b.ndim == 2:  # the reset-after GRU: input row, recurrent row
        bias = np.concatenate([b[0, order], b[1, order]])
    else:
        bias = np.concatenate([b[order], np.zeros(columns)])
    return w, r, bias


def _attributes(layer: CellLayer, directions: list[CellLayer]) -> dict[str, Any]:
    activations = [_ACTIVATIONS[name] for d in directions for name in _activation_names(d)]
    attributes: dict[str, Any] = {
        "hidden_size": layer.units,
        "activations": [onnx_name for onnx_name, _, _ in activations],
    }
    # onnxruntime takes one alpha (beta) per activation that has one, in order; the others
    # consume none.
    alphas = [alpha for _, alpha, _ in activations if alpha is not None]
    if alphas:
        attributes["activation_alpha"] = alphas
        attributes["activation_beta"] = [beta for _, _, beta in activations if beta is not None]
    if isinstance(layer, GRU):
        attributes["linear_before_reset"] = int(layer.reset_after)
    return attributes


def _directions(layer: Layer) -> tuple[list[CellLayer], str]:
    """The layers of each direction, in ONNX's order, and the ``direction`` attribute."""
    if not isinstance(layer, Bidirectional):
        _operator(layer)  # a TypeError for anything but SimpleRNN, LSTM and GRU: CellLayers
        cell = cast(CellLayer, layer)
        return [cell], "reverse" if cell.go_backwards else "forward"
    pair = [layer.forward_layer, layer.backward_layer]
    operators = {_operator(d) for d in pair}
    if layer.forward_layer.go_backwards:
        raise refuse(
            layer,
            "its forward layer runs backwards (go_backwards=True on the wrapped layer): its "
            "output is not time-aligned with the backward layer's, which ONNX's "
            "bidirectional operator assumes",
        )
    cells = [d for d in pair if isinstance(d, CellLayer)]
    if len(operators) != 1 or layer.forward_layer.units != layer.backward_layer.units:
        raise refuse(layer, "its two directions differ in class or units")
    if isinstance(cells[0], GRU) and len({d.get_config()["reset_after"] for d in cells}) != 1:
        raise refuse(layer, "its two GRUs differ in reset_after (one linear_before_reset)")
    return cells, "bidirectional"


def _time_major_output(g: GraphBuilder, y: str, hint: str) -> str:
    """ONNX's ``Y (T, dirs, N, H)`` -> ``(N, T, dirs, H)``."""
    return g.op("Transpose", [y], hint, perm=[2, 0, 1, 3])


def _reverse_in_time(g: GraphBuilder, y: Tensor, hint: str) -> str:
    """``y (N, T, H)`` reversed in time: each row's valid prefix with lengths, else all of it."""
    if y.lengths is not None:
        counts = g.op("Cast", [y.lengths], hint + "_lengths", to=7)  # INT64
        return g.op("ReverseSequence", [y.name, counts], hint, batch_axis=0, time_axis=1)
    # From the last step back past the first: an end below -T clamps to "before step 0".
    starts = g.constant(hint + "_start", [-1], np.int64)
    ends = g.constant(hint + "_end", [-np.iinfo(np.int64).max], np.int64)
    axes = g.constant(hint + "_axis", [1], np.int64)
    steps = g.constant(hint + "_step", [-1], np.int64)
    return g.op("Slice", [y.name, starts, ends, axes, steps], hint + "_reversed")


def _merge(g: GraphBuilder, parts: list[str], merge_mode: str | None, hint: str) -> list[str]:
    """Bidirectional's merge of the forward and backward outputs (time-aligned)."""
    if merge_mode is None:
        return parts
    if merge_mode == "concat":
        return [g.op("Concat", parts, hint, axis=-1)]
    if merge_mode == "mul":
        return [g.op("Mul", parts, hint)]
    total = g.op("Add", parts, hint + "_sum" if merge_mode == "ave" else hint)
    if merge_mode == "sum":
        return [total]
    return [g.op("Mul", [total, g.constant(hint + "_half", 0.5)], hint)]  # ave


def recurrent_outputs(g: GraphBuilder, layer: Layer, x: Tensor) -> list[Tensor]:
    """The output(s) of a recurrent layer or Bidirectional on ``x (N, T, D)``: one tensor, or
    two when a Bidirectional has ``merge_mode=None``."""
    directions, direction = _directions(layer)
    first = directions[0]
    hint = layer.name
    weights = [_direction_weights(d) for d in directions]
    w, r, b = (g.constant(f"{hint}_{key}", np.stack(m)) for key, m in zip("WRB", zip(*weights)))
    time_major = g.op("Transpose", [x.name], hint + "_time_major", perm=[1, 0, 2])
    inputs = [time_major, w, r, b] + ([x.lengths] if x.lengths is not None else [])
    y, y_h = g.node(
        _OPERATOR[type(first)],
        inputs,
        hint + "_onnx",
        outputs=2,
        direction=direction,
        **_attributes(first, directions),
    )
    units = first.units
    parts: list[str] = []
    if first.return_sequences:
        batch_first = _time_major_output(g, y, hint + "_batch_first")
        shape: tuple[int | str, ...] = (x.shape[0], x.shape[1], units)
        for k in range(len(directions)):
            index = g.constant(f"{hint}_direction_{k}", k, np.int64)
            parts.append(g.op("Gather", [batch_first, index], f"{hint}_{k}", axis=2))
        if direction == "reverse":
            parts = [_reverse_in_time(g, Tensor(parts[0], shape, x.lengths), hint)]
        lengths = x.lengths
    else:
        shape = (x.shape[0], units)
        for k in range(len(directions)):
            index = g.constant(f"{hint}_direction_{k}", k, np.int64)
            parts.append(g.op("Gather", [y_h, index], f"{hint}_{k}", axis=0))
        lengths = None
    merge_mode = layer.merge_mode if isinstance(layer, Bidirectional) else "concat"
    merged = _merge(g, parts, merge_mode, hint) if len(parts) == 2 else parts
    if isinstance(layer, Bidirectional) and layer.merge_mode == "concat":
        shape = (*shape[:-1], 2 * units)
    return [Tensor(name, shape, lengths) for name in merged]
