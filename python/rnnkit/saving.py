"""Saving and loading models (and training checkpoints) as one ``.npz`` file: how a model and a
trainer map onto the file (load with :func:`rnnkit.load_model` or
:meth:`rnnkit.training.Trainer.load`; both build on :func:`read_model`).

File layout (``format_version`` 1), a plain NumPy ``.npz`` (zip of ``.npy`` members):

* ``__rnnkit__``: 1-D ``uint8`` array, the UTF-8 bytes of a JSON document::

      {"format": "rnnkit.model", "format_version": 1, "rnnkit_version": "<rnnkit.__version__>",
       "model": {"class_name": "Sequential", "module": "rnnkit.models",
                 "config": {...model.get_config()...}},
       "layers": [{"name": "simple_rnn_1", "class_name": "SimpleRNN", "input_shape": [3, 1],
                   "weights": [{"key": "Wx", "array": "w0", "shape": [1, 10],
                                "dtype": "float32"}, ...]}, ...],
       "trainer": null | {"loss": ..., "optimizer": ..., "metrics": [...], "clip_norm": ...,
                          "clip_value": ..., "epoch": 3,
                          "optimizer_state": [{"key": "m/simple_rnn_1/Wx", "array": "s0",
                                               ...}, ...],
                          "rng_states": {"2": {...bit generator state...}}}}

* ``w0, w1, ...``: the parameter arrays, in ``model.layers`` order, then each layer's
  ``params`` order; ``s0, s1, ...``: the optimizer state arrays of a checkpoint.

``rng_states`` keys name a layer by its index in ``model.layers`` and then, for a wrapped
layer, its position in each wrapper's ``sublayers()`` (``"2"``, ``"0/0"``). ``module`` names
where the model class is defined (an rnnkit module is imported on loading so that its classes
are known).

Guarantees (the container, :mod:`rnnkit._model_file`, written by :mod:`rnnkit._atomic_file`):
writes are atomic (a temporary file ``.rnnkit-<16 hex digits naming the target>-<16 random hex
digits>.tmp`` in the same directory, flushed and fsynced, then ``os.replace``), so an
interrupted save leaves any previous file intact, and any file name ``open()`` accepts saves
(the temporary's name has a fixed length). A save killed outright (``kill -9``) leaves its
temporary file; the next save to the same path removes it (on POSIX, where a live saver's
``flock`` on its temporary file keeps it from concurrent savers' clean-up). Loading never
unpickles (``np.load(..., allow_pickle=False)``: a file with an object array is refused); a
truncated, corrupted or mismatched file raises :class:`ModelFileError` naming the path and the
problem.

Not saved: stateful layers' carried states (a loaded model starts from zeros), and the dropout
masks' random streams unless a trainer checkpoint is written (then they are).

Custom :class:`~rnnkit.models.Model` subclasses register by class name when defined; define the
class before loading (or pass ``custom_objects={"Name": cls}``). Their ``get_config`` must give
``from_config`` what it needs; layer names and weights come from the file. Custom Layer classes
register themselves the same way (see :mod:`rnnkit.layers.base`) and need only be defined.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import numpy as np

from . import __version__
from ._model_file import (
    CONFIG_KEY,
    FORMAT_NAME,
    FORMAT_VERSION,
    ModelFileError,
    array_entry,
    read_model_file,
    weight_entries,
    write_model_file,
)
from .layers.base import Layer, get_layer_class, shapes_compatible
from .network import Network, get_model_class

PathLike = str | os.PathLike[str]

__all__ = [
    "CONFIG_KEY",
    "FORMAT_VERSION",
    "CheckpointSource",
    "ModelFileError",
    "TrainerCheckpoint",
    "read_model",
    "save_model",
]


class _OptimizerState(Protocol):
    def get_state(self) -> Mapping[str, np.ndarray]: ...


class CheckpointSource(Protocol):
    """What :func:`save_model` reads from a trainer to write a checkpoint (a
    :class:`~rnnkit.training.Trainer` is one): its JSON configuration and its optimizer."""

    @property
    def optimizer(self) -> _OptimizerState: ...

    def get_config(self) -> dict[str, Any]: ...


@dataclasses.dataclass(frozen=True)
class TrainerCheckpoint:
    """The trainer part of a checkpoint file as :func:`read_model` found it, for
    :meth:`rnnkit.training.Trainer.from_checkpoint`. (The model's random streams are restored by
    then: they belong to its layers.)

    Attributes:
        path: the file, for error messages.
        config: what ``Trainer.get_config()`` wrote: loss, optimizer, metrics, clipping, epoch.
        optimizer_state: the optimizer's ``get_state()`` arrays, by key.
    """

    path: str
    config: dict[str, Any]
    optimizer_state: dict[str, np.ndarray]


# -- writing ----------------------------------------------------------------------------------


def _shape_list(shape: Any) -> list[int | None] | None:
    if shape is None:
        return None
    return [None if s is None else int(s) for s in shape]


def _layer_paths(layer: Layer, path: str) -> Iterator[tuple[str, Layer]]:
    """``(path, layer)`` for ``layer`` at ``path`` and, depth first, the layers it wraps
    (:meth:`~rnnkit.layers.Layer.sublayers`), each at ``<path>/<position>``."""
    yield path, layer
    for position, sub in enumerate(layer.sublayers()):
        yield from _layer_paths(sub, f"{path}/{position}")


def _random_streams(model: Network) -> dict[str, Layer]:
    """The layers that draw random numbers in training (Dropout), keyed by their path: the
    top-level index, then the position in each wrapper's ``sublayers()`` (``"2"``, ``"0/0"``)."""
    return {
        path: layer
        for index, top in enumerate(model.layers)
        for path, layer in _layer_paths(top, str(index))
        if layer.rng is not None
    }


