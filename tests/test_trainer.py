"""Trainer: progress output, NaN/inf stops keeping the last finite weights, callbacks,
bit-for-bit reproducibility, validation_split, clipping."""

from __future__ import annotations

import csv
import io as stdio
import json
import sys
from typing import Any

import numpy as np
import pytest

from rnnkit import optimizers
from rnnkit.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    JSONLogger,
    ModelCheckpoint,
)
from rnnkit.layers import Dense, Dropout, SimpleRNN
from rnnkit.models import Sequential, load_model
from rnnkit.training import NonFiniteLossError, Trainer


def data(n: int = 64, t: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, t, 2)).astype(np.float32)
    y = x.sum(axis=(1, 2))[:, None] / t
    return x, y.astype(np.float32)


def small_model(dropout: bool = False) -> Sequential:
    layers = [SimpleRNN(6, input_shape=(6, 2), seed=0)]
    if dropout:
        layers.append(Dropout(0.3, seed=7))
    layers.append(Dense(1, seed=1))
    return Sequential(layers)


def weights(model: Sequential) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.params.items()}


# -- progress output ---------------------------------------------------------------------------


def test_verbose_one_line_per_epoch_when_not_a_terminal(capsys: pytest.CaptureFixture) -> None:
    x, y = data()
    trainer = Trainer(small_model(), "mse", "adam", metrics=["mae"])
    trainer.fit(x, y, epochs=3, batch_size=16, verbose=1, validation_split=0.25)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 3 and "\r" not in out
    for epoch, line in enumerate(lines, 1):
        assert line.startswith(f"Epoch {epoch}/3 [")
        assert "48/48" in line and "loss: " in line and "mae: " in line
        assert "val_loss: " in line and "samples/s" in line


class FakeTTY(stdio.StringIO):
    def isatty(self) -> bool:
        return True


def test_verbose_redraws_in_place_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = FakeTTY()
    monkeypatch.setattr(sys, "stdout", stream)
    x, y = data()
    Trainer(small_model(), "mse", "adam").fit(x, y, epochs=2, batch_size=8, verbose=1)
    out = stream.getvalue()
    assert out.count("\n") == 2  # one finished line per epoch
    assert out.count("\r") >= 2  # redrawn in place
    assert "Epoch 2/2" in out and "samples/s" in out


def test_verbose_zero_is_silent(capsys: pytest.CaptureFixture) -> None:
    x, y = data()
    model = small_model()
    model.compile(loss="mse", optimizer="adam", metrics=["mae"])
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.2)
    model.evaluate(x, y, verbose=0)
    model.predict(x)
    assert capsys.readouterr().out == ""


# -- non-finite losses -------------------------------------------------------------------------


class Recorder(Callback):
    """Copies of the weights after every update."""

    def __init__(self) -> None:
        super().__init__()
        self.after: list[dict[str, np.ndarray]] = []

    def on_batch_end(self, batch: int, logs: Any = None) -> None:
        self.after.append(weights(self.model))


def test_nan_loss_stops_with_epoch_and_step_and_keeps_last_weights() -> None:
    x, y = data(n=64)
    y[40] = np.nan  # batch 5 of 8 (0-based) in every epoch without shuffling
    model = small_model()
    recorder = Recorder()
    trainer = Trainer(model, "mse", "sgd")
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 6") as info:
        trainer.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0, callbacks=[recorder])
    assert isinstance(info.value, FloatingPointError)
    assert (info.value.epoch, info.value.step, info.value.what) == (0, 5, "loss")
    assert np.isnan(info.value.loss)
    assert len(recorder.after) == 5
    for key, value in model.params.items():
        np.testing.assert_array_equal(value, recorder.after[-1][key])


class BreaksOnThirdStep(optimizers.SGD):
    """An SGD whose third update writes an infinity (as a diverging update would)."""

    def step(self, params: Any, grads: Any) -> None:
        super().step(params, grads)
        if self.iterations == 3:
            next(iter(params.values()))[0] = np.inf


