"""The shard-mode runs tests/test_distributed.py compares (``DistributedTrainer(...,
data="sharded")``). Each case builds rank ``r``'s own shard of ``size`` ranks from fixed seeds
(float64, shards of different sizes), and has two sides:

* ``sharded(trainer_class, rank, size)``: what every rank runs under mpiexec
  (tests/_distributed_script.py), on its own shard;
* ``reference(size)``: one process's :class:`~rnnkit.training.Trainer` on all the shards
  arranged as the global batches are formed, computed here independently of rnnkit's
  scheduler: rank ``r`` gives ``b_r`` rows of each batch of ``batch_size`` (``batch_size //
  size``, the first ``batch_size % size`` ranks one more), update ``k`` is rank 0's rows
  ``[k b_0, (k+1) b_0)`` then rank 1's and so on, for ``max_r ceil(n_r / b_r)`` updates; with
  shuffling rank ``r`` takes its rows in the order ``default_rng([seed, epoch, r])``.

Both return ``(trainer, {name: array})`` with the final weights and the logged figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from _distributed_cases import outcome
from rnnkit.layers import GRU, LSTM, Dense, Dropout, Embedding, SimpleRNN
from rnnkit.models import Sequential
from rnnkit.optimizers import SGD, Adam
from rnnkit.training import Trainer

F64 = "float64"
Arrays = dict[str, np.ndarray]


def share_rows(batch_size: int, rank: int, size: int) -> int:
    """``b_r``: the rows of each global batch that ``rank`` takes from its shard."""
    base, extra = divmod(batch_size, size)
    return base + (rank < extra)


def arrange(shards: list[np.ndarray], batch_size: int, orders: list[Any] | None = None) -> list:
    """The global batches formed from every rank's shard (in ``orders[r]`` when given)."""
    size = len(shards)
    shares = [share_rows(batch_size, r, size) for r in range(size)]
    if orders is not None:
        shards = [shard[order] for shard, order in zip(shards, orders)]
    updates = max(-(-len(s) // b) for s, b in zip(shards, shares))
    return [
        np.concatenate([s[k * b : (k + 1) * b] for s, b in zip(shards, shares)])
        for k in range(updates)
    ]


def joined(shards: list[np.ndarray], batch_size: int, orders: list[Any] | None = None) -> Any:
    return np.concatenate(arrange(shards, batch_size, orders))


def figures(trainer: Any, history: Any, **extra: Any) -> tuple[Any, Arrays]:
    found = outcome(trainer, history)
    found.update({key: np.atleast_1d(np.asarray(value)) for key, value in extra.items()})
    return trainer, found


# -- ordered: no shuffling, shards of whole batches, weights, clipping, validation ----------
ORDERED_BATCH = 7


def _ordered_shard(rank: int, size: int) -> Arrays:
    b = share_rows(ORDERED_BATCH, rank, size)
    rng = np.random.default_rng([10, rank, size])
    x, xv = rng.standard_normal((3 * b, 5, 3)), rng.standard_normal((2 * b, 5, 3))
    return {
        "x": x,
        "y": np.stack([x[:, :, 0].sum(axis=1), x[:, -1, 1]], axis=1),
        "w": rng.uniform(0.5, 2.0, 3 * b),
        "xv": xv,
        "yv": rng.standard_normal((2 * b, 2)),
    }


def _ordered_trainer(trainer_class: type, **extra: Any) -> Any:
    model = Sequential(
        [LSTM(6, input_shape=(5, 3), seed=2, dtype=F64), Dense(2, seed=3, dtype=F64)]
    )
    return trainer_class(
        model, "mse", SGD(learning_rate=0.3, momentum=0.5), metrics=["mae"], clip_norm=0.5, **extra
    )


def _ordered_fit(trainer: Any, d: Arrays) -> Any:
    return trainer.fit(
        d["x"],
        d["y"],
        batch_size=ORDERED_BATCH,
        epochs=3,
        shuffle=False,
        sample_weight=d["w"],
        validation_data=(d["xv"], d["yv"]),
        verbose=0,
    )


def ordered_sharded(trainer_class: type, rank: int, size: int) -> tuple[Any, Arrays]:
    trainer = _ordered_trainer(trainer_class, data="sharded")
    return figures(trainer, _ordered_fit(trainer, _ordered_shard(rank, size)))


def ordered_reference(size: int) -> tuple[Any, Arrays]:
    shards = [_ordered_shard(r, size) for r in range(size)]
    d = {key: joined([s[key] for s in shards], ORDERED_BATCH) for key in shards[0]}
    trainer = _ordered_trainer(Trainer)
    return figures(trainer, _ordered_fit(trainer, d))


# -- seeded: each rank's own shuffled order, lengths, per-step weights, every dropout mask ---
SEEDED_BATCH, SEEDED_SEED, SEEDED_EPOCHS = 5, 6, 2


def _seeded_shard(rank: int, size: int) -> Arrays:
    b = share_rows(SEEDED_BATCH, rank, size)
    n = 2 * b + (rank == 0)  # rank 0 one sample more: a short last batch of one row
    rng = np.random.default_rng([20, rank, size])
    return {
        "x": rng.standard_normal((n, 7, 2)),
        "lengths": rng.integers(1, 8, n),
        "y": rng.integers(0, 3, (n, 7)),
        "w": rng.uniform(0.2, 1.5, (n, 7)),
        "xv": rng.standard_normal((b, 7, 2)),
        "yv": rng.integers(0, 3, (b, 7)),
        "lv": rng.integers(1, 8, b),
    }


def _seeded_trainer(trainer_class: type, **extra: Any) -> Any:
    model = Sequential(
        [
            GRU(5, input_shape=(7, 2), return_sequences=True, dropout=0.3,
                recurrent_dropout=0.4, seed=4, dtype=F64),
            Dropout(0.25, seed=13, dtype=F64),
            Dense(3, seed=5, dtype=F64),
        ]
    )  # fmt: skip
    return trainer_class(
        model, "sparse_categorical_crossentropy", "adam", metrics=["accuracy"], **extra
    )


def _seeded_fit(trainer: Any, d: Arrays, **run: Any) -> Any:
    return trainer.fit(
        d["x"],
        d["y"],
        batch_size=SEEDED_BATCH,
        lengths=d["lengths"],
        sample_weight=d["w"],
        validation_data=(d["xv"], d["yv"]),
        validation_lengths=d["lv"],
        verbose=0,
        **run,
    )


def seeded_sharded(trainer_class: type, rank: int, size: int) -> tuple[Any, Arrays]:
    trainer = _seeded_trainer(trainer_class, data="sharded")
    history = _seeded_fit(
        trainer, _seeded_shard(rank, size), epochs=SEEDED_EPOCHS, seed=SEEDED_SEED
    )
    return figures(trainer, history)


def seeded_reference(size: int) -> tuple[Any, Arrays]:
    shards = [_seeded_shard(r, size) for r in range(size)]
    trainer = _seeded_trainer(Trainer)
    logs: dict[str, list[float]] = {}
    for epoch in range(SEEDED_EPOCHS):  # one fit per epoch: each epoch's arrangement
        orders = [
            np.random.default_rng([SEEDED_SEED, epoch, r]).permutation(len(s["x"]))
            for r, s in enumerate(shards)
        ]
        d = {}
        for key in shards[0]:
            d[key] = joined(
                [s[key] for s in shards], SEEDED_BATCH, None if key[-1] == "v" else orders
            )
        history = _seeded_fit(trainer, d, epochs=epoch + 1, initial_epoch=epoch, shuffle=False)
        for key, values in history.history.items():
            logs.setdefault(key, []).extend(values)
    history.history = logs
    return figures(trainer, history)


# -- uneven: shards of 7, 2 and 5 samples; empty shares once a shard is used up -------------
UNEVEN_BATCH, UNEVEN_EPOCHS = 4, 2
UNEVEN_SIZES, UNEVEN_VALIDATION = (7, 2, 5), (3, 4, 1)


def _uneven_shard(rank: int, size: int) -> Arrays:
    rng = np.random.default_rng([30, rank, size])
    n, nv = UNEVEN_SIZES[rank], UNEVEN_VALIDATION[rank]
    x, xv = rng.standard_normal((n, 5, 2)), rng.standard_normal((nv, 5, 2))
    return {"x": x, "y": x.sum(axis=(1, 2))[:, None], "xv": xv, "yv": xv.sum(axis=(1, 2))[:, None]}


def _uneven_trainer(trainer_class: type, **extra: Any) -> Any:
    model = Sequential(
        [
            SimpleRNN(4, input_shape=(5, 2), seed=6, dtype=F64),
            Dense(1, seed=7, dtype=F64),
        ]
    )
    return trainer_class(model, "mse", "adam", metrics=["mae"], **extra)


def uneven_updates(size: int) -> int:
    """The updates of one epoch: until the largest shard, relative to its share, is used."""
    return max(-(-UNEVEN_SIZES[r] // share_rows(UNEVEN_BATCH, r, size)) for r in range(size))


def uneven_sharded(trainer_class: type, rank: int, size: int) -> tuple[Any, Arrays]:
    d = _uneven_shard(rank, size)
    trainer = _uneven_trainer(trainer_class, data="sharded")
    history = trainer.fit(
        d["x"], d["y"], batch_size=UNEVEN_BATCH, epochs=UNEVEN_EPOCHS, shuffle=False, verbose=0
    )
    updates = trainer.reducer.updates
    val = trainer.evaluate(d["xv"], d["yv"], batch_size=UNEVEN_BATCH)
    return figures(trainer, history, updates=updates, eval_loss=val["loss"], eval_mae=val["mae"])


class _Batches:
    """The arranged global batches as a Keras-style Sequence: one process's fit then forms
    exactly these batches, short ones included."""

    def __init__(self, xs: list[np.ndarray], ys: list[np.ndarray]) -> None:
        self.batches = list(zip(xs, ys))

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.batches[index]


def uneven_reference(size: int) -> tuple[Any, Arrays]:
    shards = [_uneven_shard(r, size) for r in range(size)]
    part = {key: arrange([s[key] for s in shards], UNEVEN_BATCH) for key in shards[0]}
    trainer = _uneven_trainer(Trainer)
    history = trainer.fit(
        _Batches(part["x"], part["y"]), None, epochs=UNEVEN_EPOCHS, shuffle=False, verbose=0
    )
    # evaluate's loss: the batch losses weighted by batch size; metrics over all samples.
    losses = [trainer.evaluate(xb, yb, batch_size=len(xb))["loss"] for xb, yb in
              zip(part["xv"], part["yv"])]  # fmt: skip
    sizes = [len(xb) for xb in part["xv"]]
    whole = trainer.evaluate(np.concatenate(part["xv"]), np.concatenate(part["yv"]))
    return figures(
        trainer,
        history,
        updates=UNEVEN_EPOCHS * len(part["x"]),
        eval_loss=float(np.dot(losses, sizes) / sum(sizes)),
        eval_mae=whole["mae"],
    )


# -- stream: each rank's own token sequence, of different lengths; TBPTT(4, 6), dropout ------
STREAMS = 5
STREAM_LENGTHS, STREAM_VALIDATION = (70, 50, 61), (30, 25, 40)


def _stream_shard(rank: int, size: int) -> Arrays:
    rng = np.random.default_rng([40, rank, size])
    return {
        "ids": rng.integers(0, 7, STREAM_LENGTHS[rank]),
        "val": rng.integers(0, 7, STREAM_VALIDATION[rank]),
    }


def _stream_trainer(trainer_class: type, **extra: Any) -> Any:
    model = Sequential(
        [
            Embedding(7, 4, seed=9, dtype=F64),
            LSTM(6, return_sequences=True, seed=10, dtype=F64),
            Dropout(0.2, seed=16, dtype=F64),
            Dense(7, seed=11, dtype=F64),
        ]
    )
    return trainer_class(
        model, "sparse_categorical_crossentropy", Adam(0.05), metrics=["perplexity"], **extra
    )


def stream_sharded(trainer_class: type, rank: int, size: int) -> tuple[Any, Arrays]:
    d = _stream_shard(rank, size)
    trainer = _stream_trainer(trainer_class, data="sharded")
    history = trainer.fit_stream(
        d["ids"], batch_size=STREAMS, bptt=(4, 6), epochs=2, verbose=0, validation_sequence=d["val"]
    )
    return figures(trainer, history)


def arrange_streams(sequences: list[np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """One sequence and its targets whose ``STREAMS`` streams are rank 0's streams, then rank
    1's, ..., each rank's cut from its own sequence (next-step pairs), all as long as the
    shortest rank's."""
    shares = [share_rows(STREAMS, r, size) for r in range(size)]
    steps = min((len(s) - 1) // b for s, b in zip(sequences, shares))
    inputs = [s[:-1][: b * steps].reshape(b, steps) for s, b in zip(sequences, shares)]
    targets = [s[1:][: b * steps].reshape(b, steps) for s, b in zip(sequences, shares)]
    return np.concatenate(inputs).reshape(-1), np.concatenate(targets).reshape(-1)


def stream_reference(size: int) -> tuple[Any, Arrays]:
    shards = [_stream_shard(r, size) for r in range(size)]
    ids, targets = arrange_streams([s["ids"] for s in shards], size)
    val, val_targets = arrange_streams([s["val"] for s in shards], size)
    trainer = _stream_trainer(Trainer)
    history = trainer.fit_stream(
        ids,
        targets,
        batch_size=STREAMS,
        bptt=(4, 6),
        epochs=2,
        verbose=0,
        validation_sequence=val,
        validation_targets=val_targets,
    )
    return figures(trainer, history)


class Case(NamedTuple):
    sharded: Callable[[type, int, int], tuple[Any, Arrays]]
    reference: Callable[[int], tuple[Any, Arrays]]


SHARD_CASES: dict[str, Case] = {
    "ordered": Case(ordered_sharded, ordered_reference),
    "seeded": Case(seeded_sharded, seeded_reference),
    "uneven": Case(uneven_sharded, uneven_reference),
    "stream": Case(stream_sharded, stream_reference),
}
