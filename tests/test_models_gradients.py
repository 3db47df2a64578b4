"""Float64 numerical gradient checks of whole models: every loss, masks, Embedding,
Bidirectional and stacked recurrent layers (central differences, rel_error <= 1e-7)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rnnkit import losses
from rnnkit.gradcheck import check_gradients
from rnnkit.layers import Bidirectional, Dense, Embedding, SimpleRNN, TimeDistributed
from rnnkit.models import Sequential
from rnnkit.training import Trainer

N, T, D, H = 3, 5, 2, 4
F64 = "float64"


def check_model(
    model: Sequential, x: Any, y: Any, loss: Any, lengths: np.ndarray | None = None
) -> dict[str, float]:
    """Analytic gradients of the model's mean loss (Trainer.compute_gradients) against central
    differences of the same loss, for every parameter of every layer."""
    trainer = Trainer(model, loss=loss, optimizer="sgd")
    _, grads = trainer.compute_gradients(x, y, lengths=lengths)

    def f() -> float:
        out = model.forward(x, training=True, lengths=lengths)
        mask = model.output_lengths(lengths) if out.ndim >= 3 else None
        return trainer.loss.forward(out, y, mask)

    assert all(p.dtype == np.float64 for p in model.params.values())
    return check_gradients(f, model.params, grads)


def rnn_to_sequence(out: int, **rnn: Any) -> Sequential:
    return Sequential(
        [
            SimpleRNN(H, return_sequences=True, dtype=F64, seed=0, input_shape=(T, D), **rnn),
            TimeDistributed(Dense(out, dtype=F64, seed=1)),
        ]
    )


def rnn_to_vector(out: int) -> Sequential:
    return Sequential(
        [SimpleRNN(H, dtype=F64, seed=0, input_shape=(T, D)), Dense(out, dtype=F64, seed=1)]
    )


rng = np.random.default_rng(0)
X = rng.standard_normal((N, T, D))
LENGTHS = np.array([T, 2, 4])


def _targets(kind: str, shape: tuple[int, ...], classes: int) -> np.ndarray:
    r = np.random.default_rng(1)
    if kind == "real":
        return r.standard_normal((*shape, classes))
    if kind == "binary":
        return r.integers(0, 2, (*shape, classes)).astype(np.float64)
    if kind == "ids":
        return r.integers(0, classes, shape)
    return np.eye(classes)[r.integers(0, classes, shape)]  # one-hot


LOSS_CASES = [
    ("mse", "real", 2),
    ("mae", "real", 2),
    ("binary_crossentropy", "binary", 1),
    ("sparse_categorical_crossentropy", "ids", 3),
    ("categorical_crossentropy", "onehot", 3),
]


@pytest.mark.parametrize("loss,kind,classes", LOSS_CASES)
def test_many_to_one_model_each_loss(loss: str, kind: str, classes: int) -> None:
    check_model(rnn_to_vector(classes), X, _targets(kind, (N,), classes), loss)


@pytest.mark.parametrize("loss,kind,classes", LOSS_CASES)
def test_many_to_many_model_each_loss_with_mask(loss: str, kind: str, classes: int) -> None:
    check_model(rnn_to_sequence(classes), X, _targets(kind, (N, T), classes), loss, lengths=LENGTHS)


@pytest.mark.parametrize(
    "loss",
    [
        losses.BinaryCrossentropy(from_logits=False),
        losses.CategoricalCrossentropy(from_logits=False),
    ],
)
def test_probability_outputs(loss: losses.Loss) -> None:
    """Sigmoid/softmax output layers with from_logits=False (Keras's default pairing)."""
    classes = 1 if isinstance(loss, losses.BinaryCrossentropy) else 3
    model = Sequential(
        [
            SimpleRNN(H, dtype=F64, seed=0, input_shape=(T, D)),
            Dense(classes, activation="sigmoid" if classes == 1 else "softmax", dtype=F64, seed=1),
        ]
    )
    y = _targets("binary" if classes == 1 else "onehot", (N,), classes)
    check_model(model, X, y, loss)


def test_relu_stacked_model() -> None:
    model = Sequential(
        [
            SimpleRNN(
                H, return_sequences=True, activation="relu", dtype=F64, seed=3, input_shape=(T, D)
            ),
            SimpleRNN(3, dtype=F64, seed=4),
            Dense(2, dtype=F64, seed=5),
        ]
    )
    check_model(model, X, _targets("real", (N,), 2), "mse")


def test_stacked_model_with_mask() -> None:
    model = Sequential(
        [
            SimpleRNN(H, return_sequences=True, dtype=F64, seed=0, input_shape=(T, D)),
            SimpleRNN(3, return_sequences=True, dtype=F64, seed=1),
            SimpleRNN(3, dtype=F64, seed=2),
            Dense(2, dtype=F64, seed=3),
        ]
    )
    check_model(model, X, _targets("real", (N,), 2), "mse", lengths=LENGTHS)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_sequence_model(merge_mode: str) -> None:
    model = Sequential(
        [
            Bidirectional(
                SimpleRNN(H, return_sequences=True, dtype=F64, seed=0),
                merge_mode=merge_mode,
                input_shape=(T, D),
            ),
            TimeDistributed(Dense(2, dtype=F64, seed=1)),
        ]
    )
    check_model(model, X, _targets("real", (N, T), 2), "mse", lengths=LENGTHS)


def test_bidirectional_stacked_to_vector() -> None:
    model = Sequential(
        [
            Bidirectional(
                SimpleRNN(H, return_sequences=True, dtype=F64, seed=0), input_shape=(T, D)
            ),
            Bidirectional(SimpleRNN(3, dtype=F64, seed=2)),
            Dense(3, dtype=F64, seed=1),
        ]
    )
    check_model(model, X, _targets("ids", (N,), 3), "sparse_categorical_crossentropy")


def test_embedding_language_model_with_mask_zero() -> None:
    ids = np.array([[1, 4, 2, 0, 0], [3, 3, 1, 2, 5], [2, 0, 0, 0, 0]])
    model = Sequential(
        [
            Embedding(6, 3, mask_zero=True, dtype=F64, seed=0, input_shape=(T,)),
            SimpleRNN(H, return_sequences=True, dtype=F64, seed=1),
            TimeDistributed(Dense(6, dtype=F64, seed=2)),
        ]
    )
    targets = np.roll(ids, -1, axis=1)
    errors = check_model(model, ids, targets, "sparse_categorical_crossentropy")
    assert set(errors) == set(model.params)


def test_tbptt_gradients_are_not_full_gradients() -> None:
    """Sanity of the check itself: truncated-window gradients differ from the full ones (so
    the equality tests in test_tbptt.py are not vacuous)."""
    model = rnn_to_sequence(2)
    trainer = Trainer(model, loss="mse", optimizer="sgd")
    y = _targets("real", (N, T), 2)
    _, full = trainer.compute_gradients(X, y)
    _, windows = trainer.compute_gradients(X, y, tbptt=2)
    assert not np.allclose(
        full[f"{model.layers[0].name}/Wh"], windows[f"{model.layers[0].name}/Wh"]
    )
