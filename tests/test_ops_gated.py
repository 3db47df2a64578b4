"""The gated cells' kernels (rnnkit.ops.lstm_*, gru_*) and their NumPy twins (rnnkit.reference):
float64 gradients against central differences (every gradient, every initial state, lengths,
truncation, split batch, one row), the C++ kernels against the twins on random shapes and
options, float32 against float64, and argument checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnkit
from _cell_testing import GRU, LSTM, check_cell_gradients, max_rel_diff, random_case
from rnnkit import ops, reference

# Smooth activation pairs for the numerical checks (relu and hard_sigmoid have kinks, where
# central differences are meaningless; they are compared with the twin instead).
SMOOTH = [("tanh", "sigmoid"), ("linear", "sigmoid"), ("sigmoid", "tanh")]
CELLS = pytest.mark.parametrize("cell", [LSTM, GRU], ids=lambda c: c.name)


@pytest.fixture
def two_threads():
    original = rnnkit.get_num_threads()
    rnnkit.set_num_threads(2)
    yield
    rnnkit.set_num_threads(original)


@CELLS
@pytest.mark.parametrize("module", [ops, reference], ids=["ops", "reference"])
@pytest.mark.parametrize("upstream", ["dhs", "final", "both"])
@pytest.mark.parametrize("truncate", [None, 2])
@pytest.mark.parametrize("lengths", [None, [0, 5, 2]], ids=["full", "mixed"])
@pytest.mark.parametrize("with_initial", [True, False], ids=["h0c0", "zeros"])
@pytest.mark.parametrize("activations", SMOOTH, ids=lambda a: "-".join(a))
def test_gradients(cell, module, activations, with_initial, lengths, truncate, upstream):
    case = random_case(
        cell, 40, activations=activations, with_initial=with_initial, lengths=lengths
    )
    errors = check_cell_gradients(cell, module, case, upstream, truncate)
    assert max(errors.values()) <= 1e-7, errors


@CELLS
@pytest.mark.parametrize("truncate", [None, 5])
def test_gradients_split_batch(cell, two_threads, truncate):
    # enough work for two workers, whose weight-gradient partials are summed
    lengths = [12, 0, 7, 12, 3, 11, 1, 9, 0, 12, 5, 12, 8, 2, 12, 6]
    case = random_case(cell, 41, (16, 12, 2, 24), activations=("tanh", "sigmoid"), lengths=lengths)
    errors = check_cell_gradients(cell, ops, case, "both", truncate)
    assert max(errors.values()) <= 1e-7, errors


@CELLS
@pytest.mark.parametrize("lengths", [None, [5]], ids=["full", "short"])
def test_gradients_single_row(cell, lengths):
    # N = 1 takes the engine's gemv path
    case = random_case(cell, 42, (1, 8, 3, 6), activations=("tanh", "sigmoid"), lengths=lengths)
    errors = check_cell_gradients(cell, ops, case, "both", 3)
    assert max(errors.values()) <= 1e-7, errors


def run(cell, module, case, truncate):
    hs, finals, cache = cell.forward(module, case)
    grads = cell.backward(module, cache, case["dhs"], case["d_final"], truncate)
    return {"hs": hs, **{f"final_{i}": f for i, f in enumerate(finals)}, **grads}


@st.composite
def gated_cases(draw, dtypes=(np.float32, np.float64)):
    n, t, d, h = (draw(st.integers(1, 12)) for _ in range(4))
    return {
        "cell": draw(st.sampled_from([LSTM, GRU])),
        "shape": (n, t, d, h),
        "dtype": draw(st.sampled_from(dtypes)),
        "activations": (
            draw(st.sampled_from(ops.ACTIVATIONS)),
            draw(st.sampled_from(("sigmoid", "hard_sigmoid", "tanh"))),
        ),
        "with_initial": draw(st.booleans()),
        "lengths": draw(st.one_of(st.none(), st.lists(st.integers(0, t), min_size=n, max_size=n))),
        "truncate": draw(st.one_of(st.none(), st.integers(1, t + 1))),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def make(p):
    return random_case(
        p["cell"],
        p["seed"],
        p["shape"],
        activations=p["activations"],
        dtype=p["dtype"],
        with_initial=p["with_initial"],
        lengths=p["lengths"],
    )


@settings(max_examples=100, deadline=None, database=None)
@given(gated_cases())
def test_ops_match_reference(p):
    case = make(p)
    ours = run(p["cell"], ops, case, p["truncate"])
    ref = run(p["cell"], reference, case, p["truncate"])
    tol = 1e-10 if p["dtype"] == np.float64 else 1e-4
    errors = {k: max_rel_diff(ours[k], ref[k]) for k in ref}
    assert max(errors.values()) <= tol, errors
    assert all(ours[k].dtype == p["dtype"] and ours[k].shape == ref[k].shape for k in ref)


@settings(max_examples=50, deadline=None, database=None)
@given(gated_cases(dtypes=(np.float32,)))
def test_float32_matches_float64(p):
    case32 = make(p)
    case64 = {
        k: (v.astype(np.float64) if isinstance(v, np.ndarray) and v.dtype == np.float32 else v)
        for k, v in case32.items()
    }
    case64["initial"] = tuple(
        None if s is None else s.astype(np.float64) for s in case32["initial"]
    )
    case64["d_final"] = tuple(d.astype(np.float64) for d in case32["d_final"])
    out32 = run(p["cell"], ops, case32, p["truncate"])
    out64 = run(p["cell"], ops, case64, p["truncate"])
    errors = {k: max_rel_diff(out32[k], out64[k]) for k in out64}
    assert max(errors.values()) <= 1e-4, errors


@CELLS
def test_medium_shape_two_threads(cell, two_threads):
    case = random_case(
        cell,
        43,
        (24, 30, 16, 40),
        activations=("tanh", "sigmoid"),
        lengths=np.random.default_rng(0).integers(0, 31, 24),
    )
    ours, ref = run(cell, ops, case, 7), run(cell, reference, case, 7)
    assert max(max_rel_diff(ours[k], ref[k]) for k in ref) <= 1e-10


@pytest.mark.parametrize(
    "name, value, match",
    [
        ("activation", "softmax", "activation must be one of"),
        ("recurrent_activation", "Sigmoid", "recurrent_activation must be one of"),
    ],
)
def test_lstm_unknown_activation(name, value, match):
    case = random_case(LSTM, 44)
    with pytest.raises(ValueError, match=match):
        ops.lstm_forward(case["x"], case["Wx"], case["Wh"], case["b"], **{name: value})


@pytest.mark.parametrize(
    "key, shape, blamed",
    [
        ("Wx", (4, 19), "Wx"),  # columns not 4·H
        ("Wh", (5, 5), "Wh"),  # (H, H) instead of (H, 4H)
        ("b", (5,), "b"),
    ],
)
def test_lstm_bad_weight_shapes(key, shape, blamed):
    case = random_case(LSTM, 45)
    args = {k: case[k] for k in ("x", "Wx", "Wh", "b")}
    args[key] = np.zeros(shape)
    with pytest.raises(ValueError, match=rf"^{blamed} must have shape"):
        ops.lstm_forward(**args)


def test_lstm_bad_initial_and_upstream_shapes():
    case = random_case(LSTM, 46)
    with pytest.raises(ValueError, match=r"^c0 must have shape \(N, H\)"):
        ops.lstm_forward(case["x"], case["Wx"], case["Wh"], case["b"], c0=np.zeros((3, 4)))
    *_, cache = ops.lstm_forward(case["x"], case["Wx"], case["Wh"], case["b"])
    with pytest.raises(ValueError, match=r"^dc_last must have shape"):
        ops.lstm_backward(cache, dc_last=np.zeros((2, 5)))
    _, _, rnn_cache = ops.rnn_forward(
        case["x"], case["Wx"][:, :5], case["Wh"][:, :5], case["b"][:5]
    )
    with pytest.raises(TypeError, match="lstm_forward"):
        ops.lstm_backward(rnn_cache)


def test_gru_bias_must_have_two_rows():
    case = random_case(GRU, 47)
    with pytest.raises(ValueError, match=r"^b must have shape \(2, 3·H\)"):
        ops.gru_forward(case["x"], case["Wx"], case["Wh"], case["b"][0])
    with pytest.raises(TypeError, match="gru_forward"):
        ops.gru_backward(
            ops.lstm_forward(*(random_case(LSTM, 48)[k] for k in ("x", "Wx", "Wh", "b")))[-1]
        )
