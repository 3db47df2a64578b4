"""The model-file container: one ``.npz`` (a zip of ``.npy`` arrays) holding a JSON header and
numeric arrays, written atomically and read without ever unpickling. What the header says about
a model is :mod:`rnnkit.saving`'s business; this module only guarantees the container.

* :func:`write_model_file`: the header as UTF-8 JSON bytes in the ``__rnnkit__`` entry, plus the
  arrays, through :func:`atomic_savez` (:func:`rnnkit._atomic_file.atomic_write`: a temporary
  file in the same directory, flushed and fsynced, then ``os.replace``), so an interrupted save
  leaves any previous file intact, and the next save to the same path removes the temporary
  file that a killed one left.
* :func:`read_model_file`: ``np.load(..., allow_pickle=False)`` (a file with an object array is
  refused); a truncated, corrupted or foreign file, or another format version, raises
  :class:`ModelFileError` naming the path and the problem.
* :func:`array_entry`: an array the header names, checked against its recorded shape and dtype.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from typing import Any

import numpy as np

from ._atomic_file import atomic_write

__all__ = [
    "CONFIG_KEY",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelFileError",
    "array_entry",
    "atomic_savez",
    "read_model_file",
    "weight_entries",
    "write_model_file",
]

FORMAT_VERSION = 1
CONFIG_KEY = "__rnnkit__"
FORMAT_NAME = "rnnkit.model"


class ModelFileError(ValueError):
    """A model file is truncated, corrupted, of another format version, or does not match the
    model its config describes. The message names the path and the problem."""


def _json_default(value: Any) -> Any:
    """numpy scalars/arrays and tuples that may hide in layer configs."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(
        f"config value {value!r} of type {type(value).__name__} is not JSON-serialisable"
    )


def atomic_savez(path: str, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` to ``path`` atomically (:func:`rnnkit._atomic_file.atomic_write`): on any
    failure an existing ``path`` is left untouched and no temporary file remains."""
    atomic_write(path, lambda f: np.savez(f, allow_pickle=False, **arrays))  # never pickles


def write_model_file(path: str, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write ``header`` (JSON; NumPy scalars and arrays in it become numbers and lists) and
    ``arrays`` to ``path`` atomically."""
    text = json.dumps(header, default=_json_default)
    entries = {**arrays, CONFIG_KEY: np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}
    atomic_savez(path, entries)


def read_model_file(path: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON header and the arrays of the model file at ``path`` (format and version
    checked); every low-level failure becomes a ModelFileError naming the path."""
    # Open the file ourselves: np.load leaks its own handle when the archive is unreadable.
    with open(path, "rb") as f:
        try:
            loaded = np.load(f, allow_pickle=False)
        except (
            ValueError,
            OSError,
            EOFError,
            zipfile.BadZipFile,
            NotImplementedError,
            RuntimeError,
            MemoryError,
            OverflowError,
            UnicodeError,
            zlib.error,
        ) as exc:
            # NotImplementedError: zipfile's "zip file version" / unsupported compression;
            # RuntimeError: an encrypted member; MemoryError: a header claiming a huge size.
            raise ModelFileError(
                f"{path}: not a readable rnnkit model file (expected an .npz "
                f"archive): {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ModelFileError(f"{path}: holds a single .npy array, not an rnnkit model (.npz)")
        with loaded as npz:
            if CONFIG_KEY not in npz.files:
                raise ModelFileError(
                    f"{path}: not an rnnkit model file (no {CONFIG_KEY!r} "
                    f"entry; entries: {npz.files[:8]})"
                )
            try:
                arrays = {name: npz[name] for name in npz.files}
            except ValueError as exc:
                if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                    raise ModelFileError(
                        f"{path}: contains an object array (pickled data), "
                        "which rnnkit refuses to load: model files hold "
                        "numeric arrays only"
                    ) from exc
                raise ModelFileError(f"{path}: corrupted array data: {exc}") from exc
            except (
                OSError,
                EOFError,
                zipfile.BadZipFile,
                zlib.error,
                KeyError,
                NotImplementedError,
                RuntimeError,
                MemoryError,
                OverflowError,
                TypeError,
                UnicodeError,
            ) as exc:
                # NotImplementedError: zipfile's "zip file version" / "compression method is
                # not supported"; RuntimeError: an encrypted member; MemoryError: an array
                # header claiming more data than there is.
                raise ModelFileError(
                    f"{path}: truncated or corrupted archive: {type(exc).__name__}: {exc}"
                ) from exc
    raw = arrays.pop(CONFIG_KEY)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(
            f"{path}: the {CONFIG_KEY!r} entry must be 1-D uint8 JSON bytes, "
            f"got dtype {raw.dtype} and shape {raw.shape}"
        )
    try:
        config = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: the model config is not valid JSON ({exc})") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise ModelFileError(
            f"{path}: not an rnnkit model config (format "
            f"{config.get('format') if isinstance(config, dict) else None!r})"
        )
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise ModelFileError(
            f"{path}: format_version {version!r} is not supported (this rnnkit reads "
            f"{FORMAT_VERSION})" + ("; it was written by a newer rnnkit: upgrade" if newer else "")
        )
    return config, arrays


def weight_entries(params: dict[str, np.ndarray], arrays: dict[str, np.ndarray]) -> list[dict]:
    """Store a layer's ``params`` in ``arrays`` (named ``w0``, ``w1``, ... in file order) and
    return the header entries that name them (``{"key", "array", "shape", "dtype"}``), which
    :func:`array_entry` reads back."""
    entries = []
    for key, value in params.items():
        name = f"w{len(arrays)}"
        arrays[name] = np.ascontiguousarray(value)
        entries.append(
            {"key": key, "array": name, "shape": list(value.shape), "dtype": value.dtype.name}
        )
    return entries


def array_entry(
    path: str, arrays: dict[str, np.ndarray], entry: dict[str, Any], what: str
) -> np.ndarray:
    """The array an entry of the header names (``{"array", "shape", "dtype"}``), checked
    against the recorded shape and dtype; ``what`` names it in errors."""
    try:
        name, shape, dtype = entry["array"], tuple(entry["shape"]), entry["dtype"]
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: malformed entry for {what}: {entry!r}") from exc
    if name not in arrays:
        raise ModelFileError(f"{path}: array {name!r} for {what} is missing from the file")
    value = arrays[name]
    if value.shape != shape or value.dtype.name != dtype:
        raise ModelFileError(
            f"{path}: array {name!r} for {what} has shape {value.shape} and "
            f"dtype {value.dtype}, the config says {shape} and {dtype}"
        )
    return value
