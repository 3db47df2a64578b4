"""Bidirectional: run a recurrent layer forwards and a copy backwards in time, then merge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from ... import _checks, _steps
from ..base import (
    Layer,
    OutputShape,
    Shape,
    config_input_shape,
    deserialize_layer,
    get_layer_class,
    serialize_layer,
)
from .base import RecurrentLayer, reverse_sequences

__all__ = ["Bidirectional"]

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _clone(
    layer: RecurrentLayer, name: str, go_backwards: bool, seed_offset: int
) -> RecurrentLayer:
    """A fresh copy of ``layer``'s configuration (new weights) under another name."""
    config = layer.get_config()
    config.update(name=name, go_backwards=go_backwards)
    if config.get("seed") is not None:
        config["seed"] = int(config["seed"]) + seed_offset  # separate, reproducible weights
    return cast(RecurrentLayer, type(layer).from_config(config))


def _recurrent_class(spec: Any) -> type[RecurrentLayer]:
    """The recurrent layer class a ``{"class_name", "config"}`` spec names (ValueError else)."""
    cls = get_layer_class(spec.get("class_name"))
    if not issubclass(cls, RecurrentLayer):
        raise ValueError(f"Bidirectional wraps a recurrent layer, got {spec.get('class_name')!r}")
    return cls