def test_update_that_breaks_weights_is_undone() -> None:
    x, y = data()
    model = small_model()
    recorder = Recorder()
    with pytest.raises(NonFiniteLossError, match="step 3") as info:
        Trainer(model, "mse", BreaksOnThirdStep()).fit(
            x, y, epochs=1, batch_size=8, shuffle=False, verbose=0, callbacks=[recorder]
        )
    assert info.value.what == "weights"
    assert all(np.isfinite(v).all() for v in model.params.values())
    for key, value in model.params.items():
        np.testing.assert_array_equal(value, recorder.after[-1][key])


def test_exploding_training_stops_with_finite_weights() -> None:
    x, y = data()
    y = y * 1e30  # float32 squares of these overflow
    model = small_model()
    with pytest.raises(NonFiniteLossError):
        Trainer(model, "mse", optimizers.SGD(learning_rate=10.0)).fit(
            x, y, epochs=5, batch_size=8, verbose=0
        )
    assert all(np.isfinite(v).all() for v in model.params.values())


def state_copy(optimizer: optimizers.Optimizer) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in optimizer.get_state().items()}


def assert_same_state(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize(
    "make",
    [
        lambda lr: optimizers.SGD(learning_rate=lr, momentum=0.9),
        lambda lr: optimizers.Adam(learning_rate=lr),
        lambda lr: optimizers.RMSprop(learning_rate=lr, momentum=0.5, centered=True),
    ],
)
def test_non_finite_update_also_restores_the_optimizer_state(make: Any) -> None:
    """The rollback covers the optimizer's slots and step count, not only the weights: after
    a diverging update, a lower learning rate trains on normally."""
    x, y = data()
    model = small_model()  # float32: lr * grad overflows
    optimizer = make(0.01)
    trainer = Trainer(model, "mse", optimizer)
    trainer.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)  # slots exist now
    state_before, weights_before = state_copy(optimizer), weights(model)
    assert optimizer.iterations == 4 and len(state_before) > 1

    optimizer.learning_rate = 1e39
    with pytest.raises(NonFiniteLossError) as info:
        trainer.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    assert info.value.what == "weights" and (info.value.epoch, info.value.step) == (0, 0)
    assert_same_state(state_copy(optimizer), state_before)
    assert_same_state(weights(model), weights_before)

    optimizer.learning_rate = 0.01
    history = trainer.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    assert all(np.isfinite(v).all() for v in model.params.values())
    assert all(np.isfinite(v).all() for v in optimizer.get_state().values())
    assert optimizer.iterations == 4 + 8
    for key, value in model.params.items():
        assert not np.array_equal(value, weights_before[key]), key  # it trains again


def test_slots_created_by_a_failed_first_update_are_dropped() -> None:
    x, y = data()
    model = small_model()
    optimizer = optimizers.Adam(learning_rate=1e39)
    trainer = Trainer(model, "mse", optimizer)
    with pytest.raises(NonFiniteLossError):
        trainer.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert_same_state(state_copy(optimizer), {"iterations": np.array(0)})
    optimizer.learning_rate = 0.001
    trainer.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert optimizer.iterations == 4
    assert all(np.isfinite(v).all() for v in optimizer.get_state().values())


def test_update_that_breaks_only_the_optimizer_state_is_undone() -> None:
    """A float32 Adagrad accumulator overflowing to inf leaves the weights finite (the step
    divides by it: 0) but would stall that weight for good: undone and reported too."""
    x, y = data()
    model = small_model()
    optimizer = optimizers.Adagrad(learning_rate=0.01)
    trainer = Trainer(model, "mse", optimizer)
    trainer.fit(x, y, epochs=1, batch_size=16, verbose=0)
    state_before, weights_before = state_copy(optimizer), weights(model)
    trainer.compute_gradients(x[:16], y[:16])
    model.layers[-1].grads["W"][0, 0] = 1e30  # its square overflows float32
    with (
        np.errstate(over="ignore"),
        pytest.raises(NonFiniteLossError, match="optimizer state") as info,
    ):
        trainer._apply_update(1.0)
    assert info.value.what == "optimizer state"
    assert_same_state(state_copy(optimizer), state_before)
    assert_same_state(weights(model), weights_before)


