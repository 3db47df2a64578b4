"""Train a character LSTM in rnnkit, export it to ONNX and sample from it in onnxruntime.

A few seconds of training (example 5's model, :mod:`rnnkit.examples.char_lm`, made small),
then ``model.export(path, format="onnx")`` and an ``onnxruntime.InferenceSession`` on the file.
The two are compared side by side: the next-character probabilities after a prime (the top
ones, from each, and the largest difference over the whole vocabulary), then a continuation
sampled from each with the same seed, one character at a time from the last ``context``
characters: the same probabilities give the same text.

Not in the demo registry (:mod:`rnnkit.examples`): it needs ``pip install "rnnkit[onnx]"``
and draws no figure. Run it as ``python examples/12_onnx_export.py [--quick]`` or ``python -m
rnnkit.examples.onnx_export``.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..activations import softmax
from ..text import CharVocab, format_sample, sample_logits
from ._common import Stopwatch, figure_path
from .char_lm import preset, train_char_model

__all__ = ["MODEL_FILE", "QUICK", "Config", "main", "run", "sample", "side_by_side"]

MODEL_FILE = "12_char_lm.onnx"


@dataclasses.dataclass(frozen=True)
class Config:
    """How long to train, and what to sample."""

    seconds: float | None = 10.0  # training time budget
    max_updates: int | None = None  # update budget (tests: a fixed count, the same model)
    hidden: int = 64  # LSTM units
    max_chars: int = 200_000  # of standard-library source
    prime: str = "import "
    length: int = 120  # characters sampled from each
    context: int = 48  # characters the model sees per sampled character
    temperature: float = 0.7
    top: int = 5  # next-character probabilities shown


QUICK = Config(seconds=None, max_updates=40, hidden=32, max_chars=40_000, length=40, context=24)

NextLogits = Callable[[np.ndarray], np.ndarray]


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(
            'this example runs the exported model in onnxruntime: pip install "rnnkit[onnx]"'
        ) from error
    return onnxruntime


def sample(next_logits: NextLogits, vocab: CharVocab, cfg: Config, seed: int) -> str:
    """``cfg.length`` characters after ``cfg.prime``, each drawn (at ``cfg.temperature``, from
    a generator seeded with ``seed``) from ``next_logits`` of the last ``cfg.context`` ids."""
    rng = np.random.default_rng(seed)
    ids = list(vocab.encode(cfg.prime))
    for _ in range(cfg.length):
        window = np.array([ids[-cfg.context :]], dtype=np.int64)
        ids.append(sample_logits(next_logits(window), cfg.temperature, rng))
    return vocab.decode(ids[len(cfg.prime) :])


def side_by_side(
    rnnkit_probs: np.ndarray, onnx_probs: np.ndarray, vocab: CharVocab, top: int
) -> str:
    """A table of the ``top`` most likely next characters with both probabilities."""
    rows = [
        f"  {vocab.chars[i]!r:6} {rnnkit_probs[i]:.6f}   {onnx_probs[i]:.6f}"
        for i in np.argsort(-rnnkit_probs)[:top]
    ]
    return "\n".join(["  next   rnnkit     onnxruntime", *rows])


def run(
    config: Config | None = None, out_dir: str = "examples/output", verbose: int = 1, seed: int = 0
) -> dict[str, Any]:
    """Train, export, compare and sample. Returns a dict: ``onnx_path``, ``max_prob_diff``
    (the largest next-character probability difference after the prime), ``rnnkit_text`` and
    ``onnx_text`` (the samples), ``same_text``, ``updates``, ``train_seconds`` and
    ``seconds`` (the whole run)."""
    ort = _onnxruntime()
    cfg = config if config is not None else Config()
    clock = Stopwatch()
    lm = preset(
        "lstm",
        hidden=cfg.hidden,
        embed=16,
        batch_size=16,
        bptt=32,
        max_chars=cfg.max_chars,
        seconds=cfg.seconds,
        max_updates=cfg.max_updates,
        sample_every=1e9,
        prime=cfg.prime,
    )
    trained = train_char_model(lm, verbose=0, seed=seed)
    model, vocab, budget = trained["model"], trained["vocab"], trained["budget"]
    path = str(figure_path(out_dir, MODEL_FILE))
    model.export(path, format="onnx")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])

    def rnnkit_logits(ids: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(ids, verbose=0))[0, -1]

    def onnx_logits(ids: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {"x": ids})[0])[0, -1]

    prime_ids = vocab.encode(cfg.prime)[None, :]
    probs = [softmax(f(prime_ids).astype(np.float64)) for f in (rnnkit_logits, onnx_logits)]
    texts = [sample(f, vocab, cfg, seed) for f in (rnnkit_logits, onnx_logits)]
    results = {
        "onnx_path": path,
        "max_prob_diff": float(np.max(np.abs(probs[0] - probs[1]))),
        "rnnkit_text": texts[0],
        "onnx_text": texts[1],
        "same_text": texts[0] == texts[1],
        "updates": budget.updates,
        "train_seconds": budget.log[-1][0] if budget.log else 0.0,
        "seconds": clock.elapsed,
    }
    if verbose:
        print(
            f"trained an LSTM({cfg.hidden}) character model for {results['train_seconds']:.1f} s "
            f"({budget.updates} updates), exported it to {path}\n"
        )
        print(f"next character after {cfg.prime!r}:")
        print(side_by_side(probs[0], probs[1], vocab, cfg.top))
        print(f"  largest difference over all {len(vocab)}: {results['max_prob_diff']:.2e}\n")
        for name, text in (("rnnkit", texts[0]), ("onnxruntime", texts[1])):
            print(f"{name}, seed {seed}, temperature {cfg.temperature}:")
            print(format_sample(cfg.prime + text))
        print("the same text" if results["same_text"] else "the texts differ")
    return results


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: ``python -m rnnkit.examples.onnx_export [--quick] [--seconds S]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default="examples/output", help="folder for the .onnx file")
    parser.add_argument("--quick", action="store_true", help="the tests' configuration")
    parser.add_argument("--seconds", type=float, default=None, help="training time budget")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, data, sampling")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else Config()
    if args.seconds is not None:
        cfg = dataclasses.replace(cfg, seconds=args.seconds, max_updates=None)
    return run(cfg, out_dir=args.out_dir, seed=args.seed)


if __name__ == "__main__":
    main()
