"""LSTM: Keras's long short-term memory layer on the C++ engine (cpp/rnnkit/cells/lstm.hpp).

Gates in Keras's order i, f, c, o; weights ``kernel (D, 4H)``, ``recurrent_kernel (H, 4H)``,
``bias (4H,)``, so ``set_weights`` takes a Keras LSTM's weights as they are. Two states, ``h``
and ``c``: ``return_state`` gives ``[output, h, c]`` and ``initial_state`` takes ``[h0, c0]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ... import initializers
from .base import CellBackward, CellForward, step_arguments
from .cell_layer import CellLayer

__all__ = ["LSTM"]


class LSTM(CellLayer):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), as Keras computes it::

        i, f, o = σ(z_i), σ(z_f), σ(z_o)   g = act(z_c)     z = x_t @ Wx + h_{t-1} @ Wh + b
        c_t = f * c_{t-1} + i * g          h_t = o * act(c_t)

    Args:
        units: size ``H`` of both states.
        activation: ``act`` (default "tanh"); recurrent_activation: ``σ`` (default "sigmoid").
            Each one of "tanh", "relu", "sigmoid", "hard_sigmoid", "linear".
        use_bias: with False there is no bias parameter.
        batch_input_shape: Keras 2's ``(batch, T, D)``, as for :class:`~rnnkit.layers.SimpleRNN`.
        unit_forget_bias: add 1 to the forget gate's bias at initialisation (Jozefowicz et al.
            2015), as Keras does by default.
        kernel_initializer, recurrent_initializer, bias_initializer: Keras's defaults.
        dropout, recurrent_dropout: as for :class:`~rnnkit.layers.SimpleRNN`; the recurrent
            mask multiplies ``h_{t-1}`` where it enters ``h_{t-1} @ Wh`` only.
        return_sequences, return_state, stateful, go_backwards, backend, dtype, seed,
        input_shape, name, unroll: as for :class:`~rnnkit.layers.SimpleRNN` (``unroll`` has no
        effect).

    Attributes:
        state: the carried ``[h, c]`` of a stateful layer; d_initial_state after ``backward``:
            ``[dL/dh0, dL/dc0]``.
    """

    state_names = ("h", "c")
    gates = 4
    activation_names = ("activation", "recurrent_activation")
    activation: str
    recurrent_activation: str

    def __init__(
        self,
        units: int,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: initializers.InitializerLike = "glorot_uniform",
        recurrent_initializer: initializers.InitializerLike = "orthogonal",
        bias_initializer: initializers.InitializerLike = "zeros",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        unit_forget_bias: bool = True,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        dtype: str = "float32",
        seed: int | None = None,
        input_shape: Sequence[int | None] | None = None,
        batch_input_shape: Sequence[int | None] | None = None,
        name: str | None = None,
        backend: str = "cpp",
        unroll: bool = False,
    ) -> None:
        super().__init__(
            units,
            activations={"activation": activation, "recurrent_activation": recurrent_activation},
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
        self.unit_forget_bias = bool(unit_forget_bias)
        self._build_if_shape_given(input_shape, batch_input_shape)

    def _initial_bias(self, rng: np.random.Generator) -> np.ndarray:
        if not self.unit_forget_bias:
            return super()._initial_bias(rng)
        h, draw = self.units, self._inits[2]
        # Keras's order of draws: the input gate's block, ones for the forget gate, the rest.
        return np.concatenate([draw((h,), rng), np.ones(h), draw((2 * h,), rng)])

    def _kernel_forward(
        self,
        x: np.ndarray,
        initial_states: list[np.ndarray | None],
        lengths: np.ndarray | None,
        recurrent_mask: np.ndarray | None,
    ) -> CellForward:
        Wx, Wh, b = self._weights()
        hs, h_last, c_last, cache = self.kernels.lstm_forward(
            x, Wx, Wh, b, h0=initial_states[0], c0=initial_states[1], **step_arguments(lengths),
            recurrent_mask=recurrent_mask, **self._activations(),
        )  # fmt: skip
        return hs, [h_last, c_last], cache

    def _kernel_backward(
        self,
        cache: Any,
        dhs: np.ndarray | None,
        d_final_states: list[np.ndarray | None],
        truncate: int | None,
    ) -> CellBackward:
        dh_last, dc_last = d_final_states
        g = self.kernels.lstm_backward(
            cache, dhs=dhs, dh_last=dh_last, dc_last=dc_last, truncate=truncate
        )
        return g["x"], [g["h0"], g["c0"]], g

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(unit_forget_bias=self.unit_forget_bias)
        return config
