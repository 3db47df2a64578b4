"""Data-parallel training over MPI: :class:`DistributedTrainer`, the
:class:`~rnnkit.training.Trainer` with the same signature and methods, run as the same script
on every rank (``mpiexec -n 4 python train.py``). Needs ``mpi4py`` and an MPI runtime
(``pip install "rnnkit[mpi]"``); without them importing this package raises ImportError
saying so. The rest of rnnkit never imports mpi4py.

**Why the update equals one process's on the whole batch.** rnnkit's loss over a batch is a
mean: ``L = S / C`` with ``S = sum_i w_i l_i``, the sum over the batch's items ``i`` (every
element of every valid step of every sample; masks and ``lengths`` leave padded steps out,
sample weights ``w_i`` multiply but do not change the divisor, Keras's
``"sum_over_batch_size"``) and ``C`` the number of items (``Loss.count``; ``max(C, 1)`` when
every step is masked). Rank ``r`` gets a contiguous share of the batch's samples, so the items
split into disjoint sets: ``S = sum_r S_r``, ``C = sum_r c_r``. Rank ``r`` computes its own
mean ``L_r = S_r / c_r`` and its gradient ``g_r = dL_r/dθ = (dS_r/dθ) / c_r`` (every item's
loss depends on the shared weights ``θ`` and on its own sample only: no layer mixes samples).
Each rank puts ``c_r g_r = dS_r/dθ`` and ``c_r L_r = S_r`` and ``c_r`` into one buffer; after
the ``Allreduce`` sum every rank holds ``sum_r dS_r/dθ = dS/dθ``, ``S`` and ``C``, and divides:
``dS/dθ / C = dL/dθ``, the gradient of the whole batch's loss, and ``S / C = L``. A rank whose
share holds no item (an empty share, or all of it padding) adds zeros. Clipping, the finite
checks and the optimizer step then run on the reduced gradient, identical on every rank, so
the weights stay identical. Only the summation order differs from one process: the results
agree to rounding (tested to 1e-10 relative in float64 under 1, 2 and 3 ranks).

The same holds per window of ``fit_stream`` (each rank carries whole streams, so its items
are its streams' scored steps) and per batch (window) of the evaluation passes, whose figures
are means of batch losses weighted by batch size: each batch's ``(c L, c)`` is reduced, one
``Allreduce`` per pass. Metrics reduce their sums and counts the same way.

With ``DistributedTrainer(..., data="sharded")`` each rank passes its own shard of the data
and takes its share of every global batch from it (see :mod:`._shards`): the shares still
partition the batch's items, so the same weighting holds.

One update sends one float64 buffer of ``P + 2 + 2 m`` numbers (``P`` trainable parameters,
``m`` metrics): see docs/architecture.md for how that scales.
"""

from __future__ import annotations

from . import _mpi

_mpi.load()  # ImportError naming what to install, at import rather than at first use

from ._agree import DistributedError  # noqa: E402
from ._trainer import DistributedTrainer  # noqa: E402

__all__ = ["DistributedError", "DistributedTrainer"]
