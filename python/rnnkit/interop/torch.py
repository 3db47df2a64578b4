"""Weights in and out of PyTorch: :func:`from_torch` and :func:`to_torch`, exact both ways.

PyTorch is imported inside the functions only (never when rnnkit is imported); without it they
raise an ImportError that names ``pip install torch``.

What maps (docs/architecture.md, "Numerical conventions", has the layouts):

==========================================  ====================================================
PyTorch                                     rnnkit
==========================================  ====================================================
``nn.RNN`` (tanh / relu)                    ``SimpleRNN(activation=...)``
``nn.LSTM``                                 ``LSTM`` (default activations)
``nn.GRU``                                  ``GRU(reset_after=True)``
``num_layers=L``                            L stacked layers (``Dropout(p)`` between them when
                                            the module has ``dropout=p``: the same dropout)
``bidirectional=True``                      ``Bidirectional(layer, merge_mode="concat")``
``bias=False``                              ``use_bias=False``
``nn.Linear`` (+ ``nn.ReLU`` / ``Tanh`` /   ``Dense(activation=...)``
``Sigmoid`` / ``Softmax(dim=-1)``)
``nn.Embedding``                            ``Embedding``
``nn.Dropout``                              ``Dropout``
(the same, by :func:`to_torch`)             ``TimeDistributed(Dense | Activation | Dropout)``
``nn.Sequential`` of the above              ``Sequential``
==========================================  ====================================================

Kernels are ``weight_ih.T`` and ``weight_hh.T``. LSTM gates i, f, g, o are Keras's i, f, c, o
(the same order). PyTorch's GRU is reset-after with gates r, z, n: rnnkit's (Keras's) has z, r, h
and a ``(2, 3H)`` bias ``[b_ih; b_hh]``, both reordered. The Elman and LSTM cells have one bias,
``b_ih + b_hh``; :func:`to_torch` writes it to ``bias_ih`` with a zero ``bias_hh``.

A recurrent module stands for its output tensor (``output[0]``, every step: the last recurrent
layer gets ``return_sequences=True``), which is also what it means inside an ``nn.Sequential``
(that PyTorch itself cannot run, its recurrent modules returning tuples). rnnkit is batch-first:
a module with ``batch_first=False`` maps all the same, and the rnnkit model takes ``(N, T, D)``
where the module takes ``(T, N, D)``. ``nn.Embedding(padding_idx=k)`` only keeps row k's
gradient at zero in PyTorch; the lookup is the same, so rnnkit's Embedding (no mask, row k
trained like any other) computes the same outputs.

Refused (ValueError naming it): LSTM ``proj_size > 0``, ``nn.Embedding(max_norm=...)`` (it
renormalises rows at lookup), ``nn.Softmax`` over another axis, a dtype other than float32 and
float64; any other module is a TypeError. :func:`to_torch` refuses what PyTorch has no module
for: GRU ``reset_after=False``, LSTM/GRU activations other than tanh and sigmoid, SimpleRNN
activations other than tanh and relu or ``layer_norm``, Keras's (variational) ``dropout`` and
``recurrent_dropout`` inside a recurrent layer, ``go_backwards`` outside Bidirectional,
``return_state``, ``stateful``, a Bidirectional merge other than concat, ``Embedding(
mask_zero=True)`` and any other layer.
"""

from __future__ import annotations

import functools
from typing import Any, cast

import numpy as np

from ..layers import (
    GRU,
    LSTM,
    Activation,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Input,
    SimpleRNN,
    TimeDistributed,
)
from ..layers.base import Layer
from ..layers.recurrent.cell_layer import CellLayer
from ..models import Sequential
from ._common import FLOAT_DTYPES, import_optional, refusal

__all__ = ["from_torch", "to_torch"]

