"""Characters per second of ``rnnkit.generate`` against a PyTorch loop on the same model, for
the demo's char-LM presets (the code lives in rnnkit/bench/generation.py).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_generate.py \
        [--preset modern|minchar|lstm ...] [--length 500] [--repeat 5] [--no-torch]
"""

import sys

from rnnkit.bench.generation import main

if __name__ == "__main__":
    sys.exit(main())
