"""Train a character LSTM in rnnkit, export it to ONNX and sample from it in onnxruntime.

Trains for a few seconds (--seconds, default 10), writes the model with
model.export(path, format="onnx"), then prints rnnkit's and onnxruntime's next-character
probabilities side by side and a continuation sampled from each with the same seed.

A thin wrapper over the module rnnkit.examples.onnx_export (read it for the code). The .onnx
file goes to examples/output/ beside this script unless --out-dir says otherwise; --quick runs
the small configuration the tests use. Needs: pip install "rnnkit[onnx]".
"""

import sys
from pathlib import Path

from rnnkit.examples.onnx_export import main

if __name__ == "__main__":
    # The default output folder sits beside this script, wherever it is run from; a user's
    # own --out-dir comes later on the command line and wins.
    main(["--out-dir", str(Path(__file__).resolve().parent / "output"), *sys.argv[1:]])
