"""Character-level language model on Python's standard-library source (Karpathy's min-char-rnn,
grown up).

Three presets:

* ``"minchar"``: min-char-rnn's set-up: one-hot characters (a frozen identity Embedding), 100
  tanh units, one stream walked in windows of 25 characters, Adagrad with learning rate 0.1 and
  element-wise gradient clipping to +-5. (min-char-rnn sums the loss over the window where rnnkit
  averages it; Adagrad divides the scale out, so the updates are nearly the same.)
* ``"modern"``: a learned 32-d Embedding, SimpleRNN(256), a TimeDistributed Dense over the
  vocabulary, Adam, 32 parallel streams and global-norm clipping: more characters per second.
* ``"lstm"``: the modern set-up with an LSTM(256) in place of the SimpleRNN: four gates, four
  times the arithmetic per character, a longer memory.

Both train with :meth:`rnnkit.training.Trainer.fit_stream` (truncated BPTT on one long stream) for
a time budget, print samples at several temperatures as they go, report perplexity on the
training text and on held-out text against the unigram baseline, save the model with its
vocabulary and continue a prime with :func:`rnnkit.generate`.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import optimizers
from ..callbacks import Callback
from ..layers import LSTM, Dense, Embedding, SimpleRNN, TimeDistributed
from ..models import Sequential, load_model
from ..text import (
    CharVocab,
    attach_vocab,
    format_sample,
    generate,
    get_vocab,
    source_prime,
    stdlib_corpus,
)
from ..training import Trainer
from ._callbacks import SampleText, TrainingBudget
from ._common import Stopwatch, figure_path, parse_config, resolve_config

__all__ = [
    "DEFAULT",
    "MINCHAR",
    "MODEL_FILE",
    "PRESETS",
    "SMALL",
    "Config",
    "SampleText",
    "TrainingBudget",
    "build_model",
    "build_trainer",
    "main",
    "preset",
    "report",
    "run",
    "stream_perplexity",
    "train_char_model",
    "unigram_perplexity",
]

MODEL_FILE = "05_char_lm.npz"  # in out_dir; example 10 (inspect_units) reuses it when present


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the character language model (model fields come from a preset)."""

    preset: str = "modern"
    embed: int | None = 32  # Embedding size; None: one-hot input (min-char-rnn)
    cell: str = "SimpleRNN"  # the recurrent layer: "SimpleRNN" or "LSTM"
    hidden: int = 256  # its units
    batch_size: int = 32  # parallel streams
    bptt: int = 64  # truncated-BPTT window (characters)
    optimizer: str = "adam"
    learning_rate: float = 2e-3
    clip_value: float | None = None
    clip_norm: float | None = 5.0
    max_chars: int = 3_000_000  # of standard-library source; the last val_fraction held out
    val_fraction: float = 0.05
    eval_chars: int = 100_000  # perplexity is measured on this much train / held-out text
    seconds: float | None = 45.0  # training time budget (None: no limit)
    max_updates: int | None = None  # update budget (None: no limit); tests use this one,
    #                                    as it gives the same model on a busy machine
    epochs: int = 50  # upper bound; the time budget usually ends training first
    sample_every: float = 10.0  # seconds between printed samples
    temperatures: tuple[float, ...] = (0.2, 0.5, 1.0)
    prime: str | None = None  # None: a method header of the held-out text (text.source_prime)
    sample_length: int = 200


# The model and optimizer fields of each preset (everything else keeps Config's defaults).
PRESETS: dict[str, dict[str, Any]] = {
    "minchar": {
        "embed": None,
        "hidden": 100,
        "batch_size": 1,
        "bptt": 25,
        "optimizer": "adagrad",
        "learning_rate": 0.1,
        "clip_value": 5.0,
        "clip_norm": None,
    },
    "modern": {
        "cell": "SimpleRNN",
        "embed": 32,
        "hidden": 256,
        "batch_size": 32,
        "bptt": 64,
        "optimizer": "adam",
        "learning_rate": 2e-3,
        "clip_value": None,
        "clip_norm": 5.0,
    },
    "lstm": {
        "cell": "LSTM",
        "embed": 32,
        "hidden": 256,
        "batch_size": 32,
        "bptt": 64,
        "optimizer": "adam",
        "learning_rate": 2e-3,
        "clip_value": None,
        "clip_norm": 5.0,
    },
}

