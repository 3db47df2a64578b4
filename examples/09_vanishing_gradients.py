"""Vanishing and exploding gradients: ||dL/dh_t|| against distance, TBPTT, the copy-memory task.

A thin wrapper over the module rnnkit.examples.vanishing_gradients (read it for the code).
Figures go to examples/output/ beside this script unless --out-dir says otherwise; --quick runs
the small configuration the tests use. Needs: pip install "rnnkit[examples]".
"""

import sys
from pathlib import Path

from rnnkit.examples.vanishing_gradients import main

if __name__ == "__main__":
    # The default output folder sits beside this script, wherever it is run from; a user's
    # own --out-dir comes later on the command line and wins.
    main(["--out-dir", str(Path(__file__).resolve().parent / "output"), *sys.argv[1:]])
