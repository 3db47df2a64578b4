"""Dropout masks under a sample share (rnnkit.layers._random_masks): the shares of a batch,
put together, are the mask one process draws, for plain and time-flattened batches, and empty
shares keep the random stream in step."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rnnkit.layers._random_masks import keep_mask, rows_per_sample, sample_share


def _one_process(shape: tuple[int, ...], draws: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [keep_mask(rng, shape, 0.3) for _ in range(draws)]


@pytest.mark.parametrize("bounds", [[0, 3, 7], [0, 2, 2, 7], [0, 7]])  # incl. an empty share
@pytest.mark.parametrize("k", [1, 4])  # rows per sample: 4 inside TimeDistributed
def test_shares_put_together_are_one_process_masks(bounds, k):
    total = bounds[-1]
    want = _one_process((total * k, 5))
    got: list[list[np.ndarray]] = [[], []]
    for start, stop in itertools.pairwise(bounds):
        rng = np.random.default_rng(3)  # every process has its own copy of the stream
        with sample_share(start, stop, total), rows_per_sample(k):
            for draw in range(2):  # the second draw shows the stream stayed in step
                got[draw].append(keep_mask(rng, ((stop - start) * k, 5), 0.3))
    for draw in range(2):
        np.testing.assert_array_equal(np.concatenate(got[draw]), want[draw])


def test_without_a_share_nothing_changes():
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(keep_mask(rng, (4, 5), 0.3), _one_process((4, 5), 1)[0])


def test_rows_that_are_not_the_share_are_drawn_alone():
    rng = np.random.default_rng(3)
    with sample_share(0, 2, 6):
        mask = keep_mask(rng, (5, 3), 0.5)  # 5 rows are not 2 samples' rows
    assert mask.shape == (5, 3) and mask.dtype == bool


def test_contexts_are_undone():
    with sample_share(1, 2, 3), rows_per_sample(2):
        pass
    # (2, 5) is exactly the rows that share would take (1 sample x 2 rows): left in force, it
    # would draw the whole batch's 6 rows and return rows 2..3, not the plain draw.
    plain = np.random.default_rng(3).random((2, 5)) >= 0.3
    np.testing.assert_array_equal(keep_mask(np.random.default_rng(3), (2, 5), 0.3), plain)
