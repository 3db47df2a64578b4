"""Character-level text: a vocabulary, a corpus that is already on every machine, and sampling.

* :class:`CharVocab` maps characters to ids and back; it is JSON-serialisable and travels with a
  saved model (:func:`attach_vocab`), so ``rnnkit.load_model`` + :func:`generate` need nothing
  else.
* :func:`stdlib_corpus` reads Python's own standard-library ``.py`` sources: several megabytes of
  real, structured text (quotes, brackets, indentation) that needs no download.
* :func:`generate` continues a prime text with a trained character model, one step at a time;
  :func:`source_prime` picks a prime that gives the model context (a real method header) and
  :func:`format_sample` lays a sample out for a reader (newlines kept, long runs of spaces and
  of blank lines shown by their length).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _checks, _seeding
from ._generation import Sampler, StepRunner
from .layers import Embedding, RecurrentLayer
from .layers.recurrent import scoped_states

if TYPE_CHECKING:  # annotations only
    from .network import Network

__all__ = [
    "VOCAB_KEY",
    "CharVocab",
    "attach_vocab",
    "format_sample",
    "generate",
    "get_vocab",
    "recurrent_layers",
    "source_prime",
    "stdlib_corpus",
    "stdlib_files",
]

# Key of the vocabulary in a model's metadata (the JSON saved with the model).
VOCAB_KEY = "char_vocab"


class CharVocab:
    """Characters <-> integer ids, in a fixed order (ids are positions in ``chars``).

    Args:
        chars: the distinct characters, in id order.
        unk: a character of ``chars`` that stands for any unknown character when encoding;
            None makes :meth:`encode` raise KeyError on unknown characters.
    """

    def __init__(self, chars: Iterable[str], unk: str | None = None) -> None:
        self.chars: list[str] = list(chars)
        if any(len(c) != 1 for c in self.chars):
            raise ValueError("every vocabulary entry must be a single character")
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("vocabulary characters must be distinct")
        if unk is not None and unk not in self.chars:
            raise ValueError(f"unk {unk!r} is not one of the vocabulary's characters")
        self.unk = unk
        self.index: dict[str, int] = {c: i for i, c in enumerate(self.chars)}
        # A lookup table over code points makes encoding a vectorised gather (corpora are MBs).
        self._table = np.full(max(map(ord, self.chars), default=0) + 1, -1, dtype=np.int64)
        for i, c in enumerate(self.chars):
            self._table[ord(c)] = i

    @classmethod
    def from_text(cls, text: str, min_count: int = 1, unk: str = "?") -> CharVocab:
        """The characters of ``text`` in sorted order; characters seen fewer than ``min_count``
        times map to ``unk`` (added if absent) when ``min_count > 1``."""
        counts = Counter(text)
        chars = sorted(c for c, n in counts.items() if n >= min_count)
        if min_count > 1 and len(chars) < len(counts):
            if unk not in chars:
                chars = sorted([*chars, unk])
            return cls(chars, unk=unk)
        return cls(chars)

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def size(self) -> int:
        """Number of characters (the model's input and output size)."""
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """``text`` as an ``int64`` array of ids (unknown characters -> ``unk`` or KeyError)."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        ids = np.full(codes.shape, -1, dtype=np.int64)
        known = codes < len(self._table)
        ids[known] = self._table[codes[known]]
        missing = ids < 0
        if missing.any():
            if self.unk is None:
                bad = text[int(np.flatnonzero(missing)[0])]
                raise KeyError(
                    f"character {bad!r} is not in the vocabulary (give the vocabulary "
                    "an unk character to map unknown characters)"
                )
            ids[missing] = self.index[self.unk]
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """The characters of ``ids``."""
        return "".join(self.chars[int(i)] for i in ids)

    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable form; :meth:`from_config` inverts it."""
        return {"chars": "".join(self.chars), "unk": self.unk}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CharVocab:
        return cls(config["chars"], unk=config.get("unk"))

    def to_json(self) -> str:
        return json.dumps(self.get_config())

    @classmethod
    def from_json(cls, text: str) -> CharVocab:
        return cls.from_config(json.loads(text))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharVocab) and (self.chars, self.unk) == (other.chars, other.unk)

    def __repr__(self) -> str:
        return f"CharVocab(size={len(self)}, unk={self.unk!r})"


# -- the corpus -------------------------------------------------------------------------------

