"""``summary()`` of a functional model: Keras's table with a "Connected to" column, one row per
Input and per layer call. A tensor is written as Keras writes it, ``layer[call][output]``
(``encoder[0][1]``: the second output of the first call of layer ``encoder``); a shared layer's
weights are counted on its first row only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._summary_table import format_summary
from ..layers.symbolic import Node, SymbolicTensor

if TYPE_CHECKING:  # annotations only
    from .graph_network import GraphNetwork

__all__ = ["summary_text"]


def _shape_text(shape: Any) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def summary_text(model: GraphNetwork, line_length: int | None = None) -> str:
    """The table, as one string."""
    nodes: list[Node] = [t.node for t in model.inputs] + model.nodes
    call_of: dict[int, int] = {}
    calls: dict[int, int] = {}
    for node in nodes:
        call_of[id(node)] = calls.get(id(node.layer), 0)
        calls[id(node.layer)] = call_of[id(node)] + 1

    def tensor_text(tensor: SymbolicTensor) -> str:
        return f"{tensor.node.layer.name}[{call_of.get(id(tensor.node), 0)}][{tensor.index}]"

    rows = [("Layer (type)", "Output Shape", "Param #", "Connected to")]
    for node in nodes:
        layer = node.layer
        shapes = [_shape_text(t.shape) for t in node.outputs]
        shape = shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"
        params = f"{layer.count_params():,}" if call_of[id(node)] == 0 else "(shared)"
        inbound = [tensor_text(t) for t in node.parents]
        rows.append(
            (f"{layer.name} ({type(layer).__name__})", shape, params, ", ".join(inbound) or "-")
        )
    total = model.count_params()
    trainable = sum(layer.count_params() for layer in model.layers if layer.trainable)
    return format_summary(model.name, rows, line_length, total, trainable)
