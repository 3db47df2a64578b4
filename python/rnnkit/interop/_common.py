"""What the converters of :mod:`rnnkit.interop` share: importing the optional framework they
convert to or from, the dtypes rnnkit computes in, and the error that refuses a layer option."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["FLOAT_DTYPES", "check_strict", "import_optional", "refusal"]

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