# Folders of the standard library that are not its own sources (installed packages) or whose
# text is mostly test data (odd encodings, huge literal tables) rather than ordinary code.
_SKIP_DIRS = frozenset(
    {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test", "lib2to3"}
)


def stdlib_files(root: str | Path | None = None) -> list[Path]:
    """The ``.py`` files of the standard library under ``root`` (default: the folder of the
    running interpreter's ``os`` module), in sorted order, without installed packages and
    test suites."""
    base = Path(root) if root is not None else Path(os.path.dirname(os.__file__))
    found: list[Path] = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        found.extend(Path(folder) / f for f in files if f.endswith(".py"))
    return sorted(found)


def _normalise(source: str) -> str:
    """Printable ASCII plus newlines: tabs become four spaces, anything else is dropped. This
    keeps the vocabulary at <= 96 characters whatever the Python version ships."""
    source = source.replace("\r\n", "\n").replace("\t", "    ")
    return "".join(c for c in source if c == "\n" or " " <= c <= "~")


def _read_sources(paths: Sequence[Path]) -> Iterator[str]:
    for path in paths:
        try:
            yield _normalise(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue  # unreadable or not UTF-8: skip it, the rest is plenty


def stdlib_corpus(
    max_chars: int = 1_000_000, seed: int | None = 0, root: str | Path | None = None
) -> str:
    """Up to ``max_chars`` characters of Python standard-library source, whole files joined.

    The sorted file list (:func:`stdlib_files`) is permuted by ``seed`` (None keeps the sorted
    order), so a seed always gives the same text on a given Python version while different
    seeds sample different modules. Unreadable files are skipped; text is normalised to
    printable ASCII and newlines. The last file is cut at ``max_chars``.
    """
    max_chars = _checks.positive_int(max_chars, "max_chars")
    paths = stdlib_files(root)
    if not paths:
        raise FileNotFoundError(f"no .py files found under {root or os.path.dirname(os.__file__)}")
    if seed is not None:
        paths = [paths[i] for i in np.random.default_rng(seed).permutation(len(paths))]
    parts, total = [], 0
    for text in _read_sources(paths):
        parts.append(text)
        total += len(text)
        if total >= max_chars:
            break
    return "".join(parts)[:max_chars]


# -- models that carry their vocabulary ---------------------------------------------------------


def attach_vocab(model: Network, vocab: CharVocab) -> None:
    """Store ``vocab`` in ``model.metadata`` (the JSON saved with the model), so a loaded model
    can :func:`generate` without being given the vocabulary again."""
    model.metadata[VOCAB_KEY] = vocab.get_config()


def get_vocab(model: Network) -> CharVocab | None:
    """The vocabulary :func:`attach_vocab` stored on ``model``, or None."""
    config = model.metadata.get(VOCAB_KEY)
    return CharVocab.from_config(config) if config else None


def recurrent_layers(model: Network) -> list[RecurrentLayer]:
    """The recurrent layers of ``model`` at the top level of ``model.layers``, in order (not
    those inside a wrapper such as Bidirectional: generation reads text forwards only)."""
    return [layer for layer in model.layers if isinstance(layer, RecurrentLayer)]


# -- sampling ---------------------------------------------------------------------------------


def _model_input(model: Network, ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """``ids (1, T)`` as the first layer wants them: ids for an Embedding, else one-hot."""
    if isinstance(model.layers[0], Embedding):
        return ids
    return np.eye(vocab_size, dtype=model.dtype)[ids]


def sample_logits(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """One id drawn from ``softmax(logits / temperature)``; ``temperature <= 1e-6`` is greedy
    (argmax), the limit of the distribution as the temperature goes to zero."""
    logits = np.asarray(logits, dtype=np.float64).ravel()
    if temperature <= 1e-6:
        return int(np.argmax(logits))
    z = logits / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    return int(rng.choice(len(p), p=p))


def generate(
    model: Network,
    prime: str,
    length: int,
    temperature: float = 1.0,
    seed: int | None = None,
    vocab: CharVocab | None = None,
) -> str:
    """Continue ``prime`` with ``length`` characters sampled from a character model.

    The prime is fed through the model in one call (its recurrent layers made stateful), then
    each sampled character is fed back one step at a time, carrying the state: through each
    layer's step function (:meth:`rnnkit.layers.Layer.step_function`: one kernel call per
    recurrent layer, buffers reused) when the model is a :class:`~rnnkit.models.Sequential`
    stack of layers that have one (Embedding, SimpleRNN, LSTM, GRU, Dense, TimeDistributed,
    Dropout, Activation), else through ``model.forward``; both give the same text. ``model`` maps
    ``(1, T)`` ids (or one-hot ``(1, T, V)`` when its first layer is not an Embedding) to logits
    ``(1, T, V)``. The model's own stateful flags and carried states are restored afterwards.

    Args:
        model: a trained character model (e.g. from :func:`rnnkit.load_model`).
        prime: the text to continue (at least one character).
        length: how many characters to generate.
        temperature: softmax temperature; lower is more conservative, ``0`` is greedy.
        seed: seed of the sampling generator (same seed, same text; None: fresh entropy, or
            the next default seed after :func:`rnnkit.utils.set_random_seed`).
        vocab: the vocabulary; None uses the one stored with the model (:func:`attach_vocab`).

    Returns:
        The ``length`` generated characters (without the prime).
    """
    vocab = vocab if vocab is not None else get_vocab(model)
    if vocab is None:
        raise ValueError(
            "generate needs the vocabulary: pass vocab=..., or attach it to the "
            "model with rnnkit.text.attach_vocab(model, vocab) before saving"
        )
    if not prime:
        raise ValueError("prime must hold at least one character (the model needs an input)")
    length = _checks.non_negative_int(length, "length")
    temperature = _checks.non_negative_real(temperature, "temperature")
    rng = _seeding.make_rng(seed)  # None: rnnkit.utils.set_random_seed's stream, if set
    ids = vocab.encode(prime)
    with scoped_states(recurrent_layers(model), stateful=True):
        if length == 0:
            return ""
        logits = model.forward(_model_input(model, ids[None, :], len(vocab)), training=False)
        runner = StepRunner.for_model(model, len(vocab))
        if runner is None:
            out = _continue_by_forward(model, logits, length, len(vocab), (temperature, rng))
            return vocab.decode(out)
        sample = Sampler(logits.shape[-1], temperature, rng)
        out = [sample(logits[0, -1])]
        for _ in range(length - 1):
            out.append(sample(runner.step(out[-1])))
    return vocab.decode(out)


def _continue_by_forward(
    model: Network,
    logits: np.ndarray,
    length: int,
    vocab_size: int,
    sampling: tuple[float, np.random.Generator],
) -> list[int]:
    """``length`` ids sampled after the prime's ``logits``, each fed back through
    ``model.forward`` as a ``(1, 1)`` sequence: the path of any model (and the reference the
    step runner is tested against). ``sampling``: ``(temperature, rng)``."""
    temperature, rng = sampling
    out = [sample_logits(logits[0, -1], temperature, rng)]
    for _ in range(length - 1):
        ids = np.array([[out[-1]]], dtype=np.int64)
        logits = model.forward(_model_input(model, ids, vocab_size), training=False)
        out.append(sample_logits(logits[0, -1], temperature, rng))
    return out


# -- showing samples ----------------------------------------------------------------------------

# A method header standing alone on its line: "    def name(self, ...):" (one line, short).
_METHOD_HEADER = re.compile(r"^( +)def \w+\(self[^()\n]{0,40}\):$", re.M)


def source_prime(source: str, fallback: str = "def ") -> str:
    """A prime that gives a model of Python source something to continue: the first method
    header of ``source`` (``"    def close(self):"``), a newline and the indentation of the
    body, so that a sample reads as the method's body. ``fallback`` when there is none."""
    match = _METHOD_HEADER.search(source)
    if match is None:
        return fallback
    return f"{match.group(0)}\n{match.group(1)}    "


_SPACE_RUN = re.compile(r" {2,}")


def format_sample(
    text: str, gutter: str = "    | ", max_spaces: int = 24, max_blank_lines: int = 2
) -> str:
    """``text`` (a prime and its sampled continuation) laid out for a reader, as an indented
    block: every line after ``gutter``, newlines kept, indentation kept as it is; a run of
    more than ``max_spaces`` spaces (a model's favourite continuation is often a long stretch
    of indentation, which a terminal shows as nothing) becomes ``<N spaces>``, and more than
    ``max_blank_lines`` blank lines in a row become one line ``<N blank lines>``."""

    def mark(run: re.Match[str]) -> str:
        n = len(run.group(0))
        return run.group(0) if n <= max_spaces else f"<{n} spaces>"

    lines: list[str] = []
    blank = 0
    for line in [*text.split("\n"), None]:  # None flushes the last run of blank lines
        if line is not None and not line.strip(" ") and len(line) <= max_spaces:
            blank += 1
            continue
        if blank > max_blank_lines:
            lines.append(f"<{blank} blank lines>")
        else:
            lines += [""] * blank
        blank = 0
        if line is not None:
            lines.append(_SPACE_RUN.sub(mark, line))
    return "\n".join((gutter + line).rstrip(" ") if line else gutter.rstrip(" ") for line in lines)
