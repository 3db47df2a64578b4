"""PyTorch's side of the benchmark (when it is installed): ``torch.nn.RNN``/``LSTM``/``GRU``
holding the problem's weights, forward+backward from the same ``dhs``, timed at one and at two
torch threads, the faster counting. torch is imported here only, and only when asked for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .cells import CellBench, Problem
from .timing import SETTLE_S, median_seconds

__all__ = [
    "TORCH_THREADS",
    "fastest_torch_threads",
    "time_torch",
    "torch_available",
    "torch_layer",
    "torch_step",
]

TORCH_THREADS = (1, 2)  # torch thread counts tried; the faster counts


def torch_available() -> bool:
    """Whether PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _torch_weights(cell: CellBench, p: Problem) -> tuple[np.ndarray, ...]:
    """``(weight_ih, weight_hh, bias_ih, bias_hh)`` in PyTorch's layout for the problem's
    Keras-layout weights. LSTM gates i, f, c, o are PyTorch's i, f, g, o; the GRU's z, r, h
    become PyTorch's r, z, n (the same reset-after candidate)."""
    Wx, Wh, b = p["Wx"], p["Wh"], p["b"]
    h = Wh.shape[0]
    if cell.bias_rows == 2:
        order = np.r_[h : 2 * h, 0:h, 2 * h : 3 * h]  # z, r, h -> r, z, n
        return Wx[:, order].T, Wh[:, order].T, b[0, order], b[1, order]
    return Wx.T, Wh.T, b, np.zeros_like(b)


def torch_layer(cell: CellBench, p: Problem) -> Any:
    """A batch-first PyTorch layer of ``cell`` holding the problem's weights."""
    import torch

    d = p["x"].shape[2]
    h = p["Wh"].shape[0]
    kinds = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
    layer = kinds[cell.name](d, h, batch_first=True).to(torch.from_numpy(p["Wx"]).dtype)
    params = (layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0)
    with torch.no_grad():
        for param, value in zip(params, _torch_weights(cell, p)):
            param.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return layer


def torch_step(cell: CellBench, p: Problem) -> Callable[[], Any]:
    """One forward+backward of the PyTorch layer from ``dhs``, with the input's gradient too (as
    rnnkit and NumPy compute it)."""
    import torch

    layer = torch_layer(cell, p)
    x = torch.from_numpy(p["x"]).requires_grad_(True)
    dhs = torch.from_numpy(p["dhs"])

    def run() -> Any:
        layer.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = layer(x)
        out.backward(dhs)
        return out

    return run


def fastest_torch_threads(run: Callable[[], Any], repeat: int) -> tuple[float, int]:
    """``(seconds, threads)``: the median of ``run`` at the fastest of :data:`TORCH_THREADS`.
    torch's thread setting is restored afterwards."""
    import torch

    original = torch.get_num_threads()
    best = (float("inf"), 0)
    try:
        for threads in TORCH_THREADS:
            torch.set_num_threads(threads)
            best = min(best, (median_seconds(run, repeat, settle_s=SETTLE_S), threads))
    finally:
        torch.set_num_threads(original)
    return best


def time_torch(cell: CellBench, p: Problem, repeat: int) -> tuple[float, int]:
    """``(seconds, threads)``: the median forward+backward of ``cell``'s torch layer at the
    fastest of :data:`TORCH_THREADS`."""
    return fastest_torch_threads(torch_step(cell, p), repeat)
