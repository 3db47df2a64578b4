"""Shared helpers of the RNN tests: random cases, the numerical gradient check of an
``rnn_forward``/``rnn_backward`` pair, and the comparison metric.

Not a test module (pytest collects ``test_*.py`` only); the test files import it by name, which
works because pytest puts ``tests/`` (no ``__init__.py``) on ``sys.path``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from rnnkit.gradcheck import check_gradients
from rnnkit.reference.activations import activate

# Where each activation has a kink (no derivative): central differences must not straddle one.
KINKS = {"relu": (0.0,), "hard_sigmoid": (-3.0, 3.0)}

# Shape of the gradient-check cases: small enough that ~2·(#parameters) forwards are cheap,
# long enough (T = 5) that truncate = 2 cuts twice (at t = 2 and t = 4).
N, T, D, H = 3, 5, 4, 5
MIXED_LENGTHS = [0, T, 2]  # an empty sample, a full one, a short one

# relu is piecewise linear: central differences are exact only if no pre-activation crosses 0
# within ±eps. A step of 1e-6 in one entry moves any pre-activation by about |coefficient|·1e-6
# (coefficients are O(1) here: unit-variance inputs, weights scaled by 1/sqrt(fan_in)), so a
# margin of 1e-4 keeps every pre-activation on its side of the kink during the whole check.
# Cases that come closer than the margin are re-drawn with another seed (rare: the chance that
# one of the ~75 pre-activations lands within 1e-4 of 0 is below 1%).
RELU_MARGIN = 1e-4


def random_case(
    seed: int,
    shape: tuple[int, int, int, int] = (N, T, D, H),
    *,
    dtype: Any = np.float64,
    with_h0: bool = True,
    lengths: Any = None,
    recurrent_gain: float = 1.0,
) -> dict[str, Any]:
    """x, Wx, Wh, b, h0 (or None), lengths (or None), dhs, dh_last: well-scaled random data
    (``Wh`` times ``recurrent_gain``)."""
    n, t, d, h = shape
    rng = np.random.default_rng(seed)
    case = {
        "x": rng.standard_normal((n, t, d)),
        "Wx": rng.standard_normal((d, h)) / np.sqrt(d),
        "Wh": rng.standard_normal((h, h)) * (0.9 * recurrent_gain / np.sqrt(h)),
        "b": 0.1 * rng.standard_normal(h),
        "h0": 0.5 * rng.standard_normal((n, h)) if with_h0 else None,
        "dhs": rng.standard_normal((n, t, h)),
        "dh_last": rng.standard_normal((n, h)),
    }
    for key, value in case.items():
        if value is not None:
            case[key] = value.astype(dtype)
    case["lengths"] = None if lengths is None else np.asarray(lengths, dtype=np.int64)
    return case


def preactivations(case: dict[str, Any], activation: str) -> np.ndarray:
    """float64 pre-activations a_t of every valid step, flattened (for the relu kink test)."""
    x, Wx, Wh, b = (np.asarray(case[k], np.float64) for k in ("x", "Wx", "Wh", "b"))
    n, t_max, _ = x.shape
    h = np.zeros((n, Wx.shape[1])) if case["h0"] is None else np.array(case["h0"], np.float64)
    lengths = np.full(n, t_max) if case["lengths"] is None else case["lengths"]
    found = []
    for t in range(t_max):
        active = t < lengths
        a = x[active, t] @ Wx + h[active] @ Wh + b
        found.append(a.ravel())
        h[active] = activate(a, activation)
    return np.concatenate(found) if found else np.zeros(0)


def kink_free_case(seed: int, activation: str, margin: float = RELU_MARGIN, **kwargs: Any):
    """``random_case`` whose pre-activations all stay ``margin`` away from the activation's kinks
    (relu's 0, hard_sigmoid's ±3).

    For smooth activations any seed is fine; else seeds ``seed, seed + 7919, ...`` are tried.
    """
    for attempt in range(100):
        case = random_case(seed + 7919 * attempt, **kwargs)
        if activation not in KINKS:
            return case
        a = preactivations(case, activation)
        if a.size == 0 or all(np.min(np.abs(a - k)) > margin for k in KINKS[activation]):
            return case
    raise RuntimeError("no kink-free relu case found")  # pragma: no cover


def truncated_loss(
    module: ModuleType,
    x: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    h0: np.ndarray | None,
    activation: str,
    lengths: np.ndarray | None,
    dhs: np.ndarray | None,
    dh_last: np.ndarray | None,
    truncate: int | None,
):
    """A scalar function of the arrays (read when called) whose exact gradient is
    ``module.rnn_backward(cache, dhs, dh_last, truncate)``.

    Without truncation it is the plain loss ``sum(dhs * hs) + sum(dh_last * h_last)`` (a term
    is left out when its upstream gradient is None).

    With ``truncate = k`` the sequence is cut into chunks [0, k), [k, 2k), ... Each chunk is run
    by ``module.rnn_forward`` from the state entering it, **frozen** at its unperturbed value
    (taken now, before any perturbation), except the first chunk, which starts from ``h0`` itself.
    Freezing the entering state is exactly "dropping the backward link from h_t to h_{t-1} at
    t % k == 0, t > 0": the chunk's outputs still depend on every parameter, but no gradient
    reaches earlier chunks through the state. ``h_last[i]`` is taken from the chunk holding
    sample i's last valid step (from the first chunk, where it is ``h0[i]``, when lengths[i] = 0).
    """
    n, t_max, _ = x.shape
    lens = np.full(n, t_max, np.int64) if lengths is None else np.asarray(lengths, np.int64)
    k = truncate if truncate is not None else max(t_max, 1)
    starts = list(range(0, t_max, k))

    entering: dict[int, np.ndarray] = {}
    if len(starts) > 1:
        hs, h_last, _ = module.rnn_forward(x, Wx, Wh, b, h0, activation, lengths)
        for s in starts[1:]:
            # state after step s-1: hs[:, s-1] where that step is valid, else the final state
            entering[s] = np.where((lens >= s)[:, None], hs[:, s - 1], h_last).copy()

    def loss() -> float:
        total = 0.0
        if t_max == 0:
            if dh_last is not None and h0 is not None:
                total += float(np.sum(dh_last * h0))
            return total
        for s in starts:
            e = min(s + k, t_max)
            h_in = h0 if s == 0 else entering[s]
            chunk_lengths = lengths if len(starts) == 1 else np.clip(lens - s, 0, e - s)
            hs_c, h_last_c, _ = module.rnn_forward(
                x[:, s:e], Wx, Wh, b, h_in, activation, chunk_lengths
            )
            if dhs is not None:
                total += float(np.sum(dhs[:, s:e] * hs_c))
            if dh_last is not None:
                owner = ((lens > s) & (lens <= e)) | ((lens == 0) & (s == 0))
                total += float(np.sum(dh_last[owner] * h_last_c[owner]))
        return total

    return loss


def check_rnn_gradients(
    module: ModuleType,
    case: dict[str, Any],
    activation: str,
    upstream: str,
    truncate: int | None,
    tol: float = 1e-7,
) -> dict[str, float]:
    """Numerical check of every gradient ``module.rnn_backward`` returns (float64).

    ``upstream`` is "dhs", "dh_last" or "both": which upstream gradients are given.
    When the case has no h0, the "h0" gradient (of the call with h0=None) is checked against
    central differences of the same loss with an explicit zero h0 (the same function).
    """
    x, Wx, Wh, b, h0 = (case[k] for k in ("x", "Wx", "Wh", "b", "h0"))
    lengths = case["lengths"]
    dhs = case["dhs"] if upstream in ("dhs", "both") else None
    dh_last = case["dh_last"] if upstream in ("dh_last", "both") else None

    _, _, cache = module.rnn_forward(x, Wx, Wh, b, h0, activation, lengths)
    grads = module.rnn_backward(cache, dhs=dhs, dh_last=dh_last, truncate=truncate)
    assert set(grads) == {"x", "Wx", "Wh", "b", "h0"}
    assert grads["h0"].shape == (x.shape[0], Wx.shape[1])

    params = {"x": x, "Wx": Wx, "Wh": Wh, "b": b}
    if h0 is not None:
        params["h0"] = h0
    f = truncated_loss(module, x, Wx, Wh, b, h0, activation, lengths, dhs, dh_last, truncate)
    errors = check_gradients(f, params, grads, tol=tol)
    if h0 is None:
        zeros = np.zeros((x.shape[0], Wx.shape[1]))
        f0 = truncated_loss(
            module, x, Wx, Wh, b, zeros, activation, lengths, dhs, dh_last, truncate
        )
        errors.update(check_gradients(f0, {"h0": zeros}, grads, tol=tol))
    return errors


def max_rel_diff(actual: np.ndarray, expected: np.ndarray) -> float:
    """``max|actual - expected| / max(1, max|expected|)``: absolute error for values of size
    below 1, relative to the largest reference value above that, so tiny entries (and all-zero
    arrays) cannot blow the ratio up. Shapes must match; NaN anywhere gives inf."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if actual.size == 0:
        return 0.0
    if not (np.isfinite(actual).all() and np.isfinite(expected).all()):
        return float("inf")
    return float(np.max(np.abs(actual - expected)) / max(1.0, float(np.max(np.abs(expected)))))
