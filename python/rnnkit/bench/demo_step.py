"""``benchmarks/bench_demo_step.py``: one training step of the demo's char-LM in rnnkit and in
PyTorch, on the same model, batch and weights.

The model is the demo's (:func:`rnnkit.examples.char_lm.build_model` at the ``modern`` preset:
Embedding 32, SimpleRNN 256 with every step's output, TimeDistributed Dense over a 96-character
vocabulary; ``--preset lstm`` for its LSTM twin), the step is the demo's: a batch of 32 windows
of 64 characters, sparse cross-entropy on the logits of every step, the gradients clipped to a
global norm of 5, then Adam at the preset's learning rate. rnnkit's step is
``model.train_on_batch`` (the Trainer's own update, as ``fit`` runs it, inside
:func:`rnnkit.threads.one_thread_pool` as ``fit`` is); PyTorch's is the usual loop on
:func:`rnnkit.interop.to_torch`'s copy (``cross_entropy``, ``backward``,
``clip_grad_norm_``, ``Adam.step``) at the faster of one and two torch threads. Medians of
interleaved rounds, each contender keeping its fastest round; the first step's losses are
compared as a check that both train the same model.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import optimizers
from ..examples import char_lm
from ..models import Sequential
from ..threads import get_num_threads, one_thread_pool
from .report import configuration_text, environment_warning
from .timing import SETTLE_S, median_seconds
from .torch_side import TORCH_THREADS, fastest_torch_threads, torch_available

__all__ = ["StepRow", "demo_problem", "main", "rnnkit_step", "time_step", "torch_step"]

VOCAB_SIZE = 96  # the demo corpus's alphabet: printable ASCII and the newline
COMMAND = "python benchmarks/bench_demo_step.py"
PRESETS = ("modern", "lstm")  # the demo's char-LMs trained with Adam and global-norm clipping
KERAS_EPSILON = 1e-7  # Adam's default in Keras and rnnkit (PyTorch's is 1e-8)


def demo_problem(
    preset: str = "modern", hidden: int | None = None, batch: int | None = None, seed: int = 0
) -> tuple[Sequential, char_lm.Config, np.ndarray, np.ndarray]:
    """``(model, config, x, y)``: the demo's model at ``preset`` (``hidden`` and ``batch``
    override its units and batch size) and a batch of ids and next-character targets."""
    overrides: dict[str, Any] = {}
    if hidden is not None:
        overrides["hidden"] = hidden
    if batch is not None:
        overrides["batch_size"] = batch
    cfg = char_lm.preset(preset, **overrides)
    model = char_lm.build_model(VOCAB_SIZE, cfg, seed=seed)
    rng = np.random.default_rng(seed)
    text = rng.integers(0, VOCAB_SIZE, size=(cfg.batch_size, cfg.bptt + 1))
    return model, cfg, text[:, :-1], text[:, 1:]


def rnnkit_step(
    model: Sequential, cfg: char_lm.Config, x: np.ndarray, y: np.ndarray
) -> Callable[[], float]:
    """One update of ``model`` on ``(x, y)`` as the demo trains it; returns the loss."""
    optimizer = optimizers.get(
        {"class_name": cfg.optimizer, "config": {"learning_rate": cfg.learning_rate}}
    )
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=optimizer,
        clip_norm=cfg.clip_norm,
        clip_value=cfg.clip_value,
    )
    return lambda: float(model.train_on_batch(x, y))


def torch_step(
    model: Sequential, cfg: char_lm.Config, x: np.ndarray, y: np.ndarray
) -> Callable[[], float]:
    """The same update in PyTorch, on a copy of ``model`` (its weights as they are now). Adam
    gets Keras's epsilon (rnnkit's default, 1e-7); Keras adds it to ``sqrt(v)`` before the bias
    correction and PyTorch after, so the updates agree to a few parts in a million only."""
    import torch

    from ..interop import to_torch

    net = to_torch(model).train()
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.learning_rate, eps=KERAS_EPSILON)
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y).reshape(-1)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        logits = net(x_t)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y_t)
        loss.backward()
        if cfg.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, cfg.clip_norm)
        optimizer.step()
        return loss.item()

    return step


@dataclasses.dataclass
class StepRow:
    """Medians in milliseconds (None: not timed) and the first step's losses."""

    preset: str
    shape: tuple[int, int, int]  # (batch, steps, units)
    rnnkit_ms: float
    first_loss: float
    torch_ms: float | None = None
    torch_threads: int = 0
    torch_first_loss: float | None = None

    @property
    def ratio(self) -> float | None:
        """PyTorch's time over rnnkit's (above 1: rnnkit is faster)."""
        return None if self.torch_ms is None else self.torch_ms / self.rnnkit_ms


def time_step(
    preset: str = "modern",
    repeat: int = 7,
    rounds: int = 3,
    with_torch: bool = True,
    sizes: tuple[int | None, int | None] = (None, None),
) -> StepRow:
    """Both contenders' step at ``preset`` (``sizes``: ``(hidden, batch)`` overrides)."""
    model, cfg, x, y = demo_problem(preset, *sizes)
    torch_run = torch_step(model, cfg, x, y) if with_torch else None  # the initial weights
    run = rnnkit_step(model, cfg, x, y)
    with one_thread_pool():
        row = StepRow(preset, (cfg.batch_size, cfg.bptt, cfg.hidden), float("inf"), run())
    if torch_run is not None:
        row.torch_first_loss = torch_run()
    best_torch = (float("inf"), 0)
    for _ in range(rounds):
        with one_thread_pool():  # as fit runs: NumPy's BLAS single-threaded beside the kernels
            seconds = median_seconds(run, repeat, settle_s=SETTLE_S)
        row.rnnkit_ms = min(row.rnnkit_ms, seconds * 1e3)
        if torch_run is not None:
            best_torch = min(best_torch, fastest_torch_threads(torch_run, repeat))
    if torch_run is not None:
        row.torch_ms, row.torch_threads = best_torch[0] * 1e3, best_torch[1]
    return row


def _report(row: StepRow) -> str:
    n, t, h = row.shape
    lines = [
        f"{row.preset}: batch {n} x {t} steps, {h} units, Adam, clip_norm: one training step",
        f"  rnnkit  {row.rnnkit_ms:8.2f} ms ({get_num_threads()} kernel threads), "
        f"first loss {row.first_loss:.6f}",
    ]
    if row.torch_ms is not None and row.ratio is not None:
        lines.append(
            f"  PyTorch {row.torch_ms:8.2f} ms ({row.torch_threads} thread(s), the faster of "
            f"{', '.join(map(str, TORCH_THREADS))}), first loss {row.torch_first_loss:.6f}"
        )
        lines.append(f"  PyTorch / rnnkit: {row.ratio:.2f}x")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``bench_demo_step.py [--preset modern|lstm ...] [--repeat R] [--rounds K]``."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=PRESETS, action="append")
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds per median")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--hidden", type=int, help="override the preset's units (tests)")
    parser.add_argument("--batch", type=int, help="override the preset's batch size (tests)")
    parser.add_argument("--no-torch", action="store_true", help="time rnnkit only")
    args = parser.parse_args(argv)
    print(configuration_text())
    warning = environment_warning(command=COMMAND)
    if warning:
        print(warning)
    with_torch = not args.no_torch and torch_available()
    for preset in args.preset or PRESETS[:1]:
        row = time_step(preset, args.repeat, args.rounds, with_torch, (args.hidden, args.batch))
        print(_report(row), flush=True)
    return 0
