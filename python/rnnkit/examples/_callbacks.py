"""The callbacks the character-model examples train with: a budget of time or updates, and
samples of the model's text printed as it learns."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from ..callbacks import Callback
from ..text import CharVocab, format_sample, generate

__all__ = ["SampleText", "TrainingBudget"]


class TrainingBudget(Callback):
    """Ends training once ``seconds`` have passed since ``on_train_begin`` or after
    ``max_updates`` updates (whichever comes first; None: no such limit).

    An epoch over megabytes of text outlasts the budget, so it sets ``model.stop_training``
    after the update that used the budget up: ``fit_stream`` then ends that epoch at once,
    with every update made so far in the weights. It also records
    ``(seconds, characters seen, loss)`` per update.
    """

    def __init__(
        self, seconds: float | None, chars_per_update: int, max_updates: int | None = None
    ) -> None:
        super().__init__()
        self.seconds = math.inf if seconds is None else float(seconds)
        self.max_updates = max_updates
        self.chars_per_update = int(chars_per_update)
        self.start = 0.0
        self.updates = 0
        self.log: list[tuple[float, int, float]] = []

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def on_train_begin(self, logs: Any = None) -> None:
        self.start = time.perf_counter()

    def on_batch_end(self, batch: int, logs: Any = None) -> None:
        self.updates += 1
        self.log.append(
            (
                self.elapsed,
                self.updates * self.chars_per_update,
                float((logs or {}).get("loss", math.nan)),
            )
        )
        if self.used_up:
            self.attached_model().stop_training = True

    @property
    def used_up(self) -> bool:
        return self.elapsed >= self.seconds or (
            self.max_updates is not None and self.updates >= self.max_updates
        )


class SampleText(Callback):
    """Prints (and keeps) samples from the model every ``every`` seconds of training, one per
    temperature, all from the same prime and seed so that they show the model's progress.
    Each is shown as an indented block, prime included (:func:`rnnkit.text.format_sample`)."""

    def __init__(
        self,
        vocab: CharVocab,
        every: float,
        temperatures: Sequence[float],
        prime: str = "def ",
        length: int = 200,
        seed: int = 0,
        verbose: int = 1,
    ) -> None:
        super().__init__()
        self.vocab, self.every = vocab, float(every)
        self.temperatures = list(temperatures)
        self.prime, self.length, self.seed, self.verbose = prime, int(length), seed, verbose
        self.samples: list[tuple[float, dict[float, str]]] = []
        self._start = self._last = 0.0

    def on_train_begin(self, logs: Any = None) -> None:
        self._start = self._last = time.perf_counter()

    def on_batch_end(self, batch: int, logs: Any = None) -> None:
        now = time.perf_counter()
        if now - self._last >= self.every:
            self._last = now
            self.sample(now - self._start, (logs or {}).get("loss"))

    def sample(self, at: float, loss: float | None = None) -> dict[float, str]:
        """Generate one sample per temperature now (the trainer's carried state is restored by
        :func:`rnnkit.generate`, so training continues undisturbed)."""
        texts = {
            t: generate(
                self.attached_model(),
                self.prime,
                self.length,
                temperature=t,
                seed=self.seed,
                vocab=self.vocab,
            )
            for t in self.temperatures
        }
        self.samples.append((at, texts))
        if self.verbose:
            head = f"--- samples after {at:.0f} s"
            if loss is not None:
                head += f" (loss {loss:.3f}, perplexity {math.exp(loss):.2f})"
            print(f"\n{head} ---")
            for t, text in texts.items():
                print(f"[T={t}]\n{format_sample(self.prime + text)}")
            print("---", flush=True)
        return texts