INSTALL_HINT = (
    "rnnkit.interop's PyTorch functions need PyTorch: pip install torch "
    "(the CPU build: pip install torch --index-url https://download.pytorch.org/whl/cpu)"
)
# PyTorch activation module class name -> rnnkit activation name.
_ACTIVATIONS = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Softmax": "softmax"}
_SUPPORTED = (
    "nn.RNN, nn.LSTM, nn.GRU, nn.Linear, nn.Embedding, nn.Dropout, nn.ReLU, nn.Tanh, "
    "nn.Sigmoid, nn.Softmax(dim=-1), nn.Identity and an nn.Sequential of those"
)


def _torch() -> Any:
    """The ``torch`` module, or an ImportError saying how to install it."""
    return import_optional("torch", INSTALL_HINT)


def _gru_order(units: int) -> np.ndarray:
    """Column blocks r, z, n <-> z, r, h (swapping the first two: its own inverse)."""
    h = units
    return np.r_[h : 2 * h, 0:h, 2 * h : 3 * h]


def _dtype_name(tensor: Any, what: str) -> str:
    name = str(tensor.dtype).removeprefix("torch.")
    if name not in FLOAT_DTYPES:
        raise ValueError(
            f"from_torch: {what} has dtype {tensor.dtype}; rnnkit computes in float32 or "
            "float64 (convert the module with .float() or .double() first)"
        )
    return name


def _array(tensor: Any) -> np.ndarray:
    return np.array(tensor.detach().cpu().numpy(), copy=True)


# -- PyTorch -> rnnkit -------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def recurrent_output_class() -> Any:
    """The ``nn.Module`` :func:`to_torch` wraps each recurrent module in (built on first use, so
    that importing rnnkit never imports torch): ``forward`` returns the output tensor (every
    step, or the last one when ``return_sequences`` is False) where PyTorch returns a tuple."""
    torch = _torch()

    class RecurrentOutput(torch.nn.Module):  # type: ignore[misc,name-defined,unused-ignore]
        """``rnn(x)[0]``, or its last step: the forward direction's step T-1 and, when
        bidirectional, the backward direction's step 0 (where it ends), concatenated."""

        def __init__(self, rnn: Any, return_sequences: bool) -> None:
            super().__init__()
            self.rnn = rnn
            self.return_sequences = bool(return_sequences)

        def forward(self, x: Any) -> Any:
            y = self.rnn(x)[0]
            if self.return_sequences:
                return y
            time = 1 if self.rnn.batch_first else 0
            last = y.select(time, y.shape[time] - 1)
            if not self.rnn.bidirectional:
                return last
            h = self.rnn.hidden_size
            return torch.cat([last[..., :h], y.select(time, 0)[..., h:]], dim=-1)

        def extra_repr(self) -> str:
            return f"return_sequences={self.return_sequences}"

    return RecurrentOutput


def _leaves(module: Any, nn: Any) -> list[Any]:
    """``module`` as a flat list (nested ``nn.Sequential`` unrolled, ``nn.Identity`` dropped)."""
    if isinstance(module, nn.Sequential):
        return [leaf for child in module for leaf in _leaves(child, nn)]
    if isinstance(module, nn.Identity):
        return []
    return [module]


def _cell_weights(rnn: Any, kind: str, suffix: str) -> list[np.ndarray]:
    """rnnkit's ``[Wx, Wh(, b)]`` of one layer and direction (``suffix`` "_l0", "_l1_reverse")."""
    w_ih, w_hh = (
        _array(getattr(rnn, "weight_ih" + suffix)),
        _array(getattr(rnn, "weight_hh" + suffix)),
    )
    if kind == "GRU":
        order = _gru_order(rnn.hidden_size)
        w_ih, w_hh = w_ih[order], w_hh[order]
    weights = [np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T)]
    if rnn.bias:
        b_ih, b_hh = (
            _array(getattr(rnn, "bias_ih" + suffix)),
            _array(getattr(rnn, "bias_hh" + suffix)),
        )
        if kind == "GRU":
            weights.append(np.stack([b_ih[order], b_hh[order]]))
        else:
            weights.append(b_ih + b_hh)
    return weights


