"""The C++ kernels' gradients (rnnkit.ops) against central differences of the C++ forward, in
float64: every gradient, every activation, with and without h0, packed lengths (0 and full),
truncated BPTT, and each combination of upstream gradients. rel_error <= 1e-7
(docs/architecture.md, "Numerical conventions")."""

from __future__ import annotations

import pytest

import rnnkit
from _rnn_testing import MIXED_LENGTHS, check_rnn_gradients, kink_free_case
from rnnkit import ops

UPSTREAMS = ["dhs", "dh_last", "both"]
TRUNCATES = [None, 1, 2]

# sigmoid′ <= 1/4 and hard_sigmoid′ <= 1/6 shrink the gradient reaching h0 by that much a step:
# over five steps it falls to ~1e-5, where central differences measure their own round-off
# (~1e-10 absolute), not the kernel. Scaling Wh by the inverse keeps the per-step gain near 0.9.
RECURRENT_GAIN = {"sigmoid": 4.0, "hard_sigmoid": 6.0}


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("truncate", TRUNCATES)
@pytest.mark.parametrize("lengths", [None, MIXED_LENGTHS], ids=["full", "mixed"])
@pytest.mark.parametrize("with_h0", [True, False], ids=["h0", "no_h0"])
@pytest.mark.parametrize("activation", ops.ACTIVATIONS)
def test_ops_gradients(activation, with_h0, lengths, truncate, upstream):
    gain = RECURRENT_GAIN.get(activation, 1.0)
    case = kink_free_case(30, activation, with_h0=with_h0, lengths=lengths, recurrent_gain=gain)
    errors = check_rnn_gradients(ops, case, activation, upstream, truncate)
    assert max(errors.values()) <= 1e-7


@pytest.fixture
def restore_threads():
    original = rnnkit.get_num_threads()
    yield
    rnnkit.set_num_threads(original)


@pytest.mark.parametrize("activation", ops.ACTIVATIONS)
@pytest.mark.parametrize("truncate", [None, 5], ids=["full_bptt", "trunc5"])
def test_ops_gradients_split_batch(restore_threads, activation, truncate):
    # Enough work per call (N = 16, T = 12, H = 48: ~0.9 MFLOP each way) for the kernels to split
    # the batch over two threads and sum the halves' weight gradients; lengths 0 and full (and
    # between) fall in both halves.
    rnnkit.set_num_threads(2)
    lengths = [12, 0, 7, 12, 3, 11, 1, 9, 0, 12, 5, 12, 8, 2, 12, 6]
    case = kink_free_case(31, activation, shape=(16, 12, 2, 48), lengths=lengths)
    errors = check_rnn_gradients(ops, case, activation, "both", truncate)
    assert max(errors.values()) <= 1e-7


@pytest.mark.parametrize("activation", ops.ACTIVATIONS)
@pytest.mark.parametrize("truncate", [None, 3])
@pytest.mark.parametrize("lengths", [None, [5]], ids=["full", "short"])
def test_ops_gradients_single_sequence(activation, truncate, lengths):
    # N = 1 takes the kernels' one-row (gemv) path.
    case = kink_free_case(32, activation, shape=(1, 8, 3, 6), lengths=lengths)
    errors = check_rnn_gradients(ops, case, activation, "both", truncate)
    assert max(errors.values()) <= 1e-7
