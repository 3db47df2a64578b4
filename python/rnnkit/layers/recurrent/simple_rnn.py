"""SimpleRNN: the Keras-familiar vanilla (Elman) RNN layer, the first cell on the recurrent base.

One ``rnn_forward`` call per forward and one ``rnn_backward`` call per backward, whatever ``T``:
the per-step loop lives in the kernels (C++ by default; see docs/architecture.md).

Shapes: input ``(N, T, D)`` (Keras ``input_shape=(T, D)``, ``T`` may be None), ``Wx (D, H)``,
``Wh (H, H)``, ``b (H,)``, state ``(N, H)``, sequence output ``(N, T, H)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ... import _checks, initializers
from ...ops.rnn import ACTIVATIONS
from ..base import make_rng
from .base import CellBackward, CellForward, RecurrentLayer

__all__ = ["SimpleRNN"]


class SimpleRNN(RecurrentLayer):
    """Fully connected RNN: ``h_t = f(x_t @ Wx + h_{t-1} @ Wh + b)``.

    Args:
        units: hidden size ``H``.
        activation: "tanh" (default), "relu", "sigmoid", "hard_sigmoid" or "linear": one of
            :data:`rnnkit.ops.ACTIVATIONS`, what the kernels implement.
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
        backend: ``"cpp"`` (the C++ kernels, default) or ``"numpy"`` (:mod:`rnnkit.reference`,
            the readable one-step-at-a-time NumPy twin).

    Attributes:
        truncate: None (full BPTT) or ``k``: passed to ``rnn_backward``, which cuts the
            gradient through ``h`` every ``k`` steps (set by the Trainer for TBPTT).
        state: the carried ``(N, H)`` state of a stateful layer (None after ``reset_state``).
        d_initial_state: after ``backward``, ``dL/dh0`` ``(N, H)``: the gradient with respect to
            the ``initial_state`` given to ``forward`` (or to the zero / carried state when none
            was given). Also :meth:`initial_state_grad`.

    Everything but the cell (state, masks, ``go_backwards``, ``return_state``, the backend) is
    :class:`~rnnkit.layers.RecurrentLayer`'s.
    """

    state_names = ("h",)

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
        backend: str = "cpp",
    ) -> None:
        super().__init__(
            units,
            return_sequences=return_sequences,
            return_state=return_state,
            stateful=stateful,
            go_backwards=go_backwards,
            backend=backend,
            dtype=dtype,
            name=name,
        )
        self.activation = _checks.choice(activation, "activation", ACTIVATIONS, where="SimpleRNN: ")
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
        self._build_if_shape_given(input_shape)

    # -- the cell -----------------------------------------------------------------------------
    def _build_cell(self, features: int) -> None:
        d, h = features, self.units
        rng = make_rng(self.seed)
        kernel, recurrent, bias = self._inits
        # Draw in a fixed order (Wx, Wh, b) so a seed always gives the same weights.
        self._add_param("Wx", kernel((d, h), rng))
        self._add_param("Wh", recurrent((h, h), rng))
        if self.use_bias:
            self._add_param("b", bias((h,), rng))
        self._zero_bias = np.zeros(h, dtype=self.dtype)

    @classmethod
    def _cell_param_shapes(
        cls, config: dict[str, Any], features: int, units: int
    ) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {"Wx": (features, units), "Wh": (units, units)}
        if bool(config.get("use_bias", True)):
            shapes["b"] = (units,)
        return shapes

    def _cell_forward(
        self, x: np.ndarray, initial_states: list[np.ndarray | None], lengths: np.ndarray | None
    ) -> CellForward:
        b = self.params["b"] if self.use_bias else self._zero_bias
        hs, h_last, cache = self.kernels.rnn_forward(
            x,
            self.params["Wx"],
            self.params["Wh"],
            b,
            h0=initial_states[0],
            activation=self.activation,
            lengths=lengths,
        )
        return hs, [h_last], cache

    def _cell_backward(
        self,
        cache: Any,
        dhs: np.ndarray | None,
        d_final_states: list[np.ndarray | None],
        truncate: int | None,
    ) -> CellBackward:
        g = self.kernels.rnn_backward(cache, dhs=dhs, dh_last=d_final_states[0], truncate=truncate)
        return g["x"], [g["h0"]], g

    def output_activation(self) -> str | None:
        return self.activation

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            activation=self.activation,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            recurrent_initializer=self.recurrent_initializer,
            bias_initializer=self.bias_initializer,
            seed=self.seed,
        )
        return config