class Bidirectional(Layer):
    """Bidirectional wrapper of any recurrent layer (a :class:`RecurrentLayer`: SimpleRNN, ...).

    Two layers are made from ``layer``'s config (the ``layer`` object itself is only a template;
    its weights are not used): ``forward_layer`` (named ``"forward_<name>"``) and
    ``backward_layer`` (``"backward_<name>"``, ``go_backwards`` flipped, seed + 1 when a seed is
    set). An explicit ``backward_layer`` is used as given instead; it must have the opposite
    ``go_backwards`` and the same ``units``, ``return_sequences`` and ``return_state``.

    With ``return_sequences`` the backward layer's output (in reversed order) is reversed back
    (valid part only with ``lengths``, the whole row with an ``(N, T)`` step mask) so both are
    aligned in time before merging, as Keras
    does. ``merge_mode``: "concat" (last axis), "sum", "mul", "ave", or None (``forward``
    returns ``[y_forward, y_backward]`` and ``backward`` takes a list of both gradients).

    With ``return_state``, ``forward`` returns ``[merged, *states_forward, *states_backward]``
    (``merged`` itself a list when merge_mode is None; one state each for SimpleRNN) and
    ``backward`` takes the same structure. ``initial_state`` is ``[*states_forward,
    *states_backward]`` (``[h0_forward, h0_backward]`` for SimpleRNN); after ``backward``,
    ``d_initial_state`` is the list of their gradients in the same order.

    ``params``/``grads`` keys: ``"forward_" + key`` and ``"backward_" + key`` (the same arrays
    as the sub-layers' own, so updates reach them). ``truncate`` set here is passed to both.
    """

    requires_sequence = True

    def __init__(
        self,
        layer: RecurrentLayer,
        merge_mode: str | None = "concat",
        backward_layer: RecurrentLayer | None = None,
        name: str | None = None,
        input_shape: Sequence[int | None] | None = None,
    ) -> None:
        if not isinstance(layer, RecurrentLayer):
            raise TypeError(
                "Bidirectional wraps a recurrent layer (a RecurrentLayer such as SimpleRNN), "
                f"got {type(layer).__name__}"
            )
        _checks.choice(merge_mode, "merge_mode", MERGE_MODES, where="Bidirectional: ")
        super().__init__(
            name=name or f"bidirectional_{layer.name}", input_shape=None, dtype=layer.dtype.name
        )
        self.merge_mode = merge_mode
        self.splits_directions = merge_mode is None
        self._template = layer
        self.forward_layer = _clone(layer, "forward_" + layer.name, layer.go_backwards, 0)
        if backward_layer is None:
            self._explicit_backward = False
            self.backward_layer = _clone(layer, "backward_" + layer.name, not layer.go_backwards, 1)
        else:
            self._check_backward_layer(layer, backward_layer)
            self._explicit_backward = True
            self.backward_layer = backward_layer
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.units = layer.units
        self.d_initial_state: list[np.ndarray] | None = None
        if input_shape is not None:
            self._build_if_shape_given(input_shape)
        elif self.forward_layer.built and self.backward_layer.built:
            self.build(self.forward_layer.built_shape)
            self.built_from_input_shape = layer.built_from_input_shape

    @staticmethod
    def _check_backward_layer(layer: RecurrentLayer, backward_layer: Any) -> None:
        if not isinstance(backward_layer, RecurrentLayer):
            raise TypeError(
                "backward_layer must be a recurrent layer (a RecurrentLayer such as "
                f"SimpleRNN), got {type(backward_layer).__name__}"
            )
        if backward_layer.go_backwards == layer.go_backwards:
            raise ValueError("backward_layer must have the opposite go_backwards of layer")
        for attr, mine, theirs in (
            ("return_sequences", backward_layer.return_sequences, layer.return_sequences),
            ("return_state", backward_layer.return_state, layer.return_state),
            ("units", backward_layer.units, layer.units),
        ):
            if mine != theirs:
                raise ValueError(f"backward_layer.{attr} = {mine!r} must match layer's {theirs!r}")

    def sublayers(self) -> list[Layer]:
        return [self.forward_layer, self.backward_layer]

    @property
    def truncate(self) -> int | None:
        return self.forward_layer.truncate

    @truncate.setter
    def truncate(self, k: int | None) -> None:
        self.forward_layer.truncate = k
        self.backward_layer.truncate = k

    def reset_state(self) -> None:
        """Reset both sub-layers' carried states (stateful layers)."""
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    reset_states = reset_state

    def initial_state_grad(self) -> list[np.ndarray] | None:
        """The gradients of ``initial_state`` (``[dh0_forward, dh0_backward]`` for SimpleRNN)
        of the last ``backward``."""
        return self.d_initial_state

    def build(self, input_shape: Shape) -> None:
        input_shape = tuple(input_shape)
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(input_shape)
        self.params.clear()
        self.grads.clear()
        for prefix, sub in (("forward_", self.forward_layer), ("backward_", self.backward_layer)):
            for key in sub.params:
                self.params[prefix + key] = sub.params[key]
                self.grads[prefix + key] = sub.grads[key]
        super().build(input_shape)

    def collapses_time(self) -> bool:
        return not self.return_sequences

    @classmethod
    def config_param_shapes(
        cls, config: dict[str, Any], input_shape: Sequence[int | None] | None
    ) -> dict[str, tuple[int, ...]] | None:
        shape = config_input_shape(config, input_shape)
        shapes: dict[str, tuple[int, ...]] = {}
        backward = config.get("backward_layer")
        for prefix, spec in (
            ("forward_", config["layer"]),
            ("backward_", backward if backward is not None else config["layer"]),
        ):
            sub = _recurrent_class(spec).config_param_shapes(dict(spec.get("config", {})), shape)
            if sub is None:
                return None
            shapes.update({prefix + key: value for key, value in sub.items()})
        return shapes

    def _state_counts(self) -> tuple[int, int]:
        return len(self.forward_layer.state_names), len(self.backward_layer.state_names)

    def compute_output_shape(self, input_shape: Shape) -> OutputShape:
        one: Shape = (input_shape[0], self.units) if self.return_sequences else (self.units,)
        merged: Any
        if self.merge_mode == "concat":
            merged = (*one[:-1], 2 * self.units)
        elif self.merge_mode is None:
            merged = [one, one]
        else:
            merged = one
        if self.return_state:
            return [merged, *[(self.units,)] * sum(self._state_counts())]
        return merged

    def forward(
        self,
        x: np.ndarray,
        training: bool = False,
        lengths: np.ndarray | None = None,
        initial_state: Sequence[np.ndarray] | None = None,
    ) -> Any:
        self._build_for(x)
        n_f, n_b = self._state_counts()
        init_f: Any = None
        init_b: Any = None
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)) or len(initial_state) != n_f + n_b:
                raise ValueError(
                    f"layer {self.name!r}: initial_state must be a list [h0_forward, "
                    "h0_backward] (the forward layer's states, then the backward layer's)"
                )
            init_f, init_b = self._given(initial_state[:n_f]), self._given(initial_state[n_f:])
        out_f = self.forward_layer.forward(
            x, training=training, lengths=lengths, initial_state=init_f
        )
        out_b = self.backward_layer.forward(
            x, training=training, lengths=lengths, initial_state=init_b
        )
        states: list[np.ndarray] = []
        if self.return_state:
            (y_f, *s_f), (y_b, *s_b) = out_f, out_b
            states = [*s_f, *s_b]
        else:
            y_f, y_b = out_f, out_b
        # The sub-layers checked the mask; lengths reverse the valid prefix back, a step mask
        # the whole row (as each sub-layer reversed its input).
        self._lengths = _steps.check(lengths, len(y_f), None)
        if self.return_sequences:
            y_b = reverse_sequences(y_b, self._lengths)  # align the backward pass in time
        self._y = (y_f, y_b)
        merged = self._merge(y_f, y_b)
        return [merged, *states] if self.return_state else merged

    def _merge(self, y_f: np.ndarray, y_b: np.ndarray) -> Any:
        if self.merge_mode == "concat":
            return np.concatenate([y_f, y_b], axis=-1)
        if self.merge_mode == "sum":
            return y_f + y_b
        if self.merge_mode == "mul":
            return y_f * y_b
        if self.merge_mode == "ave":
            return (y_f + y_b) / 2
        return [y_f, y_b]

    def _split(self, d: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The merge's backward: gradients of ``y_forward`` and ``y_backward`` (time-aligned)."""
        y_f, y_b = self._y
        if self.merge_mode is None:
            if not isinstance(d, (list, tuple)) or len(d) != 2:
                raise ValueError(
                    f"layer {self.name!r} (merge_mode=None): dy must be a list "
                    "[dy_forward, dy_backward]"
                )
            return d[0], d[1]
        d = np.asarray(d)
        if self.merge_mode == "concat":
            return d[..., : self.units], d[..., self.units :]
        if self.merge_mode == "sum":
            return d, d
        if self.merge_mode == "mul":
            return d * y_b, d * y_f
        return d / 2, d / 2  # ave

    def backward(self, dy: Any) -> np.ndarray:
        n_f, n_b = self._state_counts()
        d_states_f: list[Any] = [None] * n_f
        d_states_b: list[Any] = [None] * n_b
        if self.return_state:
            if not isinstance(dy, (list, tuple)) or len(dy) != 1 + n_f + n_b:
                raise ValueError(
                    f"layer {self.name!r} (return_state=True): dy must be "
                    "[d_output, d_state_forward, d_state_backward] (each layer's states in turn)"
                )
            dy, d_states_f, d_states_b = dy[0], list(dy[1 : 1 + n_f]), list(dy[1 + n_f :])
        d_f, d_b = self._split(dy)
        if self.return_sequences and d_b is not None:
            d_b = reverse_sequences(np.asarray(d_b), self._lengths)  # back to processing order
        grads = []
        for sub, d_out, d_states in (
            (self.forward_layer, d_f, d_states_f),
            (self.backward_layer, d_b, d_states_b),
        ):
            if d_out is None:
                d_out = np.zeros_like(self._y[0])
            grads.append(sub.backward([d_out, *d_states] if self.return_state else d_out))
        self.d_initial_state = [
            *self._as_list(self.forward_layer.d_initial_state, n_f),
            *self._as_list(self.backward_layer.d_initial_state, n_b),
        ]
        return grads[0] + grads[1]

    @staticmethod
    def _given(states: Sequence[Any]) -> list[Any] | None:
        """One sub-layer's part of ``initial_state``; None (zeros or its carried state) when
        every entry is None."""
        return None if all(s is None for s in states) else list(states)

    @staticmethod
    def _as_list(d_initial: Any, count: int) -> list[np.ndarray]:
        """A sub-layer's ``d_initial_state`` as a list (one-state cells give the array)."""
        return [d_initial] if count == 1 else list(d_initial)

    def output_lengths(self, lengths: np.ndarray | None) -> np.ndarray | None:
        return lengths if self.return_sequences else None

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("dtype", None)  # the wrapped layer's dtype rules
        config["layer"] = serialize_layer(self._template)
        config["merge_mode"] = self.merge_mode
        config["backward_layer"] = (
            serialize_layer(self.backward_layer) if self._explicit_backward else None
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        return cls(
            cast(RecurrentLayer, layer),  # the constructor checks what it is given
            backward_layer=None
            if backward is None
            else cast(RecurrentLayer, deserialize_layer(backward)),
            **config,
        )
