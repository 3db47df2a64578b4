"""``python -m rnnkit demo``: a character language model learns Python for about a minute.

By default it trains the char-level model of example 5 on the standard library's own source
with a progress bar, prints samples at several temperatures as it goes and the perplexity at the
end, then times one training step of the same model with rnnkit's C++ kernels and with the plain
NumPy reference (:mod:`rnnkit.reference`, one readable time step at a time) and prints both
times and their ratio. ``--example NAME`` runs any of the bundled examples instead, ``--list``
lists them. Everything needed ships inside the package: nothing is downloaded.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Sequence

import numpy as np

from . import losses, optimizers
from .bench.timing import median_seconds
from .layers import RecurrentLayer, walk_layers
from .losses import Loss
from .network import Network
from .optimizers import Optimizer
from .text import recurrent_layers
from .threads import in_one_thread_pool

__all__ = ["compare_kernels", "copy_with_backend", "main"]


def copy_with_backend(model: Network, backend: str) -> Network:
    """A copy of ``model`` (same configuration and weights) whose recurrent layers, wrapped ones
    included, run on ``backend``: ``"cpp"`` (the C++ kernels) or ``"numpy"``
    (:mod:`rnnkit.reference`, one readable time step at a time)."""
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    for layer in walk_layers(copy.layers):
        if isinstance(layer, RecurrentLayer):
            layer.backend = backend
    return copy


@in_one_thread_pool  # as in training: NumPy's BLAS single-threaded beside the kernels' pool
def compare_kernels(
    model: Network,
    x: np.ndarray,
    y: np.ndarray,
    loss: str = "sparse_categorical_crossentropy",
    optimizer: str = "adam",
    min_seconds: float = 1.0,
) -> dict[str, float]:
    """Time two copies of ``model`` on the batch ``(x, y)``, one on the C++ kernels and one on
    the NumPy reference (``backend="numpy"`` on its recurrent layers): one whole training step
    (forward, loss, backward, optimizer update) and the forward+backward of the first recurrent
    layer alone, on that layer's real input.

    Returns ``{"step_rnnkit_ms", "step_numpy_ms", "step_ratio", "rnn_rnnkit_ms",
    "rnn_numpy_ms", "rnn_ratio"}`` (ratio = NumPy time / rnnkit time). The copies have the same
    configuration and weights, so ``model`` itself is not updated.
    """
    times = {}
    for label, backend in (("rnnkit", "cpp"), ("numpy", "numpy")):
        copy = copy_with_backend(model, backend)
        step, layer_pass = _timed_passes(copy, x, y, losses.get(loss), optimizers.get(optimizer))
        times[f"step_{label}_ms"] = median_seconds(step, 5, min_seconds / 5) * 1e3
        times[f"rnn_{label}_ms"] = median_seconds(layer_pass, 5, min_seconds / 10) * 1e3
    times["step_ratio"] = times["step_numpy_ms"] / times["step_rnnkit_ms"]
    times["rnn_ratio"] = times["rnn_numpy_ms"] / times["rnn_rnnkit_ms"]
    return times


def _timed_passes(
    model: Network, x: np.ndarray, y: np.ndarray, loss_fn: Loss, opt: Optimizer
) -> tuple[Callable[[], None], Callable[[], None]]:
    """``(one training step of model, forward+backward of its first recurrent layer)``."""

    def step() -> None:
        y_pred = model.forward(x, training=True)
        loss_fn.forward(y_pred, y)
        model.backward(loss_fn.backward())
        opt.step(model.trainable_params, model.trainable_grads)

    rnn = recurrent_layers(model)[0]
    rnn_input = x
    for layer in model.layers:  # what the recurrent layer reads: the layers before it applied
        if layer is rnn:
            break
        rnn_input = layer.forward(rnn_input)
    d_out = np.ones_like(rnn.forward(rnn_input, training=True))  # shaped as the output

    def layer_pass() -> None:
        rnn.forward(rnn_input, training=True)
        rnn.backward(d_out)

    return step, layer_pass


def _list_examples() -> int:
    from . import examples

    width = max(map(len, examples.EXAMPLES))
    for number, (name, (_, description)) in enumerate(examples.EXAMPLES.items(), start=1):
        print(f"{number:>2}  {name:<{width}}  {description}")
    print("\nrun one with: python -m rnnkit demo --example NAME [--quick]")
    return 0


def _run_example(name: str, quick: bool, out_dir: str, seed: int) -> int:
    from . import examples

    if name not in examples.EXAMPLES:
        print(
            f"rnnkit demo: unknown example {name!r}; known: {', '.join(examples.EXAMPLES)} "
            "(see python -m rnnkit demo --list)",
            file=sys.stderr,
        )
        return 2
    argv = ["--out-dir", out_dir, "--seed", str(seed)] + (["--quick"] if quick else [])
    examples.get(name).main(argv)
    return 0


def _char_demo(seconds: float, out_dir: str, seed: int, preset: str) -> int:
    from .examples import char_lm

    config = char_lm.preset(preset, seconds=seconds, sample_every=max(seconds / 4, 1.0))
    if seconds < 20:  # a short run: a corpus it can get through, quicker evaluation
        config = dataclasses.replace(config, max_chars=500_000, eval_chars=20_000)
    print(
        f"rnnkit demo: a character-level RNN learns Python from the standard library's own "
        f"source for {seconds:g} s.\n"
    )
    results = char_lm.run(config, out_dir=out_dir, verbose=1, seed=seed)
    char_lm.report(results, seed=seed)

    # The same model, the same window shape, one training step each way.
    rng = np.random.default_rng(seed)
    shape = (config.batch_size, config.bptt)
    x = rng.integers(0, results["vocab_size"], size=shape)
    y = rng.integers(0, results["vocab_size"], size=shape)
    speed = compare_kernels(
        results["model"], x, y, optimizer=config.optimizer, min_seconds=min(1.0, seconds / 6)
    )
    print(
        f"\nspeed against the NumPy reference (rnnkit.reference), same model and weights, "
        f"batch {shape[0]} x {shape[1]} steps, {config.hidden} units:"
    )
    print(
        f"  one training step (Embedding, RNN, Dense, loss, {config.optimizer}): "
        f"{speed['step_rnnkit_ms']:.2f} ms with rnnkit's C++ kernels, "
        f"{speed['step_numpy_ms']:.2f} ms with NumPy: {speed['step_ratio']:.1f}x faster"
    )
    print(
        f"  the recurrent layer alone (forward + backward): {speed['rnn_rnnkit_ms']:.2f} ms vs "
        f"{speed['rnn_numpy_ms']:.2f} ms: {speed['rnn_ratio']:.1f}x faster"
    )
    print("  (`python -m rnnkit bench` compares the kernels with the best plain NumPy as well)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rnnkit demo [--seconds S] [--preset P] | --example NAME | --list``."""
    parser = argparse.ArgumentParser(
        prog="python -m rnnkit demo",
        description="Train a character-level RNN on Python's standard library for about a "
        "minute (default), or run one of the bundled examples.",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        help="training time budget of the char model (default 60)",
    )
    parser.add_argument(
        "--preset",
        choices=("modern", "minchar", "lstm"),
        default="modern",
        help="modern (default), min-char-rnn's original set-up, or modern with an LSTM",
    )
    parser.add_argument("--example", metavar="NAME", help="run this example instead (see --list)")
    parser.add_argument("--list", action="store_true", help="list the examples and exit")
    parser.add_argument("--quick", action="store_true", help="with --example: its small config")
    parser.add_argument(
        "--out-dir",
        default="examples/output",
        help="where figures and the saved model go (default examples/output)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.list:
        return _list_examples()
    if args.example is not None:
        return _run_example(args.example, args.quick, args.out_dir, args.seed)
    if not args.seconds > 0:
        parser.error(f"--seconds must be positive, got {args.seconds}")
    return _char_demo(args.seconds, args.out_dir, args.seed, args.preset)
