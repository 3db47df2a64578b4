"""Embedding: integer token ids -> dense vectors (a row lookup in a trainable matrix)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _checks, initializers
from ..ops import layer_math
from ..ops._arguments import FLOAT_DTYPES, kernel_ready
from .base import Layer, Shape, StepFunction, config_input_shape, make_rng
from .masking import combine_lengths, mask_to_lengths

__all__ = ["Embedding", "scatter_add_rows"]


def scatter_add_rows(out: np.ndarray, ids: np.ndarray, rows: np.ndarray) -> None:
    """``out[:] = 0; out[ids[i]] += rows[i]`` for every i (repeated ids add up): the gradient
    of a row lookup, the job of ``np.add.at``. A ready float32/float64 ``out`` takes the C++
    core's one pass (rows of one id added in index order); otherwise the NumPy way below,
    several times faster than ``np.add.at``.

    The NumPy way:
    The ids are sorted once (stably, so each id's rows keep their order); an id seen once has
    its row copied in place, and the rows of each repeated id are summed by one
    ``np.add.reduceat`` over the repeated ids only (reduceat pays per group, and in text most
    ids of a large vocabulary appear once per batch). The sums are exact sums of the same
    terms, in ``out``'s dtype, as ``np.add.at`` forms them up to rounding order.
    """
    if out.dtype in FLOAT_DTYPES and kernel_ready(out) and out.flags.writeable:
        layer_math.embedding_scatter_add(out, ids, rows)  # one pass on the C++ core
        return
    n = ids.size
    out.fill(0)
    if not n:
        return
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    boundary = np.empty(n + 1, dtype=bool)
    boundary[0] = boundary[n] = True
    np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=boundary[1:n])
    edges = np.flatnonzero(boundary)  # where each id's group starts, then n
    starts, counts = edges[:-1], np.diff(edges)
    once = counts == 1
    out[sorted_ids[starts[once]]] = rows[order[starts[once]]]
    repeated = ~once
    if repeated.any():
        members = order[np.repeat(repeated, counts)]  # the rows of repeated ids, grouped by id
        group_starts = np.concatenate(([0], np.cumsum(counts[repeated])[:-1]))
        out[sorted_ids[starts[repeated]]] = np.add.reduceat(rows[members], group_starts, axis=0)


def _in_range(ids: np.ndarray, limit: int) -> bool:
    return bool(ids.size == 0 or (ids.min() >= 0 and ids.max() < limit))


class Embedding(Layer):
    """Look up ``ids (N, T)`` (or any integer shape) in ``embeddings (input_dim, output_dim)``:
    output ``ids.shape + (output_dim,)``.

    Args:
        input_dim: vocabulary size; valid ids are ``0 .. input_dim - 1``.
        output_dim: vector size.
        mask_zero: id 0 is padding (so it is reserved: real tokens use ids 1..), anywhere in a
            row (``pad_sequences`` pads at the front by default). :meth:`output_lengths` then
            returns the mask of the last forward input for the layers that follow: the per-row
            count of non-zero ids when they form a prefix of each row (post-padding), else the
            ``(N, T)`` bool mask of non-zero ids (see :mod:`rnnkit._steps`).
        embeddings_initializer: default ``"uniform"``: Keras's U(-0.05, 0.05).
        dtype, seed, input_shape, name: as for every layer (``input_shape=(T,)``).
        input_length: Keras 2's spelling of ``input_shape=(input_length,)``.

    ``backward(dy)`` accumulates ``dy`` into ``grads["embeddings"]`` (repeated ids add up; see
    :func:`scatter_add_rows`) and returns None: integer inputs have no gradient, so an
    Embedding must be the first layer of a model.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        mask_zero: bool = False,
        embeddings_initializer: initializers.InitializerLike = "uniform",
        dtype: str = "float32",
        seed: int | None = None,
        input_shape: Sequence[int | None] | None = None,
        name: str | None = None,
        input_length: int | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=None, dtype=dtype)
        if input_length is not None:
            steps = _checks.positive_int(input_length, "input_length", where="Embedding: ")
            if input_shape is not None and tuple(input_shape) != (steps,):
                raise ValueError(
                    f"Embedding: input_length={steps} and input_shape={tuple(input_shape)} "
                    "disagree; give one of them"
                )
            input_shape = (steps,)
        self.input_dim = _checks.positive_int(input_dim, "input_dim", where="Embedding: ")
        self.output_dim = _checks.positive_int(output_dim, "output_dim", where="Embedding: ")
        self.mask_zero = bool(mask_zero)
        self.embeddings_initializer = initializers.serialize(embeddings_initializer)
        self._init = initializers.get(embeddings_initializer)
        self.seed = seed
        self._ids: np.ndarray | None = None
        self._mask_lengths: np.ndarray | None = None
        self._build_if_shape_given(input_shape)

    def build(self, input_shape: Shape) -> None:
        self._add_param(
            "embeddings", self._init((self.input_dim, self.output_dim), make_rng(self.seed))
        )
        super().build(tuple(input_shape))

    @classmethod
    def config_param_shapes(
        cls, config: dict[str, Any], input_shape: Sequence[int | None] | None
    ) -> dict[str, tuple[int, ...]] | None:
        config_input_shape(config, input_shape)
        return {
            "embeddings": (
                _checks.positive_int(config.get("input_dim"), "input_dim", where="Embedding: "),
                _checks.positive_int(config.get("output_dim"), "output_dim", where="Embedding: "),
            )
        }

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*tuple(input_shape), self.output_dim)

    def _as_ids(self, x: Any) -> np.ndarray:
        ids = np.asarray(x)
        if ids.dtype.kind == "f":
            # Float arrays of whole numbers (data loaded as float) are accepted; fractions not.
            if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
                raise ValueError(
                    f"layer {self.name!r} (Embedding) expects integer token ids, "
                    "got non-integer values"
                )
        elif ids.dtype.kind not in "iu":
            raise TypeError(
                f"layer {self.name!r} (Embedding) expects integer token ids, got dtype {ids.dtype}"
            )
        ids = ids.astype(np.int64, copy=False)
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            raise ValueError(
                f"layer {self.name!r} (Embedding): token ids must lie in "
                f"[0, input_dim) = [0, {self.input_dim}), got values in "
                f"[{ids.min()}, {ids.max()}]"
            )
        return ids

    def compute_lengths(self, x: Any) -> np.ndarray:
        """The mask of ``x (N, T)``'s non-zero ids in its carried form: per-row counts when
        they form a prefix of each row (post-padding), else the ``(N, T)`` bool mask."""
        ids = self._as_ids(x)
        if ids.ndim != 2:
            raise ValueError(
                f"layer {self.name!r} (Embedding) with mask_zero derives lengths "
                f"from (N, T) ids, got shape {ids.shape}"
            )
        return mask_to_lengths(ids != 0)

    def forward(
        self, x: np.ndarray, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        self._build_for(x)
        ids = self._as_ids(x)
        if ids.ndim < 1:
            raise ValueError(
                f"layer {self.name!r} (Embedding) expects ids of shape (N, T), got {ids.shape}"
            )
        self._mask_lengths = self.compute_lengths(ids) if self.mask_zero else None
        self._ids = ids
        return self.params["embeddings"][ids]

    def step_function(self, batch_size: int) -> StepFunction | None:
        """Ids ``(N,)`` in, their rows ``(N, output_dim)`` out, into one buffer. None with
        ``mask_zero``: a step of padding changes what the layers after it do."""
        if self.mask_zero or not self.built:
            return None
        table = self.params["embeddings"]
        rows = np.empty((batch_size, self.output_dim), dtype=table.dtype)
        limit = self.input_dim

        def lookup(ids: np.ndarray) -> np.ndarray:
            if ids.size == 1:  # generation: a Python int is checked and copied in a tenth
                i = int(ids[0])  # of the time of two reductions and a take
                if not 0 <= i < limit:
                    self._as_ids(ids)  # raises forward's ValueError, naming the range
                rows[0] = table[i]
                return rows
            if not _in_range(ids, limit):
                self._as_ids(ids)
            return np.take(table, ids, axis=0, out=rows)

        return lookup

    def backward(self, dy: np.ndarray) -> None:
        if self._ids is None:
            raise RuntimeError(f"layer {self.name!r}: backward called before forward")
        rows = np.asarray(dy, dtype=self.dtype).reshape(-1, self.output_dim)
        scatter_add_rows(self.grads["embeddings"], self._ids.ravel(), rows)
        return

    def output_lengths(self, lengths: np.ndarray | None) -> np.ndarray | None:
        """With ``mask_zero``: the mask derived in the last ``forward`` (a step is valid where
        ``lengths`` also says so, when given). Call it after ``forward``. Otherwise
        ``lengths`` pass through."""
        if not self.mask_zero:
            return lengths
        owner = f"layer {self.name!r} (Embedding, mask_zero=True)"
        return combine_lengths(lengths, self._mask_lengths, owner)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            input_dim=self.input_dim,
            output_dim=self.output_dim,
            mask_zero=self.mask_zero,
            embeddings_initializer=self.embeddings_initializer,
            seed=self.seed,
        )
        return config