def _recurrent_layer(rnn: Any, kind: str, return_sequences: bool) -> CellLayer:
    common: dict[str, Any] = {
        "units": rnn.hidden_size,
        "use_bias": bool(rnn.bias),
        "return_sequences": return_sequences,
        "dtype": _dtype_name(rnn.weight_ih_l0, f"nn.{kind}"),
    }
    if kind == "RNN":
        return SimpleRNN(activation=rnn.nonlinearity, **common)
    if kind == "LSTM":
        return LSTM(**common)
    return GRU(reset_after=True, **common)


def _from_recurrent(rnn: Any, return_sequences: bool) -> list[tuple[Layer, list[np.ndarray]]]:
    """The layers (and their weights) of one ``nn.RNN``/``LSTM``/``GRU``."""
    kind = type(rnn).__name__
    if kind == "LSTM" and rnn.proj_size > 0:
        raise ValueError(
            f"from_torch: nn.LSTM with proj_size={rnn.proj_size} (a projected hidden state) has "
            "no rnnkit layer"
        )
    if kind == "RNN" and rnn.nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"from_torch: nn.RNN nonlinearity {rnn.nonlinearity!r} (tanh or relu)")
    out: list[tuple[Layer, list[np.ndarray]]] = []
    for k in range(rnn.num_layers):
        last = k == rnn.num_layers - 1
        cell = _recurrent_layer(rnn, kind, return_sequences or not last)
        layer: Layer = cell
        weights = _cell_weights(rnn, kind, f"_l{k}")
        if rnn.bidirectional:
            layer = Bidirectional(cell, merge_mode="concat")
            weights = weights + _cell_weights(rnn, kind, f"_l{k}_reverse")
        out.append((layer, weights))
        if rnn.dropout > 0 and not last:  # PyTorch's: on each layer's output but the last
            out.append((Dropout(rnn.dropout, dtype=layer.dtype.name), []))
    return out


def _from_leaf(module: Any, torch: Any, dtype: str) -> list[tuple[Layer, list[np.ndarray]]]:
    """The rnnkit layers (with their weights) for one PyTorch module; ``dtype`` is for those
    without weights (a float32 Dropout would round a float64 model's activations)."""
    nn = torch.nn
    if isinstance(module, recurrent_output_class()):
        return _from_recurrent(module.rnn, module.return_sequences)
    if isinstance(module, (nn.RNN, nn.LSTM, nn.GRU)):
        return _from_recurrent(module, True)
    if isinstance(module, nn.Linear):
        weights = [np.ascontiguousarray(_array(module.weight).T)]
        if module.bias is not None:
            weights.append(_array(module.bias))
        layer = Dense(
            module.out_features,
            use_bias=module.bias is not None,
            dtype=_dtype_name(module.weight, "nn.Linear"),
        )
        return [(layer, weights)]
    if isinstance(module, nn.Embedding):
        if module.max_norm is not None:
            raise ValueError(
                "from_torch: nn.Embedding(max_norm=...) renormalises rows at lookup; rnnkit's "
                "Embedding does not"
            )
        table = Embedding(
            module.num_embeddings,
            module.embedding_dim,
            dtype=_dtype_name(module.weight, "nn.Embedding"),
        )
        return [(table, [_array(module.weight)])]
    if isinstance(module, nn.Dropout):
        return [(Dropout(module.p, dtype=dtype), [])]
    name = type(module).__name__
    if name in _ACTIVATIONS and isinstance(module, getattr(nn, name)):
        if name == "Softmax" and module.dim != -1:
            raise ValueError(
                f"from_torch: nn.Softmax(dim={module.dim}); rnnkit's softmax is over the last "
                "axis (dim=-1)"
            )
        return [(Activation(_ACTIVATIONS[name], dtype=dtype), [])]
    raise TypeError(f"from_torch: no rnnkit layer for {name}; supported: {_SUPPORTED}")


