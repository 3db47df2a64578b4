"""What both directions of the Keras converter share: importing Keras 3, the layer classes that
map one to one, and the initialiser and option names that travel between the two."""

from __future__ import annotations

from typing import Any

from ..layers import (
    GRU,
    LSTM,
    Activation,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Masking,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
)
from ..layers.base import Layer
from ._common import import_optional

__all__ = ["CLASSES", "INITIALIZERS", "INSTALL_HINT", "SUPPORTED", "keras_module"]

INSTALL_HINT = (
    "rnnkit.interop's Keras functions need Keras 3 and a backend: "
    'pip install "rnnkit[keras]" (or pip install keras jax)'
)
# Keras class name -> rnnkit class: the same name, the same weights, the same config keys.
CLASSES: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (
        SimpleRNN,
        LSTM,
        GRU,
        Dense,
        Embedding,
        Dropout,
        Activation,
        Masking,
        RepeatVector,
        TimeDistributed,
        Bidirectional,
    )
}
SUPPORTED = ", ".join(CLASSES) + " (and Input)"
INITIALIZERS = (
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "embeddings_initializer",
)


def keras_module() -> Any:
    """The ``keras`` module (Keras 3), or an ImportError saying how to install it."""
    keras = import_optional("keras", INSTALL_HINT)
    major = str(keras.__version__).split(".")[0]
    if major != "3":
        raise ImportError(
            f"rnnkit.interop's Keras functions need Keras 3, found {keras.__version__}: "
            'pip install "rnnkit[keras]"'
        )
    return keras
