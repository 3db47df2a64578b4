"""What the converters of :mod:`rnnkit.interop` share: importing the optional framework they
convert to or from, the dtypes rnnkit computes in, and the error that refuses a layer option."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only
    from ..layers.base import Layer

__all__ = ["FLOAT_DTYPES", "check_strict", "functional_chain", "import_optional", "refusal"]

#: The dtypes rnnkit's layers compute in.
FLOAT_DTYPES = ("float32", "float64")


def import_optional(module: str, hint: str) -> Any:
    """``import module``, or an ImportError whose message is ``hint`` (what to install): the
    frameworks are optional dependencies, imported only by the converter that needs them."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(hint) from error


def refusal(function: str, name: str, kind: str, why: str) -> ValueError:
    """The ValueError of a converter (``function``) that cannot express layer ``name`` (of class
    ``kind``) because of ``why`` (the option, its value and what the other side lacks)."""
    return ValueError(f"{function}: layer {name!r} ({kind}): {why}")


def check_strict(strict: Any, function: str) -> None:
    """A converter's ``strict`` flag must be a bool (a truthy string would silently be True)."""
    if not isinstance(strict, bool):
        raise TypeError(f"{function}: strict must be True or False, got {strict!r}")


def functional_chain(model: Any, function: str) -> list[Layer]:
    """The layers of an rnnkit functional model that is one chain: one input, each layer called
    once on the output of the one before, the last call's outputs the model's (all of them:
    ``[output, *states]`` with ``return_state``). ValueError naming ``function`` otherwise."""
    nodes = [node for node in model.nodes if not node.layer.is_input_layer]
    previous = model.inputs[0] if len(model.inputs) == 1 else None
    for node in nodes:
        inputs = node.input_list
        if previous is None or len(inputs) != 1 or inputs[0] is not previous or node.initial_state:
            raise ValueError(
                f"{function}: model {model.name!r} is not a chain of layers from one input (at "
                f"layer {node.layer.name!r})"
            )
        previous = node.outputs[0] if len(node.outputs) == 1 else None
    if not nodes or [id(t) for t in model.outputs] != [id(t) for t in nodes[-1].outputs]:
        raise ValueError(f"{function}: model {model.name!r} is not a chain to one output")
    layers = [node.layer for node in nodes]
    if len({id(layer) for layer in layers}) != len(layers):
        raise ValueError(f"{function}: model {model.name!r} calls a layer twice (shared weights)")
    return layers