# -- callbacks ---------------------------------------------------------------------------------


class HookLog(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def on_train_begin(self, logs: Any = None) -> None:
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.calls.append(f"epoch_begin {epoch}")

    def on_batch_end(self, batch: int, logs: Any = None) -> None:
        assert "loss" in logs
        self.calls.append(f"batch_end {batch}")

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        assert {"loss", "val_loss"} <= set(logs)
        self.calls.append(f"epoch_end {epoch}")

    def on_train_end(self, logs: Any = None) -> None:
        self.calls.append("train_end")


def test_callback_hook_order() -> None:
    x, y = data(n=20)
    hooks = HookLog()
    Trainer(small_model(), "mse", "adam").fit(
        x, y, epochs=2, batch_size=8, verbose=0, validation_data=(x, y), callbacks=[hooks]
    )
    per_epoch = ["batch_end 0", "batch_end 1", "batch_end 2"]
    assert hooks.calls == (
        [
            "train_begin",
            "epoch_begin 0",
            *per_epoch,
            "epoch_end 0",
            "epoch_begin 1",
            *per_epoch,
            "epoch_end 1",
            "train_end",
        ]
    )
    assert hooks.model is hooks.trainer.model


class EpochWeights(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.after: list[dict[str, np.ndarray]] = []

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.after.append(weights(self.model))


def test_early_stopping_patience_and_restore_best_weights() -> None:
    x, y = data()
    epochs = EpochWeights()
    # min_delta so large that only the first epoch counts as an improvement.
    stopper = EarlyStopping(monitor="loss", patience=2, min_delta=1e9, restore_best_weights=True)
    model = small_model()
    history = Trainer(model, "mse", "adam").fit(
        x, y, epochs=20, verbose=0, callbacks=[epochs, stopper]
    )
    # Keras 3's rule: best at 0, then stop at the 2nd epoch without improving (wait >= 2).
    assert len(history.history["loss"]) == 3
    assert stopper.stopped_epoch == 2 and stopper.best_epoch == 0
    for key, value in model.params.items():
        np.testing.assert_array_equal(value, epochs.after[0][key])


class ScriptedLoss(Callback):
    """Replaces the epoch's logged loss with a scripted sequence (before EarlyStopping reads
    it: callbacks run in order on the same logs)."""

    def __init__(self, losses: list[float]) -> None:
        super().__init__()
        self.losses = losses

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        logs["loss"] = self.losses[epoch]


SCRIPT = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]


@pytest.mark.parametrize("patience,stop", [(0, 2), (1, 2), (2, 3), (3, 4)])
def test_early_stopping_stops_at_the_same_epoch_as_keras(patience: int, stop: int) -> None:
    """Keras 3: ``wait`` counts the epochs since the best; stop once ``wait >= patience``
    (and ``epoch > 0``). Losses 1.0, 0.5, 0.6, 0.7, ...: best at epoch 1; patience 1 stops
    after epoch 2, patience 2 after epoch 3."""
    x, y = data(n=16)
    stopper = EarlyStopping(monitor="loss", patience=patience)
    history = Trainer(small_model(), "mse", "sgd").fit(
        x, y, epochs=len(SCRIPT), verbose=0, callbacks=[ScriptedLoss(SCRIPT), stopper]
    )
    assert history.epoch == list(range(stop + 1))
    assert stopper.stopped_epoch == stop
    assert (stopper.best_epoch, stopper.best) == (1, 0.5)


def test_early_stopping_restores_the_best_epoch_weights_like_keras() -> None:
    x, y = data(n=16)
    epochs = EpochWeights()
    stopper = EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    model = small_model()
    Trainer(model, "mse", "adam").fit(
        x, y, epochs=len(SCRIPT), verbose=0, callbacks=[epochs, ScriptedLoss(SCRIPT), stopper]
    )
    assert len(epochs.after) == 4 and stopper.best_epoch == 1
    for key, value in model.params.items():
        np.testing.assert_array_equal(value, epochs.after[1][key])
    # Not stopped early: the best weights come back at the end of training all the same.
    model = small_model()
    epochs = EpochWeights()
    Trainer(model, "mse", "adam").fit(
        x,
        y,
        epochs=3,
        verbose=0,
        callbacks=[
            epochs,
            ScriptedLoss([1.0, 0.5, 0.6]),
            EarlyStopping(monitor="loss", patience=5, restore_best_weights=True),
        ],
    )
    for key, value in model.params.items():
        np.testing.assert_array_equal(value, epochs.after[1][key])


def test_early_stopping_baseline_and_start_from_epoch_like_keras() -> None:
    x, y = data(n=16)
    # Baseline 0.5 never beaten: the best is still tracked (Keras 3), but the count of epochs
    # without improvement is not reset, so training stops once it reaches the patience.
    stopper = EarlyStopping(monitor="loss", patience=2, baseline=0.5)
    history = Trainer(small_model(), "mse", "sgd").fit(
        x,
        y,
        epochs=8,
        verbose=0,
        callbacks=[ScriptedLoss([1.0, 0.9, 0.95, 0.97, 0.99, 1.0, 1.0, 1.0]), stopper],
    )
    assert stopper.stopped_epoch == 2 and len(history.epoch) == 3
    assert (stopper.best_epoch, stopper.best) == (1, 0.9)
    # Epochs before start_from_epoch are not monitored.
    stopper = EarlyStopping(monitor="loss", patience=1, start_from_epoch=3)
    Trainer(small_model(), "mse", "sgd").fit(
        x, y, epochs=8, verbose=0, callbacks=[ScriptedLoss(SCRIPT), stopper]
    )
    assert (stopper.best_epoch, stopper.stopped_epoch) == (3, 4)


def test_early_stopping_on_val_loss_needs_validation_data() -> None:
    x, y = data()
    with pytest.raises(KeyError, match="val_loss"):
        Trainer(small_model(), "mse", "adam").fit(
            x, y, epochs=2, verbose=0, callbacks=[EarlyStopping()]
        )


def test_model_checkpoint_epoch_pattern_and_best_only(tmp_path: Any) -> None:
    x, y = data()
    every = ModelCheckpoint(tmp_path / "m-{epoch:02d}.npz", monitor="loss")
    best = ModelCheckpoint(tmp_path / "best.npz", monitor="val_loss", save_best_only=True)
    model = small_model()
    Trainer(model, "mse", "adam").fit(
        x, y, epochs=3, verbose=0, validation_split=0.25, callbacks=[every, best]
    )
    assert [p.rsplit("/", 1)[1] for p in every.saved] == ["m-01.npz", "m-02.npz", "m-03.npz"]
    assert 1 <= len(best.saved) <= 3
    restored = load_model(tmp_path / "m-03.npz")
    np.testing.assert_array_equal(restored.predict(x), model.predict(x))


def test_csv_and_json_loggers(tmp_path: Any) -> None:
    x, y = data()
    csv_path, json_path = tmp_path / "log.csv", tmp_path / "log.jsonl"
    history = Trainer(small_model(), "mse", "adam", metrics=["mae"]).fit(
        x,
        y,
        epochs=3,
        verbose=0,
        validation_split=0.25,
        callbacks=[CSVLogger(csv_path), JSONLogger(json_path)],
    )
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    assert [float(r[1]) for r in rows[1:]] == history.history["loss"]
    records = [json.loads(line) for line in json_path.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1, 2]
    assert [r["val_loss"] for r in records] == history.history["val_loss"]


def test_history_is_a_callback() -> None:
    history = History()
    history.on_epoch_end(0, {"loss": 1.0})
    history.on_epoch_end(1, {"loss": 0.5})
    assert history.history == {"loss": [1.0, 0.5]} and history.epoch == [0, 1]


# -- argument checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arg,value",
    [
        ("tbptt", True),
        ("tbptt", 2.7),
        ("tbptt", 2.0),
        ("tbptt", "3"),
        ("batch_size", 2.5),
        ("batch_size", True),
        ("batch_size", 8.0),
        ("epochs", 2.0),
        ("epochs", True),
        ("validation_batch_size", 4.5),
    ],
)
def test_fit_refuses_non_int_counts(arg: str, value: Any) -> None:
    """No silent coercion (tbptt=True -> 1, tbptt=2.7 -> 2, batch_size=2.5 -> 2)."""
    x, y = data(n=16)
    model = small_model()
    before = weights(model)
    with pytest.raises(TypeError, match=arg):
        Trainer(model, "mse", "sgd").fit(x, y, verbose=0, **{arg: value})
    assert_same_state(weights(model), before)


