"""benchmarks/bench_generate.py and bench_demo_step.py (their code: rnnkit.bench.generation and
rnnkit.bench.demo_step) at tiny sizes: both contenders run the same model, and the scripts run
and print their rows. Nothing here is timed (timings are the scripts' output, never a test's)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import rnnkit
from rnnkit.bench import demo_step, generation
from rnnkit.bench.report import environment_warning
from rnnkit.layers import LSTM, Dense, Embedding, TimeDistributed
from rnnkit.models import Sequential


@pytest.fixture(autouse=True)
def no_settling(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (generation, demo_step):
        monkeypatch.setattr(module, "SETTLE_S", 0.0)


@pytest.fixture
def torch_in_one_thread() -> Iterator[Any]:
    """torch, single-threaded for the test: on a loaded two-core machine its OpenMP workers
    waiting for a core made one tiny training step take seconds."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


# The scripts' PyTorch timings are left out here (see torch_in_one_thread); what torch runs is
# checked on its own.


def test_generate_bench_prints_a_row_per_preset(capsys):
    args = ["--length", "4", "--repeat", "1", "--hidden", "6", "--no-torch"]
    assert generation.main(args) == 0
    printed = capsys.readouterr().out
    assert "rnnkit.generate, 4 characters" in printed
    rows = [line.split() for line in printed.splitlines()]
    rows = [row for row in rows if row and row[0] in generation.PRESETS]
    assert [row[0] for row in rows] == list(generation.PRESETS)
    assert all(row[1] == "6" and float(row[2].replace(",", "")) > 0 for row in rows)


def test_torch_loop_generates_the_same_greedy_text_as_rnnkit(torch_in_one_thread):
    size = len(generation.VOCAB)
    model = Sequential(
        [
            Embedding(size, 5, seed=1, dtype="float64"),
            LSTM(7, return_sequences=True, seed=2, dtype="float64"),
            TimeDistributed(Dense(size, seed=3, dtype="float64")),
        ]
    )
    model.build((None,))
    model.set_weights([w * 8 for w in model.get_weights()])  # far from ties
    loop = generation.torch_generator(model)
    greedy = generation.VOCAB.decode(loop("def f(x):", 40, 0.0, 0))
    assert greedy == rnnkit.generate(model, "def f(x):", 40, 0.0, vocab=generation.VOCAB)
    assert len(set(greedy)) > 1
    sampled = loop("def ", 30, 1.0, 5)
    assert sampled == loop("def ", 30, 1.0, 5)
    assert len(sampled) == 30 and all(0 <= i < size for i in sampled)


@pytest.mark.parametrize("preset", demo_step.PRESETS)
def test_demo_step_is_the_same_update_in_both(preset, torch_in_one_thread):
    model, cfg, x, y = demo_step.demo_problem(preset, hidden=6, batch=3)
    assert x.shape == y.shape == (3, cfg.bptt)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # the next character is the target
    torch_run = demo_step.torch_step(model, cfg, x, y)
    rnnkit_run = demo_step.rnnkit_step(model, cfg, x, y)
    ours = rnnkit_run()
    assert torch_run() == pytest.approx(ours, rel=1e-6)
    for _ in range(2):  # the losses stay together: the same clipped Adam updates (Keras's and
        ours = rnnkit_run()  # PyTorch's epsilon differ in where they enter)
        assert torch_run() == pytest.approx(ours, rel=1e-4)
    assert ours < np.log(demo_step.VOCAB_SIZE)  # it trains


def test_demo_step_bench_times_and_prints(capsys):
    row = demo_step.time_step("lstm", 1, 1, with_torch=False, sizes=(6, 3))
    assert row.shape == (3, 64, 6) and row.rnnkit_ms > 0 and row.ratio is None
    assert np.isclose(row.first_loss, np.log(demo_step.VOCAB_SIZE), rtol=0.05)  # near uniform
    if importlib.util.find_spec("torch") is not None:
        seconds, threads = demo_step.fastest_torch_threads(lambda: 0.0, 1)
        assert seconds >= 0.0 and threads in (1, 2)
    args = ["--repeat", "1", "--rounds", "1", "--hidden", "4", "--batch", "2", "--no-torch"]
    assert demo_step.main(args) == 0
    printed = capsys.readouterr().out
    assert "modern: batch 2 x 64 steps, 4 units, Adam, clip_norm: one training step" in printed
    assert "  rnnkit " in printed


def test_environment_warning_names_the_script_to_rerun():
    text = environment_warning({"OPENBLAS_CORETYPE": "Haswell"}, command=demo_step.COMMAND)
    assert text is not None
    assert "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_demo_step.py" in (
        text
    )
