"""Shared helpers of the cell-kernel tests, written once for every cell: how to call a cell's
forward and backward in a module (rnnkit.ops or rnnkit.reference), random cases, and the float64
numerical check of every gradient, truncated BPTT included.

Not a test module; test files import it by name (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from rnnkit.gradcheck import check_gradients


@dataclass(frozen=True)
class Cell:
    """How the tests call one cell's kernels."""

    name: str  # rnn, lstm: functions <name>_forward, <name>_backward
    gates: int
    states: tuple[str, ...]  # initial-state keyword names: ("h0",), ("h0", "c0")
    activations: tuple[str, ...]  # activation keyword names
    bias_rows: int = 1  # 2: b is (2, G·H)
    params: tuple[str, ...] = ()  # the cell's own (H,) parameters, keyword names
    options: tuple[tuple[str, Any], ...] = ()  # further keyword arguments of the forward
    label: str = ""  # the test id, when the name is shared

    def forward(self, module: ModuleType, case: dict[str, Any], initial: tuple | None = None):
        """``(hs, finals, cache)`` of ``module``'s kernel on ``case``."""
        initial = case["initial"] if initial is None else initial
        out = getattr(module, f"{self.name}_forward")(
            case["x"], case["Wx"], case["Wh"], case["b"],
            **{p: case[p] for p in self.params},
            **dict(self.options),
            **dict(zip(self.states, initial)),
            **dict(zip(self.activations, case["activations"])),
            lengths=case["lengths"],
            **({} if case.get("recurrent_mask") is None
               else {"recurrent_mask": case["recurrent_mask"]}),
        )  # fmt: skip
        return out[0], tuple(out[1:-1]), out[-1]

    def backward(self, module: ModuleType, cache: Any, dhs: Any, d_final: tuple, truncate: Any):
        names = tuple(f"d{s[0]}_last" for s in self.states)
        return getattr(module, f"{self.name}_backward")(
            cache, dhs, **dict(zip(names, d_final)), truncate=truncate
        )

    def grad_keys(self) -> set[str]:
        return {"x", "Wx", "Wh", "b", *self.params, *self.states}


RNN = Cell("rnn", 1, ("h0",), ("activation",))
LN_RNN = Cell("ln_rnn", 1, ("h0",), ("activation",), params=("gamma", "beta"))
LSTM = Cell("lstm", 4, ("h0", "c0"), ("activation", "recurrent_activation"))
GRU = Cell("gru", 3, ("h0",), ("activation", "recurrent_activation"), bias_rows=2)
GRU_RESET_BEFORE = Cell(
    "gru", 3, ("h0",), ("activation", "recurrent_activation"), options=(("reset_after", False),),
    label="gru_reset_before",
)  # fmt: skip


def random_case(
    cell: Cell,
    seed: int,
    shape: tuple[int, int, int, int] = (3, 5, 4, 5),
    *,
    activations: tuple[str, ...] = (),
    dtype: Any = np.float64,
    with_initial: bool = True,
    lengths: Any = None,
    recurrent_dropout: float = 0.0,
) -> dict[str, Any]:
    """Well-scaled random arrays for ``cell``: weights by 1/sqrt(fan-in), unit-variance inputs;
    with ``recurrent_dropout`` a recurrent mask of zeros and ``1/(1-p)``, as layers draw it."""
    n, t, d, h = shape
    g = cell.gates * h
    rng = np.random.default_rng(seed)
    case: dict[str, Any] = {
        "x": rng.standard_normal((n, t, d)),
        "Wx": rng.standard_normal((d, g)) / np.sqrt(d),
        "Wh": rng.standard_normal((h, g)) * (0.9 / np.sqrt(h)),
        "b": 0.1 * rng.standard_normal(g if cell.bias_rows == 1 else (cell.bias_rows, g)),
        "dhs": rng.standard_normal((n, t, h)),
    }
    for name in cell.params:  # a layer norm's scale near 1, its offset near 0
        case[name] = (name == "gamma") + 0.3 * rng.standard_normal(h)
    case = {k: v.astype(dtype) for k, v in case.items()}
    case["initial"] = tuple(
        (0.5 * rng.standard_normal((n, h))).astype(dtype) if with_initial else None
        for _ in cell.states
    )
    case["d_final"] = tuple(rng.standard_normal((n, h)).astype(dtype) for _ in cell.states)
    case["lengths"] = None if lengths is None else np.asarray(lengths, dtype=np.int64)
    case["activations"] = activations
    case["recurrent_mask"] = None
    if recurrent_dropout:
        keep = rng.random((n, h)) >= recurrent_dropout
        case["recurrent_mask"] = (keep / (1 - recurrent_dropout)).astype(dtype)
    return case


