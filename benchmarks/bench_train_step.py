"""One training step of the demo's char-LM with the layers' maths on rnnkit's C++ core against
the same step with their NumPy formulations (docs/performance.md, "One BLAS pool").

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_train_step.py \
        [--rounds 5] [--repeat 20] [--threads 1 2]

The model is ``python -m rnnkit demo``'s (Embedding 32, SimpleRNN 256, TimeDistributed Dense 96,
batch 32 x 64, Adam, global-norm clipping at 5). Contenders, timed in interleaved rounds (a
burst of load from another process hits all alike), each the median of ``--repeat`` steps, the
best round kept, wall and CPU time:

* ``kernels``: as rnnkit runs now; nothing wakes NumPy's BLAS.
* ``numpy, 1 BLAS thread``: the NumPy formulations with NumPy's BLAS limited to one thread, as
  the Trainer's ``one_thread_pool`` ran them.
* ``numpy, default``: the NumPy formulations with NumPy's BLAS at its own default, as a user's
  loop without that guard ran them: two pools then share the cores.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np
from threadpoolctl import threadpool_limits

import rnnkit
import rnnkit.clipping
import rnnkit.layers.dense
import rnnkit.layers.embedding
import rnnkit.losses
import rnnkit.optimizers
from rnnkit import clipping, losses, optimizers
from rnnkit.examples import char_lm

# The modules whose float32/float64 arrays take the kernels: with their FLOAT_DTYPES emptied,
# every one of them runs its NumPy formulation instead (the code before the kernels).
_KERNEL_USERS = (
    rnnkit.layers.dense,
    rnnkit.layers.embedding,
    rnnkit.losses,
    rnnkit.optimizers,
    rnnkit.clipping,
)


@contextlib.contextmanager
def numpy_formulations() -> Iterator[None]:
    saved = [module.FLOAT_DTYPES for module in _KERNEL_USERS]
    for module in _KERNEL_USERS:
        module.FLOAT_DTYPES = ()  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module, value in zip(_KERNEL_USERS, saved):
            module.FLOAT_DTYPES = value  # type: ignore[attr-defined]


def make_step() -> Callable[[], None]:
    cfg = char_lm.preset("modern")
    model = char_lm.build_model(96, cfg, seed=0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 96, size=(32, 64))
    y = rng.integers(0, 96, size=(32, 64))
    loss = losses.get("sparse_categorical_crossentropy")
    opt = optimizers.Adam(1e-3)

    def step() -> None:
        loss.forward(model.forward(x, training=True), y)
        model.backward(loss.backward())
        grads = model.trainable_grads
        clipping.clip_by_global_norm(grads, 5.0)
        opt.step(model.trainable_params, grads)

    return step


def median_ms(step: Callable[[], None], repeat: int) -> tuple[float, float]:
    """(median wall ms, median CPU ms of the whole process) over ``repeat`` steps."""
    step()
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return float(np.median(walls)) * 1e3, float(np.median(cpus)) * 1e3


def contenders() -> dict[str, Callable[[], contextlib.AbstractContextManager]]:
    return {
        "kernels": contextlib.nullcontext,
        "numpy, 1 BLAS thread": lambda: _stacked(
            numpy_formulations(), threadpool_limits(1, user_api="blas")
        ),
        "numpy, default": numpy_formulations,
    }


@contextlib.contextmanager
def _stacked(*managers: contextlib.AbstractContextManager) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for m in managers:
            stack.enter_context(m)
        yield


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    step = make_step()
    original = rnnkit.get_num_threads()
    print(f"{'rnnkit threads':<16}{'contender':<24}{'wall ms':>10}{'CPU ms':>10}{'wall ratio':>12}")
    try:
        for threads in args.threads:
            rnnkit.set_num_threads(threads)
            best: dict[str, tuple[float, float]] = {}
            for _ in range(args.rounds):
                for name, context in contenders().items():
                    # rnnkit's threadpoolctl controller answers to user_api="blas" too: keep its
                    # worker count for every contender.
                    with context():
                        rnnkit.set_num_threads(threads)
                        time.sleep(0.25)  # the previous contender's pools stop spinning
                        wall, cpu = median_ms(step, args.repeat)
                    rnnkit.set_num_threads(threads)
                    if name not in best or wall < best[name][0]:
                        best[name] = (wall, cpu)
            base = best["kernels"][0]
            for name, (wall, cpu) in best.items():
                print(f"{threads:<16}{name:<24}{wall:>10.2f}{cpu:>10.2f}{wall / base:>12.2f}")
    finally:
        rnnkit.set_num_threads(original)
    return 0


if __name__ == "__main__":
    sys.exit(main())
