"""Example 8 - sequence to sequence: an encoder-decoder learns to reverse strings of digits.

An encoder SimpleRNN reads a digit string of 3 to ``max_len`` digits (variable lengths, masked)
and hands its final state to a decoder SimpleRNN as the initial state; the decoder writes the
reversed string, ``"40172" -> "27104"``. It is a custom :class:`rnnkit.models.Model` with its own
forward and backward: the decoder's gradient with respect to its initial state flows back into
the encoder as the gradient of its final state (``dh_last``). Teacher forcing in training, greedy
decoding at inference; metric: exact match on held-out strings.

Run: ``python examples/08_seq2seq.py`` (``--quick`` for the test-sized run).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import plot
from ..layers import Embedding, SimpleRNN
from ..models import Model
from ..network import Inputs
from ..optimizers import Adam
from ..training import Trainer
from ._common import Stopwatch, figure_path, parse_and_run, print_paths, resolve_config
from ._decoding import Alphabet, Decoder, exact_match, teacher_forcing

__all__ = ["DEFAULT", "SMALL", "Config", "Seq2Seq", "main", "make_strings", "run"]

DIGITS = Alphabet("0123456789")


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the reversal task and the encoder-decoder."""

    min_len: int = 3
    max_len: int = 7
    n_train: int = 8000
    n_test: int = 1000
    units: int = 128
    embed: int = 16
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 2e-3
    clip_norm: float = 1.0  # exploding-gradient spikes otherwise undo epochs of progress


DEFAULT = Config()
SMALL = Config(max_len=5, n_train=4000, n_test=500, units=96, epochs=10)


