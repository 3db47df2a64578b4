"""Example 7 - vector-to-sequence ("image captioning"): a digit image is spelled as its name.

The 8x8 digit images bundled with scikit-learn go through ``Dense(tanh)``; that vector is the
initial hidden state of a character decoder (Embedding -> SimpleRNN -> Dense over the letters)
that writes the digit's English name: an image of a 7 becomes ``"seven"``. Training uses teacher
forcing (the decoder reads the true previous letter) with the padding masked out of the loss;
inference is greedy (the decoder reads its own previous letter). Metric: exact-match accuracy of
the whole word on held-out images. The decoder's gradient with respect to its initial state is
what trains the image encoder.

Run: ``python examples/07_captioning.py`` (``--quick`` for the test-sized run).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import plot
from ..layers import Dense
from ..models import Model
from ..network import Inputs
from ..optimizers import Adam
from ..training import Trainer
from ._common import Stopwatch, figure_path, parse_and_run, print_paths, resolve_config
from ._decoding import Alphabet, Decoder, exact_match, teacher_forcing

__all__ = ["DEFAULT", "NAMES", "SMALL", "Captioner", "Config", "load_data", "main", "run"]

NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the captioning example."""

    units: int = 64  # decoder state size (= image feature size)
    embed: int = 16  # letter embedding size
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 5e-3
    test_fraction: float = 0.25


DEFAULT = Config()
SMALL = Config(epochs=15)


class Captioner(Model):
    """``h0 = tanh(pixels @ W + b)``, then a character decoder started from ``h0``.

    ``forward((pixels (N, 64), letters_in (N, T)), lengths)`` returns letter logits
    ``(N, T, V)``; :meth:`caption` decodes greedily.
    """

    def __init__(
        self,
        vocab_size: int,
        units: int = 64,
        embed: int = 16,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.config = {"vocab_size": vocab_size, "units": units, "embed": embed, "seed": seed}
        self.encoder = Dense(units, activation="tanh", seed=seed, name="image_features")
        self.decoder = Decoder(vocab_size, embed, units, seed + 1, prefix="speller")
        self.decoder_layers = self.decoder.layers  # assigned so that the Model tracks them

    def forward(
        self, x: Inputs, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        pixels, letters_in = x
        h0 = self.encoder(np.asarray(pixels, dtype=np.float32), training=training)
        return self.decoder.forward(letters_in, h0, training, lengths)

    def backward(self, dy: np.ndarray) -> None:
        # The decoder's dL/dh0 is the gradient of the image features: it trains the encoder.
        self.encoder.backward(self.decoder.backward(dy))
        return

    def caption(self, pixels: np.ndarray, max_len: int = 8) -> np.ndarray:
        """Greedy letter ids ``(N, max_len)`` for images ``(N, 64)``."""
        return self.decoder.greedy(self.encoder(np.asarray(pixels, dtype=np.float32)), max_len)

    def get_config(self) -> dict[str, Any]:
        return {**self.config, "name": self.name}


def load_data(test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """scikit-learn's digits (shipped with it: nothing downloads), pixels scaled to [0, 1],
    split at random into train/test with ``seed``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = (digits.data / 16.0).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(pixels))
    n_test = int(len(pixels) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return {
        "x_train": pixels[train],
        "y_train": digits.target[train],
        "x_test": pixels[test],
        "y_test": digits.target[test],
    }


def _figure(images: np.ndarray, truth: Sequence[str], predicted: Sequence[str], path: Any) -> None:
    fig, axes = plot.new_figure(2, 8, width=1.3, height=1.6)
    for ax, image, true, guess in zip(axes.ravel(), images, truth, predicted):
        ax.imshow(image.reshape(8, 8), cmap="gray_r")
        ax.set_title(f'"{guess}"', color="C2" if guess == true else "C3", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Held-out digits captioned by the RNN decoder (red: wrong)")
    plot.save_figure(fig, path)


def run(
    config: Config | Mapping[str, Any] | None = None,
    out_dir: str = "examples/output",
    verbose: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Train and evaluate; return ``exact_match`` (held-out, greedy), ``train_exact_match``,
    ``examples`` (a few ``(truth, caption)`` pairs), ``seconds`` and ``figures``."""
    config = resolve_config(DEFAULT, config)
    clock = Stopwatch()
    data = load_data(config.test_fraction, seed)
    alphabet = Alphabet(sorted(set("".join(NAMES))))
    words = [alphabet.encode(name) for name in NAMES]
    dec_in, dec_out, lengths = teacher_forcing(words)  # one row per digit class

    model = Captioner(len(alphabet), config.units, config.embed, seed=seed)
    trainer = Trainer(
        model,
        loss="sparse_categorical_crossentropy",
        optimizer=Adam(config.learning_rate),
        clip_norm=5.0,
    )
    y = data["y_train"]
    history = trainer.fit(
        (data["x_train"], dec_in[y]),
        dec_out[y],
        lengths=lengths[y],
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=seed,
        verbose=verbose,
    )

    def accuracy(pixels: np.ndarray, labels: np.ndarray) -> tuple[float, list[str]]:
        ids = model.caption(pixels)
        return (
            exact_match(alphabet, ids, [NAMES[k] for k in labels]),
            [alphabet.decode(row) for row in ids],
        )

    test_acc, captions = accuracy(data["x_test"], data["y_test"])
    train_acc, _ = accuracy(data["x_train"], data["y_train"])
    truth = [NAMES[k] for k in data["y_test"]]
    figures = {"captions": str(figure_path(out_dir, "07_captioning.png"))}
    _figure(data["x_test"][:16], truth[:16], captions[:16], figures["captions"])
    return {
        "exact_match": test_acc,
        "train_exact_match": train_acc,
        "final_loss": history.history["loss"][-1],
        "examples": list(zip(truth[:8], captions[:8])),
        "n_test": len(truth),
        "seconds": clock.elapsed,
        "figures": figures,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line: train, then say what was learned and where the figure is."""
    config, results = parse_and_run(argv, __doc__, DEFAULT, SMALL, run)
    print(
        f"Captioning: Dense(tanh) image features start a SimpleRNN({config.units}) that spells "
        "the digit's name letter by letter."
    )
    print(
        f"  exact-match accuracy, greedy decoding: {results['exact_match']:.1%} on "
        f"{results['n_test']} held-out images ({results['train_exact_match']:.1%} on training "
        f"images), in {results['seconds']:.1f} s"
    )
    print("  " + ", ".join(f"{t} -> {c!r}" for t, c in results["examples"]))
    print_paths(results["figures"])
    return results


if __name__ == "__main__":
    main()
