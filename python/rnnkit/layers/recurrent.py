"""SimpleRNN: the Keras-familiar vanilla (Elman) RNN layer over the C++ kernels.

One :func:`rnnkit.ops.rnn_forward` call per forward and one :func:`rnnkit.ops.rnn_backward` call
per backward, whatever ``T``: the per-step loop lives in C++ (design.md §1).

Shapes: input ``(N, T, D)`` (Keras ``input_shape=(T, D)``, ``T`` may be None), ``Wx (D, H)``,
``Wh (H, H)``, ``b (H,)``, state ``(N, H)``, sequence output ``(N, T, H)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import initializers, ops
from .._lengths import check_lengths
from .base import Layer, Shape, config_input_shape, make_rng, positive_int

__all__ = ["SimpleRNN", "reverse_sequences"]

_RNN_ACTIVATIONS = ("tanh", "relu")  # what the C++ kernels implement


def reverse_sequences(x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Reverse ``x (N, T, ...)`` in time; with ``lengths``, only the valid prefix of each row.

    Row ``i`` becomes ``x[i, L_i-1], ..., x[i, 0], x[i, L_i], ..., x[i, T-1]``: the padded tail
    stays where it is, so the valid steps remain a prefix and the same ``lengths`` still
    describe the result (PyTorch's packed-sequence reversal; Keras's ``go_backwards`` reverses
    the whole padded row instead). The map is its own inverse. One fancy-indexing gather, no
    Python loop over steps.
    """
    if lengths is None:
        return x[:, ::-1]
    n, t = x.shape[:2]
    steps = np.arange(t)
    lens = np.asarray(lengths, dtype=np.int64)[:, None]
    cols = np.where(steps < lens, lens - 1 - steps, steps)
    return x[np.arange(n)[:, None], cols]


