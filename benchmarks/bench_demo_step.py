"""One training step of the demo's char-LM in rnnkit and in PyTorch, same model and batch (the
code lives in rnnkit/bench/demo_step.py).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_demo_step.py \
        [--preset modern|lstm ...] [--repeat 7] [--rounds 3] [--no-torch]
"""

import sys

from rnnkit.bench.demo_step import main

if __name__ == "__main__":
    sys.exit(main())