RECURRENT_LAYERS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM}


def preset(name: str, **overrides: Any) -> Config:
    """The Config of preset ``name`` (``"minchar"``, ``"modern"`` or ``"lstm"``) with
    ``overrides``."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    return Config(preset=name, **{**PRESETS[name], **overrides})


DEFAULT = preset("modern")
MINCHAR = preset("minchar")
# For tests: a small model and a fixed number of updates (deterministic); see the test for the
# measured perplexities.
SMALL = preset(
    "modern",
    hidden=96,
    embed=16,
    batch_size=16,
    bptt=32,
    max_chars=300_000,
    eval_chars=20_000,
    seconds=None,
    max_updates=1000,
    epochs=3,
    sample_every=1e9,
    sample_length=60,
)


def _config(config: Config | Mapping[str, Any] | None) -> Config:
    """A Config from None, a Config, or a dict of overrides; a dict naming another ``preset``
    starts from that preset's fields."""
    if isinstance(config, Mapping) and config.get("preset", DEFAULT.preset) != DEFAULT.preset:
        overrides = dict(config)
        return preset(overrides.pop("preset"), **overrides)
    return resolve_config(DEFAULT, config)


def build_model(vocab_size: int, cfg: Config, seed: int = 0) -> Sequential:
    """``Embedding -> <cfg.cell>(return_sequences) -> TimeDistributed(Dense(vocab))``: logits for
    the next character at every step. ``cfg.embed = None`` gives min-char-rnn's one-hot
    input: an identity Embedding that is not trained (a row lookup is what one-hot @ Wx is)."""
    if cfg.embed is None:
        embedding = Embedding(
            vocab_size, vocab_size, embeddings_initializer="identity", seed=seed, name="one_hot"
        )
        embedding.trainable = False
    else:
        embedding = Embedding(vocab_size, int(cfg.embed), seed=seed, name="embedding")
    model = Sequential(
        [
            embedding,
            RECURRENT_LAYERS[cfg.cell](
                int(cfg.hidden), return_sequences=True, seed=seed + 1, name="rnn"
            ),
            TimeDistributed(Dense(vocab_size, seed=seed + 2), name="logits"),
        ],
        name="char_lm",
    )
    model.build((None,))  # (T,) ids per sample, any length
    return model


def build_trainer(model: Sequential, cfg: Config) -> Trainer:
    """Cross-entropy on logits, the preset's optimizer and clipping, perplexity as a metric."""
    if cfg.optimizer == "adagrad":
        # min-char-rnn: accumulators start at zero, epsilon 1e-8.
        optimizer: optimizers.Optimizer = optimizers.Adagrad(
            cfg.learning_rate, initial_accumulator_value=0.0, epsilon=1e-8
        )
    else:
        optimizer = optimizers.get(
            {"class_name": cfg.optimizer, "config": {"learning_rate": cfg.learning_rate}}
        )
    return Trainer(
        model,
        loss="sparse_categorical_crossentropy",
        optimizer=optimizer,
        metrics=["perplexity"],
        clip_norm=cfg.clip_norm,
        clip_value=cfg.clip_value,
    )


def unigram_perplexity(train_ids: np.ndarray, eval_ids: np.ndarray, vocab_size: int) -> float:
    """Perplexity on ``eval_ids`` of the character frequencies of ``train_ids`` (add-one
    smoothed): the baseline a model must beat by using context at all."""
    counts = np.bincount(train_ids, minlength=vocab_size) + 1.0
    log_p = np.log(counts / counts.sum())
    return float(np.exp(-log_p[eval_ids].mean()))


