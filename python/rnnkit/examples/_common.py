"""What every example shares: configuration handling, the command line, seeding and timing.

Kept apart so each example module holds only its own model and data.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:  # the protocol of dataclass instances exists for type checkers only
    from _typeshed import DataclassInstance

C = TypeVar("C", bound="DataclassInstance")  # the examples' Config dataclasses

__all__ = [
    "Stopwatch",
    "figure_path",
    "parse_and_run",
    "parse_config",
    "print_paths",
    "resolve_config",
    "rmse",
]


def resolve_config(default: C, config: C | Mapping[str, Any] | None) -> C:
    """``config`` as a config object: None gives ``default``, a dict overrides some of
    ``default``'s fields (unknown keys are an error), a config object is used as is."""
    if config is None:
        return default
    if isinstance(config, Mapping):
        return dataclasses.replace(default, **config)  # TypeError names an unknown field
    if not isinstance(config, type(default)):
        raise TypeError(
            f"config must be a {type(default).__name__} or a dict, got {type(config).__name__}"
        )
    return config


def parse_config(
    argv: Sequence[str] | None,
    description: str,
    default: C,
    small: C,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> tuple[C, argparse.Namespace]:
    """Parse the examples' common options and return ``(config, args)``.

    ``--quick`` starts from the ``small`` config (what the tests run), ``--epochs`` overrides
    the number of epochs; ``args`` carries ``out_dir``, ``seed`` and ``verbose``. ``extra``
    may add example-specific options to the parser.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--out-dir", default="examples/output", help="folder for the figures (created if needed)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="the small configuration the tests use (a few seconds)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, data and shuffling")
    parser.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    parser.add_argument(
        "--verbose",
        type=int,
        default=0,
        choices=(0, 1, 2),
        help="training progress: 0 none, 1 bar, 2 a line per epoch",
    )
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    config = small if args.quick else default
    if args.epochs is not None:
        config = dataclasses.replace(config, epochs=args.epochs)
    return config, args


def parse_and_run(
    argv: Sequence[str] | None,
    doc: str,
    default: C,
    small: C,
    run: Callable[..., dict[str, Any]],
) -> tuple[C, dict[str, Any]]:
    """The command line of an example with only the common options: parse them (see
    :func:`parse_config`; the description is ``doc``'s first line), call ``run`` with them and
    return ``(config, results)`` for the example's own report."""
    config, args = parse_config(argv, doc.splitlines()[0], default, small)
    return config, run(config, out_dir=args.out_dir, verbose=args.verbose, seed=args.seed)


def print_paths(paths: Mapping[str, Any], kind: str = "figure") -> None:
    """The last lines of an example's report: ``  <kind> (<name>): <path>`` per saved file."""
    for name, path in paths.items():
        print(f"  {kind} ({name}): {path}")


def figure_path(out_dir: str | Path, filename: str) -> Path:
    """``out_dir / filename``, creating ``out_dir``."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / filename


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    """Root mean squared difference of two arrays of one shape."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return float(np.sqrt(np.mean((a - b) ** 2)))


class Stopwatch:
    """Wall-clock seconds since creation (``elapsed``), for the examples' reported run times."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
