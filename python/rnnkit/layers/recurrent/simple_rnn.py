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

from ... import initializers
from .base import CellBackward, CellForward, step_arguments
from .cell_layer import CellLayer

__all__ = ["SimpleRNN"]


class SimpleRNN(CellLayer):
    """Fully connected RNN: ``h_t = f(x_t @ Wx + h_{t-1} @ Wh + b)``.

    Args:
        units: hidden size ``H``.
        activation: "tanh" (default), "relu", "sigmoid", "hard_sigmoid" or "linear".
        dropout, recurrent_dropout: Keras's: during training, one mask per sequence for the
            inputs and one for the recurrent state, fixed across the time steps, scaled by
            ``1/(1-p)``; nothing at inference (see :class:`~rnnkit.layers.CellLayer`).
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
        batch_input_shape: Keras 2's ``(batch, T, D)``: the same as ``input_shape=(T, D)``
            (a stateful layer fixes its batch size at its first batch anyway).
        name: layer name.
        layer_norm: the layer-normalised cell (Ba et al. 2016): ``h_t = f(LN(x_t @ Wx +
            h_{t-1} @ Wh + b))``, LN over the units with a learned scale ``gamma`` and offset
            ``beta`` (initially 1 and 0) and Keras's epsilon 1e-3; weights ``[kernel,
            recurrent_kernel, bias, gamma, beta]``. One kernel call, like the plain cell.
        backend: ``"cpp"`` (the C++ kernels, default) or ``"numpy"`` (:mod:`rnnkit.reference`,
            the readable one-step-at-a-time NumPy twin).
        unroll: Keras's, accepted and kept in the config; no effect (rnnkit never unrolls:
            True and False give the same results at the same speed).

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
    activation: str

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
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        dtype: str = "float32",
        seed: int | None = None,
        input_shape: Sequence[int | None] | None = None,
        batch_input_shape: Sequence[int | None] | None = None,
        name: str | None = None,
        backend: str = "cpp",
        layer_norm: bool = False,
        unroll: bool = False,
    ) -> None:
        super().__init__(
            units,
            activations={"activation": activation},
            use_bias=use_bias,
            initializers_by_role={
                "kernel": kernel_initializer,
                "recurrent": recurrent_initializer,
                "bias": bias_initializer,
            },
            seed=seed,
            dropouts=(dropout, recurrent_dropout),
            return_sequences=return_sequences,
            return_state=return_state,
            stateful=stateful,
            go_backwards=go_backwards,
            backend=backend,
            unroll=unroll,
            dtype=dtype,
            name=name,
        )
        self.layer_norm = bool(layer_norm)
        self._build_if_shape_given(input_shape, batch_input_shape)

    # -- the cell -----------------------------------------------------------------------------
    def _build_cell(self, features: int) -> None:
        super()._build_cell(features)
        if self.layer_norm:  # Keras's LayerNormalization starts as the identity
            self._add_param("gamma", np.ones(self.units))
            self._add_param("beta", np.zeros(self.units))

    @classmethod
    def _cell_param_shapes(
        cls, config: dict[str, Any], features: int, units: int
    ) -> dict[str, tuple[int, ...]]:
        shapes = super()._cell_param_shapes(config, features, units)
        if bool(config.get("layer_norm", False)):
            shapes.update(gamma=(units,), beta=(units,))
        return shapes

    def _kernel_forward(
        self,
        x: np.ndarray,
        initial_states: list[np.ndarray | None],
        lengths: np.ndarray | None,
        recurrent_mask: np.ndarray | None,
    ) -> CellForward:
        Wx, Wh, b = self._weights()
        common = {
            "h0": initial_states[0],
            "activation": self.activation,
            "recurrent_mask": recurrent_mask,
            **step_arguments(lengths),
        }
        if self.layer_norm:
            gamma, beta = self.params["gamma"], self.params["beta"]
            hs, h_last, cache = self.kernels.ln_rnn_forward(x, Wx, Wh, b, gamma, beta, **common)
        else:
            hs, h_last, cache = self.kernels.rnn_forward(x, Wx, Wh, b, **common)
        return hs, [h_last], cache

    def _kernel_backward(
        self,
        cache: Any,
        dhs: np.ndarray | None,
        d_final_states: list[np.ndarray | None],
        truncate: int | None,
    ) -> CellBackward:
        backward = self.kernels.ln_rnn_backward if self.layer_norm else self.kernels.rnn_backward
        g = backward(cache, dhs=dhs, dh_last=d_final_states[0], truncate=truncate)
        return g["x"], [g["h0"]], g

    def output_activation(self) -> str | None:
        return self.activation

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(layer_norm=self.layer_norm)
        return config
