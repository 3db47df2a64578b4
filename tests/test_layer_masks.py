"""General step masks through the layer stack (issue 11, item 3): pre-padded and arbitrarily
masked batches train and predict with Keras's semantics.

A mask whose valid steps are a prefix of every row travels as lengths (packed sequences); any
other mask travels as an ``(N, T)`` bool mask (see :mod:`rnnkit._steps`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from _layer_testing import check_layer
from rnnkit import _steps
from rnnkit.gradcheck import check_gradients
from rnnkit.layers import (
    GRU,
    LSTM,
    Bidirectional,
    Dense,
    Embedding,
    Input,
    Masking,
    SimpleRNN,
    TimeDistributed,
)
from rnnkit.models import Model, Sequential
from rnnkit.training import Trainer

F64 = "float64"
CELLS = [SimpleRNN, LSTM, GRU]
T = 7
rng = np.random.default_rng(11)
SEQS = [rng.integers(1, 9, n) for n in (5, 3, 1, 7, 0)]  # the last row is all padding


def _padded(seqs: list[np.ndarray], padding: str, t: int = T) -> np.ndarray:
    ids = np.zeros((len(seqs), t), dtype=np.int64)
    for i, s in enumerate(seqs):
        if len(s):
            if padding == "pre":
                ids[i, t - len(s) :] = s
            else:
                ids[i, : len(s)] = s
    return ids


def _embedded_rnn(cell: Any, **kw: Any) -> tuple[Embedding, Any]:
    return Embedding(9, 3, mask_zero=True, dtype=F64, seed=1), cell(
        4, dtype=F64, seed=2, return_state=True, **kw
    )


# -- the helper ---------------------------------------------------------------------------------


def test_steps_carry_a_suffix_mask_as_lengths() -> None:
    post = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=bool)
    lengths = _steps.check(post, 3, 3)
    assert lengths is not None and lengths.ndim == 1
    np.testing.assert_array_equal(lengths, [2, 1, 0])
    pre = post[:, ::-1]
    np.testing.assert_array_equal(_steps.check(pre, 3, 3), pre)
    np.testing.assert_array_equal(_steps.to_mask(np.array([2, 1, 0]), 3, 3), post)
    np.testing.assert_array_equal(
        _steps.combine(np.array([3, 1, 2]), pre), [[0, 1, 1], [0, 0, 0], [0, 0, 0]]
    )
    np.testing.assert_array_equal(
        _steps.combine(np.array([3, 1, 2]), np.array([2, 2, 2])), [2, 1, 2]
    )
    with pytest.raises(ValueError, match=r"or be an \(N, T\) = \(3, 3\) step mask, got \(3, 2\)"):
        _steps.check(np.ones((3, 2), dtype=bool), 3, 3)


def test_embedding_and_masking_give_lengths_for_post_padding_and_the_mask_otherwise() -> None:
    emb = Embedding(9, 2, mask_zero=True)
    emb(_padded(SEQS, "post"))
    assert emb.output_lengths(None).ndim == 1
    emb(_padded(SEQS, "pre"))
    np.testing.assert_array_equal(emb.output_lengths(None), _padded(SEQS, "pre") != 0)
    x = rng.standard_normal((2, 4, 3))
    x[0, 1] = 0.0  # a gap
    masking = Masking()
    out = masking(x)
    np.testing.assert_array_equal(masking.output_lengths(None), [[1, 0, 1, 1], [1, 1, 1, 1]])
    assert not out[0, 1].any()


# -- pre-padded batches give each sequence's own results -----------------------------------------


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_pre_padded_batch_equals_each_sequence_unpadded(cell: Any, go_backwards: bool) -> None:
    emb, rnn = _embedded_rnn(cell, return_sequences=True, go_backwards=go_backwards)
    ids = _padded(SEQS, "pre")
    out, *states = rnn(emb(ids), lengths=emb.output_lengths(None))
    assert rnn.output_lengths(emb.output_lengths(None)) is not None  # the mask passes on
    for i, s in enumerate(SEQS):
        pad = T - len(s)
        if not len(s):  # all padding: zero outputs and the (zero) initial states
            assert not out[i].any() and not any(st[i].any() for st in states)
            continue
        alone, *alone_states = rnn(emb(s[None]))
        for a, b in zip(states, alone_states):
            assert np.abs(a[i] - b[0]).max() <= 1e-12
        # Keras's sequence output: zeros before the first valid step (in processing order),
        # then each valid step's output.
        if go_backwards:  # the whole row reversed: the valid steps come first
            np.testing.assert_allclose(out[i, : len(s)], alone[0], rtol=0, atol=1e-12)
            repeated = np.broadcast_to(alone[0, -1], (pad, 4))
            np.testing.assert_allclose(out[i, len(s) :], repeated, rtol=0, atol=1e-12)
        else:
            assert not out[i, :pad].any()
            np.testing.assert_allclose(out[i, pad:], alone[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_last_output_of_a_pre_padded_batch(cell: Any) -> None:
    emb, rnn = _embedded_rnn(cell)
    h0 = [rng.standard_normal((len(SEQS), 4)) for _ in rnn.state_names]
    ids = _padded(SEQS, "pre")
    last, *states = rnn(emb(ids), lengths=emb.output_lengths(None), initial_state=h0)
    for i, s in enumerate(SEQS):
        init = [h[i : i + 1] for h in h0]
        if not len(s):
            # Keras: the last output of a row without a valid step is zeros, its states the
            # initial ones.
            assert not last[i].any()
            for a, h in zip(states, init):
                np.testing.assert_array_equal(a[i], h[0])
            continue
        alone, *_ = rnn(emb(s[None]), initial_state=init if len(init) > 1 else init[0])
        assert np.abs(last[i] - alone[0]).max() <= 1e-12


def test_masking_lstm_on_pre_padded_float_series() -> None:
    series = [rng.standard_normal((n, 2)) for n in (6, 2, 4)]
    x = np.zeros((3, T, 2))
    for i, s in enumerate(series):
        x[i, T - len(s) :] = s
    model = Sequential(
        [
            Masking(input_shape=(T, 2), dtype=F64),
            LSTM(5, dtype=F64, seed=3),
            Dense(1, dtype=F64, seed=4),
        ]
    )
    out = model.predict(x)
    for i, s in enumerate(series):
        _, lstm, dense = model.layers
        alone = dense(lstm(s[None]))
        assert np.abs(out[i] - alone[0]).max() <= 1e-12


def test_steps_masked_between_valid_ones_carry_the_state_and_repeat_the_output() -> None:
    x = rng.standard_normal((2, 5, 3))
    mask = np.array([[1, 0, 0, 1, 1], [0, 1, 1, 0, 1]], dtype=bool)
    rnn = GRU(4, dtype=F64, seed=0, return_sequences=True)
    out = rnn(x, lengths=mask)
    for i in range(2):
        alone = rnn(x[i : i + 1, mask[i]])
        np.testing.assert_allclose(out[i, mask[i]], alone[0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(out[0, 1], out[0, 0])  # repeats the previous output
    np.testing.assert_array_equal(out[1, 3], out[1, 2])
    assert not out[1, 0].any()  # zeros before the first valid step


@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_with_a_pre_padded_mask(return_sequences: bool, merge_mode: str) -> None:
    emb = Embedding(9, 3, mask_zero=True, dtype=F64, seed=1)
    bi = Bidirectional(LSTM(4, dtype=F64, seed=2, return_sequences=return_sequences), merge_mode)
    ids = _padded(SEQS[:4], "pre")
    out = bi(emb(ids), lengths=emb.output_lengths(None))
    for i, s in enumerate(SEQS[:4]):
        alone = bi(emb(s[None]))
        if return_sequences:  # aligned in time: the valid steps hold the unpadded outputs
            np.testing.assert_allclose(out[i, T - len(s) :], alone[0], rtol=0, atol=1e-12)
        else:
            assert np.abs(out[i] - alone[0]).max() <= 1e-12


# -- gradients ----------------------------------------------------------------------------------

GAPS = np.array([[1, 0, 1, 1, 0, 1], [0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0]], dtype=bool)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_recurrent_layer_gradients_with_a_general_mask(
    cell: Any, return_sequences: bool, go_backwards: bool
) -> None:
    x = rng.standard_normal((3, 6, 2))
    layer = cell(
        3, dtype=F64, seed=0, return_sequences=return_sequences, go_backwards=go_backwards,
        return_state=True,
    )  # fmt: skip
    initial = [rng.standard_normal((3, 3)) for _ in layer.state_names]
    check_layer(layer, x, initial=initial, lengths=GAPS)


def test_bidirectional_gradients_with_a_general_mask() -> None:
    x = rng.standard_normal((3, 6, 2))
    check_layer(
        Bidirectional(SimpleRNN(3, dtype=F64, seed=0, return_sequences=True)), x, lengths=GAPS
    )
    check_layer(Bidirectional(GRU(3, dtype=F64, seed=0)), x, lengths=GAPS)


def _stack() -> Sequential:
    return Sequential(
        [
            Embedding(9, 3, mask_zero=True, dtype=F64, seed=0, input_shape=(T,)),
            SimpleRNN(4, return_sequences=True, dtype=F64, seed=1),
            LSTM(3, return_sequences=True, go_backwards=True, dtype=F64, seed=2),
            TimeDistributed(Dense(9, dtype=F64, seed=3)),
        ]
    )


def test_layer_stack_gradient_check_with_a_non_suffix_mask() -> None:
    ids = _padded(SEQS, "pre")
    ids[0, 3] = 0  # and a gap
    targets = rng.integers(0, 9, ids.shape)
    model = _stack()
    trainer = Trainer(model, loss="sparse_categorical_crossentropy", optimizer="sgd")
    _, grads = trainer.compute_gradients(ids, targets)

    def f() -> float:
        out = model.forward(ids, training=True)
        return trainer.loss.forward(out, targets, model.output_lengths(None))

    model.forward(ids)
    assert _steps.is_mask(model.output_lengths(None))  # the general path, not lengths
    # eps 1e-5: at 1e-6 rounding in the 9-class loss alone reaches ~1e-7 on small entries.
    check_gradients(f, model.params, grads, eps=1e-5)


def test_masked_steps_do_not_count_in_a_sequence_loss() -> None:
    ids = _padded(SEQS, "pre")
    ids[0, 3] = 0
    valid = ids != 0
    targets = rng.integers(0, 9, ids.shape)
    other = np.where(valid, targets, (targets + 1) % 9)  # differs at masked steps only
    model = _stack()
    trainer = Trainer(model, loss="sparse_categorical_crossentropy", optimizer="sgd")
    loss, grads = trainer.compute_gradients(ids, targets)
    loss2, grads2 = trainer.compute_gradients(ids, other)
    assert loss == loss2
    for key in grads:
        np.testing.assert_array_equal(grads[key], grads2[key])
    # The mean is over the valid steps only.
    out = model.predict(ids)
    z = out - out.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    assert loss == pytest.approx(-picked[valid].mean(), rel=1e-12)


# -- training, evaluate and predict ---------------------------------------------------------------


def _many_to_one(cell: Any = LSTM) -> Sequential:
    model = Sequential(
        [
            Embedding(9, 4, mask_zero=True, dtype=F64, seed=0, input_shape=(T,)),
            cell(5, dtype=F64, seed=1),
            Dense(1, dtype=F64, seed=2),
        ]
    )
    model.compile(loss="mse", optimizer="adam", metrics=["mae"])
    return model


@pytest.mark.parametrize("cell", CELLS)
def test_training_on_pre_padding_equals_training_on_post_padding(cell: Any) -> None:
    seqs = SEQS[:4] * 3
    y = rng.standard_normal((len(seqs), 1))
    runs = []
    for padding in ("post", "pre"):
        model = _many_to_one(cell)
        history = model.fit(
            _padded(seqs, padding), y, epochs=3, batch_size=5, shuffle=False, verbose=0
        )
        runs.append((history.history["loss"], model.get_weights(), model))
    (loss_post, w_post, post), (loss_pre, w_pre, pre) = runs
    np.testing.assert_allclose(loss_pre, loss_post, rtol=1e-10)
    for a, b in zip(w_pre, w_post):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        pre.predict(_padded(seqs, "pre")), post.predict(_padded(seqs, "post")), rtol=1e-9
    )
    e_pre = pre.evaluate(_padded(seqs, "pre"), y, verbose=0)
    e_post = post.evaluate(_padded(seqs, "post"), y, verbose=0)
    np.testing.assert_allclose(e_pre, e_post, rtol=1e-9)


def test_validation_data_with_pre_padding() -> None:
    ids, y = _padded(SEQS[:4], "pre"), rng.standard_normal((4, 1))
    model = _many_to_one()
    history = model.fit(ids, y, epochs=2, validation_data=(ids, y), shuffle=False, verbose=0)
    assert np.isfinite(history.history["val_loss"]).all()
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(ids, y, verbose=0)[0])


def test_a_mask_given_as_lengths_argument() -> None:
    """fit/evaluate/predict take an (N, T) mask where they take lengths; a post-padding mask
    gives exactly the lengths' results."""
    x = rng.standard_normal((4, T, 2))
    mask = _padded(SEQS[:4], "pre") != 0
    model = Sequential([GRU(3, dtype=F64, seed=0, input_shape=(T, 2)), Dense(1, dtype=F64, seed=1)])
    masked = Sequential(
        [
            Masking(input_shape=(T, 2), dtype=F64),
            GRU(3, dtype=F64, seed=0),
            Dense(1, dtype=F64, seed=1),
        ]
    )
    np.testing.assert_allclose(
        model.predict(x, lengths=mask),
        masked.predict(np.where(mask[..., None], x, 0.0)),
        atol=1e-12,
    )
    post = _padded(SEQS[:4], "post") != 0
    np.testing.assert_array_equal(
        model.predict(x, lengths=post), model.predict(x, lengths=post.sum(1))
    )
    model.compile(loss="mse", optimizer="sgd")
    y = rng.standard_normal((4, 1))
    model.fit(x, y, lengths=mask, epochs=1, batch_size=3, verbose=0)
    assert np.isfinite(model.evaluate(x, y, lengths=mask, verbose=0))


