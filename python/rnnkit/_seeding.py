"""The one source of default seeds: what rnnkit draws from when no explicit seed is given.

Layers built with ``seed=None`` (their initial weights, their dropout masks) and anything else
that draws at random without a seed of its own ask :func:`next_seed` for one. After
:func:`set_random_seed` those seeds come from one generator seeded there, so a program is
reproducible from its first line (Keras's ``keras.utils.set_random_seed``); before it, or after
``set_random_seed(None)``, they come from fresh OS entropy every time.

It sits below every other module (it imports nothing of rnnkit's), so layers and the training
loop can share it without importing each other.
"""

from __future__ import annotations

import numpy as np

__all__ = ["make_rng", "next_seed", "set_random_seed"]

# The generator default seeds are drawn from once set_random_seed(seed) was called; None means
# OS entropy for every default seed.
_default_seeds: np.random.Generator | None = None


def set_random_seed(seed: int | None) -> None:
    """Draw every default seed from now on from one generator seeded with ``seed`` (None: go
    back to fresh OS entropy for each)."""
    global _default_seeds
    _default_seeds = None if seed is None else np.random.default_rng(seed)


def next_seed(seed: int | None = None) -> int | None:
    """``seed`` itself when given; else the next seed of :func:`set_random_seed`'s generator,
    or None (OS entropy) when none is set."""
    if seed is None and _default_seeds is not None:
        return int(_default_seeds.integers(2**63))
    return seed


def make_rng(seed: int | None) -> np.random.Generator:
    """A generator for ``seed``: an explicit seed always gives the same stream; None takes
    :func:`next_seed`."""
    return np.random.default_rng(next_seed(seed))
