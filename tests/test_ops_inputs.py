"""rnnkit.ops at its boundary: bad input is refused with an error naming the argument and what was
expected; odd-but-valid input (empty shapes, strided, Fortran-ordered, read-only, mixed dtypes,
NaN) gives the reference's results; inputs are never modified."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from _rnn_testing import max_rel_diff, random_case
from rnnkit import ops, reference

N, T, D, H = 3, 5, 4, 6
GRAD_KEYS = ("x", "Wx", "Wh", "b", "h0")


@pytest.fixture
def case() -> dict[str, Any]:
    return random_case(50, (N, T, D, H), lengths=[T, 2, 0])


def forward(case: dict[str, Any], **overrides: Any):
    args = {k: case[k] for k in ("x", "Wx", "Wh", "b", "h0", "lengths")}
    args.update(overrides)
    return ops.rnn_forward(
        args["x"],
        args["Wx"],
        args["Wh"],
        args["b"],
        h0=args["h0"],
        activation=args.get("activation", "tanh"),
        lengths=args["lengths"],
    )


def expect_error(
    exc: type[Exception] | tuple, name: str | tuple[str, ...], about: str, call: Callable[[], Any]
) -> str:
    """``call()`` raises ``exc`` with a message naming the argument ``name`` (one of them, when a
    mismatch between two arguments may be blamed on either) and saying what was expected
    (``about`` = "shape" or "dtype")."""
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    names = (name,) if isinstance(name, str) else name
    assert any(
        re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", message) for n in names
    ), f"message does not name {names}: {message!r}"
    keywords = {
        "shape": ("shape", "ndim", "dimension", "(N", "(D", "(H"),
        "dtype": ("dtype", "float", "int"),
    }[about]
    assert any(k in message for k in keywords), f"message does not give the {about}: {message!r}"
    return message


# --- bad shapes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, bad",
    [
        ("x", np.zeros((N, T))),
        ("x", np.zeros((N, T, D, 1))),
        ("Wx", np.zeros(D * H)),
        ("Wh", np.zeros((H, H, 1))),
        ("b", np.zeros((1, H))),
        ("h0", np.zeros(H)),
        ("h0", np.zeros((1, N, H))),
    ],
    ids=lambda v: v if isinstance(v, str) else str(np.shape(v)),
)
def test_wrong_ndim(case, name, bad):
    expect_error(ValueError, name, "shape", lambda: forward(case, **{name: bad}))


@pytest.mark.parametrize(
    "name, blamed, bad",
    [
        ("Wx", ("Wx", "x"), np.zeros((D + 1, H))),  # D of Wx vs x
        ("Wh", "Wh", np.zeros((H + 1, H + 1))),  # H of Wh vs Wx
        ("Wh", "Wh", np.zeros((H, H + 1))),  # not square
        ("b", "b", np.zeros(H + 1)),  # H of b vs Wx
        ("h0", "h0", np.zeros((N, H + 1))),  # H of h0
        ("h0", "h0", np.zeros((N + 1, H))),  # N of h0 vs x
        ("lengths", "lengths", np.full(N + 1, T)),  # N of lengths vs x
        ("lengths", "lengths", np.full((N, 1), T)),
    ],
    ids=lambda v: v if isinstance(v, str) else str(np.shape(v)),
)
def test_mismatched_sizes(case, name, blamed, bad):
    expect_error(ValueError, blamed, "shape", lambda: forward(case, **{name: bad}))


@pytest.mark.parametrize(
    "name, shape",
    [
        ("dhs", (N, T + 1, H)),
        ("dhs", (N, T, H + 1)),
        ("dhs", (N + 1, T, H)),
        ("dhs", (N, T)),
        ("dh_last", (N + 1, H)),
        ("dh_last", (N, H + 1)),
        ("dh_last", (H,)),
    ],
)
def test_upstream_gradients_of_wrong_shape(case, name, shape):
    _, _, cache = forward(case)
    expect_error(
        ValueError, name, "shape", lambda: ops.rnn_backward(cache, **{name: np.zeros(shape)})
    )


# --- bad dtypes and values -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_integer_weights(case, dtype):
    expect_error(TypeError, "Wx", "dtype", lambda: forward(case, Wx=case["Wx"].astype(dtype)))


@pytest.mark.parametrize("name, other", [("Wh", np.float32), ("Wh", np.int64)])
def test_mismatched_weight_dtypes(case, name, other):
    # Wx float64 (the computation dtype), Wh another dtype: refused, never silently converted
    expect_error(
        TypeError, (name, "Wx"), "dtype", lambda: forward(case, **{name: case[name].astype(other)})
    )


def test_mismatched_weight_dtypes_float32_float64(case):
    expect_error(
        TypeError, ("Wh", "Wx"), "dtype", lambda: forward(case, Wx=case["Wx"].astype(np.float32))
    )


@pytest.mark.parametrize("bad", [[T, 2, -1], [T, T + 1, 0]], ids=["negative", "above_T"])
def test_lengths_out_of_range(case, bad):
    with pytest.raises(ValueError, match=r"(?<![A-Za-z0-9_])lengths") as info:
        forward(case, lengths=bad)
    assert str(T) in str(info.value), f"message does not give the range [0, T]: {info.value}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lengths_not_integers(case, dtype):
    expect_error(
        (TypeError, ValueError),
        "lengths",
        "dtype",
        lambda: forward(case, lengths=np.array([T, 2, 0], dtype)),
    )


@pytest.mark.parametrize("activation", ["softmax", "Tanh", "", None])
def test_unknown_activation(case, activation):
    with pytest.raises(ValueError, match="activation"):
        forward(case, activation=activation)


@pytest.mark.parametrize("truncate", [0, -1])
def test_truncate_below_one(case, truncate):
    _, _, cache = forward(case)
    with pytest.raises(ValueError, match="truncate"):
        ops.rnn_backward(cache, dh_last=case["dh_last"], truncate=truncate)


def test_allocation_too_large_raises_memory_error():
    # Broadcast views: the test allocates nothing. Contiguous copies of x (2**48 elements) or of
    # hs (2**40 · 4096 elements) exceed a 47-bit address space, so the allocation fails under
    # any overcommit setting; the contract is MemoryError, never a crash.
    f32 = np.float32
    x = np.broadcast_to(np.zeros((1, 1, 1), f32), (2**20, 2**20, 256))
    Wx = np.broadcast_to(np.zeros((1, 1), f32), (256, 4096))
    Wh = np.broadcast_to(np.zeros((1, 1), f32), (4096, 4096))
    b = np.zeros(4096, f32)
    with pytest.raises(MemoryError):
        ops.rnn_forward(x, Wx, Wh, b)


# --- valid edge cases ------------------------------------------------------------------------


def run_both(case: dict[str, Any], activation: str = "tanh", truncate: int | None = None):
    """ops and reference outputs (hs, h_last, grads) on the same arguments."""
    results = []
    for module in (ops, reference):
        hs, h_last, cache = module.rnn_forward(
            case["x"], case["Wx"], case["Wh"], case["b"], case["h0"], activation, case["lengths"]
        )
        grads = module.rnn_backward(cache, case["dhs"], case["dh_last"], truncate)
        results.append({"hs": hs, "h_last": h_last, **{f"d{k}": grads[k] for k in GRAD_KEYS}})
    return results


def assert_same(actual: dict, expected: dict, tol: float) -> None:
    for key in expected:
        assert actual[key].shape == expected[key].shape, key
        assert actual[key].dtype == expected[key].dtype, key
        assert max_rel_diff(actual[key], expected[key]) <= tol, key


@pytest.mark.parametrize("with_h0", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_time_steps(with_h0, dtype):
    case = random_case(51, (N, 0, D, H), dtype=dtype, with_h0=with_h0)
    hs, h_last, cache = ops.rnn_forward(case["x"], case["Wx"], case["Wh"], case["b"], case["h0"])
    assert hs.shape == (N, 0, H) and hs.dtype == dtype
    np.testing.assert_array_equal(h_last, case["h0"] if with_h0 else np.zeros((N, H)))
    grads = ops.rnn_backward(cache, case["dhs"], case["dh_last"], truncate=2)
    np.testing.assert_array_equal(grads["h0"], case["dh_last"])
    for key in ("x", "Wx", "Wh", "b"):
        assert grads[key].shape == np.shape(case[key]) and grads[key].dtype == dtype
        np.testing.assert_array_equal(grads[key], 0)
    case["lengths"] = np.zeros(N, np.int64)
    ours, ref = run_both(case)
    assert_same(ours, ref, 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_batch(dtype):
    case = random_case(52, (0, T, D, H), dtype=dtype)
    ours, ref = run_both(case, truncate=2)
    assert ours["hs"].shape == (0, T, H) and ours["h_last"].shape == (0, H)
    assert_same(ours, ref, 0.0)
    np.testing.assert_array_equal(ours["dWh"], 0)


def strided(a: np.ndarray | None) -> np.ndarray | None:
    """The same values as a view with steps (every other entry of a bigger array, reversed on
    the last axis)."""
    if a is None:
        return None
    filler = np.nan if a.dtype.kind == "f" else -1  # what a wrong read would pick up
    big = np.full(tuple(2 * s for s in a.shape), filler, a.dtype)
    view = big[tuple(slice(None, None, 2) for _ in a.shape)][..., ::-1]
    view[...] = a
    assert not view.flags.c_contiguous or a.size <= 1
    return view


def fortran(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.asfortranarray(a)


def read_only(a: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return None
    a = a.copy()
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("layout", [strided, fortran, read_only])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_memory_layouts_give_the_same_results(case, layout, dtype):
    base = {
        k: (v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v)
        for k, v in case.items()
    }
    expected, ref = run_both(base, "tanh", truncate=2)
    odd = {k: layout(v) if isinstance(v, np.ndarray) else v for k, v in base.items()}
    actual, _ = run_both(odd, "tanh", truncate=2)
    assert_same(actual, expected, 1e-12 if dtype == np.float64 else 1e-6)
    assert_same(actual, ref, 1e-10 if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_nan_in_x_propagates(case, activation):
    case["lengths"] = None
    x = case["x"].copy()
    x[1, 2, 0] = np.nan
    hs, h_last, _ = ops.rnn_forward(x, case["Wx"], case["Wh"], case["b"], case["h0"], activation)
    assert np.isnan(hs[1, 2:]).all()  # every unit: Wx[0] has no zero
    assert np.isnan(h_last[1]).all()
    assert np.isfinite(hs[1, :2]).all()
    ref_hs, ref_h_last, _ = reference.rnn_forward(
        x, case["Wx"], case["Wh"], case["b"], case["h0"], activation
    )
    others = [0, 2]
    assert max_rel_diff(hs[others], ref_hs[others]) <= 1e-10
    assert max_rel_diff(h_last[others], ref_h_last[others]) <= 1e-10


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("truncate", [None, 2])
def test_nan_in_padding_does_not_leak(case, activation, truncate):
    # lengths = [T, 2, 0]: pad sample 1 from step 2 on, and all of sample 2, with NaN and inf
    x = case["x"].copy()
    x[1, 2:] = np.nan
    x[2, :] = np.nan
    x[2, 3] = np.inf
    padded = dict(case, x=x)
    ours, ref = run_both(padded, activation, truncate)
    for key, value in ours.items():
        assert np.isfinite(value).all(), key
    clean, _ = run_both(case, activation, truncate)
    assert_same(ours, clean, 0.0)  # the padded values changed nothing at all
    assert_same(ours, ref, 1e-10)
    np.testing.assert_array_equal(ours["dx"][1, 2:], 0)
    np.testing.assert_array_equal(ours["dx"][2], 0)


def test_inputs_converted_to_the_weights_dtype(case):
    f32 = {k: (v.astype(np.float32) if k in ("Wx", "Wh", "b") else v) for k, v in case.items()}
    # x, h0, dhs, dh_last stay float64: converted to float32
    hs, h_last, cache = forward(f32)
    grads = ops.rnn_backward(cache, f32["dhs"], f32["dh_last"])
    assert hs.dtype == h_last.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    all32 = {
        k: (v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v)
        for k, v in case.items()
    }
    hs32, h_last32, cache32 = forward(all32)
    grads32 = ops.rnn_backward(cache32, all32["dhs"], all32["dh_last"])
    np.testing.assert_array_equal(hs, hs32)
    np.testing.assert_array_equal(h_last, h_last32)
    for key in GRAD_KEYS:
        np.testing.assert_array_equal(grads[key], grads32[key])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inputs_are_never_modified(case, dtype):
    given = {
        k: (v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v)
        for k, v in case.items()
    }
    given["x"][2, 1:] = np.nan  # in the padding of sample 2 (length 0)
    before = {k: v.copy() for k, v in given.items() if v is not None}
    hs, h_last, cache = forward(given, activation="relu")
    grads = ops.rnn_backward(cache, given["dhs"], given["dh_last"], truncate=2)
    # writing into the outputs must not reach the inputs either
    hs[...] = 7
    h_last[...] = 7
    for g in grads.values():
        g[...] = 7
    for key, value in before.items():
        np.testing.assert_array_equal(given[key], value, err_msg=key)


@pytest.mark.parametrize("k", [None, 10, 2**31, 2**80])
def test_truncate_at_or_beyond_T_is_full_bptt(case, k):
    # A cut every k >= T steps never falls inside the sequence: exactly full BPTT, however large.
    _hs, _h_last, cache = forward(case)
    full = ops.rnn_backward(cache, case["dhs"], case["dh_last"])
    got = ops.rnn_backward(cache, case["dhs"], case["dh_last"], truncate=k)
    for key in full:
        np.testing.assert_array_equal(got[key], full[key])


def test_big_endian_weights_give_the_native_results(case):
    expected, _, _ = forward(case)
    swapped = {k: case[k].astype(case[k].dtype.newbyteorder(">")) for k in ("Wx", "Wh", "b")}
    got, _, _ = forward(case, **swapped)
    np.testing.assert_array_equal(got, expected)
