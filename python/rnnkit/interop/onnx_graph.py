"""The graph :func:`rnnkit.interop.to_onnx` builds, recorded without ONNX and made into a
``ModelProto`` at the end (:func:`make_model`).

Recording plain tuples and NumPy arrays keeps ``onnx`` out of everything but the last step, so
the layer translations (:mod:`rnnkit.interop.onnx`, :mod:`rnnkit.interop.onnx_recurrent`)
never import it. Every tensor is float32 except the token ids (int64) and ``lengths`` (int32,
what the recurrent operators' ``sequence_lens`` takes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["OPSET", "GraphBuilder", "Port", "Tensor", "make_model"]

#: The default opset: every operator used here has had its current form since 14 or earlier,
#: and onnxruntime has run opset 17 since 1.11.
OPSET = 17
# The IR version that goes with each opset onnx.py accepts (onnx's own table: opset 17 came
# with IR 8); an older
# onnxruntime refuses a model whose IR version is newer than it knows.
_IR_VERSION = {14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}


@dataclass
class Tensor:
    """A value in the graph being built: its name, its symbolic shape (``"batch"``, ``"time"``
    or a size) and whether it has a time axis. ``lengths`` names the int32 ``(N,)`` valid-step
    counts that go with it (rnnkit's ``lengths`` as they flow through ``output_lengths``), or
    is None."""

    name: str
    shape: tuple[int | str, ...]
    lengths: str | None = None

    @property
    def has_time(self) -> bool:
        return len(self.shape) == 3


@dataclass
class Port:
    """A graph input or output: name, ONNX element type name ("FLOAT", "INT64", "INT32") and
    shape."""

    name: str
    elem_type: str
    shape: tuple[int | str, ...]


@dataclass
class GraphBuilder:
    """Nodes and constant tensors in the order they are added, with unique names."""

    nodes: list[tuple[str, list[str], list[str], dict[str, Any]]] = field(default_factory=list)
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def fresh(self, hint: str) -> str:
        """A name not used before: ``hint``, else ``hint_1``, ``hint_2``, ... (a layer may be
        called "x" or "output", the graph's own port names, which are taken first)."""
        name, k = hint, 0
        while name in self.used:
            k += 1
            name = f"{hint}_{k}"
        self.used.add(name)
        return name

    def constant(self, hint: str, value: Any, dtype: Any = np.float32) -> str:
        """Add ``value`` (cast to ``dtype``) as an initializer; its name."""
        name = self.fresh(hint)
        # np.array, not np.ascontiguousarray: that makes a scalar (Gather's index) 1-D.
        self.constants[name] = np.array(value, dtype=dtype, order="C")
        return name

    def node(
        self, op: str, inputs: list[str], hint: str, outputs: int = 1, **attributes: Any
    ) -> list[str]:
        """Add one ``op`` node; the names of its ``outputs`` outputs (each ``hint``-based)."""
        names = [self.fresh(hint) for _ in range(outputs)]
        self.nodes.append((op, list(inputs), names, attributes))
        return names

    def op(self, op: str, inputs: list[str], hint: str, **attributes: Any) -> str:
        """:meth:`node` for a one-output operator: the output's name."""
        return self.node(op, inputs, hint, **attributes)[0]


def _value_info(onnx: Any, port: Port) -> Any:
    elem_type = getattr(onnx.TensorProto, port.elem_type)
    return onnx.helper.make_tensor_value_info(port.name, elem_type, list(port.shape))


def make_model(
    builder: GraphBuilder, inputs: list[Port], outputs: list[Port], name: str, opset: int
) -> Any:
    """The ``onnx.ModelProto`` of ``builder``'s graph, checked with ``onnx.checker``."""
    import onnx  # the caller made sure it is installed

    nodes = [
        onnx.helper.make_node(op, node_inputs, node_outputs, name=node_outputs[-1], **attributes)
        for op, node_inputs, node_outputs, attributes in builder.nodes
    ]
    graph = onnx.helper.make_graph(
        nodes,
        name,
        [_value_info(onnx, port) for port in inputs],
        [_value_info(onnx, port) for port in outputs],
        [onnx.numpy_helper.from_array(value, key) for key, value in builder.constants.items()],
    )
    model = onnx.helper.make_model(
        graph,
        opset_imports=[onnx.helper.make_opsetid("", opset)],
        producer_name="rnnkit",
        ir_version=_IR_VERSION.get(opset, onnx.IR_VERSION),
    )
    onnx.checker.check_model(model, full_check=True)
    return model
