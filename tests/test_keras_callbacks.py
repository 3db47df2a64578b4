"""Keras 3's learning-rate callbacks and ModelCheckpoint's options, checked against the rules
Keras applies epoch for epoch; save_weights / load_weights."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from rnnkit import optimizers, schedules
from rnnkit.callbacks import LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential, load_model
from rnnkit.saving import ModelFileError


def data(n: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5, 2)).astype(np.float32)
    return x, x.sum(axis=(1, 2))[:, None].astype(np.float32) / 5


def model(units: int = 4, lr: float = 0.01, seed: int = 0) -> Sequential:
    m = Sequential([SimpleRNN(units, input_shape=(5, 2), seed=seed), Dense(1, seed=seed + 1)])
    m.compile(loss="mse", optimizer=optimizers.SGD(learning_rate=lr))
    return m


def attached(callback, m: Sequential):  # type: ignore[no-untyped-def]
    callback.set_trainer(m.trainer)
    callback.on_train_begin({})
    return callback


# -- ReduceLROnPlateau ---------------------------------------------------------------------------


def test_reduce_lr_on_plateau_follows_keras_rule() -> None:
    m = model(lr=1.0)
    cb = attached(
        ReduceLROnPlateau(
            monitor="loss", factor=0.5, patience=2, cooldown=1, min_lr=0.2, min_delta=0.0
        ),
        m,
    )
    losses = [1.0, 0.9, 0.95, 0.97, 0.99, 0.98, 0.5, 0.6, 0.7, 0.8, 0.9]
    # Worked by hand from Keras's on_epoch_end: reductions after epochs 3, 5 and 8 (the last
    # clipped to min_lr), the cooldown epoch after each not counted, none at min_lr.
    expected = [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2]
    logged = []
    for epoch, loss in enumerate(losses):
        logs = {"loss": loss}
        cb.on_epoch_end(epoch, logs)
        logged.append(logs["learning_rate"])
        assert m.optimizer.learning_rate == pytest.approx(expected[epoch]), epoch
    assert logged == pytest.approx([1.0, *expected[:-1]])  # the rate in use that epoch


def test_reduce_lr_min_delta_and_max_mode() -> None:
    m = model(lr=1.0)
    cb = attached(ReduceLROnPlateau(monitor="val_accuracy", patience=1, min_delta=0.1), m)
    assert cb.mode == "max"
    cb.on_epoch_end(0, {"val_accuracy": 0.5})
    cb.on_epoch_end(1, {"val_accuracy": 0.55})  # up, but by less than min_delta
    assert m.optimizer.learning_rate == pytest.approx(0.1)


def test_reduce_lr_in_fit_records_the_rate_in_history() -> None:
    x, y = data()
    m = model(lr=0.01)
    history = m.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        seed=0,
        callbacks=[ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5, min_delta=10.0)],
    )
    # Epoch 0 always improves on the start; each later epoch fails min_delta and, with
    # patience 0, halves the rate; the log shows the rate each epoch trained with.
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.01, 0.005])
    assert m.optimizer.learning_rate == pytest.approx(0.0025)


def test_reduce_lr_bad_arguments() -> None:
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(TypeError, match="patience"):
        ReduceLROnPlateau(patience=1.5)  # type: ignore[arg-type]
    m = Sequential([SimpleRNN(2, input_shape=(5, 2)), Dense(1)])
    m.compile(loss="mse", optimizer=optimizers.SGD(schedules.StepDecay(0.1, 0.5, 2)))
    cb = attached(ReduceLROnPlateau(monitor="loss", patience=0), m)
    with pytest.raises(TypeError, match="not settable"):
        cb.on_epoch_end(0, {"loss": 1.0})


# -- LearningRateScheduler -----------------------------------------------------------------------


def test_learning_rate_scheduler_keras_signature() -> None:
    def scheduler(epoch: int, lr: float) -> float:  # the Keras documentation's example
        return lr if epoch < 2 else lr * math.exp(-0.1)

    x, y = data()
    m = model(lr=0.01)
    history = m.fit(x, y, epochs=4, verbose=0, callbacks=[LearningRateScheduler(scheduler)])
    decay = math.exp(-0.1)
    assert history.history["learning_rate"] == pytest.approx(
        [0.01, 0.01, 0.01 * decay, 0.01 * decay**2]
    )
    assert m.optimizer.learning_rate == pytest.approx(0.01 * decay**2)


def test_learning_rate_scheduler_one_argument_and_the_rate_used() -> None:
    x, y = data()
    seen = []

    class Spy(ReduceLROnPlateau):  # reads the rate the update used, after the scheduler ran
        def on_batch_end(self, batch, logs=None):  # type: ignore[no-untyped-def]
            seen.append(self.attached_trainer().optimizer.learning_rate)

    m = model()
    m.fit(
        x,
        y,
        epochs=2,
        batch_size=32,
        verbose=0,
        callbacks=[LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1)), Spy(monitor="loss")],
    )
    assert seen == pytest.approx([0.1, 0.05])


def test_learning_rate_scheduler_refuses_non_float() -> None:
    x, y = data()
    with pytest.raises(ValueError, match="should be a float"):
        model().fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: 1)])
    with pytest.raises(ValueError, match="finite"):
        model().fit(
            x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: -0.1)]
        )
    with pytest.raises(TypeError, match="schedule"):
        LearningRateScheduler(0.1)  # type: ignore[arg-type]


def test_a_type_error_inside_the_schedule_is_not_swallowed() -> None:
    def broken(epoch: int, lr: float) -> float:
        raise TypeError("inside")

    x, y = data()
    with pytest.raises(TypeError, match="inside"):
        model().fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(broken)])


# -- ModelCheckpoint -----------------------------------------------------------------------------


def test_checkpoint_save_best_only_with_formatted_paths(tmp_path: Path) -> None:
    m = model()
    cb = attached(
        ModelCheckpoint(
            str(tmp_path / "m-{epoch:02d}-{loss:.2f}.keras"), monitor="loss", save_best_only=True
        ),
        m,
    )
    for epoch, loss in enumerate([0.5, 0.7, 0.4, 0.4]):
        cb.on_epoch_begin(epoch, {})
        cb.on_epoch_end(epoch, {"loss": loss})
    names = [os.path.basename(p) for p in cb.saved]
    assert names == ["m-01-0.50.keras", "m-03-0.40.keras"]  # strict: an equal value is not saved
    restored = load_model(cb.saved[-1])  # any suffix holds rnnkit's .npz
    x, _ = data()
    np.testing.assert_array_equal(restored.predict(x), m.predict(x))


def test_checkpoint_initial_value_threshold_and_best_carry_over(tmp_path: Path) -> None:
    m = model()
    cb = attached(
        ModelCheckpoint(
            str(tmp_path / "b.npz"),
            monitor="loss",
            save_best_only=True,
            initial_value_threshold=0.3,
        ),
        m,
    )
    cb.on_epoch_end(0, {"loss": 0.4})
    assert cb.saved == []
    cb.on_epoch_end(1, {"loss": 0.2})
    cb.on_train_begin({})  # a second fit keeps the best, as Keras
    cb.on_epoch_end(0, {"loss": 0.25})
    assert len(cb.saved) == 1 and cb.best == 0.2


def test_checkpoint_weights_only_and_save_freq_in_batches(tmp_path: Path) -> None:
    x, y = data(n=32)
    m = model()
    cb = ModelCheckpoint(
        str(tmp_path / "w-{epoch}-{batch}.weights.npz"), save_weights_only=True, save_freq=3
    )
    m.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, callbacks=[cb])
    # 4 updates per epoch: after updates 3 and 6 overall, i.e. epoch 1 batch 3, epoch 2 batch 2.
    assert [os.path.basename(p) for p in cb.saved] == ["w-1-3.weights.npz", "w-2-2.weights.npz"]
    fresh = model(seed=5)
    fresh.load_weights(cb.saved[-1])
    assert all(np.isfinite(w).all() for w in fresh.get_weights())


def test_checkpoint_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.weights\.npz"):
        ModelCheckpoint(tmp_path / "w.weights.h5", save_weights_only=True)
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint(tmp_path / "m.npz", save_freq="batch")
    with pytest.raises(ValueError, match="choose one"):
        ModelCheckpoint(tmp_path / "m.weights.npz", save_weights_only=True, save_trainer=True)
    cb = attached(ModelCheckpoint(str(tmp_path / "{val_acc}.npz")), model())
    with pytest.raises(KeyError, match="failed to format"):
        cb.on_epoch_end(0, {"loss": 1.0})


def test_checkpoint_missing_monitor_at_batch_saves_warns(tmp_path: Path) -> None:
    x, y = data(n=16)
    cb = ModelCheckpoint(str(tmp_path / "m-{batch}.npz"), save_best_only=True, save_freq=1)
    with pytest.warns(UserWarning, match="val_loss"):
        model().fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[cb])
    # Keras 3 saves without comparing when the batch logs lack the monitored figure.
    assert [os.path.basename(p) for p in cb.saved] == ["m-1.npz", "m-2.npz"]


# -- save_weights / load_weights -----------------------------------------------------------------


def test_weights_round_trip_into_a_model_built_again(tmp_path: Path) -> None:
    x, y = data()
    m = model()
    m.fit(x, y, epochs=2, verbose=0, seed=0)
    path = m.save_weights(tmp_path / "m.weights.npz")
    again = model(seed=9)  # other initial weights and other layer names
    assert [layer.name for layer in again.layers] != [layer.name for layer in m.layers]
    again.load_weights(path)
    np.testing.assert_array_equal(again.predict(x), m.predict(x))
    assert [p.name for p in tmp_path.iterdir()] == ["m.weights.npz"]  # no temporary left
    whole = m.save(tmp_path / "whole.npz")
    model(seed=3).load_weights(whole)  # a whole-model file holds the same table


def test_load_weights_refuses_another_architecture_and_changes_nothing(tmp_path: Path) -> None:
    path = model().save_weights(tmp_path / "m.weights.npz")
    other = model(units=3)
    before = other.get_weights()
    with pytest.raises(ModelFileError, match=r"shape \(2, 3\) in the model but \(2, 4\)"):
        other.load_weights(path)
    for a, b in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)
    deeper = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(3), Dense(1)])
    with pytest.raises(ModelFileError, match="2 layers"):
        deeper.load_weights(path)
    swapped = Sequential([Dense(4, input_shape=(5, 2)), Dense(1)])
    with pytest.raises(ModelFileError, match="SimpleRNN"):
        swapped.load_weights(path)
    with pytest.warns(UserWarning, match="skipping"):
        other.load_weights(path, skip_mismatch=True)  # the Dense layers match: loaded


def test_weights_path_and_state_errors(tmp_path: Path) -> None:
    m = model()
    with pytest.raises(ValueError, match="no HDF5"):
        m.save_weights(tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match=r"\.weights\.npz"):
        m.load_weights(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="must be built"):
        Sequential([SimpleRNN(2), Dense(1)]).save_weights(tmp_path / "u.weights.npz")
    path = m.save_weights(tmp_path / "m.weights.npz")
    with pytest.raises(FileExistsError):
        m.save_weights(path, overwrite=False)
    with pytest.raises(ModelFileError):
        load_model(path)  # weights alone are not a model
