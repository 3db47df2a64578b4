"""examples/12_onnx_export.py: a char-LM trained in rnnkit samples the same text in onnxruntime."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

from rnnkit.examples import onnx_export

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "12_onnx_export.py"


def test_the_script_trains_exports_and_samples_the_same_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--quick", "--out-dir", str(tmp_path)])
    runpy.run_path(str(SCRIPT), run_name="__main__")
    out = capsys.readouterr().out
    assert (tmp_path / onnx_export.MODEL_FILE).stat().st_size > 0
    assert "rnnkit     onnxruntime" in out and "the same text" in out


def test_the_probabilities_and_samples_agree(tmp_path: Path) -> None:
    results = onnx_export.run(onnx_export.QUICK, out_dir=str(tmp_path), verbose=0, seed=1)
    # Measured, seeds 0-4: 1e-9 .. 2.5e-8 (float32 rounding of the same arithmetic).
    assert results["max_prob_diff"] < 1e-5
    assert results["same_text"]
    assert len(results["onnx_text"]) == onnx_export.QUICK.length
    assert results["updates"] == onnx_export.QUICK.max_updates