def test_functional_graph_carries_a_pre_padded_mask() -> None:
    inputs = Input((None,), dtype="int64")
    x = Embedding(9, 3, mask_zero=True, dtype=F64, seed=1)(inputs)
    x = SimpleRNN(4, return_sequences=True, dtype=F64, seed=2)(x)
    x = LSTM(3, dtype=F64, seed=3)(x)
    model = Model(inputs, Dense(1, dtype=F64, seed=4)(x))
    out = model.predict(_padded(SEQS[:4], "pre"))
    for i, s in enumerate(SEQS[:4]):
        assert np.abs(out[i] - model.predict(s[None])[0]).max() <= 1e-12


def test_stateful_layer_carries_its_state_over_masked_steps() -> None:
    x = rng.standard_normal((2, 6, 2))
    mask = np.array([[1, 0, 1, 1, 0, 0], [0, 0, 0, 1, 0, 1]], dtype=bool)
    whole = LSTM(3, dtype=F64, seed=0, return_state=True)
    _, *states = whole(x, lengths=mask)
    split = LSTM(3, dtype=F64, seed=0, return_state=True, stateful=True)
    split(x[:, :3], lengths=mask[:, :3])
    _, *carried = split(x[:, 3:], lengths=mask[:, 3:])
    for a, b in zip(states, carried):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


