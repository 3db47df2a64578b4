"""Name tables behind ``get``/``serialize`` of the initializers, losses, metrics and optimizers.

Each of those modules resolves an identifier the same way: an instance of its base class is
used as is, a ``{"class_name", "config"}`` dict rebuilds an object, and a (Keras) name or class
name makes a fresh default object. :class:`Registry` holds that logic once, so the four public
``get`` functions only add what is particular to their family. :class:`Configurable` is the
``get_config``/repr pair their base classes share.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["Configurable", "Registry", "class_and_config"]


class Configurable:
    """Base of objects described by their constructor arguments: :meth:`get_config` lists
    them and the repr shows them, ``Name(arg=value, ...)``."""

    def get_config(self) -> dict[str, Any]:
        """JSON-able constructor arguments (none by default)."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def class_and_config(obj: Any) -> dict[str, Any]:
    """``{"class_name": ..., "config": obj.get_config()}``, the JSON form ``get`` accepts back."""
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


class Registry:
    """Resolves identifiers of one family of objects (``kind``, e.g. ``"loss"``).

    Args:
        kind: the family's name in error messages.
        base: instances of this class are returned as they are.
        names: lower-case name -> class; names are matched case-insensitively.
        expected: what an identifier may be, for the TypeError (``"a name or a Loss"``).
        by_class_name: also accept the exact class names (``"MeanSquaredError"``) and
            ``{"class_name", "config"}`` dicts; False for families saved by name only.
    """

    def __init__(
        self,
        kind: str,
        base: type,
        names: Mapping[str, type],
        expected: str,
        by_class_name: bool = True,
    ) -> None:
        self.kind = kind
        self.base = base
        self.names = dict(names)
        self.expected = expected
        self.classes = {cls.__name__: cls for cls in self.names.values()} if by_class_name else {}

    def class_for_name(self, name: str) -> type:
        """The class of a name (case-insensitive) or, failing that, of an exact class name."""
        cls = self.names.get(name.lower()) or self.classes.get(name)
        if cls is None:
            raise ValueError(f"unknown {self.kind} {name!r}; known: {sorted(self.names)}")
        return cls

    def from_dict(self, spec: Mapping[str, Any]) -> Any:
        """A new object from ``{"class_name": ..., "config": {...}}``."""
        cls = self.classes.get(spec.get("class_name", ""))
        if cls is None:
            raise ValueError(
                f"unknown {self.kind} class {spec.get('class_name')!r}; "
                f"known: {sorted(self.classes)}"
            )
        return cls(**spec.get("config", {}))

    def get(self, identifier: Any) -> Any:
        """An instance as is, a new object from a dict (when class names are accepted) or a
        default one from a name; TypeError for anything else."""
        if isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, dict) and self.classes:
            return self.from_dict(identifier)
        if isinstance(identifier, str):
            return self.class_for_name(identifier)()
        raise TypeError(f"{self.kind} must be {self.expected}, got {type(identifier).__name__}")
