"""The layer protocol every rnnkit layer follows.

A layer is an explicit forward/backward object in the "deep learning from scratch" style, with a
Keras-familiar surface:

* ``build(input_shape)`` creates ``params`` from the per-sample input shape (no batch axis);
  calling the layer builds it on first use.
* ``forward(x, training=False, lengths=None)`` returns the output and keeps what ``backward``
  needs. ``lengths`` carries a sequence mask (see :mod:`rnnkit._steps`): ``(N,)`` int64, sample
  ``i`` has ``lengths[i]`` valid leading time steps; or an ``(N, T)`` bool step mask (any steps
  masked, Keras's semantics); None: every step is valid.
* ``backward(dy)`` returns ``dx`` and *overwrites* ``grads`` (same keys and shapes as ``params``).
* ``output_lengths(lengths)`` tells the next layer which mask follows this one.
* ``get_config()`` returns JSON-serialisable constructor arguments; ``from_config`` rebuilds.
* ``sublayers()`` lists the layers a wrapper holds (TimeDistributed, Bidirectional): saving,
  models and the Trainer find nested layers through it, never by attribute names.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from .. import _checks
from .._registry import class_and_config

# Where layer code has always found the default seeds; they live in rnnkit._seeding.
from .._seeding import make_rng as make_rng
from .._seeding import set_random_seed as set_random_seed
from .symbolic import call_symbolic, contains_symbolic

Shape = tuple[int | None, ...]
# What compute_output_shape gives: one shape, or a list for a layer with several outputs (a
# recurrent layer with return_state, a Bidirectional with merge_mode=None).
OutputShape = Shape | list[Shape]
# One time step of a layer at inference (see Layer.step_function): the step's input rows in,
# its output rows out.
StepFunction = Callable[[np.ndarray], np.ndarray]

_layer_counter = itertools.count(1)

# Every Layer subclass registers itself here by class name (see ``Layer.__init_subclass__``), so
# wrappers (TimeDistributed, Bidirectional) and model loaders can rebuild a layer from
# ``{"class_name": ..., "config": ...}`` without a hand-kept table.
_LAYER_CLASSES: dict[str, type[Layer]] = {}


def _snake_case(name: str) -> str:
    """Keras's layer names: ``SimpleRNN`` -> ``simple_rnn``, ``TimeDistributed`` ->
    ``time_distributed``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def config_input_shape(
    config: dict[str, Any], input_shape: Sequence[int | None] | None
) -> Shape | None:
    """The per-sample input shape a layer made from ``config`` would be built for, given the
    shape recorded for it elsewhere (``input_shape``, e.g. in a model file): the two must agree
    where both are known (ValueError otherwise); known dims win over None."""
    given = config.get("input_shape")
    if given is None:
        return None if input_shape is None else tuple(input_shape)
    if input_shape is None:
        return tuple(given)
    given, recorded = tuple(given), tuple(input_shape)
    if len(given) != len(recorded) or any(
        a is not None and b is not None and a != b for a, b in zip(given, recorded)
    ):
        raise ValueError(
            f"the config's input_shape {list(given)} does not match the recorded "
            f"input shape {list(recorded)}"
        )
    return tuple(a if a is not None else b for a, b in zip(given, recorded))


def shapes_compatible(a: Sequence[int | None], b: Sequence[int | None]) -> bool:
    """Two per-sample shapes agree: same rank, and the dims known in both are equal (None
    matches any size)."""
    a, b = tuple(a), tuple(b)
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def get_layer_class(class_name: str) -> type[Layer]:
    """The registered Layer subclass called ``class_name`` (ValueError naming the known ones)."""
    try:
        return _LAYER_CLASSES[class_name]
    except KeyError:
        known = ", ".join(sorted(_LAYER_CLASSES))
        raise ValueError(f"unknown layer class {class_name!r}; known: {known}") from None


def serialize_layer(layer: Layer) -> dict[str, Any]:
    """``{"class_name": ..., "config": layer.get_config()}`` (JSON-serialisable)."""
    return class_and_config(layer)


def deserialize_layer(spec: dict[str, Any]) -> Layer:
    """Inverse of :func:`serialize_layer` (an unbuilt layer with fresh weights)."""
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise TypeError(f"expected {{'class_name': ..., 'config': ...}}, got {spec!r}")
    return get_layer_class(spec["class_name"]).from_config(dict(spec.get("config", {})))