class SimpleRNN(Layer):
    """Fully connected RNN: ``h_t = f(x_t @ Wx + h_{t-1} @ Wh + b)``, ``f`` in {tanh, relu}.

    Args:
        units: hidden size ``H``.
        activation: "tanh" or "relu" (what the kernels implement).
        return_sequences: output all states ``(N, T, H)`` instead of the last ``(N, H)``.
        return_state: ``forward`` returns ``[output, h_last]`` (a list, like Keras) and
            ``backward`` takes ``dy`` as the output gradient or ``[d_output, d_state]`` (either
            entry may be None).
        stateful: the final state of one ``forward`` is the initial state of the next (a
            constant: no gradient flows into the previous batch, i.e. truncated BPTT across
            calls). The batch size must stay fixed until :meth:`reset_state`.
        go_backwards: process each sequence reversed in time. With ``lengths`` only the valid
            prefix of each row is reversed (PyTorch's semantics, not Keras's whole-row
            reversal): valid steps stay a prefix, so the mask still holds. A sequence output is
            returned in processing (reversed) order, like Keras; ``dx`` is in input order.
        use_bias: with False there is no ``"b"`` parameter (``params`` holds ``Wx`` and ``Wh``
            only) and the kernel gets a constant zero bias.
        kernel_initializer, recurrent_initializer, bias_initializer: see
            :mod:`rnnkit.initializers` (Keras defaults).
        dtype: "float32" or "float64": parameters and computation; inputs are converted.
        seed: seed of the initial weights (None: see :func:`rnnkit.layers.set_random_seed`).
        input_shape: per-sample ``(T, D)`` (T may be None), builds the layer at once.
        name: layer name.

    Attributes:
        truncate: None (full BPTT) or ``k``: passed to :func:`rnnkit.ops.rnn_backward`, which
            cuts the gradient through ``h`` every ``k`` steps (set by the Trainer for TBPTT).
        state: the carried ``(N, H)`` state of a stateful layer (None after ``reset_state``).
        d_initial_state: after ``backward``, ``dL/dh0`` ``(N, H)``: the gradient with respect to
            the ``initial_state`` given to ``forward`` (or to the zero / carried state when none
            was given). Also :meth:`initial_state_grad`.
    """

    requires_sequence = True

    def __init__(
        self,
        units: int,
        activation: str = "tanh",
        return_sequences: bool = False,
        return_state: bool = False,
        stateful: bool = False,
        go_backwards: bool = False,
        use_bias: bool = True,
        kernel_initializer: initializers.InitializerLike = "glorot_uniform",
        recurrent_initializer: initializers.InitializerLike = "orthogonal",
        bias_initializer: initializers.InitializerLike = "zeros",
        dtype: str = "float32",
        seed: int | None = None,
        input_shape: Sequence[int | None] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=None, dtype=dtype)
        self.units = positive_int(units, "SimpleRNN units")
        if activation not in _RNN_ACTIVATIONS:
            raise ValueError(
                f"SimpleRNN activation must be one of {_RNN_ACTIVATIONS} (the C++ "
                f"kernels' cells), got {activation!r}"
            )
        self.activation = activation
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.stateful = bool(stateful)
        self.go_backwards = bool(go_backwards)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.serialize(kernel_initializer)
        self.recurrent_initializer = initializers.serialize(recurrent_initializer)
        self.bias_initializer = initializers.serialize(bias_initializer)
        self._inits = (
            initializers.get(kernel_initializer),
            initializers.get(recurrent_initializer),
            initializers.get(bias_initializer),
        )
        self.seed = seed
        self.truncate: int | None = None
        self.state: np.ndarray | None = None
        self.d_initial_state: np.ndarray | None = None
        self._cache: ops.RNNCache | None = None
        self._lengths: np.ndarray | None = None
        self._build_if_shape_given(input_shape)

    # -- construction -------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        input_shape = tuple(input_shape)
        if len(input_shape) != 2 or input_shape[1] is None:
            raise ValueError(
                f"layer {self.name!r} (SimpleRNN) expects a per-sample input shape "
                f"(T, D) with D known, got {input_shape}: its input is "
                "(N, T, D) (batch, time, features)"
            )
        d, h = int(input_shape[1]), self.units
        rng = make_rng(self.seed)
        kernel, recurrent, bias = self._inits
        # Draw in a fixed order (Wx, Wh, b) so a seed always gives the same weights.
        self._add_param("Wx", kernel((d, h), rng))
        self._add_param("Wh", recurrent((h, h), rng))
        if self.use_bias:
            self._add_param("b", bias((h,), rng))
        self._zero_bias = np.zeros(h, dtype=self.dtype)
        super().build(input_shape)

    @classmethod
    def config_param_shapes(
        cls, config: dict[str, Any], input_shape: Sequence[int | None] | None
    ) -> dict[str, tuple[int, ...]] | None:
        shape = config_input_shape(config, input_shape)
        h = positive_int(config.get("units"), "SimpleRNN units")
        if shape is None or len(shape) != 2 or shape[1] is None:
            return None  # build would refuse it
        d = positive_int(shape[1], "SimpleRNN input features")
        shapes = {"Wx": (d, h), "Wh": (h, h)}
        if bool(config.get("use_bias", True)):
            shapes["b"] = (h,)
        return shapes

    def compute_output_shape(self, input_shape: Shape) -> Shape | list[Shape]:
        out: Shape = (input_shape[0], self.units) if self.return_sequences else (self.units,)
        return [out, (self.units,)] if self.return_state else out

    def collapses_time(self) -> bool:
        return not self.return_sequences

    # -- state --------------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Forget the carried state of a stateful layer (the next batch starts from zeros and
        may have another batch size)."""
        self.state = None

    reset_states = reset_state  # Keras 2 spelling

    def initial_state_grad(self) -> np.ndarray | None:
        """``dL/dh0`` ``(N, H)`` of the last ``backward`` (same as ``d_initial_state``)."""
        return self.d_initial_state

    # -- computation --------------------------------------------------------------------------
    def forward(
        self,
        x: np.ndarray,
        training: bool = False,
        lengths: np.ndarray | None = None,
        initial_state: np.ndarray | Sequence[np.ndarray] | None = None,
    ) -> Any:
        """Run the layer. ``initial_state``: ``(N, H)`` array (or a one-element list, as Keras
        passes it); it overrides a stateful layer's carried state for this call."""
        self._build_for(x)
        x = np.asarray(x, dtype=self.dtype)
        d = self.input_shape[1]
        if x.ndim != 3 or x.shape[2] != d:
            raise ValueError(
                f"layer {self.name!r} (SimpleRNN) expects input of shape "
                f"(N, T, {d}) (batch, time, features), got {x.shape}"
            )
        n, t, _ = x.shape
        lengths = check_lengths(lengths, n, t, where=f"layer {self.name!r}: ")
        h0 = self._initial_state(initial_state, n)
        if self.go_backwards:
            # Reversing the input is all go_backwards needs: the kernel then runs forwards.
            x = reverse_sequences(x, lengths)
        b = self.params["b"] if self.use_bias else self._zero_bias
        hs, h_last, self._cache = ops.rnn_forward(
            x, self.params["Wx"], self.params["Wh"], b, h0, self.activation, lengths
        )
        self._lengths = lengths
        if self.stateful:
            self.state = h_last.copy()  # a constant for the next call: gradient stops here
        output = hs if self.return_sequences else h_last
        return [output, h_last] if self.return_state else output

    def _initial_state(self, initial_state: Any, n: int) -> np.ndarray | None:
        if initial_state is not None:
            if isinstance(initial_state, (list, tuple)):
                if len(initial_state) != 1:
                    raise ValueError(
                        f"layer {self.name!r}: SimpleRNN has one state, got a list "
                        f"of {len(initial_state)} initial states"
                    )
                initial_state = initial_state[0]
            h0 = np.asarray(initial_state, dtype=self.dtype)
            if h0.shape != (n, self.units):
                raise ValueError(
                    f"layer {self.name!r}: initial_state must have shape (N, H) = "
                    f"({n}, {self.units}), got {h0.shape}"
                )
            return h0
        if self.stateful and self.state is not None:
            if self.state.shape[0] != n:
                raise ValueError(
                    f"stateful layer {self.name!r} carries a state for batch size "
                    f"{self.state.shape[0]} but got batch size {n}: keep the batch size fixed "
                    "(drop or pad the last batch) or call reset_state() first"
                )
            return self.state
        return None

    def backward(self, dy: Any) -> np.ndarray:
        """Backpropagate; ``dy`` is the gradient of the output (``(N, T, H)`` or ``(N, H)``)
        or, with ``return_state``, ``[d_output, d_state]``. Returns ``dx (N, T, D)`` in input
        order; sets ``grads`` and ``d_initial_state``."""
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward called before forward")
        d_out, d_state = dy, None
        if isinstance(dy, (list, tuple)):
            if not self.return_state or len(dy) != 2:
                raise ValueError(
                    f"layer {self.name!r}: a list dy must be [d_output, d_state] "
                    "(return_state=True)"
                )
            d_out, d_state = dy
        dhs, dh_last = None, None
        if self.return_sequences:
            dhs = d_out
        else:
            dh_last = d_out
        if d_state is not None:
            dh_last = d_state if dh_last is None else np.asarray(dh_last) + np.asarray(d_state)
        g = ops.rnn_backward(self._cache, dhs=dhs, dh_last=dh_last, truncate=self.truncate)
        self._set_grad("Wx", g["Wx"])
        self._set_grad("Wh", g["Wh"])
        if self.use_bias:
            self._set_grad("b", g["b"])
        self.d_initial_state = g["h0"]
        dx = g["x"]
        if self.go_backwards:
            dx = reverse_sequences(dx, self._lengths)  # the reversal is its own inverse
        return dx

    def output_lengths(self, lengths: np.ndarray | None) -> np.ndarray | None:
        """The mask passes on with a sequence output (valid steps stay a prefix, also with
        go_backwards); a last-state output has no time axis, hence no mask."""
        return lengths if self.return_sequences else None

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation,
            return_sequences=self.return_sequences,
            return_state=self.return_state,
            stateful=self.stateful,
            go_backwards=self.go_backwards,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            recurrent_initializer=self.recurrent_initializer,
            bias_initializer=self.bias_initializer,
            seed=self.seed,
        )
        return config
