"""Keras's stateful listings: Input(batch_shape=...), batch_input_shape=, layer.states and
model.reset_states()."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit.layers import GRU, LSTM, Dense, Input, SimpleRNN
from rnnkit.models import Sequential, load_model


def series(n: int = 8, t: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, t, 1)).astype(np.float32)


def test_batch_shape_input_fixes_the_batch_size_and_round_trips(tmp_path: Path) -> None:
    model = Sequential(
        [Input(batch_shape=(4, 6, 1)), SimpleRNN(5, stateful=True, seed=0), Dense(1)]
    )
    assert model.input_layer is not None and model.input_layer.batch_size == 4
    assert model.input_layer.shape == (6, 1)
    x = series()
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, x[:, -1], batch_size=4, epochs=1, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match="fixed batch size of 4"):
        model.predict(x)  # 8 samples in one batch of 32
    restored = load_model(model.save(tmp_path / "m.npz"))
    assert restored.input_layer is not None and restored.input_layer.batch_size == 4  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="batch_shape"):
        Input((6, 2), batch_shape=(4, 6, 1))
    with pytest.raises(ValueError, match="batch_size"):
        Input(batch_shape=(4, 6, 1), batch_size=3)
    with pytest.raises(TypeError, match="batch_size"):
        Input((6, 1), batch_size=2.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_batch_input_shape_builds_like_input_shape(cls) -> None:  # type: ignore[no-untyped-def]
    layer = cls(3, batch_input_shape=(4, 6, 2), stateful=True)
    assert layer.built and layer.input_shape == (6, 2)
    with pytest.raises(ValueError, match="batch_input_shape"):
        cls(3, batch_input_shape=(4, 6, 2), input_shape=(6, 3))


def test_states_carry_across_calls_and_reset_states_forgets_them() -> None:
    x = series(n=4)
    stateful = Sequential(
        [SimpleRNN(5, batch_input_shape=(4, 6, 1), stateful=True, seed=0), Dense(1)]
    )
    plain = Sequential([SimpleRNN(5, input_shape=(6, 1), seed=0), Dense(1)])
    plain.set_weights(stateful.get_weights())
    rnn = stateful.layers[0]
    assert rnn.states is None
    stateful.predict_on_batch(x[:, :3])
    assert rnn.states is not None and rnn.states[0].shape == (4, 5)
    # The second half starts from the state the first half left: as one pass over all steps.
    np.testing.assert_allclose(
        stateful.predict_on_batch(x[:, 3:]), plain.predict(x), rtol=1e-5, atol=1e-6
    )
    stateful.reset_states()
    assert rnn.states is None
    np.testing.assert_allclose(
        stateful.predict_on_batch(x[:, 3:]), plain.predict(x[:, 3:]), rtol=1e-5, atol=1e-6
    )
