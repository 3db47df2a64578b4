"""Forward+backward of one RNN layer against the best plain NumPy: the same as
``python -m rnnkit bench`` (see rnnkit/bench/), runnable as a script with the same options.

    python benchmarks/bench_kernels.py [--shape N,T,D,H ...] [--repeat 7] [--threads 2] [--json out]
"""

import sys

from rnnkit.bench import main

if __name__ == "__main__":
    sys.exit(main())
