"""``model.save_weights`` / ``model.load_weights``: a model's weights alone, in rnnkit's model
container (:mod:`rnnkit._model_file`: one ``.npz`` with a JSON header, written atomically, read
without unpickling).

The file suffix is ``.weights.npz``, rnnkit's counterpart of Keras 3's ``.weights.h5`` (rnnkit
has no HDF5); Keras's suffix is refused with a message saying which one to use, so that no file
named ``.h5`` ever holds something that is not HDF5. Loading matches layers by position (as
Keras matches a model of the same architecture built again, whose layer names differ): each
layer's class, weight names and shapes must agree, or a ModelFileError names the layer and the
shapes. A whole-model file written by ``model.save`` loads too (it holds the same layer table).
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ._model_file import (
    FORMAT_NAME,
    FORMAT_VERSION,
    ModelFileError,
    array_entry,
    read_model_file,
    weight_entries,
    write_model_file,
)

if TYPE_CHECKING:  # annotations only
    from .network import Network

__all__ = ["WEIGHTS_SUFFIX", "check_weights_path", "load_weights", "save_weights"]

WEIGHTS_SUFFIX = ".weights.npz"


def check_weights_path(filepath: str | os.PathLike, what: str = "filepath") -> str:
    """``filepath`` as a string when it ends in ``.weights.npz``; ValueError naming ``what``
    otherwise (with a word on Keras's ``.weights.h5``)."""
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path, got {type(filepath).__name__}")
    path = os.fspath(filepath)
    if not path.endswith(WEIGHTS_SUFFIX):
        hint = (
            ": rnnkit writes no HDF5, its weights files are .npz archives"
            if path.endswith(".h5")
            else ""
        )
        raise ValueError(
            f"{what} must end in {WEIGHTS_SUFFIX!r} (rnnkit's counterpart of Keras's "
            f"'.weights.h5'), got {path!r}{hint}"
        )
    return path


def _unbuilt(model: Network, action: str) -> None:
    unbuilt = [layer.name for layer in model.layers if not layer.built]
    if not model.layers or unbuilt:
        raise ValueError(
            f"model {model.name!r} must be built to {action} its weights (unbuilt layers: "
            f"{unbuilt or 'no layers at all'}): give the first layer an input_shape, start "
            "with an Input, call build(), or call the model on data first"
        )


def save_weights(model: Network, filepath: str | os.PathLike, overwrite: bool = True) -> str:
    """Write the weights of every layer of ``model`` to ``filepath`` (``*.weights.npz``)
    atomically; FileExistsError when the file exists and ``overwrite`` is False (Keras asks on
    the terminal instead). Returns the path."""
    path = check_weights_path(filepath)
    _unbuilt(model, "save")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False")
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for layer in model.layers:
        entries = weight_entries(layer.params, arrays)
        layers.append({"name": layer.name, "class_name": type(layer).__name__, "weights": entries})
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "content": "weights",
        "model_class": type(model).__name__,
        "layers": layers,
    }
    write_model_file(path, header, arrays)
    return path


def _layer_table(path: str, header: dict[str, Any]) -> list[dict[str, Any]]:
    table = header.get("layers")
    if not isinstance(table, list) or not all(isinstance(entry, dict) for entry in table):
        raise ModelFileError(f"{path}: holds no table of layer weights")
    return table


def _matching_arrays(
    path: str, layer: Any, saved: dict[str, Any], arrays: dict[str, np.ndarray]
) -> list[np.ndarray]:
    """The file's arrays for ``layer`` in its key order; ModelFileError when the class, the
    weight names or a shape differ."""
    if saved.get("class_name") != type(layer).__name__:
        raise ModelFileError(
            f"{path}: layer {layer.name!r} is a {type(layer).__name__}, but the file holds "
            f"a {saved.get('class_name')} ({saved.get('name')!r}) at that position"
        )
    entries = saved.get("weights", [])
    keys = [entry.get("key") for entry in entries]
    if keys != list(layer.params):
        raise ModelFileError(
            f"{path}: layer {layer.name!r} has weights {list(layer.params)}, the file's "
            f"{saved.get('name')!r} has {keys}"
        )
    values = []
    for entry in entries:
        value = array_entry(path, arrays, entry, f"{saved.get('name')}/{entry['key']}")
        expected = layer.params[entry["key"]].shape
        if value.shape != expected:
            raise ModelFileError(
                f"{path}: weight {entry['key']!r} of layer {layer.name!r} has shape "
                f"{expected} in the model but {value.shape} in the file"
            )
        values.append(value)
    return values


def load_weights(model: Network, filepath: str | os.PathLike, skip_mismatch: bool = False) -> None:
    """Copy the weights saved at ``filepath`` into ``model``'s layers, in place, matching layers
    by position. Nothing is changed unless every layer matches; with ``skip_mismatch`` (Keras's
    argument) a layer that does not match is left as it is, with a warning.

    Raises:
        ValueError: the path does not end in ``.weights.npz`` or ``.npz``, or the model is
            not built.
        FileNotFoundError: no such file.
        ModelFileError: a foreign or damaged file, another number of layers, or a layer whose
            class, weight names or shapes differ (the message names it).
    """
    path = os.fspath(filepath)
    if not path.endswith(".npz"):
        check_weights_path(path)  # raises, naming the suffix to use
    _unbuilt(model, "load")
    header, arrays = read_model_file(path)
    table = _layer_table(path, header)
    if len(table) != len(model.layers):
        raise ModelFileError(
            f"{path}: holds weights for {len(table)} layers, model {model.name!r} has "
            f"{len(model.layers)}"
        )
    planned = []
    for layer, saved in zip(model.layers, table):
        try:
            planned.append((layer, _matching_arrays(path, layer, saved, arrays)))
        except ModelFileError as exc:
            if not skip_mismatch:
                raise
            warnings.warn(f"skipping layer {layer.name!r}: {exc}", stacklevel=2)
    for layer, values in planned:  # only now: a mismatch found above leaves the model intact
        for param, value in zip(layer.params.values(), values):
            np.copyto(param, value, casting="same_kind")  # in place: optimizers hold these