# -- what is refused ------------------------------------------------------------------------------


def test_tbptt_refuses_a_non_suffix_mask() -> None:
    ids, y = _padded(SEQS[:4], "pre"), rng.standard_normal((4, 1))
    with pytest.raises(
        ValueError, match=r"truncated BPTT \(fit\(tbptt=...\)\) does not take a step mask"
    ):
        _many_to_one().fit(ids, y, tbptt=3, verbose=0)
    _many_to_one().fit(_padded(SEQS[:4], "post"), y, tbptt=3, verbose=0)  # lengths: fine
    model = Sequential([SimpleRNN(3, input_shape=(T, 2)), Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"tbptt does not take a step mask"):
        model.fit(rng.standard_normal((4, T, 2)), y, lengths=ids != 0, tbptt=3, verbose=0)


def test_fit_stream_refuses_a_non_suffix_mask() -> None:
    model = Sequential(
        [
            Embedding(5, 3, mask_zero=True, seed=0),
            SimpleRNN(4, return_sequences=True, seed=1),
            TimeDistributed(Dense(5, seed=2)),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    stream = np.tile(np.array([1, 2, 0, 3, 4]), 20)
    with pytest.raises(ValueError, match="fit_stream does not take a step mask"):
        model.trainer.fit_stream(stream, batch_size=2, bptt=5, verbose=0)


@pytest.mark.parametrize(
    ("cell", "options"),
    [(SimpleRNN, {}), (SimpleRNN, {"layer_norm": True}), (LSTM, {}), (GRU, {})],
)
def test_numpy_backend_agrees_under_a_general_mask(cell: Any, options: dict[str, Any]) -> None:
    x = rng.standard_normal((3, 6, 2))
    results = []
    for backend in ("cpp", "numpy"):
        layer = cell(3, dtype=F64, seed=0, return_sequences=True, backend=backend, **options)
        y = layer(x, lengths=GAPS)
        dx = layer.backward(np.ones_like(y))
        results.append((y, dx, *(layer.grads[k].copy() for k in sorted(layer.grads))))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-11)


def test_dropout_trains_under_a_general_mask() -> None:
    ids, y = _padded(SEQS, "pre"), rng.standard_normal((len(SEQS), 1))
    model = Sequential(
        [
            Embedding(9, 4, mask_zero=True, seed=0, input_shape=(T,)),
            LSTM(5, dropout=0.2, recurrent_dropout=0.2, seed=1),
            Dense(1, seed=2),
        ]
    )
    model.compile(loss="mse", optimizer="adam")
    history = model.fit(ids, y, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
