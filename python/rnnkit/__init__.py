"""rnnkit: fast vanilla (Elman) recurrent neural networks on the CPU.

C++ kernels (Eigen + OpenBLAS) for the forward and backward passes of whole sequences, under a
NumPy API. Start with :mod:`rnnkit.ops` (functional kernels) and :mod:`rnnkit.reference` (the
same maths in plain NumPy, one step at a time).
"""

from __future__ import annotations

from . import gradcheck, ops, reference
from .threads import build_info, get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "build_info",
    "get_num_threads",
    "gradcheck",
    "ops",
    "reference",
    "set_num_threads",
    "__version__",
]