def train_char_model(
    config: Config | Mapping[str, Any] | None = None,
    verbose: int = 1,
    seed: int = 0,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Load the corpus, build and train a character model within ``config.seconds``.

    Returns a dict with ``model`` (its vocabulary attached), ``trainer``, ``vocab``, ``config``,
    the encoded ``train_ids`` / ``val_ids``, the ``budget`` callback (per-update log), the
    ``sampler`` callback (printed samples) and the ``prime`` the samples continue.
    """
    cfg = _config(config)
    corpus = stdlib_corpus(cfg.max_chars, seed=seed)
    vocab = CharVocab.from_text(corpus)
    ids = vocab.encode(corpus)
    split = int(len(ids) * (1.0 - cfg.val_fraction))
    train_ids, val_ids = ids[:split], ids[split:]
    model = build_model(len(vocab), cfg, seed=seed)
    attach_vocab(model, vocab)
    trainer = build_trainer(model, cfg)
    budget = TrainingBudget(cfg.seconds, cfg.batch_size * cfg.bptt, cfg.max_updates)
    # A real method header of text the model never trains on: the samples continue its body.
    prime = cfg.prime if cfg.prime is not None else source_prime(corpus[split:])
    sampler = SampleText(
        vocab,
        cfg.sample_every,
        cfg.temperatures,
        prime=prime,
        length=cfg.sample_length,
        seed=seed,
        verbose=verbose,
    )
    if verbose:
        print(
            f"char_lm ({cfg.preset}): {len(train_ids):,} training and {len(val_ids):,} "
            f"held-out characters of standard-library source, vocabulary {len(vocab)}, "
            f"{model.count_params():,} parameters, budget {_budget_text(cfg)}"
        )
    trainer.fit_stream(
        train_ids,
        batch_size=cfg.batch_size,
        bptt=cfg.bptt,
        epochs=cfg.epochs,
        callbacks=[budget, sampler, *callbacks],
        verbose=verbose,
    )
    if budget.used_up and verbose:
        print(
            f"\nbudget used ({_budget_text(cfg)}): {budget.updates:,} updates, "
            f"{budget.updates * budget.chars_per_update:,} characters in "
            f"{budget.elapsed:.1f} s"
        )
    return {
        "model": model,
        "trainer": trainer,
        "vocab": vocab,
        "config": cfg,
        "train_ids": train_ids,
        "val_ids": val_ids,
        "budget": budget,
        "sampler": sampler,
        "prime": prime,
    }


def _budget_text(cfg: Config) -> str:
    parts = [] if cfg.seconds is None else [f"{cfg.seconds:g} s"]
    if cfg.max_updates is not None:
        parts.append(f"{cfg.max_updates:,} updates")
    return " or ".join(parts) or f"{cfg.epochs} epochs"


def stream_perplexity(trainer: Trainer, ids: np.ndarray, cfg: Config) -> float:
    """Per-character perplexity of the trained model on the stream ``ids`` (state carried
    across windows, as in training)."""
    # Fewer parallel streams for short texts, so each stream is long enough to warm its state.
    batch = max(1, min(cfg.batch_size, len(ids) // (4 * cfg.bptt)))
    return float(np.exp(trainer.evaluate_stream(ids, batch_size=batch, bptt=cfg.bptt)["loss"]))


def _figure(budget: TrainingBudget, val_ppl: float, unigram: float, title: str, path: Any) -> None:
    from .. import plot

    fig, axes = plot.new_figure(width=7.0, height=4.0)
    ax = axes[0, 0]
    log = np.array(budget.log, dtype=np.float64).reshape(-1, 3)
    if len(log):
        # A running mean over ~2% of the updates: single windows' losses are noisy.
        w = max(1, len(log) // 50)
        smooth = np.convolve(log[:, 2], np.ones(w) / w, mode="valid")
        ax.plot(log[w - 1 :, 1] / 1e6, np.exp(smooth), label="training windows (running mean)")
    ax.axhline(val_ppl, color="C1", linestyle="--", label=f"held-out at the end: {val_ppl:.2f}")
    ax.axhline(unigram, color="C2", linestyle=":", label=f"unigram baseline: {unigram:.1f}")
    ax.set_yscale("log")
    ax.set_xlabel("characters trained on (millions)")
    ax.set_ylabel("perplexity per character")
    ax.set_title(title)
    ax.legend()
    plot.save_figure(fig, path)


def run(
    config: Config | Mapping[str, Any] | None = None,
    out_dir: str = "examples/output",
    verbose: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Train, evaluate, save and sample a character language model.

    Returns a dict: ``train_perplexity`` and ``val_perplexity`` (on ``eval_chars`` characters
    each), ``unigram_perplexity``, ``vocab_size``, ``updates``, ``chars_seen``,
    ``train_seconds``, ``chars_per_second``, ``samples`` (temperature -> text), ``model_path``,
    ``vocab_saved`` (whether the file carries the vocabulary), ``figures``, ``seconds`` (the
    whole run), the ``prime`` the samples continue, and the trained ``model`` and its ``vocab``.
    """
    clock = Stopwatch()
    trained = train_char_model(config, verbose=verbose, seed=seed)
    model, trainer, vocab, cfg = (trained[k] for k in ("model", "trainer", "vocab", "config"))
    budget, sampler = trained["budget"], trained["sampler"]
    train_seconds = budget.log[-1][0] if budget.log else 0.0
    train_ppl = stream_perplexity(trainer, trained["train_ids"][: cfg.eval_chars], cfg)
    val_ppl = stream_perplexity(trainer, trained["val_ids"][: cfg.eval_chars], cfg)
    unigram = unigram_perplexity(
        trained["train_ids"], trained["val_ids"][: cfg.eval_chars], len(vocab)
    )
    model_path = str(model.save(figure_path(out_dir, MODEL_FILE)))
    # Read back: does the saved file carry the vocabulary (rnnkit.load_model + generate alone)?
    vocab_saved = get_vocab(load_model(model_path)) == vocab
    samples = sampler.sample(train_seconds)  # the final samples, printed like the others
    figures = {"perplexity": str(figure_path(out_dir, "05_char_lm.png"))}
    _figure(
        budget,
        val_ppl,
        unigram,
        f"Character LM ({cfg.preset}) on Python stdlib source",
        figures["perplexity"],
    )
    chars = budget.updates * budget.chars_per_update
    return {
        "preset": cfg.preset,
        "prime": trained["prime"],
        "vocab_size": len(vocab),
        "updates": budget.updates,
        "chars_seen": chars,
        "train_seconds": train_seconds,
        "chars_per_second": chars / train_seconds if train_seconds else 0.0,
        "train_perplexity": train_ppl,
        "val_perplexity": val_ppl,
        "unigram_perplexity": unigram,
        "samples": samples,
        "model_path": model_path,
        "vocab_saved": vocab_saved,
        "figures": figures,
        "model": model,
        "vocab": vocab,
        "seconds": clock.elapsed,
    }


def report(results: dict[str, Any], prime: str | None = None, seed: int = 0) -> None:
    """Print what the model learned: perplexities, speed, and a generated continuation of
    ``prime`` (None: the run's own, ``results["prime"]``)."""
    prime = results["prime"] if prime is None else prime
    print(
        f"\nperplexity per character: train {results['train_perplexity']:.2f}, held-out "
        f"{results['val_perplexity']:.2f} (unigram baseline {results['unigram_perplexity']:.2f}, "
        f"vocabulary {results['vocab_size']})"
    )
    print(
        f"trained {results['train_seconds']:.1f} s on {results['chars_seen']:,} characters "
        f"({results['chars_per_second']:,.0f} characters/s), {results['updates']:,} updates"
    )
    print(
        f"model saved to {results['model_path']}"
        + (
            " with its vocabulary: rnnkit.load_model(path) then rnnkit.generate(model, prime, n)"
            if results["vocab_saved"]
            else " (without its vocabulary: pass vocab=... to rnnkit.generate after loading)"
        )
    )
    for name, path in results["figures"].items():
        print(f"figure ({name}): {path}")
    print(f"\nrnnkit.generate(model, {prime!r}, 300, temperature=0.5, seed={seed}):")
    print(format_sample(prime + generate(results["model"], prime, 300, temperature=0.5, seed=seed)))


def _extra_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="minchar: min-char-rnn's set-up; modern (default): faster; lstm: modern with an LSTM",
    )
    parser.add_argument("--seconds", type=float, default=None, help="training time budget")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: ``python -m rnnkit.examples.char_lm [--preset minchar] [--seconds 30]``."""
    config, args = parse_config(argv, __doc__.splitlines()[0], DEFAULT, SMALL, _extra_options)
    if args.preset is not None and args.preset != config.preset:
        # The quick sizes belong to the modern preset: keep only its budget for another one.
        config = preset(
            args.preset,
            seconds=config.seconds,
            max_chars=config.max_chars,
            eval_chars=config.eval_chars,
        )
    if args.seconds is not None:
        config = dataclasses.replace(config, seconds=args.seconds)
    # Progress lines are on by default here: training takes a while and prints samples.
    results = run(config, out_dir=args.out_dir, verbose=max(args.verbose, 1), seed=args.seed)
    report(results, seed=args.seed)
    return results


if __name__ == "__main__":
    main()
