"""RecurrentLayer: everything about running a recurrent cell over sequences except the cell.

A concrete recurrent layer (:class:`~rnnkit.layers.SimpleRNN`, :class:`~rnnkit.layers.LSTM`,
:class:`~rnnkit.layers.GRU`) states what is particular to its cell and nothing else:

* ``state_names``: its states, in the order ``initial_state`` takes them and ``return_state``
  returns them. State 0 is the output ``h``; every state is ``(N, units)``.
* ``_build_cell(features)`` and ``_cell_param_shapes(config, features, units)``: its weights.
* ``_cell_forward(x, initial_states, lengths, training)`` and ``_cell_backward(cache, dhs,
  d_final_states, truncate)``: one call each into the kernel functions of ``self.kernels``, the
  backend module
  chosen per layer (``backend="cpp"``: :mod:`rnnkit.ops`, ``"numpy"``: :mod:`rnnkit.reference`).
* ``get_config``: its own constructor arguments on top of the base's.

This class does the rest the same way for every cell: input and ``lengths`` checks, the carried
state of a ``stateful`` layer and :meth:`~RecurrentLayer.reset_state`, ``go_backwards`` (the
input is reversed, the kernels always run forwards), ``initial_state`` and its gradient
(``d_initial_state``), the ``return_sequences`` / ``return_state`` structure of the output and
of ``backward``'s ``dy``, and the truncation setting ``truncate`` that the Trainer sets for
truncated BPTT.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from ... import _checks, _steps, ops
from ..base import Layer, OutputShape, Shape, StepFunction, config_input_shape
from .stepping import RecurrentStepper

__all__ = [
    "CellBackward",
    "CellForward",
    "RecurrentLayer",
    "reverse_sequences",
    "scoped_states",
    "step_arguments",
]


def reverse_sequences(x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Reverse ``x (N, T, ...)`` in time as ``go_backwards`` does: with lengths only the valid
    prefix of each row (PyTorch's packed-sequence reversal: the padded tail stays where it is,
    so the same lengths still describe the result); with a step mask ``(N, T)`` or None the
    whole row (Keras's reversal; the mask is reversed with it). Its own inverse. See
    :func:`rnnkit._steps.reverse`."""
    return _steps.reverse(x, lengths)


def step_arguments(lengths: np.ndarray | None) -> dict[str, np.ndarray | None]:
    """The kernels' keyword for a layer's mask: ``{"lengths": ...}`` for lengths (or None),
    ``{"mask": ...}`` for an ``(N, T)`` step mask (see :mod:`rnnkit._steps`)."""
    return {"mask": lengths} if _steps.is_mask(lengths) else {"lengths": lengths}


# What a cell's kernel calls give the layer, as plain tuples (a NamedTuple would cost more per
# call than the rest of the layer's bookkeeping on small batches):
#   forward:  (outputs (N, T, units): state 0 after every step,
#              final states: one (N, units) array per state, after each row's last step,
#              cache: whatever the cell's backward call needs)
#   backward: (dx (N, T, D) in processing order,
#              d_initial_states: one (N, units) array per state,
#              weight_grads: a gradient for every key of ``params``; extra keys are ignored)
CellForward = tuple[np.ndarray, list[np.ndarray], Any]
CellBackward = tuple[np.ndarray, list[np.ndarray], dict[str, np.ndarray]]


