"""ONNX export: :func:`to_onnx` (and :meth:`rnnkit.models.Model.export`, Keras 3's spelling).

onnx is imported inside the functions only (never when rnnkit is imported); without it they
raise an ImportError that names ``pip install "rnnkit[onnx]"``.

What maps:

=========================================  =====================================================
rnnkit                                     ONNX
=========================================  =====================================================
``SimpleRNN`` (every activation)           ``RNN`` (``hard_sigmoid``: ``HardSigmoid(1/6, 1/2)``,
                                           ``linear``: ``Affine(1, 0)``)
``LSTM``                                   ``LSTM`` (gate blocks i,f,c,o -> i,o,f,c)
``GRU``                                    ``GRU`` (``linear_before_reset`` = ``reset_after``)
``go_backwards``                           ``direction="reverse"`` (+ ``ReverseSequence`` of a
                                           sequence output: rnnkit keeps processing order)
``Bidirectional`` (every ``merge_mode``)   one ``direction="bidirectional"`` node, then
                                           ``Concat`` / ``Add`` / ``Mul`` (``None``: two outputs)
``Dense``, ``TimeDistributed(Dense)``      ``Gemm`` (2-D input) or ``MatMul`` + ``Add``, then the
                                           activation (``Softmax`` over the last axis)
``Embedding``                              ``Gather`` (ids: an int64 input)
``Dropout``                                nothing (identity at inference)
``Activation``                             ``Relu`` / ``Tanh`` / ``Sigmoid`` / ``Softmax``
=========================================  =====================================================

The graph takes and returns batch-first tensors like rnnkit; batch and time are dynamic axes
(named ``batch`` and ``time``). Around each recurrent node it transposes to time-major and
back (:mod:`rnnkit.interop.onnx_recurrent` says why). ``lengths=True`` adds an int32 ``(N,)``
input ``lengths`` that becomes the recurrent nodes' ``sequence_lens``: outputs then equal
``model.predict(x, lengths=lengths)``.

Everything is float32: a float64 model's weights are cast (onnxruntime's recurrent kernels are
float32), so its graph matches its predict to float32 rounding.

Refused (ValueError naming the layer and option): ``return_state``, ``stateful``, SimpleRNN
``layer_norm``, ``Embedding(mask_zero=True)`` (a mask of zero ids is ONNX's ``sequence_lens``
only when the zeros trail; pass ``lengths`` instead), an Embedding that is not the first
layer, a Bidirectional whose wrapped layer has ``go_backwards=True`` or whose directions differ
in class, units or ``reset_after``, an unbuilt model. Any other layer (Masking, RepeatVector,
merges...) is a TypeError.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

from .._atomic_file import atomic_write
from ..activations import builtin_name
from ..functional import GraphNetwork
from ..layers import Activation, Bidirectional, Dense, Dropout, Embedding, TimeDistributed
from ..layers.base import Layer
from ..layers.recurrent import RecurrentLayer
from ..network import Network, get_model_class
from ._common import functional_chain, import_optional
from .onnx_graph import OPSET, GraphBuilder, Port, Tensor, make_model
from .onnx_recurrent import recurrent_outputs, refuse

__all__ = ["INSTALL_HINT", "OPSETS", "export_model", "to_onnx"]

INSTALL_HINT = 'rnnkit.interop.to_onnx needs onnx: pip install "rnnkit[onnx]"'
#: The opsets :func:`to_onnx` writes: the recurrent operators' current form is from 14.
OPSETS = range(14, 22)
_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid"}
_SUPPORTED = (
    "SimpleRNN, LSTM, GRU, Bidirectional, Dense, TimeDistributed(Dense), Embedding, Dropout "
    "and Activation"
)


def _onnx() -> Any:
    """The ``onnx`` module, or an ImportError saying how to install it."""
    return import_optional("onnx", INSTALL_HINT)


# -- the model as a chain of layers ------------------------------------------------------------
def _chain(model: Any) -> tuple[list[Layer], tuple[int | None, ...]]:
    """The model's layers in order and its per-sample input shape."""
    if not isinstance(model, Network):
        raise TypeError(f"to_onnx takes an rnnkit model, got {type(model).__name__}")
    if isinstance(model, get_model_class("Sequential")):
        layers = [layer for layer in model.layers if not layer.is_input_layer]
        unbuilt = [layer.name for layer in layers if not layer.built]
        if unbuilt or not layers:
            raise ValueError(
                f"to_onnx: build the model first (unbuilt layers: {unbuilt or 'no layers'})"
            )
        return layers, tuple(layers[0].built_shape)
    if isinstance(model, GraphNetwork):
        return functional_chain(model, "to_onnx"), tuple(model.inputs[0].sample_shape)
    raise TypeError(f"to_onnx takes a Sequential or a functional model, got {type(model).__name__}")