def truncated_loss(
    cell: Cell,
    module: ModuleType,
    case: dict[str, Any],
    initial: tuple,
    dhs: Any,
    d_final: tuple,
    truncate: int | None,
):
    """A scalar function of the case's arrays (read when called) whose exact gradient is what
    ``cell.backward`` returns: ``sum(dhs * hs) + Σ_s sum(d_final[s] * final[s])`` (terms with a
    None upstream left out). With ``truncate = k`` the sequence runs in chunks of k steps, each
    from the states entering it **frozen** at their unperturbed values (the first chunk from the
    initial states themselves): exactly "cut the backward links at t % k == 0, keep the forward
    ones"."""
    x = case["x"]
    n, t_max, _ = x.shape
    lengths = case["lengths"]
    lens = np.full(n, t_max, np.int64) if lengths is None else lengths
    k = truncate if truncate is not None else max(t_max, 1)
    starts = list(range(0, t_max, k))
    entering: dict[int, tuple] = {}
    for s in starts[1:]:
        # the states after step s-1, from an unperturbed run of the first s steps
        head = dict(case, x=x[:, :s], lengths=np.minimum(lens, s))
        _, finals, _ = cell.forward(module, head, initial)
        entering[s] = tuple(f.copy() for f in finals)

    def loss() -> float:
        total = 0.0
        if t_max == 0:
            for d, s0 in zip(d_final, initial):
                if d is not None and s0 is not None:
                    total += float(np.sum(d * s0))
            return total
        for s in starts:
            e = min(s + k, t_max)
            chunk = dict(
                case,
                x=x[:, s:e],
                lengths=None
                if len(starts) == 1 and lengths is None
                else np.clip(lens - s, 0, e - s),
            )
            hs_c, finals_c, _ = cell.forward(module, chunk, initial if s == 0 else entering[s])
            if dhs is not None:
                total += float(np.sum(dhs[:, s:e] * hs_c))
            owner = ((lens > s) & (lens <= e)) | ((lens == 0) & (s == 0))
            for d, f in zip(d_final, finals_c):
                if d is not None:
                    total += float(np.sum(d[owner] * f[owner]))
        return total

    return loss


def check_cell_gradients(
    cell: Cell,
    module: ModuleType,
    case: dict[str, Any],
    upstream: str,
    truncate: int | None,
    tol: float = 1e-7,
) -> dict[str, float]:
    """Central differences (float64) against every gradient ``cell.backward`` returns.

    ``upstream``: "dhs", "final" or "both". Initial states given as None are checked through an
    explicit zero initial state (the same function)."""
    dhs = case["dhs"] if upstream in ("dhs", "both") else None
    d_final = case["d_final"] if upstream in ("final", "both") else (None,) * len(cell.states)
    _, _, cache = cell.forward(module, case)
    grads = cell.backward(module, cache, dhs, d_final, truncate)
    assert set(grads) == cell.grad_keys()
    n, h = case["x"].shape[0], case["Wh"].shape[0]
    initial = tuple(np.zeros((n, h)) if s is None else s for s in case["initial"])
    params = {k: case[k] for k in ("x", "Wx", "Wh", "b", *cell.params)}
    params.update(zip(cell.states, initial))
    f = truncated_loss(cell, module, case, initial, dhs, d_final, truncate)
    return check_gradients(f, params, grads, tol=tol)
