"""Per-call caches for a layer called at several places of a functional graph.

A layer keeps what its ``backward`` needs in its own attributes (``Dense._x2``,
``RecurrentLayer._cache``, ``Embedding._ids``, dropout masks...), so a second ``forward``
overwrites the first's. Every layer does so by *rebinding* attributes in ``forward`` (it makes
new arrays; it does not write into old ones), so the attributes a ``forward`` rebinds are its
call's cache. :func:`capture` records them after a forward (for the layer and, through
:meth:`~rnnkit.layers.Layer.sublayers`, the layers it wraps); :func:`restore` puts a recorded
call back before that call's ``backward``. This needs nothing from the layers, so custom layers
can be shared too, as long as their ``forward`` rebinds (``self._x = x``) rather than writes into
a buffer kept from an earlier call (``self._x[...] = x``).
"""

from __future__ import annotations

from typing import Any

from ..layers.base import Layer, walk_layers

__all__ = ["CallCache", "capture", "restore", "snapshot"]

# One dict of attributes per layer of the call (the layer, then the layers it wraps).
CallCache = list[tuple[Layer, dict[str, Any]]]
# What each layer's attributes were bound to before the call: name -> object.
Snapshot = list[tuple[Layer, dict[str, Any]]]


def snapshot(layer: Layer) -> Snapshot:
    """The attribute bindings of ``layer`` and its wrapped layers, before a forward."""
    return [(each, dict(vars(each))) for each in walk_layers([layer])]


def capture(before: Snapshot) -> CallCache:
    """The attributes the forward since :func:`snapshot` rebound (or added), per layer."""
    cache: CallCache = []
    for layer, old in before:
        changed = {
            key: value
            for key, value in vars(layer).items()
            if key not in old or old[key] is not value
        }
        cache.append((layer, changed))
    return cache


def restore(cache: CallCache) -> None:
    """Bind the attributes of a captured call again (before that call's backward)."""
    for layer, changed in cache:
        for key, value in changed.items():
            object.__setattr__(layer, key, value)
