"""The README's Python examples run as written (they are what a new user copies first)."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re

import pytest

from rnnkit import _seeding

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.skipif(not README.exists(), reason="tests run from a copy without the README")
def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)  # the examples save files
    namespace: dict = {}
    try:
        for block in blocks:
            if "import torch" in block and importlib.util.find_spec("torch") is None:
                continue  # the PyTorch interop example needs the optional torch group
            if "import numpy as np, onnxruntime" in block and (
                importlib.util.find_spec("onnxruntime") is None
                or importlib.util.find_spec("onnx") is None
            ):
                continue  # the ONNX example needs the optional onnx group
            if "import keras" in block:
                if importlib.util.find_spec("keras") is None:
                    continue  # the Keras interop example needs the optional keras group
                monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax"))
            exec(compile(block, str(README), "exec"), namespace)
    finally:
        _seeding.set_random_seed(None)  # a block seeds rnnkit's defaults: not for later tests
    assert (tmp_path / "sine.npz").exists()