def test_fit_accepts_numpy_integers_and_refuses_zero_or_negative() -> None:
    x, y = data(n=16)
    trainer = Trainer(small_model(), "mse", "sgd")
    trainer.fit(x, y, epochs=np.int64(1), batch_size=np.int32(8), tbptt=np.int64(3), verbose=0)
    assert trainer.optimizer.iterations == 2  # many-to-one: one update per batch
    for arg, value in (("batch_size", 0), ("tbptt", 0), ("batch_size", -1)):
        with pytest.raises(ValueError, match=arg):
            trainer.fit(x, y, verbose=0, **{arg: value})


def test_fit_refuses_zero_samples() -> None:
    x, y = data(n=16)
    with pytest.raises(ValueError, match="at least one sample"):
        Trainer(small_model(), "mse", "sgd").fit(x[:0], y[:0], verbose=0)


@pytest.mark.parametrize("which", ["x", "y"])
def test_fit_refuses_non_numeric_data_before_training(which: str) -> None:
    """An object array of None used to run into NonFiniteLossError advising a lower
    learning rate."""
    x, y = data(n=16)
    bad = np.array([None] * 16, dtype=object)
    if which == "x":
        x = np.full(x.shape, "a")
    else:
        y = bad
    model = small_model()
    before = weights(model)
    recorder = Recorder()
    with pytest.raises(TypeError, match=rf"^{which} must hold real numbers, got dtype"):
        Trainer(model, "mse", "sgd").fit(x, y, verbose=0, callbacks=[recorder])
    assert recorder.after == []
    assert_same_state(weights(model), before)


