"""The order a functional graph runs in, found from its inputs and outputs, with the checks that
make a bad graph fail when the model is made rather than at its first batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..layers.base import Layer
from ..layers.symbolic import Node, SymbolicTensor

__all__ = ["as_tensor_list", "graph_layers", "graph_nodes"]


def as_tensor_list(value: Any, what: str) -> tuple[list[SymbolicTensor], list[str] | None]:
    """``value`` (one tensor, a list/tuple of them, or a dict name -> tensor) as a list, with
    the dict's keys (None when not a dict). TypeError naming ``what`` for anything else."""
    keys = None
    if isinstance(value, dict):
        keys = [str(key) for key in value]
        items = list(value.values())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    if not items:
        raise ValueError(f"Model needs at least one tensor in {what}")
    for item in items:
        if not isinstance(item, SymbolicTensor):
            raise TypeError(
                f"Model {what} must be symbolic tensors (from Input(...) or a layer call), "
                f"got {type(item).__name__}"
                + (
                    ": pass the tensor Input returns, not its layer"
                    if isinstance(item, Layer)
                    else ""
                )
            )
    return items, keys


def graph_nodes(inputs: Sequence[SymbolicTensor], outputs: Sequence[SymbolicTensor]) -> list[Node]:
    """The layer nodes between ``inputs`` and ``outputs`` in an order where every node comes
    after the nodes that make its inputs (depth first from the outputs, parents in call
    order: the same graph always gives the same order, which saving relies on).

    Raises ValueError when a model input is not an Input's tensor, or an output depends on an
    Input that is not among ``inputs`` (naming it)."""
    for tensor in inputs:
        if not tensor.node.layer.is_input_layer:
            raise ValueError(
                f"Model inputs must be the tensors Input(...) returns; {tensor.name!r} is the "
                f"output of layer {tensor.node.layer.name!r}"
            )
    given = {id(tensor) for tensor in inputs}
    order: list[Node] = []
    seen: set[int] = set()

    def visit(tensor: SymbolicTensor, output: SymbolicTensor) -> None:
        node = tensor.node
        if id(tensor) in given or id(node) in seen:
            return
        if node.layer.is_input_layer:
            names = [t.node.layer.name for t in inputs]
            raise ValueError(
                f"output {output.name!r} is not reachable from the model's inputs {names}: "
                f"it depends on Input {node.layer.name!r}; add that Input to Model(inputs=...) "
                "or build the output from the given inputs"
            )
        seen.add(id(node))
        for parent in node.parents:
            visit(parent, output)
        order.append(node)

    for tensor in outputs:
        visit(tensor, tensor)
    return order


def graph_layers(nodes: Sequence[Node]) -> list[Layer]:
    """Each layer of ``nodes`` once, in the order of its first call."""
    layers: list[Layer] = []
    for node in nodes:
        if not any(node.layer is known for known in layers):
            layers.append(node.layer)
    return layers