# Files written before layers reported their wrapped layers by position named them by the
# wrapper's attribute; what each such name is now.
_OLD_PATH_PARTS = {"layer": "0", "forward_layer": "0", "backward_layer": "1"}


def _current_path(key: str) -> str:
    """A saved random-stream key in today's form (older files: ``"0/layer"`` -> ``"0/0"``)."""
    return "/".join(_OLD_PATH_PARTS.get(part, part) for part in key.split("/"))


def _rng_states(model: Network) -> dict[str, Any]:
    """The bit-generator states of layers drawing random numbers in training (Dropout)."""
    return {
        path: rng.bit_generator.state
        for path, layer in _random_streams(model).items()
        if (rng := layer.rng) is not None
    }


def save_model(model: Network, filepath: PathLike, trainer: CheckpointSource | None = None) -> str:
    """Write ``model`` (config + weights) to ``filepath`` (used as given; ``.npz`` is the
    conventional suffix), atomically. With ``trainer``, also its configuration, optimizer state,
    epoch count and the layers' random streams, so :meth:`Trainer.load` can resume training.
    Returns the path."""
    path = os.fspath(filepath)
    if not isinstance(model, Network):
        raise TypeError(f"save_model saves an rnnkit Model, got {type(model).__name__}")
    unbuilt = [layer.name for layer in model.layers if not layer.built]
    if not model.layers or unbuilt:
        raise ValueError(
            f"model {model.name!r} is not built (unbuilt layers: {unbuilt}): call "
            "it on data or build it before saving"
        )
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for layer in model.layers:
        weights = weight_entries(layer.params, arrays)
        layers.append(
            {
                "name": layer.name,
                "class_name": type(layer).__name__,
                "input_shape": _shape_list(layer.input_shape),
                "weights": weights,
                "trainable": bool(layer.trainable),
            }
        )
    config: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "rnnkit_version": __version__,
        "model": {
            "class_name": type(model).__name__,
            "module": type(model).__module__,
            "config": model.get_config(),
        },
        "layers": layers,
        "metadata": model.metadata,
        "trainer": None,
    }
    if trainer is not None:
        state = []
        for i, (key, value) in enumerate(trainer.optimizer.get_state().items()):
            value = np.asarray(value)
            arrays[f"s{i}"] = value
            state.append(
                {
                    "key": key,
                    "array": f"s{i}",
                    "shape": list(value.shape),
                    "dtype": value.dtype.name,
                }
            )
        config["trainer"] = {
            **trainer.get_config(),
            "optimizer_state": state,
            "rng_states": _rng_states(model),
        }
    write_model_file(path, config, arrays)
    return path