def _fold_activations(
    pairs: list[tuple[Layer, list[np.ndarray]]],
) -> list[tuple[Layer, list[np.ndarray]]]:
    """``Dense`` (linear) followed by an ``Activation`` -> one ``Dense(activation=...)``."""
    out: list[tuple[Layer, list[np.ndarray]]] = []
    for layer, weights in pairs:
        if isinstance(layer, Activation) and out:
            below, below_weights = out[-1]
            if isinstance(below, Dense) and below.activation.name == "linear":
                dense = Dense(
                    below.units,
                    activation=layer.activation.name,
                    use_bias=below.use_bias,
                    dtype=below.dtype.name,
                )
                out[-1] = (dense, below_weights)
                continue
        out.append((layer, weights))
    return out


def _input_shape(modules: list[Any], torch: Any) -> tuple[int | None, ...] | None:
    """The per-sample input shape the first module with weights takes (None if none has)."""
    nn = torch.nn
    recurrent = (nn.RNN, nn.LSTM, nn.GRU, recurrent_output_class())
    sequences = any(isinstance(m, (*recurrent, nn.Embedding)) for m in modules)
    for m in modules:
        if isinstance(m, recurrent_output_class()):
            m = m.rnn
        if isinstance(m, nn.Embedding):
            return (None,)
        if isinstance(m, (nn.RNN, nn.LSTM, nn.GRU)):
            return (None, m.input_size)
        if isinstance(m, nn.Linear):
            return (None, m.in_features) if sequences else (m.in_features,)
    return None


def from_torch(module: Any) -> Sequential:
    """An rnnkit :class:`~rnnkit.models.Sequential` whose output equals ``module``'s.

    ``module``: an ``nn.RNN`` (tanh or relu), ``nn.LSTM``, ``nn.GRU`` (any ``num_layers``,
    ``bidirectional``, ``bias``, ``batch_first``), ``nn.Linear``, ``nn.Embedding``,
    ``nn.Dropout``, ``nn.ReLU``/``Tanh``/``Sigmoid``/``Softmax(dim=-1)``, ``nn.Identity``, a
    module made by :func:`to_torch`, or an ``nn.Sequential`` of those. A recurrent module stands
    for its output tensor, every step (``return_sequences=True``); the model is batch-first
    whatever ``batch_first`` says. Weights are copied (the module is not shared) in its dtype
    (float32 or float64). See :mod:`rnnkit.interop.torch` for the layouts and what is refused.

    Raises:
        ImportError: PyTorch is not installed.
        TypeError: a module with no rnnkit layer (listing the supported ones).
        ValueError: an option rnnkit cannot express (LSTM ``proj_size``, ``max_norm``, ...).
    """
    torch = _torch()
    modules = _leaves(module, torch.nn)
    first = next(iter(module.parameters()), None) if isinstance(module, torch.nn.Module) else None
    dtype = "float32" if first is None else _dtype_name(first, type(module).__name__)
    pairs = _fold_activations([pair for m in modules for pair in _from_leaf(m, torch, dtype)])
    shape = _input_shape(modules, torch)
    layers = [layer for layer, _ in pairs]
    stack: list[Any] = layers if shape is None else [Input(shape), *layers]
    model = Sequential(stack)
    for layer, weights in pairs:
        if weights:
            layer.set_weights(weights)
    return model


# -- rnnkit -> PyTorch -------------------------------------------------------------------------
def _refuse(layer: Layer, why: str) -> ValueError:
    return refusal("to_torch", layer.name, type(layer).__name__, why)


# Config entries the two directions of a Bidirectional may differ in.
_PER_DIRECTION = ("name", "go_backwards", "seed")
# rnnkit recurrent class -> PyTorch module name (by exact type: a subclass may differ).
_TORCH_KIND: dict[type, str] = {SimpleRNN: "RNN", LSTM: "LSTM", GRU: "GRU"}
_REFUSED_OPTIONS = (
    ("return_state", "return_state (take the states from PyTorch's own module)"),
    ("stateful", "stateful (PyTorch's modules carry no state between calls)"),
    ("go_backwards", "go_backwards outside Bidirectional has no PyTorch option"),
    ("dropout", "Keras's per-sequence input dropout has no PyTorch equivalent; set it to 0"),
    ("recurrent_dropout", "recurrent_dropout has no PyTorch equivalent; set it to 0"),
    ("layer_norm", "layer_norm (the layer-normalised cell) has no PyTorch module"),
)


