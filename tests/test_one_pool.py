"""A training step of the demo's char-LM (Embedding, SimpleRNN, TimeDistributed(Dense), sparse
cross-entropy from logits, Adam, global-norm clipping) runs its maths on rnnkit's C++ core and
never wakes NumPy's BLAS (docs/performance.md, "One BLAS pool")."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rnnkit import clipping, losses, optimizers
from rnnkit._loss_base import Loss
from rnnkit.activations import Linear
from rnnkit.layers import Dense, Embedding, SimpleRNN, TimeDistributed
from rnnkit.models import Sequential
from rnnkit.ops import layer_math

VOCAB, BATCH, STEPS = 20, 4, 7


def _model(dtype: str, width: int = 16) -> Sequential:
    model = Sequential(
        [
            Embedding(VOCAB, 8, seed=0, dtype=dtype),
            SimpleRNN(width, return_sequences=True, seed=1, dtype=dtype),
            TimeDistributed(Dense(VOCAB, seed=2, dtype=dtype)),
        ]
    )
    model.build((None,))
    return model


def _train_step(
    model: Sequential, loss: Loss, opt: optimizers.Optimizer, batch: int = BATCH
) -> float:
    rng = np.random.default_rng(0)
    x = rng.integers(0, VOCAB, (batch, STEPS))
    y = rng.integers(0, VOCAB, (batch, STEPS))
    value = loss.forward(model.forward(x, training=True), y)
    model.backward(loss.backward())
    grads = model.trainable_grads
    clipping.clip_by_global_norm(grads, 0.5)
    opt.step(model.trainable_params, grads)
    return value


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_training_step_runs_on_the_kernels(monkeypatch, dtype):
    calls: Counter[str] = Counter()
    for name in (
        "dense_forward",
        "dense_backward",
        "sparse_softmax_cross_entropy",
        "adam_update",
        "sum_of_squares",
        "embedding_scatter_add",
    ):
        kernel = getattr(layer_math, name)

        def counted(*args, _kernel=kernel, _name=name, **kwargs):
            calls[_name] += 1
            return _kernel(*args, **kwargs)

        monkeypatch.setattr(layer_math, name, counted)

    def refuse(*args, **kwargs):
        raise AssertionError("the NumPy formulation ran in a training step")

    # The NumPy paths these kernels replace: the Dense's activation backward, the loss's
    # per-item formulation.
    monkeypatch.setattr(Linear, "backward", refuse)
    monkeypatch.setattr(Loss, "forward", refuse)
    model = _model(dtype)
    params = {k: v.copy() for k, v in model.trainable_params.items()}
    value = _train_step(model, losses.SparseCategoricalCrossentropy(), optimizers.Adam(0.01))
    assert np.isfinite(value)
    weights = len(params)  # embeddings, Wx, Wh, b, W, b
    assert calls == {
        "dense_forward": 1,
        "dense_backward": 1,
        "sparse_softmax_cross_entropy": 1,
        "adam_update": weights,
        "sum_of_squares": weights,
        "embedding_scatter_add": 1,
    }
    for key, before in params.items():  # every weight moved
        assert not np.array_equal(model.trainable_params[key], before), key


def test_the_kernels_train_as_the_numpy_formulations_do(monkeypatch):
    """Two steps in float64 on the kernels and on the NumPy code (the kernels switched off)
    give the same losses and weights."""
    fast = _model("float64")
    slow = _model("float64")
    slow.set_weights(fast.get_weights())
    loss_fast, opt_fast = losses.SparseCategoricalCrossentropy(), optimizers.Adam(0.01)
    got = [_train_step(fast, loss_fast, opt_fast) for _ in range(2)]
    import rnnkit.clipping
    import rnnkit.layers.dense
    import rnnkit.layers.embedding
    import rnnkit.losses
    import rnnkit.optimizers

    no_floats: tuple = ()
    for module in (
        rnnkit.layers.dense,
        rnnkit.layers.embedding,
        rnnkit.losses,
        rnnkit.optimizers,
        rnnkit.clipping,
    ):
        monkeypatch.setattr(module, "FLOAT_DTYPES", no_floats)
    loss_slow, opt_slow = losses.SparseCategoricalCrossentropy(), optimizers.Adam(0.01)
    want = [_train_step(slow, loss_slow, opt_slow) for _ in range(2)]
    assert got == pytest.approx(want, rel=1e-12)
    for a, b in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


_PROBE = textwrap.dedent(
    """
    import os, threading, time
    import numpy as np

    # The threads that exist right after importing NumPy are its BLAS's workers.
    main = str(threading.get_native_id())
    numpy_blas = sorted(set(os.listdir("/proc/self/task")) - {main})

    def switches():
        total = 0
        for tid in numpy_blas:
            with open(f"/proc/self/task/{tid}/status") as f:
                total += sum(int(l.split()[1]) for l in f if "ctxt_switches" in l)
        return total

    def settled():
        # OpenBLAS's idle workers spin and yield for a while (~0.1 s) before they sleep: wait
        # until their count has stood still for 0.3 s.
        last, still = switches(), 0
        for _ in range(100):
            time.sleep(0.1)
            now = switches()
            still = still + 1 if now == last else 0
            if still == 3:
                break
            last = now
        return last

    import sys
    sys.path.insert(0, os.environ["PROBE_TESTS"])
    from test_one_pool import _model, _train_step
    from rnnkit import losses, optimizers

    # Products large enough for OpenBLAS to use its threads (448 x 256 x 20), had NumPy run them.
    model = _model("float32", width=256)
    loss, opt = losses.SparseCategoricalCrossentropy(), optimizers.Adam(0.01)
    _train_step(model, loss, opt, batch=64)
    before = settled()
    a = np.ones((512, 512))
    for _ in range(5):
        a @ a
    during_numpy = switches() - before  # the control: NumPy's BLAS call wakes them
    before = settled()
    for _ in range(5):
        _train_step(model, loss, opt, batch=64)
    during_steps = switches() - before
    print(len(numpy_blas), during_steps, during_numpy)
    """
)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads Linux's /proc")
def test_a_training_step_leaves_numpys_blas_threads_asleep():
    # Two NumPy BLAS threads, so that there is a worker to watch on any machine.
    env = dict(os.environ, PROBE_TESTS=str(Path(__file__).parent), OPENBLAS_NUM_THREADS="2")
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    # The last line: an editable install may print its rebuild first.
    threads, during_steps, during_numpy = map(int, out.stdout.splitlines()[-1].split())
    if threads == 0 or during_numpy == 0:
        pytest.skip("NumPy's BLAS has no worker threads here to watch")
    assert during_steps == 0  # the control above woke them: the probe sees a BLAS call
