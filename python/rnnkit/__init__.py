"""rnnkit: fast vanilla (Elman) recurrent neural networks on the CPU.

C++ kernels (Eigen + OpenBLAS) for the forward and backward passes of whole sequences, under a
NumPy API. Start with :mod:`rnnkit.ops` (functional kernels) and :mod:`rnnkit.reference` (the
same maths in plain NumPy, one step at a time).

The Keras-familiar API lives in submodules loaded on first use (so ``import rnnkit`` stays
fast): :mod:`rnnkit.layers`, :mod:`rnnkit.models` (``Sequential``, ``Model``, ``load_model``),
:mod:`rnnkit.losses`, :mod:`rnnkit.optimizers`, :mod:`rnnkit.metrics`, :mod:`rnnkit.callbacks`,
:mod:`rnnkit.training` (``Trainer``), :mod:`rnnkit.saving` (the ``.npz`` model format),
:mod:`rnnkit.utils` (``pad_sequences``, ``to_categorical``, ``set_random_seed``) and
:mod:`rnnkit.inspection` (what single hidden units respond to).

Keras's top-level spellings work too, so ``import rnnkit as keras`` reads naturally:
``keras.Sequential``, ``keras.Model``, ``keras.Input``, ``keras.layers.SimpleRNN``,
``keras.optimizers.Adam``, ``keras.utils.pad_sequences``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import gradcheck, ops, reference
from .threads import build_info, get_num_threads, set_num_threads

# The one place the version is written: pyproject.toml reads it from here (scikit-build-core's
# regex metadata provider), and saved models record it.
__version__ = "0.1.0"

# Loaded lazily by __getattr__ (PEP 562): name -> (submodule, attribute or None for the module).
_LAZY = {
    "activations": ("activations", None),
    "callbacks": ("callbacks", None),
    "initializers": ("initializers", None),
    "layers": ("layers", None),
    "losses": ("losses", None),
    "metrics": ("metrics", None),
    "models": ("models", None),
    "optimizers": ("optimizers", None),
    "network": ("network", None),
    "training": ("training", None),
    "Trainer": ("training", "Trainer"),
    "load_model": ("models", "load_model"),
    # Keras's top-level names (keras.Sequential, keras.Model, keras.Input, keras.utils).
    "Sequential": ("models", "Sequential"),
    "Model": ("models", "Model"),
    "Input": ("layers", "Input"),
    "utils": ("utils", None),
    "text": ("text", None),
    "generate": ("text", "generate"),
    "inspection": ("inspection", None),
    "saving": ("saving", None),
    "interop": ("interop", None),  # torch and keras load only when a converter is called
}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time these load on first access
    from . import (
        activations,
        callbacks,
        initializers,
        inspection,
        interop,
        layers,
        losses,
        metrics,
        models,
        network,
        optimizers,
        saving,
        text,
        training,
        utils,
    )
    from .layers import Input
    from .models import Model, Sequential, load_model
    from .text import generate
    from .training import Trainer


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    module = importlib.import_module(f".{module_name}", __name__)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Input",
    "Model",
    "Sequential",
    "Trainer",
    "__version__",
    "build_info",
    "callbacks",
    "generate",
    "get_num_threads",
    "gradcheck",
    "layers",
    "load_model",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "reference",
    "set_num_threads",
    "utils",
]