def _check_cell(layer: Layer, in_bidirectional: bool) -> str:
    """The PyTorch class name for a recurrent layer, or an error saying what has none."""
    kind = _TORCH_KIND.get(type(layer))
    if kind is None:
        raise TypeError(f"to_torch: no PyTorch module for {type(layer).__name__} {layer.name!r}")
    config = layer.get_config()
    if kind == "RNN":
        if config["activation"] not in ("tanh", "relu"):
            raise _refuse(layer, f"activation {config['activation']!r} (nn.RNN: tanh or relu)")
    else:
        gated = (config["activation"], config["recurrent_activation"])
        if gated != ("tanh", "sigmoid"):
            raise _refuse(
                layer,
                f"activation={gated[0]!r}, recurrent_activation={gated[1]!r}: nn.LSTM and "
                "nn.GRU have tanh and sigmoid only",
            )
        if kind == "GRU" and not config["reset_after"]:
            raise _refuse(
                layer, "reset_after=False has no PyTorch equivalent (nn.GRU resets after)"
            )
    for option, why in _REFUSED_OPTIONS:
        if config.get(option) and not (option == "go_backwards" and in_bidirectional):
            raise _refuse(layer, why)
    return kind


def _torch_cell_weights(layer: CellLayer, kind: str) -> list[np.ndarray]:
    """PyTorch's ``[weight_ih, weight_hh(, bias_ih, bias_hh)]`` for a layer's weights."""
    Wx, Wh = layer.params["Wx"], layer.params["Wh"]
    b = layer.params.get("b")
    if kind == "GRU":
        order = _gru_order(layer.units)
        Wx, Wh = Wx[:, order], Wh[:, order]
        biases = [] if b is None else [b[0, order], b[1, order]]
    else:
        biases = [] if b is None else [b, np.zeros_like(b)]
    return [np.ascontiguousarray(w) for w in (Wx.T, Wh.T, *biases)]


def _copy_into(torch: Any, params: list[Any], arrays: list[np.ndarray]) -> None:
    with torch.no_grad():
        for param, array in zip(params, arrays):
            param.copy_(torch.from_numpy(np.ascontiguousarray(array)))


def _to_recurrent(layer: Layer, torch: Any) -> Any:
    """The wrapped ``nn.RNN``/``LSTM``/``GRU`` of a recurrent layer or a Bidirectional."""
    directions: list[Layer] = [layer]
    if isinstance(layer, Bidirectional):
        if layer.merge_mode != "concat":
            raise _refuse(layer, f"merge_mode={layer.merge_mode!r} (PyTorch concatenates)")
        directions = [layer.forward_layer, layer.backward_layer]
        if layer.forward_layer.go_backwards or not layer.backward_layer.go_backwards:
            raise _refuse(layer, "its forward layer must run forwards, its backward backwards")
    kinds = [_check_cell(d, len(directions) == 2) for d in directions]
    cells = [cast(CellLayer, d) for d in directions]
    options = [{k: v for k, v in d.get_config().items() if k not in _PER_DIRECTION} for d in cells]
    if len(set(kinds)) != 1 or any(o != options[0] for o in options):
        raise _refuse(layer, "its two directions differ in class or options")
    cell, kind = cells[0], kinds[0]
    arguments: dict[str, Any] = {"bias": cell.use_bias, "batch_first": True}
    if kind == "RNN":
        arguments["nonlinearity"] = options[0]["activation"]
    if len(cells) == 2:
        arguments["bidirectional"] = True
    features = cell.params["Wx"].shape[0]
    rnn = getattr(torch.nn, kind)(features, cell.units, **arguments)
    rnn = rnn.to(getattr(torch, cell.dtype.name))
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if cell.use_bias else [])
    for d, suffix in zip(cells, ("_l0", "_l0_reverse")):
        params = [getattr(rnn, n + suffix) for n in names]
        _copy_into(torch, params, _torch_cell_weights(d, kind))
    return recurrent_output_class()(rnn, cell.return_sequences)