class RecurrentLayer(Layer):
    """Base class of the recurrent layers: a cell run over ``(N, T, D)`` input.

    Args:
        units: the size ``H`` of each state (and of the output).
        return_sequences: output all ``h`` states ``(N, T, H)`` instead of the last ``(N, H)``.
        return_state: ``forward`` returns ``[output, *final_states]`` (a list, like Keras) and
            ``backward`` takes ``dy`` as the output gradient or ``[d_output, *d_states]``
            (any entry may be None).
        stateful: the final states of one ``forward`` are the initial states of the next (a
            constant: no gradient flows into the previous batch, i.e. truncated BPTT across
            calls). The batch size must stay fixed until :meth:`reset_state`.
        go_backwards: process each sequence reversed in time. With ``lengths`` only the valid
            prefix of each row is reversed (PyTorch's semantics, not Keras's whole-row
            reversal): valid steps stay a prefix, so the mask still holds. With an ``(N, T)``
            step mask the whole row is reversed with its mask, as Keras. A sequence output is
            returned in processing (reversed) order, like Keras; ``dx`` is in input order.
        backend: ``"cpp"`` (the C++ kernels of :mod:`rnnkit.ops`) or ``"numpy"`` (the plain
            NumPy reference :mod:`rnnkit.reference`, one step at a time): the same maths, the
            same results to rounding. Saved in the config.
        unroll: accepted for Keras programs and kept in the config, with no effect: rnnkit
            never unrolls (the kernels loop over the steps), so True and False give the same
            results at the same speed.
        dtype: "float32" or "float64": parameters and computation; inputs are converted.
        name: layer name.

    Attributes:
        truncate: None (full BPTT) or ``k``: passed to the backward kernel, which cuts the
            gradient through the states every ``k`` steps (set by the Trainer for TBPTT).
        states: the carried states of a stateful layer, one ``(N, H)`` array per state in
            ``state_names`` order (None after :meth:`reset_state`).
        state: the same for one-state cells as the ``(N, H)`` array itself, else the list.
        d_initial_state: after ``backward``, ``dL/d(initial state)``: the gradient with
            respect to the ``initial_state`` given to ``forward`` (or to the zero / carried
            state when none was given), shaped as ``initial_state`` is given (an array for a
            one-state cell, else a list). Also :meth:`initial_state_grad`.
        kernels: the backend module whose functions the cell calls.
    """

    requires_sequence = True
    #: The cell's states in ``initial_state`` / ``return_state`` order; state 0 is the output.
    state_names: ClassVar[tuple[str, ...]] = ("h",)

    def __init__(
        self,
        units: int,
        return_sequences: bool = False,
        return_state: bool = False,
        stateful: bool = False,
        go_backwards: bool = False,
        backend: str = "cpp",
        dtype: str = "float32",
        name: str | None = None,
        unroll: bool = False,
    ) -> None:
        super().__init__(name=name, input_shape=None, dtype=dtype)
        self.units = _checks.positive_int(units, "units", where=f"{type(self).__name__}: ")
        # Keras's graph-building hint; the engine's step loop makes it meaningless here.
        self.unroll = bool(unroll)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.stateful = bool(stateful)
        self.go_backwards = bool(go_backwards)
        self.backend = backend
        self.truncate: int | None = None
        self.states: list[np.ndarray] | None = None
        self._d_initial_states: list[np.ndarray] | None = None
        self._cache: Any = None
        # The last forward's (mask, (N, 1) 0/1 of rows with a valid step or None).
        self._run: tuple[np.ndarray | None, np.ndarray | None] = (None, None)

    # -- what a cell supplies -----------------------------------------------------------------
    def _build_cell(self, features: int) -> None:
        """Create the cell's params for inputs of ``features`` features."""
        raise NotImplementedError

    @classmethod
    def _cell_param_shapes(
        cls, config: dict[str, Any], features: int, units: int
    ) -> dict[str, tuple[int, ...]]:
        """``{key: shape}`` of the params :meth:`_build_cell` would create (from the config)."""
        raise NotImplementedError

    def _cell_forward(
        self,
        x: np.ndarray,
        initial_states: list[np.ndarray | None],
        lengths: np.ndarray | None,
        training: bool,
    ) -> CellForward:
        """Run the cell over ``x (N, T, D)`` (processing order, dtype converted) from
        ``initial_states`` (None entries: zeros) with the kernels of ``self.kernels``;
        ``training`` tells a cell with dropout to draw its masks."""
        raise NotImplementedError

    def _cell_backward(
        self,
        cache: Any,
        dhs: np.ndarray | None,
        d_final_states: list[np.ndarray | None],
        truncate: int | None,
    ) -> CellBackward:
        """Backpropagate through the forward that made ``cache``: ``dhs`` is the gradient of
        the outputs (None: zeros), ``d_final_states`` that of each final state (None: zeros)."""
        raise NotImplementedError

    # -- construction -------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """``"cpp"`` or ``"numpy"``: which kernels the cell calls (setting it switches them)."""
        return self._backend

    @backend.setter
    def backend(self, name: str) -> None:
        self.kernels: ModuleType = ops.get_backend(name)  # ValueError for an unknown name
        self._backend = name

    def build(self, input_shape: Shape) -> None:
        input_shape = tuple(input_shape)
        if len(input_shape) != 2 or input_shape[1] is None:
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) expects a per-sample input shape "
                f"(T, D) with D known, got {input_shape}: its input is "
                "(N, T, D) (batch, time, features)"
            )
        self._build_cell(int(input_shape[1]))
        super().build(input_shape)

    @classmethod
    def config_param_shapes(
        cls, config: dict[str, Any], input_shape: Sequence[int | None] | None
    ) -> dict[str, tuple[int, ...]] | None:
        shape = config_input_shape(config, input_shape)
        units = _checks.positive_int(config.get("units"), "units", where=f"{cls.__name__}: ")
        if shape is None or len(shape) != 2 or shape[1] is None:
            return None  # build would refuse it
        features = _checks.positive_int(shape[1], "input features", where=f"{cls.__name__}: ")
        return cls._cell_param_shapes(config, features, units)

    def compute_output_shape(self, input_shape: Shape) -> OutputShape:
        out: Shape = (input_shape[0], self.units) if self.return_sequences else (self.units,)
        if self.return_state:
            return [out, *[(self.units,)] * len(self.state_names)]
        return out

    def collapses_time(self) -> bool:
        return not self.return_sequences

    # -- state --------------------------------------------------------------------------------
    @property
    def state(self) -> np.ndarray | list[np.ndarray] | None:
        """The carried state: the ``(N, H)`` array of a one-state cell, else the list of
        :attr:`states` (None when there is none)."""
        if self.states is None:
            return None
        return self.states[0] if len(self.state_names) == 1 else list(self.states)

    @state.setter
    def state(self, value: np.ndarray | Sequence[np.ndarray] | None) -> None:
        if value is None:
            self.states = None
        elif len(self.state_names) == 1 and not isinstance(value, (list, tuple)):
            self.states = [np.asarray(value)]
        else:
            self.states = list(value)

    def reset_state(self) -> None:
        """Forget the carried state of a stateful layer (the next batch starts from zeros and
        may have another batch size)."""
        self.states = None

    reset_states = reset_state  # Keras 2 spelling

    @property
    def d_initial_state(self) -> np.ndarray | list[np.ndarray] | None:
        """``dL/d(initial state)`` of the last ``backward``: ``(N, H)`` for a one-state cell,
        else one array per state in a list (None before any backward)."""
        grads = self._d_initial_states
        if grads is None:
            return None
        return grads[0] if len(self.state_names) == 1 else list(grads)

    def initial_state_grad(self) -> np.ndarray | list[np.ndarray] | None:
        """``dL/d(initial state)`` of the last ``backward`` (same as ``d_initial_state``)."""
        return self.d_initial_state

    def _initial_states(self, initial_state: Any, n: int) -> list[np.ndarray | None]:
        """One initial state per cell state for a batch of ``n``: the given ``initial_state``
        (an array for a one-state cell, else a list with one array per state), else a stateful
        layer's carried states, else None entries (zeros)."""
        count = len(self.state_names)
        if initial_state is None:
            if self.stateful and self.states is not None:
                carried = self.states[0].shape[0]
                if carried != n:
                    raise ValueError(
                        f"stateful layer {self.name!r} carries a state for batch size "
                        f"{carried} but got batch size {n}: keep the batch size fixed "
                        "(drop or pad the last batch) or call reset_state() first"
                    )
                kept: list[np.ndarray | None] = list(self.states)
                return kept
            return [None] * count
        if isinstance(initial_state, (list, tuple)):
            given = list(initial_state)
            if len(given) != count:
                which = "one state" if count == 1 else f"{count} states {list(self.state_names)}"
                raise ValueError(
                    f"layer {self.name!r}: {type(self).__name__} has {which}, got a list "
                    f"of {len(given)} initial states"
                )
        elif count == 1:
            given = [initial_state]
        else:
            raise ValueError(
                f"layer {self.name!r}: {type(self).__name__} has {count} states "
                f"{list(self.state_names)}: initial_state must be a list of {count} arrays"
            )
        states: list[np.ndarray | None] = []
        for value in given:
            h0 = np.asarray(value, dtype=self.dtype)
            if h0.shape != (n, self.units):
                raise ValueError(
                    f"layer {self.name!r}: initial_state must have shape (N, H) = "
                    f"({n}, {self.units}), got {h0.shape}"
                )
            states.append(h0)
        return states

    # -- computation --------------------------------------------------------------------------
    def forward(
        self,
        x: np.ndarray,
        training: bool = False,
        lengths: np.ndarray | None = None,
        initial_state: np.ndarray | Sequence[np.ndarray] | None = None,
    ) -> Any:
        """Run the layer. ``lengths``: ``(N,)`` valid leading steps (packed sequences: zeros
        out at padded steps) or an ``(N, T)`` bool step mask (Keras: a masked step carries the
        states, the output repeats the previous one, zeros before a row's first valid step; the
        last output of a row with no valid step is zeros). ``initial_state``: ``(N, H)`` array
        for a one-state cell (or a one-element list, as Keras passes it), a list of one array
        per state otherwise; it overrides a stateful layer's carried state for this call."""
        self._build_for(x)
        x = np.asarray(x, dtype=self.dtype)
        d = self.built_shape[1]
        if x.ndim != 3 or x.shape[2] != d:
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) expects input of shape "
                f"(N, T, {d}) (batch, time, features), got {x.shape}"
            )
        n, t, _ = x.shape
        where = f"layer {self.name!r}: "
        steps = _steps.check(lengths, n, t, where=where)
        masked = _steps.is_mask(steps)
        if masked and self.truncate is not None:
            raise ValueError(
                f"{where}truncated BPTT (fit(tbptt=...)) does not take a step mask with "
                "padding before or between valid steps yet: pad after the steps "
                "(pad_sequences(..., padding='post')), or train without tbptt"
            )
        initial = self._initial_states(initial_state, n)
        run_steps = steps
        if self.go_backwards:
            # Reversing the input is all go_backwards needs: the kernel then runs forwards.
            # A step mask reverses the whole row (Keras), and itself with it.
            x = reverse_sequences(x, steps)
            if steps is not None and masked:
                run_steps = steps[:, ::-1]
        outputs, final_states, self._cache = self._cell_forward(x, initial, run_steps, training)
        # Keras's last output of a row without a valid step is zeros, although its final
        # states are the initial ones (the output repeats the previous one, zeros at first).
        last_valid = None
        if masked and not self.return_sequences:
            valid = _steps.any_valid(run_steps, n)
            if not valid.all():
                last_valid = valid[:, None].astype(self.dtype)
        # One new tuple per call, so a functional graph's per-call cache always captures it.
        self._run = (steps, last_valid)
        if self.stateful:
            # Constants for the next call: the gradient stops here.
            self.states = [state.copy() for state in final_states]
        last = final_states[0] if last_valid is None else final_states[0] * last_valid
        output = outputs if self.return_sequences else last
        return [output, *final_states] if self.return_state else output

    def backward(self, dy: Any) -> np.ndarray:
        """Backpropagate; ``dy`` is the gradient of the output (``(N, T, H)`` or ``(N, H)``)
        or, with ``return_state``, ``[d_output, *d_states]``. Returns ``dx (N, T, D)`` in input
        order; sets ``grads`` and ``d_initial_state``."""
        if self._cache is None:
            raise RuntimeError(f"layer {self.name!r}: backward called before forward")
        steps, last_valid = self._run
        count = len(self.state_names)
        d_out: Any = dy
        d_states: list[Any] = [None] * count
        if isinstance(dy, (list, tuple)):
            if not self.return_state or len(dy) != 1 + count:
                expected = (
                    "d_state" if count == 1 else ", ".join(f"d_{s}" for s in self.state_names)
                )
                raise ValueError(
                    f"layer {self.name!r}: a list dy must be [d_output, {expected}] "
                    "(return_state=True)"
                )
            d_out, *d_states = dy
        dhs = None
        if self.return_sequences:
            dhs = d_out
        elif d_out is not None:
            # The last output is state 0 itself: its gradient joins that of the final state.
            if last_valid is not None:
                d_out = np.asarray(d_out) * last_valid
            d_states[0] = (
                d_out if d_states[0] is None else np.asarray(d_out) + np.asarray(d_states[0])
            )
        dx, d_initial, weight_grads = self._cell_backward(self._cache, dhs, d_states, self.truncate)
        for key in self.params:
            self._set_grad(key, weight_grads[key])
        self._d_initial_states = d_initial
        if self.go_backwards:
            dx = reverse_sequences(dx, steps)  # the reversal is its own inverse
        return dx

    def step_function(self, batch_size: int) -> StepFunction | None:
        """A :class:`~rnnkit.layers.recurrent.stepping.RecurrentStepper`: step rows ``(N, D)``
        in, ``h`` rows ``(N, H)`` out, from the carried states of a stateful layer (else zeros)
        on; the layer's own ``states`` are left alone. None unless the layer returns its
        sequence and nothing else (a last-state output has no step to give)."""
        if not self.built or not self.return_sequences or self.return_state:
            return None
        return RecurrentStepper(self, batch_size)

    def output_lengths(self, lengths: np.ndarray | None) -> np.ndarray | None:
        """The mask passes on with a sequence output, as given (lengths: valid steps stay a
        prefix, also with go_backwards; a step mask is not reversed by go_backwards, as in
        Keras); a last-state output has no time axis, hence no mask."""
        return lengths if self.return_sequences else None

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            units=self.units,
            return_sequences=self.return_sequences,
            return_state=self.return_state,
            stateful=self.stateful,
            go_backwards=self.go_backwards,
            backend=self.backend,
            unroll=self.unroll,
        )
        return config


_KEEP: Any = object()  # scoped_states: leave ``truncate`` as it is


@contextlib.contextmanager
def scoped_states(
    layers: Sequence[RecurrentLayer], stateful: bool, truncate: int | None = _KEEP
) -> Iterator[None]:
    """For the duration, every layer of ``layers`` has ``stateful`` as given and no carried
    state (it starts from zeros), and ``truncate`` when one is given; afterwards each layer
    gets its own ``stateful`` flag, carried states and ``truncate`` back, also after an error.

    Generation and TBPTT carry the state across calls (``stateful=True``); looking at one
    passage from a zero state does not (``stateful=False``)."""
    saved = [(layer, layer.stateful, layer.states, layer.truncate) for layer in layers]
    for layer in layers:
        layer.stateful, layer.states = stateful, None
        if truncate is not _KEEP:
            layer.truncate = truncate
    try:
        yield
    finally:
        for layer, was_stateful, states, cut in saved:
            layer.stateful, layer.states, layer.truncate = was_stateful, states, cut
