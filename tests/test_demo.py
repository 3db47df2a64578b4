"""``python -m rnnkit demo``: the README's first command must run, print samples and the speed
ratio, list the examples, and refuse an unknown example clearly."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from rnnkit import demo, examples
from rnnkit.__main__ import main as cli_main
from rnnkit.layers import RecurrentLayer as RL
from rnnkit.layers import walk_layers


def test_demo_runs_briefly_and_reports_samples_and_speed(tmp_path: Path) -> None:
    # A real subprocess: the entry point as a user types it. ~3 s of training, then evaluation
    # and the speed comparison (~10 s in all on the 2-core machine).
    done = subprocess.run(
        [sys.executable, "-m", "rnnkit", "demo", "--seconds", "3", "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    # Samples as it trains, each an indented block continuing a real method header...
    assert re.search(r"\[T=0\.5\]\n    \|     def \w+\(self", out), out[-3000:]
    # ...with no run of spaces a reader would see as nothing (they are shown counted).
    assert not re.search(r" {25,}", out)
    assert re.search(r"held-out \d+\.\d\d", out)  # perplexity
    assert re.search(r"ms with NumPy: \d+\.\dx faster", out)  # the speed ratio
    assert (tmp_path / "05_char_lm.npz").exists() and (tmp_path / "05_char_lm.png").exists()


def test_demo_lists_all_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["demo", "--list"]) == 0
    out = capsys.readouterr().out
    for name in examples.names():
        assert name in out
    assert len(examples.names()) == 10


def test_demo_rejects_an_unknown_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--example", "no_such_example"]) == 2
    err = capsys.readouterr().err
    assert "unknown example 'no_such_example'" in err and "captioning" in err


def test_demo_runs_a_named_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--example", "seq2seq", "--quick", "--out-dir", str(tmp_path)]) == 0
    assert "exact-match accuracy" in capsys.readouterr().out
    assert (tmp_path / "08_seq2seq.png").exists()


def test_speed_comparison_copies_the_model_onto_the_numpy_backend() -> None:
    """The comparison model is built with backend="numpy" on its recurrent layers (nothing is
    monkeypatched): same weights, the same outputs to rounding, and the original untouched."""
    from rnnkit.layers import Bidirectional, Dense, SimpleRNN
    from rnnkit.models import Sequential

    model = Sequential(
        [
            Bidirectional(SimpleRNN(6, return_sequences=True, seed=0), input_shape=(5, 3)),
            SimpleRNN(4, seed=1),
            Dense(2, seed=2),
        ]
    )
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    slow = demo.copy_with_backend(model, "numpy")
    backends = [layer.backend for layer in walk_layers(slow.layers) if isinstance(layer, RL)]
    assert backends == ["numpy"] * 3  # the Bidirectional's two copies and the second layer
    assert all(
        layer.backend == "cpp" for layer in walk_layers(model.layers) if isinstance(layer, RL)
    )
    np.testing.assert_allclose(slow.forward(x), model.forward(x), rtol=1e-5, atol=1e-6)
