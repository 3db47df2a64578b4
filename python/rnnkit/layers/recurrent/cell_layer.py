"""CellLayer: a recurrent layer whose cell has Keras's three weights, written once for SimpleRNN,
LSTM and GRU.

Every such cell has a kernel ``Wx (D, G·H)``, a recurrent kernel ``Wh (H, G·H)`` and a bias (``G``
gate blocks of ``H`` columns; Keras's ``kernel``, ``recurrent_kernel`` and ``bias``, in that
order, so ``set_weights`` takes Keras's weights as they are), the three initialisers, ``use_bias``
and a seed. A subclass states its gates, its activations and its two kernel calls.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ... import _checks, initializers, ops
from ..base import make_rng
from .base import RecurrentLayer

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
        **recurrent: Any,
    ) -> None:
        """``activations``: one name per entry of ``activation_names``; ``initializers_by_role``:
        ``kernel``, ``recurrent`` and ``bias`` initialisers; ``recurrent``: the arguments of
        :class:`RecurrentLayer`."""
        super().__init__(units, **recurrent)
        kind = type(self).__name__
        for name in self.activation_names:
            value = _checks.choice(activations[name], name, ops.ACTIVATIONS, where=f"{kind} ")
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
        """Shape of the bias: ``(G·H,)`` unless the cell keeps more rows."""
        return (self.gates * self.units,)

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
        shapes = {"Wx": (features, columns), "Wh": (units, columns)}
        if bool(config.get("use_bias", True)):
            shapes["b"] = cls._config_bias_shape(config, units)
        return shapes

    @classmethod
    def _config_bias_shape(cls, config: dict[str, Any], units: int) -> tuple[int, ...]:
        return (cls.gates * units,)

    def _weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(Wx, Wh, b)`` for the kernels (a zero bias without ``use_bias``)."""
        b = self.params["b"] if self.use_bias else self._zero_bias
        return self.params["Wx"], self.params["Wh"], b

    def _activations(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.activation_names}

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
            seed=self.seed,
        )
        return config