# -- reproducibility ---------------------------------------------------------------------------


def run(seed: int, dropout: bool = True) -> list[np.ndarray]:
    x, y = data()
    model = small_model(dropout=dropout)
    Trainer(model, "mse", "adam").fit(x, y, epochs=3, batch_size=8, verbose=0, seed=seed)
    return model.get_weights()  # in layer order: names differ between the models


def test_seeded_runs_are_bit_for_bit_identical() -> None:
    a, b, c = run(seed=3), run(seed=3), run(seed=4)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a, c))


# -- validation_split --------------------------------------------------------------------------


def test_validation_split_holds_out_the_last_samples() -> None:
    x, y = data(n=40)
    y[32:] = np.nan  # the last 20%: never trained on, so no NonFiniteLossError
    model = small_model()
    model.compile(loss="mse", optimizer="adam")
    history = model.fit(x, y, epochs=2, verbose=0, validation_split=0.2)
    assert history.params["samples"] == 32
    assert all(np.isfinite(history.history["loss"]))
    assert all(np.isnan(history.history["val_loss"]))


def test_validation_loss_is_evaluate_on_held_out_part() -> None:
    x, y = data(n=40)
    model = small_model()
    model.compile(loss="mse", optimizer="adam")
    history = model.fit(x, y, epochs=2, verbose=0, validation_split=0.2, seed=0)
    assert history.history["val_loss"][-1] == model.evaluate(x[32:], y[32:], verbose=0)


