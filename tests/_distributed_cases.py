"""The runs tests/test_distributed.py compares: each builds its model and data from fixed seeds
(float64) and trains with a given Trainer class, so the same function runs in one process
(the reference, :class:`~rnnkit.training.Trainer`) and under mpiexec
(:class:`~rnnkit.distributed.DistributedTrainer`, in tests/_distributed_script.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rnnkit.layers import GRU, LSTM, Dense, Dropout, Embedding, SimpleRNN, TimeDistributed
from rnnkit.models import Sequential
from rnnkit.optimizers import SGD

F64 = "float64"


def _fit_many_to_one(trainer_class: type, **extra: Any) -> tuple[Any, Any]:
    """LSTM many-to-one, 23 samples in batches of 8 (the last 7: uneven shares), shuffled,
    per-sample weights, global-norm clipping that bites, validation, a metric."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((23, 5, 3))
    y = np.stack([x[:, :, 0].sum(axis=1), x[:, -1, 1]], axis=1)
    w = rng.uniform(0.5, 2.0, 23)
    xv, yv = rng.standard_normal((9, 5, 3)), rng.standard_normal((9, 2))
    model = Sequential(
        [LSTM(6, input_shape=(5, 3), seed=2, dtype=F64), Dense(2, seed=3, dtype=F64)]
    )
    trainer = trainer_class(
        model, "mse", SGD(learning_rate=0.3, momentum=0.5), metrics=["mae"], clip_norm=0.5, **extra
    )
    history = trainer.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        seed=5,
        sample_weight=w,
        validation_data=(xv, yv),
        validation_batch_size=4,
        verbose=0,
    )
    return trainer, history


def _fit_lengths(trainer_class: type, **extra: Any) -> tuple[Any, Any]:
    """GRU many-to-many with ``lengths`` (padded steps), per-step sample weights, sparse
    cross-entropy and accuracy: the loss is a mean over valid steps."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((13, 7, 2))
    lengths = rng.integers(1, 8, 13)
    y = rng.integers(0, 3, (13, 7))
    w = rng.uniform(0.2, 1.5, (13, 7))
    model = Sequential(
        [
            GRU(5, input_shape=(7, 2), return_sequences=True, seed=4, dtype=F64),
            Dense(3, seed=5, dtype=F64),
        ]
    )
    trainer = trainer_class(
        model, "sparse_categorical_crossentropy", "sgd", metrics=["accuracy"], **extra
    )
    history = trainer.fit(
        x,
        y,
        batch_size=5,
        epochs=2,
        seed=6,
        lengths=lengths,
        sample_weight=w,
        verbose=0,
        validation_data=(x[:6], y[:6]),
        validation_lengths=lengths[:6],
    )
    return trainer, history


def _fit_mask_zero(trainer_class: type, **extra: Any) -> tuple[Any, Any]:
    """Embedding(mask_zero=True): the model's own step mask (padding anywhere), no shuffle."""
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 6, (11, 6))
    y = rng.standard_normal((11, 6, 1))
    model = Sequential(
        [
            Embedding(6, 4, mask_zero=True, seed=6, dtype=F64),
            SimpleRNN(5, return_sequences=True, seed=7, dtype=F64),
            Dense(1, seed=8, dtype=F64),
        ]
    )
    trainer = trainer_class(model, "mse", "rmsprop", **extra)
    history = trainer.fit(ids, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    return trainer, history


def _fit_stream(trainer_class: type, **extra: Any) -> tuple[Any, Any]:
    """A char-LM on a token stream: 5 streams (uneven shares), TBPTT(4, 6), dropout,
    validation."""
    rng = np.random.default_rng(4)
    ids = rng.integers(0, 7, 160)
    model = Sequential(
        [
            Embedding(7, 4, seed=9, dtype=F64),
            LSTM(6, return_sequences=True, seed=10, dtype=F64),
            Dropout(0.2, seed=16, dtype=F64),  # masks over the streams each rank carries
            Dense(7, seed=11, dtype=F64),
        ]
    )
    trainer = trainer_class(
        model, "sparse_categorical_crossentropy", "adam", metrics=["perplexity"], **extra
    )
    history = trainer.fit_stream(
        ids[:130], batch_size=5, bptt=(4, 6), epochs=2, verbose=0, validation_sequence=ids[130:]
    )
    return trainer, history


def _fit_dropout(trainer_class: type, **extra: Any) -> tuple[Any, Any]:
    """Every random mask rnnkit draws in training (a GRU's input and recurrent dropout, a
    Dropout layer, a Dropout inside TimeDistributed, which flattens time into the batch axis):
    each rank's rows of the masks one process draws, 10 samples in batches of 4 (shares of 1
    and 2 under 3 ranks)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((10, 6, 3))
    y = rng.standard_normal((10, 6, 2))
    model = Sequential(
        [
            GRU(5, input_shape=(6, 3), return_sequences=True, dropout=0.3,
                recurrent_dropout=0.4, seed=12, dtype=F64),
            Dropout(0.25, seed=13, dtype=F64),
            TimeDistributed(Dropout(0.2, seed=14, dtype=F64)),
            Dense(2, seed=15, dtype=F64),
        ]
    )  # fmt: skip
    trainer = trainer_class(model, "mse", "adam", **extra)
    history = trainer.fit(x, y, batch_size=4, epochs=2, seed=8, verbose=0)
    return trainer, history


def _fit_tbptt(trainer_class: type, **extra: Any) -> tuple[Any, Any]:
    """SimpleRNN many-to-many in TBPTT windows of 3 steps (the last window 2): one update
    per window, the state carried between them, 7 samples in batches of 4."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 8, 2))
    y = np.cumsum(x[:, :, :1], axis=1)
    model = Sequential(
        [
            SimpleRNN(4, input_shape=(8, 2), return_sequences=True, seed=12, dtype=F64),
            Dense(1, seed=13, dtype=F64),
        ]
    )
    trainer = trainer_class(model, "mse", "adam", clip_value=0.5, **extra)
    history = trainer.fit(x, y, batch_size=4, epochs=2, seed=7, tbptt=3, verbose=0)
    return trainer, history


CASES: dict[str, Callable[..., tuple[Any, Any]]] = {
    "fit": _fit_many_to_one,
    "tbptt": _fit_tbptt,
    "lengths": _fit_lengths,
    "mask_zero": _fit_mask_zero,
    "stream": _fit_stream,
    "dropout": _fit_dropout,
}


def outcome(trainer: Any, history: Any) -> dict[str, np.ndarray]:
    """What a run is compared by: its final weights (by position: layer names count the
    layers built so far in the process) and its history, as arrays."""
    found = {f"w:{i}": np.array(value) for i, value in enumerate(trainer.model.params.values())}
    found.update({f"h:{key}": np.array(values) for key, values in history.history.items()})
    return found