def _activation_module(activation: str, torch: Any) -> list[Any]:
    nn = torch.nn
    modules = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    if activation == "linear":
        return []
    if activation == "softmax":
        return [nn.Softmax(dim=-1)]
    return [modules[activation]()]


def _to_modules(layer: Layer, torch: Any) -> list[Any]:
    """The PyTorch modules of one rnnkit layer."""
    nn = torch.nn
    if isinstance(layer, Dense):
        W = layer.params["W"]
        linear = nn.Linear(W.shape[0], layer.units, bias=layer.use_bias)
        linear = linear.to(getattr(torch, layer.dtype.name))
        arrays = [W.T] + ([layer.params["b"]] if layer.use_bias else [])
        params = [linear.weight] + ([linear.bias] if layer.use_bias else [])
        _copy_into(torch, params, arrays)
        return [linear, *_activation_module(layer.activation.name, torch)]
    if isinstance(layer, Activation):
        return _activation_module(layer.activation.name, torch)
    if isinstance(layer, Dropout):
        return [nn.Dropout(layer.rate)]
    if isinstance(layer, Embedding):
        if layer.mask_zero:
            raise _refuse(layer, "mask_zero=True: PyTorch's modules take no masks")
        table = layer.params["embeddings"]
        embedding = nn.Embedding(*table.shape).to(getattr(torch, layer.dtype.name))
        _copy_into(torch, [embedding.weight], [table])
        return [embedding]
    if isinstance(layer, (Bidirectional, CellLayer)):
        return [_to_recurrent(layer, torch)]
    if isinstance(layer, TimeDistributed) and isinstance(layer.layer, _PER_STEP):
        # nn.Linear and the activations act on the last axis, hence on every step already.
        return _to_modules(layer.layer, torch)
    raise TypeError(
        f"to_torch: no PyTorch module for {type(layer).__name__} {layer.name!r}; supported: "
        "SimpleRNN, LSTM, GRU, Bidirectional, Dense, Activation, Embedding, Dropout, and "
        "TimeDistributed of Dense, Activation or Dropout"
    )


# Layers that act on the last axis alone, so that TimeDistributed adds nothing to them.
_PER_STEP = (Dense, Activation, Dropout)


def to_torch(model: Sequential) -> Any:
    """An ``nn.Sequential`` (in eval mode) whose output equals ``model``'s.

    ``model``: a built rnnkit :class:`~rnnkit.models.Sequential` of SimpleRNN (tanh or relu),
    LSTM and GRU (default activations, ``reset_after=True``), Bidirectional (concat), Dense
    (linear, relu, tanh, sigmoid or softmax: ``nn.Linear`` and the activation's module),
    Activation, Embedding and Dropout, and TimeDistributed wrapping a Dense, Activation or
    Dropout (the wrapped layer's modules, which act on every step as they are). Each
    recurrent layer becomes a one-layer, batch-first module wrapped so that it returns a
    tensor: every step, or the last with ``return_sequences=False``
    (:func:`recurrent_output_class`). Weights are copied, in the
    model's dtype.

    Raises:
        ImportError: PyTorch is not installed.
        TypeError: not a Sequential, or a layer with no PyTorch module.
        ValueError: an unbuilt model, or an option PyTorch has no equivalent for (see
            :mod:`rnnkit.interop.torch`).
    """
    torch = _torch()
    if not isinstance(model, Sequential):
        raise TypeError(f"to_torch takes an rnnkit Sequential, got {type(model).__name__}")
    unbuilt = [layer.name for layer in model.layers if not layer.built]
    if unbuilt:
        raise ValueError(f"to_torch: build the model first (unbuilt layers: {unbuilt})")
    modules = [module for layer in model.layers for module in _to_modules(layer, torch)]
    return torch.nn.Sequential(*modules).eval()