def test_validation_data_with_lengths() -> None:
    x, y = data(n=24)
    lengths = np.array([6, 3, 1] * 8)
    model = small_model()
    history = Trainer(model, "mse", "adam").fit(
        x,
        y,
        epochs=2,
        verbose=0,
        lengths=lengths,
        validation_data=(x, y),
        validation_lengths=lengths,
    )
    assert len(history.history["val_loss"]) == 2
    assert history.history["val_loss"][-1] == model.evaluate(x, y, lengths=lengths, verbose=0)


def test_old_validation_lengths_spelling_is_refused() -> None:
    # The third element is Keras's val_sample_weight; the call that used to mean lengths must
    # not be read as weights without a word.
    x, y = data(n=24)
    lengths = np.array([6, 3, 1] * 8)
    with pytest.raises(ValueError, match="validation_lengths"):
        Trainer(small_model(), "mse", "adam").fit(
            x, y, epochs=1, verbose=0, lengths=lengths, validation_data=(x, y, lengths)
        )


# -- clipping ----------------------------------------------------------------------------------


def test_clip_value_bounds_each_update() -> None:
    x, y = data()
    y = y * 100  # large gradients
    model = small_model()
    before = weights(model)
    Trainer(model, "mse", optimizers.SGD(learning_rate=1.0), clip_value=0.01).fit(
        x, y, epochs=1, batch_size=64, verbose=0
    )
    for key, value in model.params.items():
        assert np.max(np.abs(value - before[key])) <= 0.01 + 1e-7


def test_clip_norm_bounds_the_update_norm() -> None:
    x, y = data()
    y = y * 100
    model = small_model()
    before = weights(model)
    Trainer(model, "mse", optimizers.SGD(learning_rate=1.0), clip_norm=0.5).fit(
        x, y, epochs=1, batch_size=64, verbose=0
    )
    norm = np.sqrt(sum(np.sum((model.params[k] - before[k]) ** 2) for k in before))
    assert norm <= 0.5 + 1e-5


def test_stop_training_set_after_a_batch_ends_the_epoch_there() -> None:
    from rnnkit.callbacks import Callback
    from rnnkit.layers import Dense, SimpleRNN
    from rnnkit.models import Sequential

    class StopAfter(Callback):
        def __init__(self, updates: int) -> None:
            super().__init__()
            self.updates, self.seen = updates, 0

        def on_batch_end(self, batch: int, logs: Any = None) -> None:
            self.seen += 1
            if self.seen >= self.updates:
                self.model.stop_training = True

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 5, 1)), rng.standard_normal((64, 1))
    model = Sequential([SimpleRNN(3, input_shape=(5, 1), seed=0), Dense(1, seed=1)])
    model.compile(loss="mse", optimizer="sgd")
    stop = StopAfter(3)
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[stop])
    assert stop.seen == 3 and len(history.history["loss"]) == 1

    stream_stop = StopAfter(4)
    seq_model = Sequential(
        [SimpleRNN(3, return_sequences=True, input_shape=(None, 1), seed=0), Dense(1, seed=1)]
    )
    trainer = Trainer(seq_model, loss="mse", optimizer="sgd")
    trainer.fit_stream(
        rng.standard_normal(10_000),
        batch_size=4,
        bptt=10,
        epochs=3,
        callbacks=[stream_stop],
        verbose=0,
    )
    assert stream_stop.seen == 4 and trainer.epoch == 1
