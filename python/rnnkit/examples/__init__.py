"""Runnable examples: the classic vanilla-RNN set-ups, each trained on real or toy data.

Every example is a module with a default configuration, a ``SMALL`` one for tests,
``run(config=None, out_dir="examples/output", verbose=1, seed=0) -> dict`` (metrics and the
paths of the saved figures) and ``main(argv=None)`` for the command line::

    python -m rnnkit.examples.sine --quick          # or examples/01_sine_many_to_one.py
    from rnnkit import examples
    results = examples.get("digits").run(examples.get("digits").SMALL, out_dir="/tmp/out")

The registry below lists them all; modules are imported only when asked for, so an example
whose optional dependencies are missing breaks nothing else.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

# name -> (module, one-line description), in the order of the numbered scripts in examples/.
EXAMPLES: dict[str, tuple[str, str]] = {
    "sine": ("sine", "many-to-one: 3 steps of a sine wave predict the next value"),
    "sine_many_to_many": ("sine_many_to_many", "many-to-many: 3 steps in, the next 3 out"),
    "stacked": ("stacked", "two stacked SimpleRNN layers on a 5-step task"),
    "timeseries": ("timeseries", "real series (statsmodels): forecasts that beat the naive one"),
    "char_lm": ("char_lm", "character-level language model, sampling text"),
    "digits": ("digits", "many-to-one classification of 8x8 digits read row by row"),
    "captioning": ("captioning", "image captioning: features in, words out"),
    "seq2seq": ("seq2seq", "sequence-to-sequence encoder-decoder"),
    "vanishing_gradients": ("vanishing_gradients", "how gradients vanish over time steps"),
    "inspect_units": ("inspect_units", "what individual hidden units respond to"),
}

__all__ = ["EXAMPLES", "get", "names", "run"]


def names() -> list[str]:
    """The names of all examples."""
    return list(EXAMPLES)


def get(name: str) -> ModuleType:
    """The module of example ``name`` (imported now). KeyError lists the known names."""
    try:
        module, _ = EXAMPLES[name]
    except KeyError:
        raise KeyError(f"unknown example {name!r}; known: {', '.join(EXAMPLES)}") from None
    return importlib.import_module(f"{__name__}.{module}")


def run(name: str, **kwargs: Any) -> dict[str, Any]:
    """Run example ``name``: ``get(name).run(**kwargs)``."""
    return get(name).run(**kwargs)