# -- reading ----------------------------------------------------------------------------------


def _restore_layer(
    path: str, layer: Layer, saved: dict[str, Any], arrays: dict[str, np.ndarray]
) -> None:
    if type(layer).__name__ != saved.get("class_name"):
        raise ModelFileError(
            f"{path}: layer {saved.get('name')!r} was a "
            f"{saved.get('class_name')}, the rebuilt model has a "
            f"{type(layer).__name__} there"
        )
    layer.name = saved["name"]  # params are keyed by layer name (optimizer state too)
    if not layer.built:
        shape = saved.get("input_shape")
        if shape is None and not saved.get("weights"):
            return  # a weightless layer called on several tensors (a merge): built when called
        if shape is None:
            raise ModelFileError(f"{path}: no input shape recorded for layer {layer.name!r}")
        layer.build(tuple(shape))
    weights = saved.get("weights", [])
    keys = [w.get("key") for w in weights]
    if keys != list(layer.params):
        raise ModelFileError(
            f"{path}: layer {layer.name!r} has weights {list(layer.params)} but "
            f"the file holds {keys}"
        )
    for entry in weights:
        value = array_entry(path, arrays, entry, f"{layer.name}/{entry['key']}")
        param = layer.params[entry["key"]]
        if param.shape != value.shape:
            raise ModelFileError(
                f"{path}: weight {layer.name}/{entry['key']} has shape "
                f"{value.shape} in the file but {param.shape} in the model "
                "rebuilt from its config"
            )
        np.copyto(param, value, casting="same_kind")  # in place: wrappers share these arrays


def _check_before_building(
    path: str, cls: type, model_config: Any, saved_layers: Any, arrays: dict[str, np.ndarray]
) -> None:
    """Cheap checks of a file's layer entries before anything is built, so a corrupted or
    crafted config (``units=300000``) is refused without allocating or initialising weights.

    Every layer entry's weights must be arrays of the file with the recorded shape and dtype.
    When the model class can read its layers from its config (:meth:`Network.config_layers`:
    Sequential can), each layer config must describe the same class, an input shape agreeing
    with the recorded one, and (through the layer class's ``config_param_shapes``, which
    allocates nothing) exactly the recorded weight shapes; the input shapes the model config
    declares must agree with the first layer's. So every size a rebuild allocates is backed by
    an array in the file. Custom models and layers that cannot tell are checked after building.
    """
    if not isinstance(saved_layers, list):
        raise ModelFileError(
            f"{path}: the 'layers' entry must be a list, got {type(saved_layers).__name__}"
        )
    recorded: list[dict[str, tuple[int, ...]]] = []
    for index, saved in enumerate(saved_layers):
        weights = saved.get("weights", []) if isinstance(saved, dict) else None
        if not isinstance(weights, list) or not all(isinstance(w, dict) for w in weights):
            raise ModelFileError(f"{path}: malformed entry for layer {index}: {saved!r:.200}")
        shapes = {}
        for entry in weights:
            value = array_entry(path, arrays, entry, f"{saved.get('name')}/{entry.get('key')}")
            shapes[entry.get("key")] = value.shape
        recorded.append(shapes)
    if not (isinstance(cls, type) and issubclass(cls, Network) and isinstance(model_config, dict)):
        return
    try:
        plan = cls.config_layers(model_config)
        if plan is not None:
            _check_planned_layers(path, plan.specs, plan.input_shapes, saved_layers, recorded)
    except ModelFileError:
        raise
    except Exception as exc:  # a malformed config entry, whatever it trips over
        raise ModelFileError(f"{path}: invalid layer config: {type(exc).__name__}: {exc}") from exc


