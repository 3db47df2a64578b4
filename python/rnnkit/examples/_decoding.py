"""What the conditioned-decoder examples (captioning, seq2seq) share: the token alphabet with
start/end/padding symbols, teacher-forcing arrays, the decoder stack, and greedy decoding.

A decoder here is ``Embedding -> SimpleRNN(return_sequences) -> TimeDistributed(Dense(V))``
whose initial state carries the condition (image features, an encoded sequence). Training uses
teacher forcing: the decoder reads ``<start> y_1 ... y_{L}`` and predicts ``y_1 ... y_L <end>``;
inference feeds back its own argmax, one step at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..layers import Dense, Embedding, SimpleRNN, TimeDistributed

__all__ = ["Alphabet", "Decoder", "exact_match", "teacher_forcing"]


class Alphabet:
    """Symbols with three reserved ids: 0 padding, 1 start, 2 end; ``symbols`` follow."""

    PAD, START, END = 0, 1, 2

    def __init__(self, symbols: Sequence[str]) -> None:
        self.symbols = list(symbols)
        self.ids = {s: i + 3 for i, s in enumerate(self.symbols)}

    def __len__(self) -> int:
        return len(self.symbols) + 3

    def encode(self, text: Sequence[str]) -> list[int]:
        return [self.ids[s] for s in text]

    def decode(self, ids: Sequence[int]) -> str:
        """Symbols up to the first end (padding/start ids are skipped)."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.END:
                break
            if i > self.END:
                out.append(self.symbols[i - 3])
        return "".join(out)


def teacher_forcing(
    sequences: Sequence[Sequence[int]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(decoder_in, decoder_out, lengths)`` for id sequences: ``decoder_in`` is
    ``<start> + seq``, ``decoder_out`` is ``seq + <end>``, both ``(N, L_max + 1)`` padded with 0
    at the end, and ``lengths = len(seq) + 1`` masks the padding out of the loss."""
    longest = max(len(s) for s in sequences) + 1
    dec_in = np.zeros((len(sequences), longest), dtype=np.int64)
    dec_out = np.zeros_like(dec_in)
    lengths = np.empty(len(sequences), dtype=np.int64)
    for i, seq in enumerate(sequences):
        n = len(seq)
        dec_in[i, 0] = Alphabet.START
        dec_in[i, 1 : n + 1] = seq
        dec_out[i, :n] = seq
        dec_out[i, n] = Alphabet.END
        lengths[i] = n + 1
    return dec_in, dec_out, lengths


class Decoder:
    """The three layers of a conditioned decoder (owned by the enclosing Model, which assigns
    them as attributes so that they are tracked) and its forward/backward/greedy passes."""

    def __init__(self, vocab_size: int, embed: int, units: int, seed: int, prefix: str) -> None:
        self.embedding = Embedding(vocab_size, embed, seed=seed, name=f"{prefix}_embedding")
        self.rnn = SimpleRNN(units, return_sequences=True, seed=seed + 1, name=f"{prefix}_rnn")
        self.head = TimeDistributed(Dense(vocab_size, seed=seed + 2), name=f"{prefix}_logits")

    @property
    def layers(self) -> list:
        return [self.embedding, self.rnn, self.head]

    def forward(
        self, tokens: np.ndarray, h0: np.ndarray, training: bool, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """Logits ``(N, T, V)`` for input tokens ``(N, T)`` from initial state ``h0 (N, H)``."""
        hs = self.rnn(
            self.embedding(tokens, training=training),
            training=training,
            lengths=lengths,
            initial_state=h0,
        )
        return self.head(hs, training=training)

    def backward(self, dlogits: np.ndarray) -> np.ndarray:
        """Fill the decoder's grads; return ``dL/dh0`` for whatever produced the state."""
        dx = self.rnn.backward(self.head.backward(dlogits))
        self.embedding.backward(dx)
        d_h0 = self.rnn.d_initial_state
        if not isinstance(d_h0, np.ndarray):  # the backward just ran: one-state cell, one array
            raise RuntimeError(f"layer {self.rnn.name!r} gave no initial-state gradient")
        return d_h0

    def greedy(self, h0: np.ndarray, max_len: int) -> np.ndarray:
        """Decode from ``h0 (N, H)`` feeding back the argmax: ids ``(N, max_len)`` (read up to
        the first end id). One SimpleRNN call per step, the state passed along explicitly."""
        n = h0.shape[0]
        token = np.full((n, 1), Alphabet.START, dtype=np.int64)
        h = h0
        out = np.empty((n, max_len), dtype=np.int64)
        for t in range(max_len):
            hs = self.rnn(self.embedding(token), initial_state=h)  # (N, 1, H)
            h = hs[:, 0]
            out[:, t] = self.head(hs)[:, 0].argmax(axis=-1)
            token = out[:, t : t + 1]
        return out


def exact_match(alphabet: Alphabet, predicted: np.ndarray, truth: Sequence[str]) -> float:
    """Share of rows whose decoded symbols equal the truth exactly."""
    return float(np.mean([alphabet.decode(row) == t for row, t in zip(predicted, truth)]))
