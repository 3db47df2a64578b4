"""Loads the compiled ``rnnkit._core`` extension.

The extension links ``libscipy_openblas.so`` from the ``scipy-openblas32`` package through an
RPATH relative to site-packages. For install layouts where that path does not hold, importing
``scipy_openblas32`` loads the library into the process first, and the retry then finds it.
"""

from __future__ import annotations

try:
    from . import _core
except ImportError as first_error:  # pragma: no cover - depends on the install layout
    try:
        import ctypes
        import os

        import scipy_openblas32

        ctypes.CDLL(
            os.path.join(scipy_openblas32.get_lib_dir(), f"lib{scipy_openblas32.get_library()}.so"),
            mode=ctypes.RTLD_GLOBAL,
        )
        from . import _core
    except Exception:
        raise ImportError(
            "rnnkit's compiled extension could not be loaded. Reinstall with "
            "`pip install --force-reinstall rnnkit` (a source build needs g++ and Python headers)."
        ) from first_error

__all__ = ["_core"]