def _check_planned_layers(
    path: str,
    specs: list[Any],
    input_shapes: dict[str, Any],
    saved_layers: list[Any],
    recorded: list[dict[str, tuple[int, ...]]],
) -> None:
    """The layer specs a model config will build against the file's layer entries (see
    :func:`_check_before_building`)."""
    if len(specs) != len(saved_layers):
        raise ModelFileError(
            f"{path}: the model config lists {len(specs)} layers but the file "
            f"holds weights for {len(saved_layers)}"
        )
    first = saved_layers[0].get("input_shape") if saved_layers else None
    for what, shape in input_shapes.items():
        if first is not None and not shapes_compatible(shape, first):
            raise ModelFileError(
                f"{path}: the model's {what} {shape} does not "
                f"match its first layer's recorded input shape {first}"
            )
    for index, (spec, saved, shapes) in enumerate(zip(specs, saved_layers, recorded)):
        name = saved.get("name")
        if not isinstance(spec, dict) or spec.get("class_name") != saved.get("class_name"):
            raise ModelFileError(
                f"{path}: layer {index} ({name!r}) is a {saved.get('class_name')} in the "
                f"file's weights but the model config has "
                f"{spec.get('class_name') if isinstance(spec, dict) else spec!r:.100}"
            )
        layer_cls = get_layer_class(spec["class_name"])
        config = spec.get("config", {})
        if not isinstance(config, dict):
            raise ModelFileError(
                f"{path}: the config of layer {index} ({name!r}) must be a JSON object"
            )
        expected = layer_cls.config_param_shapes(dict(config), saved.get("input_shape"))
        if expected is not None and expected != shapes:
            raise ModelFileError(
                f"{path}: layer {index} ({name!r}, {spec['class_name']}): its config implies "
                f"weight shapes {expected} but the file holds {shapes}: the config or the "
                "weights are corrupted"
            )


def read_model(
    filepath: PathLike, custom_objects: dict[str, type] | None = None
) -> tuple[Network, TrainerCheckpoint | None]:
    """Rebuild the model saved at ``filepath``: same classes, names, configuration, weights,
    trainable flags and metadata (so identical predictions); for a trainer checkpoint also the
    layers' random streams, and the trainer part as a :class:`TrainerCheckpoint` (else None).
    :func:`rnnkit.load_model` and :meth:`rnnkit.training.Trainer.load` build on this.

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: truncated/corrupted file, another format version, an object array, or
            a config that does not match the arrays or the rebuilt model.
    """
    path = os.fspath(filepath)
    config, arrays = read_model_file(path)
    model = _rebuild_model(path, config, arrays, dict(custom_objects or {}))
    metadata = config.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ModelFileError(
            f"{path}: the model metadata must be a JSON object, got {type(metadata).__name__}"
        )
    model.metadata = dict(metadata)
    if not config.get("trainer"):
        return model, None
    try:
        return model, _read_checkpoint(path, model, config["trainer"], arrays)
    except ModelFileError:
        raise
    except Exception as exc:  # a malformed trainer entry, whatever it trips over
        raise ModelFileError(
            f"{path}: cannot restore the trainer checkpoint: {type(exc).__name__}: {exc}"
        ) from exc


# The module of the built-in model classes, for files that do not name their class's module.
_BUILT_IN_MODELS = "rnnkit.models"


