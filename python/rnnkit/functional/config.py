"""A functional graph as JSON and back: the layers once each, the Inputs, and the nodes in run
order, each naming its layer and its inbound tensors as ``[node index, output index]`` (the
Input nodes come first, one per model input). Rebuilding replays the calls on fresh layers, so
the rebuilt graph has the same nodes in the same order and the same ``layers`` (which is what
the weights in a model file are matched against)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..layers.base import Layer, deserialize_layer, serialize_layer
from ..layers.symbolic import Node, SymbolicTensor

if TYPE_CHECKING:  # annotations only
    from .graph_network import GraphNetwork

__all__ = ["graph_config", "replay_graph"]

Ref = list[int]  # [node index, output index]


def graph_config(model: GraphNetwork) -> dict[str, Any]:
    """The JSON-serialisable description :func:`replay_graph` rebuilds ``model``'s graph from."""
    nodes: list[Node] = [t.node for t in model.inputs] + model.nodes
    where = {id(node): i for i, node in enumerate(nodes)}

    def ref(tensor: SymbolicTensor) -> Ref:
        if id(tensor.node) not in where:
            raise ValueError(f"tensor {tensor.name!r} is not part of model {model.name!r}")
        return [where[id(tensor.node)], tensor.index]

    node_specs = []
    for node in model.nodes:
        spec: dict[str, Any] = {"layer": node.layer.name}
        spec["inputs"] = (
            (
                [ref(t) for t in node.input_list]
                if isinstance(node.inputs, list)
                else ref(node.inputs)
            )
            if node.inputs is not None
            else None
        )
        if node.initial_state is not None:
            spec["initial_state"] = [ref(t) for t in node.initial_state]
        if node.training is not None:
            spec["training"] = bool(node.training)
        node_specs.append(spec)
    outputs: Any = [ref(t) for t in model.outputs]
    if model._output_dict:
        outputs = dict(zip(model.output_names, outputs))
    elif model._single_output:
        outputs = outputs[0]
    inputs: Any = [ref(t) for t in model.inputs]
    if model._input_dict:
        inputs = dict(zip(model.input_names, inputs))
    return {
        "name": model.name,
        "input_layers": [serialize_layer(layer) for layer in model.input_layers],
        "layers": [serialize_layer(layer) for layer in model.layers],
        "nodes": node_specs,
        "inputs": inputs,
        "outputs": outputs,
    }


def _structure(value: Any, tensor: Any) -> Any:
    """``value`` (a ref, a list of refs or a dict of refs) with each ref made a tensor."""
    if isinstance(value, dict):
        return {key: tensor(ref) for key, ref in value.items()}
    if value and isinstance(value[0], list):
        return [tensor(ref) for ref in value]
    return tensor(value)


def replay_graph(config: dict[str, Any]) -> tuple[Any, Any]:
    """``(inputs, outputs)`` of a new graph built from :func:`graph_config`'s ``config``: fresh
    layers called as the nodes say. ValueError for a config that does not describe a graph."""
    try:
        input_specs = list(config["input_layers"])
        layer_specs = list(config["layers"])
        node_specs = list(config["nodes"])
    except (KeyError, TypeError) as exc:
        raise ValueError(
            f"a functional model config needs input_layers, layers, nodes: {exc}"
        ) from exc
    layers: dict[str, Layer] = {}
    for spec in layer_specs:
        layer = deserialize_layer(spec)
        layers[layer.name] = layer
    outputs_by_node: list[list[SymbolicTensor]] = [
        [deserialize_layer(spec).output]  # type: ignore[attr-defined]
        for spec in input_specs
    ]

    def tensor(ref: Any) -> SymbolicTensor:
        if not isinstance(ref, list) or len(ref) != 2 or not 0 <= ref[0] < len(outputs_by_node):
            raise ValueError(f"a node refers to tensor {ref!r}, which no earlier node makes")
        return outputs_by_node[ref[0]][ref[1]]

    for spec in node_specs:
        if spec.get("layer") not in layers:
            raise ValueError(f"a node calls layer {spec.get('layer')!r}, which is not listed")
        options: dict[str, Any] = {}
        if spec.get("initial_state") is not None:
            options["initial_state"] = [tensor(ref) for ref in spec["initial_state"]]
        out = layers[spec["layer"]](
            _structure(spec["inputs"], tensor), training=spec.get("training"), **options
        )
        outputs_by_node.append(list(out) if isinstance(out, list) else [out])
    return _structure(config["inputs"], tensor), _structure(config["outputs"], tensor)