class Seq2Seq(Model):
    """Encoder ``Embedding -> SimpleRNN(return_state)``; its final state starts the decoder.

    ``forward((source (N, S), target_in (N, T)), lengths)``: ``source`` is padded with 0 after
    its digits (the encoder's Embedding uses ``mask_zero``, so padded steps leave the state
    alone and ``h_last`` is the state after the last digit); ``lengths`` mask the target side.
    """

    def __init__(
        self,
        vocab_size: int,
        units: int = 128,
        embed: int = 16,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.config = {"vocab_size": vocab_size, "units": units, "embed": embed, "seed": seed}
        self.source_embedding = Embedding(
            vocab_size, embed, mask_zero=True, seed=seed, name="source_embedding"
        )
        self.encoder = SimpleRNN(units, return_state=True, seed=seed + 1, name="encoder")
        self.decoder = Decoder(vocab_size, embed, units, seed + 2, prefix="decoder")
        self.decoder_layers = self.decoder.layers  # assigned so that the Model tracks them

    def encode(self, source: np.ndarray, training: bool = False) -> np.ndarray:
        """The encoder's final state ``(N, H)`` for padded ``source`` ids ``(N, S)``."""
        emb = self.source_embedding(source, training=training)
        _, h = self.encoder(
            emb, training=training, lengths=self.source_embedding.output_lengths(None)
        )
        return h

    def forward(
        self, x: Inputs, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        source, target_in = x
        return self.decoder.forward(target_in, self.encode(source, training), training, lengths)

    def backward(self, dy: np.ndarray) -> None:
        d_state = self.decoder.backward(dy)
        # The encoder's output is its final state only: its gradient is the decoder's dL/dh0.
        d_emb = self.encoder.backward([None, d_state])
        self.source_embedding.backward(d_emb)
        return

    def translate(self, source: np.ndarray, max_len: int) -> np.ndarray:
        """Greedy output ids ``(N, max_len)``."""
        return self.decoder.greedy(self.encode(source), max_len)

    def get_config(self) -> dict[str, Any]:
        return {**self.config, "name": self.name}


def make_strings(n: int, min_len: int, max_len: int, rng: np.random.Generator) -> list[str]:
    """``n`` random digit strings with lengths uniform in ``[min_len, max_len]``."""
    lengths = rng.integers(min_len, max_len + 1, size=n)
    return ["".join(map(str, rng.integers(0, 10, size=k))) for k in lengths]


def encode_sources(strings: Sequence[str], max_len: int) -> np.ndarray:
    """Digit ids ``(N, max_len)``, post-padded with 0 (the padding id)."""
    out = np.zeros((len(strings), max_len), dtype=np.int64)
    for i, s in enumerate(strings):
        out[i, : len(s)] = DIGITS.encode(s)
    return out


def _figure(accuracy_by_length: dict[int, float], history: Any, path: Any) -> None:
    fig, axes = plot.new_figure(1, 2, width=4.6, height=3.6)
    ax = axes[0, 0]
    ax.plot(history.history["loss"], marker="o")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy (teacher forcing)")
    ax.set_title("Training loss")
    ax = axes[0, 1]
    lengths = sorted(accuracy_by_length)
    ax.bar([str(k) for k in lengths], [accuracy_by_length[k] for k in lengths], color="C2")
    ax.set_ylim(0, 1)
    ax.set_xlabel("string length")
    ax.set_ylabel("exact match (greedy, held-out)")
    ax.set_title("Reversal accuracy by length")
    plot.save_figure(fig, path)


def run(
    config: Config | Mapping[str, Any] | None = None,
    out_dir: str = "examples/output",
    verbose: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Train and evaluate; return ``exact_match`` (held-out, greedy), ``accuracy_by_length``,
    ``examples`` (``(source, output)`` pairs), ``seconds`` and ``figures``."""
    config = resolve_config(DEFAULT, config)
    clock = Stopwatch()
    rng = np.random.default_rng(seed)
    train = make_strings(config.n_train, config.min_len, config.max_len, rng)
    test = make_strings(config.n_test, config.min_len, config.max_len, rng)
    dec_in, dec_out, lengths = teacher_forcing([DIGITS.encode(s[::-1]) for s in train])

    model = Seq2Seq(len(DIGITS), config.units, config.embed, seed=seed)
    trainer = Trainer(
        model,
        loss="sparse_categorical_crossentropy",
        optimizer=Adam(config.learning_rate),
        clip_norm=config.clip_norm,
    )
    history = trainer.fit(
        (encode_sources(train, config.max_len), dec_in),
        dec_out,
        lengths=lengths,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=seed,
        verbose=verbose,
    )

    ids = model.translate(encode_sources(test, config.max_len), config.max_len + 1)
    outputs = [DIGITS.decode(row) for row in ids]
    truth = [s[::-1] for s in test]
    by_length = {
        k: float(np.mean([o == t for o, t in zip(outputs, truth) if len(t) == k]))
        for k in sorted({len(t) for t in truth})
    }
    figures = {"reversal": str(figure_path(out_dir, "08_seq2seq.png"))}
    _figure(by_length, history, figures["reversal"])
    return {
        "exact_match": exact_match(DIGITS, ids, truth),
        "accuracy_by_length": by_length,
        "final_loss": history.history["loss"][-1],
        "examples": list(zip(test[:6], outputs[:6])),
        "n_test": len(test),
        "seconds": clock.elapsed,
        "figures": figures,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: train, then say what was learned and where the figure is."""
    config, results = parse_and_run(argv, __doc__, DEFAULT, SMALL, run)
    print(
        f"Seq2seq: an encoder SimpleRNN({config.units}) hands its final state to a decoder "
        f"that writes the digit string reversed ({config.min_len}-{config.max_len} digits)."
    )
    print(
        f"  exact-match accuracy, greedy decoding: {results['exact_match']:.1%} on "
        f"{results['n_test']} held-out strings, in {results['seconds']:.1f} s"
    )
    print(
        "  by length: "
        + ", ".join(f"{k}: {v:.0%}" for k, v in results["accuracy_by_length"].items())
    )
    print("  " + ", ".join(f"{s} -> {o}" for s, o in results["examples"]))
    print_paths(results["figures"])
    return results


if __name__ == "__main__":
    main()
