"""CellLayer: a recurrent layer whose cell has Keras's three weights, written once for SimpleRNN,
LSTM and GRU.

Every such cell has a kernel ``Wx (D, G·H)``, a recurrent kernel ``Wh (H, G·H)`` and a bias (``G``
gate blocks of ``H`` columns; Keras's ``kernel``, ``recurrent_kernel`` and ``bias``, in that
order, so ``set_weights`` takes Keras's weights as they are), the three initialisers, ``use_bias``
and a seed; and Keras's ``dropout`` and ``recurrent_dropout``: during training one mask per
sequence for the inputs ``(N, D)`` and one for the recurrent state ``(N, H)``, fixed across all
time steps, scaled by ``1/(1-p)``; nothing at inference. The input mask multiplies ``x`` before
the kernel (the same at every step, so the input projection stays one GEMM); the recurrent mask
goes into the kernel, which applies it to ``h_{t-1}`` where it enters the recurrent product,
inside the step loop. A subclass states its gates, its activations and its two kernel calls.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ... import _checks, initializers, ops
from .._random_masks import keep_mask
from ..base import make_rng
from .base import CellBackward, CellForward, RecurrentLayer

__all__ = ["CellLayer"]


class CellLayer(RecurrentLayer):
    """Base of the layers whose cell has a kernel, a recurrent kernel and a bias.

    Subclasses set ``gates`` (blocks of ``units`` columns), ``activation_names`` (the
    constructor's activation arguments, e.g. ``("activation", "recurrent_activation")``) and
    may override :meth:`bias_shape` and :meth:`_initial_bias`.
    """

    gates: ClassVar[int] = 1
    activation_names: ClassVar[tuple[str, ...]] = ("activation",)

    def __init__(
        self,
        units: int,
        activations: dict[str, str],
        use_bias: bool,
        initializers_by_role: dict[str, initializers.InitializerLike],
        seed: int | None,
        dropouts: tuple[float, float] = (0.0, 0.0),
        **recurrent: Any,
    ) -> None:
        """``activations``: one name per entry of ``activation_names``; ``initializers_by_role``:
        ``kernel``, ``recurrent`` and ``bias`` initialisers; ``dropouts``: ``(dropout,
        recurrent_dropout)``; ``recurrent``: the arguments of :class:`RecurrentLayer`."""
        super().__init__(units, **recurrent)
        kind = type(self).__name__
        self.dropout = _checks.probability(dropouts[0], "dropout", where=f"{kind}: ")
        self.recurrent_dropout = _checks.probability(
            dropouts[1], "recurrent_dropout", where=f"{kind}: "
        )
        # The masks' own stream (a checkpoint saves it), seeded apart from the weights' (the same
        # seed must not make the first masks echo the initial weights' draws). None without
        # dropout: the layer is deterministic.
        if self.dropout or self.recurrent_dropout:
            self.rng = make_rng(None) if seed is None else np.random.default_rng([seed, 1])
        # The masks of the last training forward, (input (N, D) or None, recurrent (N, H) or
        # None); None at inference.
        self.masks: tuple[np.ndarray | None, np.ndarray | None] | None = None
        for name in self.activation_names:
            value = _checks.choice(activations[name], name, ops.ACTIVATIONS, where=f"{kind}: ")
            setattr(self, name, value)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.serialize(initializers_by_role["kernel"])
        self.recurrent_initializer = initializers.serialize(initializers_by_role["recurrent"])
        self.bias_initializer = initializers.serialize(initializers_by_role["bias"])
        self._inits = tuple(
            initializers.get(initializers_by_role[role]) for role in ("kernel", "recurrent", "bias")
        )
        self.seed = seed

    # -- weights ------------------------------------------------------------------------------
    def bias_shape(self) -> tuple[int, ...]:
        """Shape of the bias, as the layer's config gives it (:meth:`_config_bias_shape`)."""
        return self._config_bias_shape(self.get_config(), self.units)

    def _initial_bias(self, rng: np.random.Generator) -> np.ndarray:
        return self._inits[2](self.bias_shape(), rng)

    def _build_cell(self, features: int) -> None:
        columns = self.gates * self.units
        rng = make_rng(self.seed)
        kernel, recurrent, _ = self._inits
        # Draw in a fixed order (Wx, Wh, b) so a seed always gives the same weights.
        self._add_param("Wx", kernel((features, columns), rng))
        self._add_param("Wh", recurrent((self.units, columns), rng))
        if self.use_bias:
            self._add_param("b", self._initial_bias(rng))
        self._zero_bias = np.zeros(self.bias_shape(), dtype=self.dtype)

    @classmethod
    def _cell_param_shapes(
        cls, config: dict[str, Any], features: int, units: int
    ) -> dict[str, tuple[int, ...]]:
        columns = cls.gates * units
        shapes: dict[str, tuple[int, ...]] = {"Wx": (features, columns), "Wh": (units, columns)}
        if bool(config.get("use_bias", True)):
            shapes["b"] = cls._config_bias_shape(config, units)
        return shapes

    @classmethod
    def _config_bias_shape(cls, config: dict[str, Any], units: int) -> tuple[int, ...]:
        """``(G·H,)`` unless the cell keeps more rows (a subclass says so from its config)."""
        return (cls.gates * units,)

    def _weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(Wx, Wh, b)`` for the kernels (a zero bias without ``use_bias``)."""
        b = self.params["b"] if self.use_bias else self._zero_bias
        return self.params["Wx"], self.params["Wh"], b

    def _activations(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.activation_names}

    # -- the kernels, with dropout -------------------------------------------------------------
    def _kernel_forward(
        self,
        x: np.ndarray,
        initial_states: list[np.ndarray | None],
        lengths: np.ndarray | None,
        recurrent_mask: np.ndarray | None,
    ) -> CellForward:
        """One call of the cell's forward kernel through ``self.kernels``."""
        raise NotImplementedError

    def _kernel_backward(
        self,
        cache: Any,
        dhs: np.ndarray | None,
        d_final_states: list[np.ndarray | None],
        truncate: int | None,
    ) -> CellBackward:
        """One call of the cell's backward kernel through ``self.kernels``."""
        raise NotImplementedError

    def _mask(self, shape: tuple[int, int], rate: float) -> np.ndarray:
        assert self.rng is not None  # made in __init__ whenever a rate is positive
        keep = keep_mask(self.rng, shape, rate)
        return keep.astype(self.dtype) / self.dtype.type(1.0 - rate)

    def _cell_forward(
        self,
        x: np.ndarray,
        initial_states: list[np.ndarray | None],
        lengths: np.ndarray | None,
        training: bool,
    ) -> CellForward:
        n, _, d = x.shape
        input_mask = recurrent_mask = None
        if training and self.dropout > 0:
            input_mask = self._mask((n, d), self.dropout)
            x = x * input_mask[:, None, :]
        if training and self.recurrent_dropout > 0:
            recurrent_mask = self._mask((n, self.units), self.recurrent_dropout)
        self.masks = (input_mask, recurrent_mask) if training else None
        return self._kernel_forward(x, initial_states, lengths, recurrent_mask)

    def _cell_backward(
        self,
        cache: Any,
        dhs: np.ndarray | None,
        d_final_states: list[np.ndarray | None],
        truncate: int | None,
    ) -> CellBackward:
        dx, d_initial, grads = self._kernel_backward(cache, dhs, d_final_states, truncate)
        input_mask = self.masks[0] if self.masks else None
        if input_mask is not None:
            dx = dx * input_mask[:, None, :]
        return dx, d_initial, grads

    def output_activation(self) -> str | None:
        return None

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(self._activations())
        config.update(
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            recurrent_initializer=self.recurrent_initializer,
            bias_initializer=self.bias_initializer,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            seed=self.seed,
        )
        return config