# -- the layers around the recurrent ones ------------------------------------------------------
def _activation(g: GraphBuilder, x: Tensor, layer: Dense | Activation) -> Tensor:
    """``layer``'s activation after ``x``: rnnkit's own functions only (a user's, or a subclass
    of rnnkit's that keeps its name, may compute something no ONNX operator does)."""
    name = builtin_name(layer.activation)
    if name is None or (name not in _ACTIVATIONS and name not in ("linear", "softmax")):
        raise refuse(
            layer,
            f"activation {layer.activation.name!r} has no ONNX operator here (exported: "
            f"linear, softmax, {', '.join(_ACTIVATIONS)})",
        )
    hint = layer.name
    if name == "linear":
        return x
    if name == "softmax":
        return Tensor(g.op("Softmax", [x.name], hint, axis=-1), x.shape, x.lengths)
    return Tensor(g.op(_ACTIVATIONS[name], [x.name], hint), x.shape, x.lengths)


def _dense(g: GraphBuilder, layer: Dense, x: Tensor) -> Tensor:
    w = g.constant(layer.name + "_W", layer.params["W"])
    b = g.constant(layer.name + "_b", layer.params["b"]) if layer.use_bias else None
    shape = (*x.shape[:-1], layer.units)
    if len(x.shape) == 2:  # one Gemm, bias included
        y = g.op("Gemm", [x.name, w] + ([b] if b else []), layer.name + "_gemm")
    else:  # MatMul broadcasts over (N, T); Gemm is 2-D only
        y = g.op("MatMul", [x.name, w], layer.name + "_matmul")
        if b:
            y = g.op("Add", [y, b], layer.name + "_add")
    return _activation(g, Tensor(y, shape, x.lengths), layer)


def _layer_outputs(g: GraphBuilder, layer: Layer, x: Tensor, first: bool) -> list[Tensor]:
    """The output(s) of one layer on ``x``."""
    if isinstance(layer, (RecurrentLayer, Bidirectional)):
        if not x.has_time:
            raise ValueError(f"to_onnx: layer {layer.name!r} needs (N, T, D) input")
        return recurrent_outputs(g, layer, x)
    if isinstance(layer, TimeDistributed):
        if isinstance(layer.layer, (Dense, Activation, Dropout)):
            return _layer_outputs(g, layer.layer, x, first)
        raise TypeError(
            f"to_onnx: TimeDistributed {layer.name!r} wraps {type(layer.layer).__name__}; "
            "TimeDistributed(Dense), (Activation) and (Dropout) export"
        )
    if isinstance(layer, Dense):
        return [_dense(g, layer, x)]
    if isinstance(layer, Activation):
        return [_activation(g, x, layer)]
    if isinstance(layer, Dropout):
        return [x]
    if isinstance(layer, Embedding):
        if layer.mask_zero:
            raise refuse(
                layer,
                "mask_zero=True has no ONNX form in general (zero ids anywhere in a row); "
                "export with lengths=True and pass the lengths instead",
            )
        if not first:
            raise refuse(layer, "an Embedding exports only as the model's first layer")
        table = g.constant(layer.name + "_embeddings", layer.params["embeddings"])
        y = g.op("Gather", [table, x.name], layer.name, axis=0)
        return [Tensor(y, (*x.shape, layer.output_dim), x.lengths)]
    raise TypeError(
        f"to_onnx: no ONNX export for {type(layer).__name__} {layer.name!r}; supported: "
        f"{_SUPPORTED}"
    )


def _input_port(layers: list[Layer], sample_shape: tuple[int | None, ...]) -> Port:
    """The graph's input ``x``: int64 ids ``(batch, time)`` for an Embedding, else float32
    ``(batch, time, D)`` or ``(batch, D)``; batch and time dynamic, the feature size fixed."""
    if isinstance(layers[0], Embedding):
        if len(sample_shape) != 1:
            raise refuse(layers[0], f"exports for (N, T) ids, not per-sample {sample_shape}")
        return Port("x", "INT64", ("batch", "time"))
    features = sample_shape[-1] if sample_shape else None
    if features is None or len(sample_shape) > 2:
        raise ValueError(
            f"to_onnx: the model's per-sample input shape must be (T, D) or (D,) with D "
            f"known, got {sample_shape}"
        )
    return Port(
        "x", "FLOAT", ("batch", "time", features) if len(sample_shape) == 2 else ("batch", features)
    )


