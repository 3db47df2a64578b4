"""GRU: Keras's gated recurrent unit on the C++ engine (cpp/rnnkit/cells/gru.hpp).

Gates in Keras's order z, r, h; weights ``kernel (D, 3H)``, ``recurrent_kernel (H, 3H)`` and a
``bias`` of ``(2, 3H)`` (input and recurrent rows; Keras 3's default ``reset_after=True``, also
cuDNN's and PyTorch's GRU), so ``set_weights`` takes a Keras GRU's weights as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ... import initializers
from .base import CellBackward, CellForward, step_arguments
from .cell_layer import CellLayer

__all__ = ["GRU"]


class GRU(CellLayer):
    """Gated recurrent unit (Cho et al. 2014), as Keras computes it with ``reset_after=True``::

        X = x_t @ Wx + b[0]      R = h_{t-1} @ Wh + b[1]
        z = σ(X_z + R_z)   r = σ(X_r + R_r)   n = act(X_h + r * R_h)
        h_t = z * h_{t-1} + (1 - z) * n

    Args:
        units: size ``H`` of the state.
        activation: ``act`` (default "tanh"); recurrent_activation: ``σ`` (default "sigmoid").
        use_bias: with False there is no bias parameter.
        batch_input_shape: Keras 2's ``(batch, T, D)``, as for :class:`~rnnkit.layers.SimpleRNN`.
        reset_after: True (Keras 3's default; cuDNN's and PyTorch's GRU): the reset gate scales
            the recurrent product, and the bias has an input and a recurrent row ``(2, 3H)``.
            False (Keras 2's default): the reset gate scales the state before the candidate's
            product, one bias ``(3H,)``: ``n = act(X_h + (r * h_{t-1}) @ Wh_h)``.
        kernel_initializer, recurrent_initializer, bias_initializer: Keras's defaults.
        dropout, recurrent_dropout: as for :class:`~rnnkit.layers.SimpleRNN`; the recurrent
            mask multiplies ``h_{t-1}`` where it enters ``h_{t-1} @ Wh`` only.
        return_sequences, return_state, stateful, go_backwards, backend, dtype, seed,
        input_shape, name, unroll: as for :class:`~rnnkit.layers.SimpleRNN` (``unroll`` has no
        effect).
    """

    state_names = ("h",)
    gates = 3
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
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        reset_after: bool = True,
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
        self.reset_after = bool(reset_after)
        self._build_if_shape_given(input_shape, batch_input_shape)

    @classmethod
    def _config_bias_shape(cls, config: dict[str, Any], units: int) -> tuple[int, ...]:
        columns = cls.gates * units
        return (2, columns) if bool(config.get("reset_after", True)) else (columns,)

    def _kernel_forward(
        self,
        x: np.ndarray,
        initial_states: list[np.ndarray | None],
        lengths: np.ndarray | None,
        recurrent_mask: np.ndarray | None,
    ) -> CellForward:
        Wx, Wh, b = self._weights()
        hs, h_last, cache = self.kernels.gru_forward(
            x,
            Wx,
            Wh,
            b,
            h0=initial_states[0],
            **step_arguments(lengths),
            recurrent_mask=recurrent_mask,
            reset_after=self.reset_after,
            **self._activations(),
        )
        return hs, [h_last], cache

    def _kernel_backward(
        self,
        cache: Any,
        dhs: np.ndarray | None,
        d_final_states: list[np.ndarray | None],
        truncate: int | None,
    ) -> CellBackward:
        g = self.kernels.gru_backward(cache, dhs=dhs, dh_last=d_final_states[0], truncate=truncate)
        return g["x"], [g["h0"]], g

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(reset_after=self.reset_after)
        return config
