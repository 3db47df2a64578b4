"""The same mistake raises the same exception with the same wording from every entry point that
takes such an argument (docs/architecture.md, "one place for each concern": rnnkit._checks).

For each kind of check (integers, lengths, activation names, probabilities, positive and
non-negative reals) a table lists the entry points, one line each, and a list of mistakes; every
mistake goes through every entry point. The message is compared in full after stripping the
``where`` prefix that names the caller (``"layer 'rnn': "``, ``"Dense: "``), so it must read
``"<name> must be <what>, got <value>"`` with the same ``what`` and the same ``value`` text
everywhere. A new entry point is one line in its table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest

import rnnkit
from rnnkit import data, initializers, losses, ops, optimizers, reference, schedules
from rnnkit.layers import (
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Input,
    RepeatVector,
    SimpleRNN,
)
from rnnkit.models import Sequential
from rnnkit.training import Trainer

N, T, D, H = 4, 5, 3, 2
_rng = np.random.default_rng(0)
X = _rng.standard_normal((N, T, D))
Y = _rng.standard_normal((N, 1))
STREAM = _rng.standard_normal(64)
RNN_WEIGHTS = (_rng.standard_normal((D, H)), _rng.standard_normal((H, H)), np.zeros(H))
LSTM_WEIGHTS = (_rng.standard_normal((D, 4 * H)), _rng.standard_normal((H, 4 * H)), np.zeros(4 * H))
GRU_WEIGHTS = (
    _rng.standard_normal((D, 3 * H)),
    _rng.standard_normal((H, 3 * H)),
    np.zeros((2, 3 * H)),
)

# What names the caller before the argument's own wording: "layer 'x': " or "<Class>: ".
_WHERE = re.compile(r"^(?:layer '[^']*': |[A-Z]\w*: )")


class Entry(NamedTuple):
    """One entry point: how the test calls it with the bad ``value``, the argument's name and
    what it must be (``"a positive int"``, ``"a number in [0, 1)"``, ...)."""

    label: str
    name: str
    what: str
    call: Callable[[Any], object]


class Mistake(NamedTuple):
    """A bad value, the exception it must raise and the end of the message (after "got ")."""

    value: Any
    exception: type[Exception]
    got: str


def _model(return_sequences: bool = False) -> Sequential:
    """A compiled many-to-one (or many-to-many) model for (N, T, D) inputs."""
    model = Sequential(
        [
            SimpleRNN(H, return_sequences=return_sequences, input_shape=(None, D), seed=0),
            Dense(1, seed=1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    return model


def _stream_trainer() -> Trainer:
    model = Sequential(
        [SimpleRNN(H, return_sequences=True, input_shape=(None, 1), seed=0), Dense(1, seed=1)]
    )
    return Trainer(model, "mse", "sgd")


def _trainer() -> Trainer:
    return Trainer(_model(), "mse", "sgd")


def _rnn_cache() -> Any:
    return ops.rnn_forward(X, *RNN_WEIGHTS)[2]


def _lstm_cache() -> Any:
    return ops.lstm_forward(X, *LSTM_WEIGHTS)[-1]


def _gru_cache() -> Any:
    return ops.gru_forward(X, *GRU_WEIGHTS)[2]


def _grads() -> list[np.ndarray]:
    return [np.ones(3)]


def _expect(entry: Entry, mistake: Mistake, expected_message: str) -> None:
    with pytest.raises(mistake.exception) as raised:
        entry.call(mistake.value)
    assert type(raised.value) is mistake.exception, raised.value
    message = _WHERE.sub("", str(raised.value), count=1)
    assert message == expected_message, f"{entry.label}: {raised.value}"


def _ids(items: list[Any]) -> list[str]:
    return [item.label if isinstance(item, Entry) else repr(item.value) for item in items]


# -- integers ---------------------------------------------------------------------------------

POSITIVE, NON_NEGATIVE = "a positive int", "a non-negative int"
INTEGER_ENTRIES = [
    Entry("ops.rnn_backward", "truncate", POSITIVE, lambda v: ops.rnn_backward(_rnn_cache(), truncate=v)),
    Entry("ops.lstm_backward", "truncate", POSITIVE, lambda v: ops.lstm_backward(_lstm_cache(), truncate=v)),
    Entry("ops.gru_backward", "truncate", POSITIVE, lambda v: ops.gru_backward(_gru_cache(), truncate=v)),
    Entry("SimpleRNN", "units", POSITIVE, lambda v: SimpleRNN(v)),
    Entry("Dense", "units", POSITIVE, lambda v: Dense(v)),
    Entry("Embedding.input_dim", "input_dim", POSITIVE, lambda v: Embedding(v, 2)),
    Entry("Embedding.output_dim", "output_dim", POSITIVE, lambda v: Embedding(5, v)),
    Entry("Embedding.input_length", "input_length", POSITIVE, lambda v: Embedding(5, 2, input_length=v)),
    Entry("Dense.input_dim", "input_dim", POSITIVE, lambda v: Dense(2, input_dim=v)),
    Entry("RepeatVector", "n", POSITIVE, lambda v: RepeatVector(v)),
    Entry("HeNormal.seed", "seed", NON_NEGATIVE, lambda v: initializers.HeNormal(seed=v)),
    Entry("Input.shape", "shape[1]", POSITIVE, lambda v: Input((None, v))),
    Entry("Trainer.fit.batch_size", "batch_size", POSITIVE, lambda v: _trainer().fit(X, Y, batch_size=v, verbose=0)),
    Entry("Trainer.fit.epochs", "epochs", NON_NEGATIVE, lambda v: _trainer().fit(X, Y, epochs=v, verbose=0)),
    Entry("Trainer.fit.initial_epoch", "initial_epoch", NON_NEGATIVE, lambda v: _trainer().fit(X, Y, initial_epoch=v, verbose=0)),
    Entry("Trainer.fit.tbptt", "tbptt", POSITIVE, lambda v: _trainer().fit(X, Y, tbptt=v, verbose=0)),
    Entry("Trainer.fit.validation_batch_size", "validation_batch_size", POSITIVE, lambda v: _trainer().fit(X, Y, validation_batch_size=v, verbose=0)),
    Entry("Trainer.fit.verbose", "verbose", "an int in [0, 2]", lambda v: _trainer().fit(X, Y, verbose=v)),
    Entry("Trainer.compute_gradients.tbptt", "tbptt", POSITIVE, lambda v: _trainer().compute_gradients(X, Y, tbptt=v)),
    Entry("Trainer.evaluate.batch_size", "batch_size", POSITIVE, lambda v: _trainer().evaluate(X, Y, batch_size=v)),
    Entry("Model.fit.batch_size", "batch_size", POSITIVE, lambda v: _model().fit(X, Y, batch_size=v, verbose=0)),
    Entry("Model.fit.epochs", "epochs", NON_NEGATIVE, lambda v: _model().fit(X, Y, epochs=v, verbose=0)),
    Entry("Model.fit.verbose", "verbose", "an int in [0, 2]", lambda v: _model().fit(X, Y, verbose=v)),
    Entry("Model.evaluate.batch_size", "batch_size", POSITIVE, lambda v: _model().evaluate(X, Y, batch_size=v, verbose=0)),
    Entry("Model.predict.batch_size", "batch_size", POSITIVE, lambda v: _model().predict(X, batch_size=v)),
    Entry("Trainer.fit_stream.batch_size", "batch_size", POSITIVE, lambda v: _stream_trainer().fit_stream(STREAM, batch_size=v, bptt=4, verbose=0)),
    Entry("Trainer.fit_stream.bptt", "bptt", POSITIVE, lambda v: _stream_trainer().fit_stream(STREAM, batch_size=2, bptt=v, verbose=0)),
    Entry("Trainer.fit_stream.bptt_pair", "bptt", POSITIVE, lambda v: _stream_trainer().fit_stream(STREAM, batch_size=2, bptt=(2, v), verbose=0)),
    Entry("Trainer.evaluate_stream.bptt", "bptt", POSITIVE, lambda v: _stream_trainer().evaluate_stream(STREAM, batch_size=2, bptt=v)),
    Entry("rnnkit.set_num_threads", "n", "an int in [1, 1024]", lambda v: rnnkit.set_num_threads(v)),
    Entry("StepDecay.every", "every", POSITIVE, lambda v: schedules.StepDecay(0.1, 0.5, v)),
    Entry("data.sine_wave", "n", NON_NEGATIVE, lambda v: data.sine_wave(v)),
    Entry("data.make_windows.window", "window", POSITIVE, lambda v: data.make_windows(STREAM, v)),
    Entry("data.make_windows.horizon", "horizon", POSITIVE, lambda v: data.make_windows(STREAM, 3, horizon=v)),
]  # fmt: skip
INTEGER_MISTAKES = [
    Mistake(True, TypeError, "bool True"),
    Mistake(np.bool_(False), TypeError, "bool False"),
    Mistake(2.0, TypeError, "float 2.0"),
    Mistake(2.5, TypeError, "float 2.5"),
    Mistake("3", TypeError, "str '3'"),
    Mistake(-1, ValueError, "-1"),
    Mistake(np.int64(-2), ValueError, "-2"),
]


@pytest.mark.parametrize("mistake", INTEGER_MISTAKES, ids=_ids(INTEGER_MISTAKES))
@pytest.mark.parametrize("entry", INTEGER_ENTRIES, ids=_ids(INTEGER_ENTRIES))
def test_integer_arguments(entry: Entry, mistake: Mistake) -> None:
    _expect(entry, mistake, f"{entry.name} must be {entry.what}, got {mistake.got}")


@pytest.mark.parametrize(
    "entry", [e for e in INTEGER_ENTRIES if e.what == POSITIVE], ids=lambda e: e.label
)
def test_zero_is_not_a_positive_int(entry: Entry) -> None:
    _expect(entry, Mistake(0, ValueError, "0"), f"{entry.name} must be {POSITIVE}, got 0")


# -- lengths ----------------------------------------------------------------------------------

LENGTHS_ENTRIES = [
    Entry("ops.rnn_forward", "lengths", "", lambda v: ops.rnn_forward(X, *RNN_WEIGHTS, lengths=v)),
    Entry("ops.lstm_forward", "lengths", "", lambda v: ops.lstm_forward(X, *LSTM_WEIGHTS, lengths=v)),
    Entry("ops.gru_forward", "lengths", "", lambda v: ops.gru_forward(X, *GRU_WEIGHTS, lengths=v)),
    Entry("SimpleRNN.forward", "lengths", "", lambda v: SimpleRNN(H, input_shape=(T, D)).forward(X, lengths=v)),
    Entry("Bidirectional.forward", "lengths", "", lambda v: Bidirectional(SimpleRNN(H), input_shape=(T, D)).forward(X, lengths=v)),
    Entry("Trainer.fit", "lengths", "", lambda v: _trainer().fit(X, Y, lengths=v, verbose=0)),
    Entry("Trainer.compute_gradients", "lengths", "", lambda v: _trainer().compute_gradients(X, Y, lengths=v)),
    Entry("Model.fit", "lengths", "", lambda v: _model().fit(X, Y, lengths=v, verbose=0)),
    Entry("Model.fit.tbptt", "lengths", "", lambda v: _model().fit(X, Y, lengths=v, tbptt=2, verbose=0)),
    Entry("Model.evaluate", "lengths", "", lambda v: _model().evaluate(X, Y, lengths=v, verbose=0)),
    Entry("Model.predict", "lengths", "", lambda v: _model().predict(X, lengths=v)),
    Entry("MeanSquaredError.forward", "lengths", "", lambda v: losses.MeanSquaredError().forward(X, X, v)),
]  # fmt: skip
LENGTHS_MISTAKES = [
    Mistake(np.array([5.0, 3.0, 0.0, 1.0]), TypeError, "lengths must hold integers, got dtype float64"),
    Mistake(np.array([True, True, False, True]), TypeError, "lengths must hold integers, got dtype bool"),
    Mistake(np.array([5, 3, 0]), ValueError, "lengths must have shape (N,) = (4,), got (3,)"),
    Mistake(np.full((N, 1), 2), ValueError, "lengths must have shape (N,) = (4,), got (4, 1)"),
    Mistake(np.array([5, 6, 0, 1]), ValueError, "lengths must lie in [0, T] = [0, 5], got values in [0, 6]"),
    Mistake([5, -1, 0, 1], ValueError, "lengths must lie in [0, T] = [0, 5], got values in [-1, 5]"),
]  # fmt: skip


@pytest.mark.parametrize("mistake", LENGTHS_MISTAKES, ids=lambda m: m.got.split(", got ")[0])
@pytest.mark.parametrize("entry", LENGTHS_ENTRIES, ids=_ids(LENGTHS_ENTRIES))
def test_lengths(entry: Entry, mistake: Mistake) -> None:
    expected = mistake.got
    if not entry.label.startswith("ops.") and np.ndim(mistake.value) == 2:
        # Above the kernels the same argument also takes an (N, T) step mask.
        expected = (
            "lengths must have shape (N,) = (4,) or be an (N, T) = (4, 5) step mask, got (4, 1)"
        )
    _expect(entry, mistake, expected)


# -- activation names -------------------------------------------------------------------------

ACTIVATION_ENTRIES = [
    Entry("ops.rnn_forward", "activation", "", lambda v: ops.rnn_forward(X, *RNN_WEIGHTS, activation=v)),
    Entry("ops.lstm_forward", "activation", "", lambda v: ops.lstm_forward(X, *LSTM_WEIGHTS, activation=v)),
    Entry("ops.lstm_forward.recurrent", "recurrent_activation", "", lambda v: ops.lstm_forward(X, *LSTM_WEIGHTS, recurrent_activation=v)),
    Entry("ops.gru_forward", "activation", "", lambda v: ops.gru_forward(X, *GRU_WEIGHTS, activation=v)),
    Entry("ops.gru_forward.recurrent", "recurrent_activation", "", lambda v: ops.gru_forward(X, *GRU_WEIGHTS, recurrent_activation=v)),
    Entry("reference.rnn_forward", "activation", "", lambda v: reference.rnn_forward(X, *RNN_WEIGHTS, activation=v)),
    Entry("reference.lstm_forward", "recurrent_activation", "", lambda v: reference.lstm_forward(X, *LSTM_WEIGHTS, recurrent_activation=v)),
    Entry("reference.gru_forward", "activation", "", lambda v: reference.gru_forward(X, *GRU_WEIGHTS, activation=v)),
    Entry("SimpleRNN", "activation", "", lambda v: SimpleRNN(H, activation=v)),
    Entry("SimpleRNN.numpy", "activation", "", lambda v: SimpleRNN(H, activation=v, backend="numpy")),
]  # fmt: skip
ACTIVATION_MISTAKES = [
    Mistake(name, ValueError, repr(name)) for name in ("softmax", "Tanh", "", None, 3)
]


@pytest.mark.parametrize("mistake", ACTIVATION_MISTAKES, ids=_ids(ACTIVATION_MISTAKES))
@pytest.mark.parametrize("entry", ACTIVATION_ENTRIES, ids=_ids(ACTIVATION_ENTRIES))
def test_activation_names(entry: Entry, mistake: Mistake) -> None:
    _expect(entry, mistake, f"{entry.name} must be one of {ops.ACTIVATIONS}, got {mistake.got}")


def test_every_entry_accepts_every_kernel_activation() -> None:
    for name in ops.ACTIVATIONS:
        for entry in ACTIVATION_ENTRIES:
            entry.call(name)


# -- probabilities and rates ------------------------------------------------------------------

BELOW_ONE, UP_TO_ONE = "a number in [0, 1)", "a number in [0, 1]"
PROBABILITY_ENTRIES = [
    Entry("Dropout", "rate", BELOW_ONE, lambda v: Dropout(v)),
    Entry("Trainer.fit", "validation_split", BELOW_ONE, lambda v: _trainer().fit(X, Y, validation_split=v, verbose=0)),
    Entry("Model.fit", "validation_split", BELOW_ONE, lambda v: _model().fit(X, Y, validation_split=v, verbose=0)),
    Entry("RMSprop", "rho", BELOW_ONE, lambda v: optimizers.RMSprop(rho=v)),
    Entry("Adam.beta_1", "beta_1", BELOW_ONE, lambda v: optimizers.Adam(beta_1=v)),
    Entry("Adam.beta_2", "beta_2", BELOW_ONE, lambda v: optimizers.Adam(beta_2=v)),
    Entry("Nadam.beta_1", "beta_1", BELOW_ONE, lambda v: optimizers.Nadam(beta_1=v)),
    Entry("Nadam.beta_2", "beta_2", BELOW_ONE, lambda v: optimizers.Nadam(beta_2=v)),
    Entry("SGD", "momentum", UP_TO_ONE, lambda v: optimizers.SGD(momentum=v)),
]  # fmt: skip
PROBABILITY_MISTAKES = [
    Mistake(True, TypeError, "bool True"),
    Mistake("0.5", TypeError, "str '0.5'"),
    Mistake(None, TypeError, "NoneType None"),
    Mistake(-0.1, ValueError, "-0.1"),
    Mistake(1.5, ValueError, "1.5"),
    Mistake(float("nan"), ValueError, "nan"),
]


@pytest.mark.parametrize("mistake", PROBABILITY_MISTAKES, ids=_ids(PROBABILITY_MISTAKES))
@pytest.mark.parametrize("entry", PROBABILITY_ENTRIES, ids=_ids(PROBABILITY_ENTRIES))
def test_probabilities(entry: Entry, mistake: Mistake) -> None:
    _expect(entry, mistake, f"{entry.name} must be {entry.what}, got {mistake.got}")


@pytest.mark.parametrize(
    "entry", [e for e in PROBABILITY_ENTRIES if e.what == BELOW_ONE], ids=lambda e: e.label
)
def test_one_is_not_below_one(entry: Entry) -> None:
    _expect(entry, Mistake(1.0, ValueError, "1.0"), f"{entry.name} must be {BELOW_ONE}, got 1.0")


# -- positive and non-negative reals: clipping thresholds, decay rates, learning rates --------

POSITIVE_REAL, NON_NEGATIVE_REAL = "a positive real number", "a non-negative real number"
REAL_ENTRIES = [
    Entry("Trainer.clip_norm", "clip_norm", POSITIVE_REAL, lambda v: Trainer(_model(), "mse", "sgd", clip_norm=v)),
    Entry("Trainer.clip_value", "clip_value", POSITIVE_REAL, lambda v: Trainer(_model(), "mse", "sgd", clip_value=v)),
    Entry("Model.compile", "clip_norm", POSITIVE_REAL, lambda v: _model().compile(loss="mse", clip_norm=v)),
    Entry("SGD.global_clipnorm", "global_clipnorm", POSITIVE_REAL, lambda v: optimizers.SGD(global_clipnorm=v)),
    Entry("Adam.clipvalue", "clipvalue", POSITIVE_REAL, lambda v: optimizers.Adam(clipvalue=v)),
    Entry("Nadam.clipnorm", "clipnorm", POSITIVE_REAL, lambda v: optimizers.Nadam(clipnorm=v)),
    Entry("RMSprop.clipnorm", "clipnorm", POSITIVE_REAL, lambda v: optimizers.RMSprop(clipnorm=v)),
    Entry("clip_by_norm", "max_norm", POSITIVE_REAL, lambda v: optimizers.clip_by_norm(_grads(), v)),
    Entry("Huber.delta", "delta", POSITIVE_REAL, lambda v: losses.Huber(delta=v)),
    Entry("VarianceScaling.scale", "scale", POSITIVE_REAL, lambda v: initializers.VarianceScaling(scale=v)),
    Entry("clip_by_value", "clip_value", POSITIVE_REAL, lambda v: optimizers.clip_by_value(_grads(), v)),
    Entry("clip_by_global_norm", "max_norm", POSITIVE_REAL, lambda v: optimizers.clip_by_global_norm(_grads(), v)),
    Entry("ExponentialDecay.decay_steps", "decay_steps", POSITIVE_REAL, lambda v: schedules.ExponentialDecay(0.1, 0.5, v)),
    Entry("ExponentialDecay.decay_rate", "decay_rate", POSITIVE_REAL, lambda v: schedules.ExponentialDecay(0.1, v, 10)),
    Entry("SGD", "learning_rate", NON_NEGATIVE_REAL, lambda v: optimizers.SGD(learning_rate=v)),
    Entry("Adam", "learning_rate", NON_NEGATIVE_REAL, lambda v: optimizers.Adam(learning_rate=v)),
    Entry("Nadam", "learning_rate", NON_NEGATIVE_REAL, lambda v: optimizers.Nadam(learning_rate=v)),
    Entry("RMSprop", "learning_rate", NON_NEGATIVE_REAL, lambda v: optimizers.RMSprop(learning_rate=v)),
    Entry("Adagrad", "learning_rate", NON_NEGATIVE_REAL, lambda v: optimizers.Adagrad(learning_rate=v)),
    Entry("Adagrad.initial_accumulator_value", "initial_accumulator_value", NON_NEGATIVE_REAL, lambda v: optimizers.Adagrad(initial_accumulator_value=v)),
]  # fmt: skip
REAL_MISTAKES = [
    Mistake(True, TypeError, "bool True"),
    Mistake("1", TypeError, "str '1'"),
    Mistake([1.0], TypeError, "list [1.0]"),
    Mistake(-1.0, ValueError, "-1.0"),
    Mistake(float("inf"), ValueError, "inf"),
    Mistake(float("nan"), ValueError, "nan"),
]


@pytest.mark.parametrize("mistake", REAL_MISTAKES, ids=_ids(REAL_MISTAKES))
@pytest.mark.parametrize("entry", REAL_ENTRIES, ids=_ids(REAL_ENTRIES))
def test_reals(entry: Entry, mistake: Mistake) -> None:
    _expect(entry, mistake, f"{entry.name} must be {entry.what}, got {mistake.got}")


@pytest.mark.parametrize(
    "entry", [e for e in REAL_ENTRIES if e.what == POSITIVE_REAL], ids=lambda e: e.label
)
def test_zero_is_not_positive(entry: Entry) -> None:
    expected = f"{entry.name} must be {POSITIVE_REAL}, got 0.0"
    _expect(entry, Mistake(0, ValueError, "0.0"), expected)