def _build(
    layers: list[Layer], x: Port, lengths: bool
) -> tuple[GraphBuilder, list[Port], list[Port]]:
    g = GraphBuilder()
    g.used.update(("x", "lengths", "output", "output_0", "output_1"))  # the ports' names
    inputs = [x]
    current = [Tensor(x.name, x.shape)]
    if lengths:
        if len(x.shape) < 2 or x.shape[1] != "time":
            raise ValueError("to_onnx: lengths=True needs a model whose input has a time axis")
        inputs.append(Port("lengths", "INT32", ("batch",)))
        current[0].lengths = "lengths"
    for k, layer in enumerate(layers):
        # A layer with two outputs (Bidirectional, merge_mode=None) can only be the last of a
        # chain: neither a Sequential nor _functional_chain passes a pair on.
        current = _layer_outputs(g, layer, current[0], first=k == 0)
    names = ["output"] if len(current) == 1 else [f"output_{k}" for k in range(len(current))]
    outputs = []
    for name, tensor in zip(names, current):
        g.nodes.append(("Identity", [tensor.name], [name], {}))
        outputs.append(Port(name, "FLOAT", tensor.shape))
    return g, inputs, outputs


def _write(model_proto: Any, path: str | os.PathLike[str]) -> None:
    data = model_proto.SerializeToString()

    def write(f: BinaryIO) -> None:
        f.write(data)

    atomic_write(os.fspath(path), write)


def to_onnx(
    model: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    lengths: bool = False,
    opset_version: int = OPSET,
) -> Any:
    """The ONNX graph (an ``onnx.ModelProto``, checked with ``onnx.checker``) of ``model``,
    which onnxruntime runs; also written to ``path`` (atomically) when given.

    Args:
        model: a built :class:`~rnnkit.models.Sequential`, or a functional model that is a
            chain of layers, of the layers :mod:`rnnkit.interop.onnx` lists.
        path: where to write the ``.onnx`` file (None: write nothing).
        lengths: add a second input ``lengths`` (int32 ``(N,)``, each row's valid steps) that
            the recurrent operators take as ``sequence_lens``; the outputs then equal
            ``model.predict(x, lengths=lengths)`` (zeros at padded steps).
        opset_version: the ONNX opset, 14 to 21 (default 17).

    The graph's input is ``x`` (float32 ``(batch, time, D)``, int64 ids ``(batch, time)`` for
    a model that starts with an Embedding), its output ``output`` (``output_0`` and
    ``output_1`` for a final Bidirectional with ``merge_mode=None``); always float32.

    Raises:
        ImportError: onnx is not installed.
        TypeError: not an rnnkit model, or a layer with no ONNX export.
        ValueError: an unbuilt model, a bad argument, or an option with no ONNX form (see
            :mod:`rnnkit.interop.onnx`).
    """
    _onnx()  # the ImportError first, before any other check
    if not isinstance(lengths, bool):
        raise TypeError(f"to_onnx: lengths must be True or False, got {lengths!r}")
    if isinstance(opset_version, bool) or opset_version not in OPSETS:
        raise ValueError(
            f"to_onnx: opset_version must be an int from {OPSETS.start} to {OPSETS.stop - 1}, "
            f"got {opset_version!r}"
        )
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"to_onnx: path must be a str or os.PathLike, got {type(path).__name__}")
    layers, sample_shape = _chain(model)
    g, inputs, outputs = _build(layers, _input_port(layers, sample_shape), lengths)
    proto = make_model(g, inputs, outputs, model.name, opset_version)
    if path is not None:
        _write(proto, path)
    return proto


def export_model(
    model: Any,
    filepath: str | os.PathLike[str],
    format: str,
    verbose: bool | None,
    input_signature: Any,
    options: dict[str, Any],
) -> None:
    """:meth:`rnnkit.models.Model.export`: Keras 3's signature; ``format="onnx"`` only."""
    if format != "onnx":
        raise ValueError(
            f"Model.export: format={format!r} is not available in rnnkit; it exports "
            "format='onnx' only (Keras's tf_saved_model, openvino, litert and torch need "
            "their frameworks)"
        )
    if input_signature is not None:
        raise ValueError(
            "Model.export: input_signature must be None: the graph's shapes come from the "
            "built model (batch and time are dynamic axes)"
        )
    unknown = sorted(set(options) - {"opset_version", "lengths"})
    if unknown:
        raise TypeError(
            f"Model.export: unexpected keyword arguments {unknown} (format='onnx' takes "
            "opset_version and lengths)"
        )
    to_onnx(model, filepath, **options)
    if verbose:
        print(f"Saved the ONNX model to {os.fspath(filepath)}")
