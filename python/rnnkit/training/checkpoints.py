"""Rebuilding a trainer from a checkpoint file: the constructor arguments its config names, then
the progress (epoch count, optimizer state). Writing is :func:`rnnkit.saving.save_model`'s job;
reading the file is :func:`rnnkit.saving.read_model`'s."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..saving import ModelFileError, TrainerCheckpoint

if TYPE_CHECKING:  # annotations only
    from .trainer import Trainer

__all__ = ["file_errors", "restore_progress", "trainer_arguments"]


@contextlib.contextmanager
def file_errors(checkpoint: TrainerCheckpoint) -> Iterator[None]:
    """Turn whatever building a trainer from ``checkpoint`` trips over into a ModelFileError
    naming the file (an unknown loss, optimizer or metric; a malformed entry)."""
    try:
        yield
    except ModelFileError:
        raise
    except (ValueError, TypeError) as exc:
        raise ModelFileError(
            f"{checkpoint.path}: cannot rebuild the trainer from its config: {exc}"
        ) from exc
    except Exception as exc:
        raise ModelFileError(
            f"{checkpoint.path}: cannot restore the trainer checkpoint: {type(exc).__name__}: {exc}"
        ) from exc


def trainer_arguments(checkpoint: TrainerCheckpoint) -> dict[str, Any]:
    """The Trainer constructor's arguments (but the model) a checkpoint's config names."""
    spec = checkpoint.config
    try:
        return {
            "loss": spec["loss"],
            "optimizer": spec["optimizer"],
            "metrics": spec.get("metrics", ()),
            "clip_norm": spec.get("clip_norm"),
            "clip_value": spec.get("clip_value"),
        }
    except (KeyError, TypeError) as exc:
        raise ModelFileError(
            f"{checkpoint.path}: cannot rebuild the trainer from its config: {exc}"
        ) from exc


def restore_progress(trainer: Trainer, checkpoint: TrainerCheckpoint) -> None:
    """The epoch count and the optimizer state of ``checkpoint`` into ``trainer`` (ModelFileError
    naming the file when they do not fit)."""
    try:
        trainer.epoch = int(checkpoint.config.get("epoch", 0))
    except (ValueError, TypeError) as exc:
        raise ModelFileError(
            f"{checkpoint.path}: cannot rebuild the trainer from its config: {exc}"
        ) from exc
    try:
        trainer.optimizer.set_state(checkpoint.optimizer_state)
    except ValueError as exc:
        raise ModelFileError(
            f"{checkpoint.path}: optimizer state does not fit the optimizer: {exc}"
        ) from exc