def _registered_model_class(spec: dict[str, Any]) -> type[Network]:
    """The model class a file names. Classes register themselves when their module runs; a
    file records that module, and one of rnnkit's own is imported here when needed, so that
    a Sequential loads without ``rnnkit.models`` imported first (this module sits below the
    models it reads, so it cannot import them itself). No other module is ever imported
    because a file says so: custom classes must be defined before loading (or passed in
    ``custom_objects``)."""
    module = spec.get("module", _BUILT_IN_MODELS)
    if isinstance(module, str) and module.partition(".")[0] == __package__:
        importlib.import_module(module)
    return get_model_class(spec["class_name"])


def _rebuild_model(
    path: str, config: dict[str, Any], arrays: dict[str, np.ndarray], custom_objects: dict
) -> Network:
    """The model a file's config describes, with the file's weights and trainable flags."""
    try:
        model_spec = config["model"]
        saved_layers = config["layers"]
        class_name = model_spec["class_name"]
        model_config = model_spec.get("config", {})
    except (KeyError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"{path}: the model config lacks {exc}") from exc
    try:
        cls = custom_objects.get(class_name) or _registered_model_class(model_spec)
    except (ValueError, TypeError, ImportError) as exc:
        raise ModelFileError(f"{path}: {exc}") from exc
    _check_before_building(path, cls, model_config, saved_layers, arrays)
    try:
        model = cls.from_config(model_config)
        if len(model.layers) != len(saved_layers):
            raise ModelFileError(
                f"{path}: the file describes {len(saved_layers)} layers, the "
                f"{class_name} rebuilt from its config has "
                f"{len(model.layers)}"
            )
        for layer, saved in zip(model.layers, saved_layers):
            _restore_layer(path, layer, saved, arrays)
            layer.trainable = bool(saved.get("trainable", True))
    except ModelFileError:
        raise
    except Exception as exc:  # MemoryError included: whatever a bad config trips over
        raise ModelFileError(
            f"{path}: cannot rebuild the {class_name} from its config: {type(exc).__name__}: {exc}"
        ) from exc
    return model


def _read_checkpoint(
    path: str, model: Network, spec: dict[str, Any], arrays: dict[str, np.ndarray]
) -> TrainerCheckpoint:
    """The trainer entry of a checkpoint, checked against ``model``; restores the layers'
    random streams on the way."""
    if not isinstance(spec, dict):
        raise ModelFileError(f"{path}: the trainer entry must be a JSON object")
    entries = spec.get("optimizer_state", [])
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("key"), str) for e in entries
    ):
        raise ModelFileError(f"{path}: malformed optimizer state entries")
    state = {
        e["key"]: array_entry(path, arrays, e, f"optimizer state {e['key']!r}") for e in entries
    }
    unknown = sorted(
        {key.partition("/")[2] for key in state if key != "iterations"} - set(model.params)
    )
    if unknown:
        raise ModelFileError(
            f"{path}: optimizer state for parameters the model does not have: {unknown[:5]}"
        )
    _restore_random_streams(path, model, spec.get("rng_states", {}))
    config = {k: v for k, v in spec.items() if k not in ("optimizer_state", "rng_states")}
    return TrainerCheckpoint(path, config, state)


def _restore_random_streams(path: str, model: Network, rng_states: Any) -> None:
    """Put saved bit-generator states back into the layers that draw random numbers."""
    if not isinstance(rng_states, dict):
        raise ModelFileError(
            f"{path}: rng_states must be a JSON object, got {type(rng_states).__name__}"
        )
    streams = _random_streams(model)
    for key, rng_state in rng_states.items():
        layer = streams.get(_current_path(str(key)))
        rng = None if layer is None else layer.rng
        if layer is None or rng is None:
            raise ModelFileError(
                f"{path}: random stream {key!r} names no layer of the model "
                f"that draws random numbers (those: {sorted(streams)})"
            )
        try:
            rng.bit_generator.state = rng_state
        except Exception as exc:
            raise ModelFileError(
                f"{path}: cannot restore the random stream of layer "
                f"{layer.name!r}: {type(exc).__name__}: {exc}"
            ) from exc
