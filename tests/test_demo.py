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
    assert "[T=0.5] def " in out  # samples as it trains
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


def test_reference_kernels_are_swapped_back_and_agree() -> None:
    """The speed comparison runs the same maths: the swap is undone, even after an error."""
    from rnnkit import ops, reference
    from rnnkit.layers import SimpleRNN, recurrent

    layer = SimpleRNN(8, return_sequences=True, seed=0, input_shape=(5, 3))
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    fast = layer.forward(x)
    with pytest.raises(RuntimeError), demo.numpy_reference_kernels():
        assert recurrent.ops is reference
        np.testing.assert_allclose(layer.forward(x), fast, rtol=1e-5, atol=1e-6)
        raise RuntimeError("boom")
    assert recurrent.ops is ops