class Layer:
    """Base class: subclasses implement ``build``, ``forward``, ``backward`` and
    ``compute_output_shape`` and extend ``get_config``.

    Class attribute ``requires_sequence``: True for layers that need ``(N, T, ...)`` input with
    a time axis (recurrent layers); :func:`check_stack` uses it together with
    :meth:`collapses_time`.
    """

    requires_sequence: bool = False
    is_input_layer: bool = False  # True for InputLayer (see rnnkit.layers.input_layer)
    # True when ``forward`` returns a list ``[output, *states]`` (a recurrent layer or wrapper
    # built with ``return_state=True``), which a linear stack cannot pass on.
    return_state: bool = False
    # True when ``forward`` returns the two directions as a list ``[forward, backward]`` (a
    # Bidirectional with ``merge_mode=None``), which the next layer of a stack cannot take.
    splits_directions: bool = False
    # The generator of a layer that draws random numbers in training (Dropout); a trainer
    # checkpoint saves and restores its state. None for deterministic layers.
    rng: np.random.Generator | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _LAYER_CLASSES[cls.__name__] = cls

    def __init__(
        self,
        name: str | None = None,
        input_shape: Sequence[int | None] | None = None,
        dtype: str = "float32",
    ) -> None:
        _checks.choice(dtype, "dtype", ("float32", "float64"), where=f"{type(self).__name__}: ")
        self.name = name or f"{_snake_case(type(self).__name__)}_{next(_layer_counter)}"
        self.input_shape: Shape | None = tuple(input_shape) if input_shape is not None else None
        self.dtype = np.dtype(dtype)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.trainable = True
        self.built = False
        # Whether the weights come from the constructor's ``input_shape`` (see
        # :meth:`_build_if_shape_given`): a Sequential may then rebuild the layer for its real
        # input, as Keras ignores ``input_shape`` on all but the first layer.
        self.built_from_input_shape = False

    # -- construction -------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        """Create ``params`` (and zeroed ``grads``) for per-sample ``input_shape``."""
        self.input_shape = tuple(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> OutputShape:
        """Per-sample output shape for a per-sample input shape (a list of shapes for a layer
        with several outputs)."""
        return tuple(input_shape)

    @property
    def built_shape(self) -> Shape:
        """The per-sample input shape the layer is built for (RuntimeError before it is)."""
        if self.input_shape is None:
            raise RuntimeError(f"layer {self.name!r} is not built yet")
        return self.input_shape

    def _build_if_shape_given(
        self,
        input_shape: Sequence[int | None] | None,
        batch_input_shape: Sequence[int | None] | None = None,
    ) -> None:
        """Build at construction when the per-sample ``input_shape`` is given (Keras's
        ``input_shape=``, or Keras 2's ``batch_input_shape=(B, ...)``, whose batch axis is
        dropped: a stateful layer fixes its batch size at its first batch and refuses another
        until ``reset_state``); subclasses call it last, once their own attributes are set."""
        if batch_input_shape is not None:
            dims = tuple(batch_input_shape)
            if len(dims) < 2 or (input_shape is not None and tuple(input_shape) != dims[1:]):
                raise ValueError(
                    f"{type(self).__name__}: batch_input_shape must be (batch, ...) and agree "
                    f"with input_shape, got batch_input_shape={batch_input_shape!r} and "
                    f"input_shape={input_shape!r}"
                )
            input_shape = dims[1:]
        if input_shape is not None:
            self.build(tuple(input_shape))
            self.built_from_input_shape = True

    def unbuild(self) -> None:
        """Drop the weights (and those of the wrapped layers): the layer is as if made without
        ``input_shape``, and the next :meth:`build` draws fresh weights for its shape. A
        Sequential uses it on a layer whose constructor ``input_shape`` does not fit what the
        layer below it outputs (Keras ignores that argument there)."""
        for sub in self.sublayers():
            sub.unbuild()
        self.params.clear()
        self.grads.clear()
        self.input_shape = None
        self.built = False
        self.built_from_input_shape = False

    def _build_for(self, x: Any) -> None:
        """Build for ``x``'s per-sample shape (its batch axis dropped) unless built already:
        ``forward`` may be called directly, without :meth:`__call__`."""
        if not self.built:
            self.build(np.shape(x)[1:])

    def _add_param(self, key: str, value: np.ndarray) -> np.ndarray:
        value = np.ascontiguousarray(value, dtype=self.dtype)
        self.params[key] = value
        self.grads[key] = np.zeros_like(value)
        return value

    # -- computation --------------------------------------------------------------------------
    def __call__(
        self,
        x: Any,
        training: bool | None = None,
        lengths: np.ndarray | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run the layer on arrays (``forward``, building it first if needed), or, called on
        symbolic tensors (from :func:`~rnnkit.layers.Input` or another call), record the call
        in a functional graph and return symbolic outputs (see :mod:`.symbolic`)."""
        if contains_symbolic(x, kwargs.get("initial_state")):
            if lengths is not None:
                raise TypeError(
                    f"layer {self.name!r}: lengths= is not a functional call option; give the "
                    "model's lengths to fit/predict (or mask with Embedding(mask_zero=True))"
                )
            return call_symbolic(self, x, training, kwargs)
        self._build_for(x)
        return self.forward(x, training=bool(training), lengths=lengths, **kwargs)

    def forward(
        self, x: np.ndarray, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: Any) -> np.ndarray | None:
        """``dx`` for the output gradient ``dy`` (an array, or a list for a layer with several
        outputs); None when the input has no gradient (an Embedding's integer ids)."""
        raise NotImplementedError

    def output_lengths(self, lengths: np.ndarray | None) -> np.ndarray | None:
        """The mask that follows this layer; by default it passes through."""
        return lengths

    def collapses_time(self) -> bool:
        """True when this layer's output has no time axis although its input has one (a
        recurrent layer with ``return_sequences=False``)."""
        return False

    def adds_time(self) -> bool:
        """True when this layer's output has a time axis although its input has none (a
        ``RepeatVector``): a layer that needs sequences may follow it again."""
        return False

    def sublayers(self) -> list[Layer]:
        """The layers this one holds and runs (a wrapper's inner layers), in a fixed order; []
        for a plain layer. Saving, models and the Trainer find nested layers through this
        method alone."""
        return []

    def initial_state_grad(self) -> Any:
        """The gradient of the ``initial_state`` given to the last ``forward``, after
        ``backward`` (an array, or a list with one array per state); None for a layer without
        initial states. A functional graph sends it back to the tensors that gave them."""
        return None

    def step_function(self, batch_size: int) -> StepFunction | None:
        """A function that runs this layer at inference on one time step of ``batch_size``
        rows: it takes the step's input without the time axis (``(N, D)`` rows, or ``(N,)``
        ids) and returns the step's output likewise, exactly as ``forward`` would compute that
        step of a ``(N, 1, ...)`` input. It may return the same buffer at every call (valid
        until the next call) and carries a recurrent layer's states from step to step, starting
        from the carried states of a stateful layer. None (the default) when the layer has no
        such function; generation then runs the whole model's ``forward`` per step."""
        return None

    def output_activation(self) -> str | None:
        """Name of the element-wise activation this layer applies last, if any (Keras's
        ``compile`` reads cross-entropies and metrics as probabilities after a sigmoid or
        softmax output)."""
        return None

    def _check_built_input(self, x: np.ndarray, min_ndim: int, legend: str) -> None:
        """ValueError naming the layer unless ``x`` has ``min_ndim`` dims or more and its last
        axis matches the built feature size (``legend`` describes the expected shape)."""
        if x.ndim < min_ndim or (
            self.input_shape is not None
            and self.input_shape[-1] is not None
            and x.shape[-1] != self.input_shape[-1]
        ):
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) expects input of shape "
                f"{legend}, got {x.shape}"
            )

    # -- bookkeeping --------------------------------------------------------------------------
    def zero_grads(self) -> None:
        for g in self.grads.values():
            g.fill(0)

    def count_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def get_weights(self) -> list[np.ndarray]:
        """Copies of ``params`` in key order (Keras's ``get_weights``)."""
        return [p.copy() for p in self.params.values()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Copy ``weights`` (in ``params`` key order) into the parameter arrays in place, so
        references held elsewhere (optimizer, wrappers) stay valid."""
        if len(weights) != len(self.params):
            raise ValueError(
                f"layer {self.name!r} has {len(self.params)} weights "
                f"({list(self.params)}), got {len(weights)}"
            )
        for (key, param), value in zip(self.params.items(), weights):
            value = np.asarray(value)
            if value.shape != param.shape:
                raise ValueError(
                    f"layer {self.name!r}: weight {key!r} has shape {param.shape}, "
                    f"got {value.shape}"
                )
            param[...] = value

    def _set_grad(self, key: str, value: np.ndarray) -> None:
        """Overwrite ``grads[key]`` in place (wrappers hold references to these arrays)."""
        np.copyto(self.grads[key], value, casting="unsafe")

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "dtype": self.dtype.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    @classmethod
    def config_param_shapes(
        cls, config: dict[str, Any], input_shape: Sequence[int | None] | None
    ) -> dict[str, tuple[int, ...]] | None:
        """``{key: shape}`` of the params a layer made from ``config`` and built for the
        per-sample ``input_shape`` would have, worked out from the config alone: no layer is
        made and nothing is allocated. ``load_model`` compares it with a file's arrays before
        rebuilding anything, so a corrupted config (``units=300000``) is refused cheaply.
        None: unknown (the default, e.g. for custom layers), no check. Raises ValueError /
        TypeError for a config the constructor would refuse too."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def no_param_shapes(
    config: dict[str, Any], input_shape: Sequence[int | None] | None
) -> dict[str, tuple[int, ...]]:
    """``config_param_shapes`` of a layer without params: only the input shapes must agree."""
    config_input_shape(config, input_shape)
    return {}


def check_stack(layers: Sequence[Layer]) -> None:
    """Check that a linear stack of layers can feed each other, before any data flows.

    Raises ValueError when a layer that needs ``(N, T, ...)`` input (``requires_sequence``, e.g.
    SimpleRNN, Bidirectional, TimeDistributed) follows a layer that dropped the time axis (a
    recurrent layer with ``return_sequences=False``), with layers that keep the rank (Dense,
    Dropout, Activation) in between or not, and no layer that adds a time axis again
    (:meth:`Layer.adds_time`, a RepeatVector). The message names both layers by index and name and
    says ``set return_sequences=True on <name>``. Also raises ValueError for a layer with
    ``return_state=True`` or a Bidirectional with ``merge_mode=None`` before the last layer (its
    output is a list, which a linear stack cannot pass on), and for
    an :class:`~rnnkit.layers.InputLayer` anywhere but first.
    """
    collapsed: tuple[int, Layer] | None = None  # the last layer that dropped the time axis
    for index, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"layer {index} is not an rnnkit Layer: {layer!r}")
        if index > 0 and layer.is_input_layer:
            raise ValueError(
                f"layer {index} ({layer.name!r}) is an Input: it can only be the "
                "first layer of a stack (it fixes the model's input shape)"
            )
        if layer.splits_directions and index < len(layers) - 1:
            raise ValueError(
                f"layer {index} ({layer.name!r}) has merge_mode=None: it returns a list "
                "[forward, backward], which the next layer of a stack cannot take; choose a "
                "merge_mode, or build a functional model to use both outputs"
            )
        if layer.return_state:
            raise ValueError(
                f"layer {index} ({layer.name!r}) has return_state=True: it returns a list "
                "[output, state], which a stack of layers cannot pass on; use return_state only "
                "when calling the layer directly"
            )
        if layer.requires_sequence and collapsed is not None:
            j, prev = collapsed
            raise ValueError(
                f"layer {index} ({layer.name!r}, {type(layer).__name__}) needs 3-D input "
                f"(N, T, features) but layer {j} ({prev.name!r}, {type(prev).__name__}) returns "
                f"only its last state (N, units): set return_sequences=True on {prev.name!r}"
            )
        if layer.collapses_time():
            collapsed = (index, layer)
        elif layer.adds_time():
            collapsed = None


def _defining_class(cls: type, name: str) -> type:
    """The class of ``cls``'s MRO whose body defines ``name``."""
    return next(k for k in cls.__mro__ if name in vars(k))


def step_function_of(layer: Layer, batch_size: int) -> StepFunction | None:
    """``layer.step_function(batch_size)``, or None when a subclass overrides ``forward``
    below the class that wrote its step function: that step would not be its forward's."""
    cls = type(layer)
    if not issubclass(_defining_class(cls, "step_function"), _defining_class(cls, "forward")):
        return None
    return layer.step_function(batch_size)


def walk_layers(layers: Iterable[Layer]) -> Iterator[Layer]:
    """Every layer of ``layers`` followed, depth first, by the layers it holds
    (:meth:`Layer.sublayers`)."""
    for layer in layers:
        yield layer
        yield from walk_layers(layer.sublayers())
