"""``benchmarks/bench_generate.py``: characters per second of :func:`rnnkit.generate` against a
PyTorch loop on the same model, for the char-LM presets of the demo (``python -m rnnkit demo
--preset``, :mod:`rnnkit.examples.char_lm`).

Per preset: the model at its preset's sizes (untrained: speed does not depend on the weights),
``rnnkit.generate`` at temperature 1 (the step runner), the same call on the path that feeds
every character through ``model.forward`` (what generate did before the runner), and a plain
PyTorch loop on :func:`rnnkit.interop.to_torch`'s copy of the model (one module call per layer
per character with the recurrent states carried, ``softmax`` and ``torch.multinomial``) at
the faster of one and two torch threads. The same prime and length throughout; the greedy
texts of both are compared as a check that the two run the same model.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any
from unittest import mock

from .._generation import StepRunner
from ..examples import char_lm
from ..models import Sequential
from ..text import CharVocab, generate, recurrent_layers
from .report import configuration_text, environment_warning
from .timing import SETTLE_S, median_seconds
from .torch_side import fastest_torch_threads, torch_available

__all__ = ["PRESETS", "char_model", "main", "run", "time_preset", "torch_generator"]

# Printable ASCII and the newline: the demo corpus's alphabet (rnnkit.text.stdlib_corpus).
VOCAB = CharVocab([chr(c) for c in range(32, 127)] + ["\n"])
PRIME = "    def close(self):\n        "
PRESETS = tuple(char_lm.PRESETS)
COMMAND = "python benchmarks/bench_generate.py"


def char_model(preset: str, hidden: int | None = None) -> Sequential:
    """The demo's char model of ``preset`` (``hidden`` overrides its units) on :data:`VOCAB`."""
    overrides = {} if hidden is None else {"hidden": hidden}
    return char_lm.build_model(len(VOCAB), char_lm.preset(preset, **overrides))


def torch_generator(model: Sequential) -> Callable[[str, int, float, int], list[int]]:
    """``generate(prime, length, temperature, seed) -> ids``: the usual PyTorch sampling loop
    on ``model``'s PyTorch copy (eval mode, inference mode): the prime in one call, then one
    call per module per character, the recurrent modules' states carried by hand."""
    import torch

    from ..interop.torch import recurrent_output_class, to_torch

    modules = list(to_torch(model))
    recurrent = recurrent_output_class()

    def generate_ids(prime: str, length: int, temperature: float, seed: int) -> list[int]:
        states: list[Any] = [None] * len(modules)
        sampler = torch.Generator().manual_seed(seed)

        def logits_after(x: Any) -> Any:
            for i, module in enumerate(modules):
                if isinstance(module, recurrent):
                    x, states[i] = module.rnn(x, states[i])
                else:
                    x = module(x)
            return x[0, -1]

        out: list[int] = []
        with torch.inference_mode():
            logits = logits_after(torch.from_numpy(VOCAB.encode(prime))[None])
            for i in range(length):
                if temperature <= 1e-6:
                    token = int(torch.argmax(logits))
                else:
                    p = torch.softmax(logits / temperature, dim=-1)
                    token = int(torch.multinomial(p, 1, generator=sampler))
                out.append(token)
                if i + 1 < length:
                    logits = logits_after(torch.tensor([[token]]))
        return out

    return generate_ids


@dataclasses.dataclass
class GenerationRow:
    """One preset's figures (characters per second; None where not timed)."""

    preset: str
    hidden: int
    rnnkit: float
    forward_path: float
    torch: float | None = None
    torch_threads: int = 0
    greedy_agree: int | None = None  # leading characters where the greedy texts agree

    @property
    def ratio(self) -> float | None:
        return None if self.torch is None else self.rnnkit / self.torch


def _forward_path() -> Any:
    """generate without the step runner: every character through model.forward."""
    return mock.patch.object(StepRunner, "for_model", return_value=None)


def time_preset(
    preset: str, length: int, repeat: int, hidden: int | None = None, with_torch: bool = True
) -> GenerationRow:
    """Characters per second of every contender on ``preset``'s model (medians of ``repeat``
    rounds; torch at its faster thread count)."""
    model = char_model(preset, hidden)

    def rnnkit_run() -> str:
        return generate(model, PRIME, length, temperature=1.0, seed=0, vocab=VOCAB)

    rnnkit_s = median_seconds(rnnkit_run, repeat, settle_s=SETTLE_S)
    with _forward_path():
        forward_s = median_seconds(rnnkit_run, repeat, settle_s=SETTLE_S)
    units = recurrent_layers(model)[0].units
    row = GenerationRow(preset, units, length / rnnkit_s, length / forward_s)
    if with_torch:
        torch_run = torch_generator(model)
        seconds, row.torch_threads = fastest_torch_threads(
            lambda: torch_run(PRIME, length, 1.0, 0), repeat
        )
        row.torch = length / seconds
        greedy = VOCAB.decode(torch_run(PRIME, 100, 0.0, 0))
        ours = generate(model, PRIME, 100, temperature=0.0, vocab=VOCAB)
        row.greedy_agree = next((i for i, (a, b) in enumerate(zip(greedy, ours)) if a != b), 100)
    return row


def _row_text(r: GenerationRow) -> str:
    torch_text = "-" if r.torch is None else f"{r.torch:>10,.0f} ({r.torch_threads} thr)"
    ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x"
    agree = "-" if r.greedy_agree is None else f"{r.greedy_agree}/100"
    return (
        f"{r.preset:<8}{r.hidden:>7}{r.rnnkit:>14,.0f}{r.forward_path:>14,.0f}"
        f"{torch_text:>22}{ratio:>14}{agree:>9}"
    )


def run(
    presets: Sequence[str], length: int, repeat: int, hidden: int | None, with_torch: bool
) -> list[GenerationRow]:
    """Time every preset and print the table."""
    print(configuration_text())
    warning = environment_warning(command=COMMAND)
    if warning:
        print(warning)
    print(f"\nrnnkit.generate, {length} characters after a {len(PRIME)}-character prime, temp 1")
    print(
        f"{'preset':<8}{'units':>7}{'rnnkit ch/s':>14}{'forward path':>14}"
        f"{'torch loop ch/s':>22}{'rnnkit/torch':>14}{'greedy':>9}"
    )
    rows = []
    for preset in presets:
        rows.append(time_preset(preset, length, repeat, hidden, with_torch))
        print(_row_text(rows[-1]), flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """``bench_generate.py [--preset P ...] [--length N] [--repeat R] [--no-torch]``."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=PRESETS, action="append")
    parser.add_argument("--length", type=int, default=500, help="characters per call")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (the median)")
    parser.add_argument("--hidden", type=int, help="override the presets' units (tests)")
    parser.add_argument("--no-torch", action="store_true", help="time rnnkit only")
    args = parser.parse_args(argv)
    with_torch = not args.no_torch and torch_available()
    run(args.preset or PRESETS, args.length, args.repeat, args.hidden, with_torch)
    return 0
