"""Character-level language model on Python's standard-library source (min-char-rnn, grown up).

Trains for a time budget (--seconds, default 45; --preset minchar for min-char-rnn's exact
set-up), prints samples at several temperatures as it learns, reports perplexity against the
unigram baseline, saves the model with its vocabulary and continues a prime with
rnnkit.generate.

A thin wrapper over the module rnnkit.examples.char_lm (read it for the code). Figures go to
examples/output/ beside this script unless --out-dir says otherwise; --quick runs the small
configuration the tests use. Needs: pip install "rnnkit[examples]".
"""

import sys
from pathlib import Path

from rnnkit.examples.char_lm import main

if __name__ == "__main__":
    # The default output folder sits beside this script, wherever it is run from; a user's
    # own --out-dir comes later on the command line and wins.
    main(["--out-dir", str(Path(__file__).resolve().parent / "output"), *sys.argv[1:]])
