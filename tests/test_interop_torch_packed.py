"""rnnkit.interop.from_torch against PyTorch on packed sequences: for every recurrent module
kind, stacked and bidirectional, in float64, rnnkit's outputs with ``lengths`` equal the
module's on a ``PackedSequence`` (to 1e-10), and the gradients of every weight equal
PyTorch's autograd (to 1e-9 relative)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
rnn_utils = torch.nn.utils.rnn

from rnnkit.interop import from_torch, to_torch  # noqa: E402

LENGTHS = [7, 3, 1, 5, 7]


def _module(cell: str, num_layers: int, bidirectional: bool) -> Any:
    options = {
        "input_size": 3,
        "hidden_size": 4,
        "num_layers": num_layers,
        "batch_first": True,
        "bidirectional": bidirectional,
    }
    if cell.startswith("RNN"):
        module = nn.RNN(nonlinearity=cell.split("_")[1], **options)
    else:
        module = getattr(nn, cell)(**options)
    module = module.to(torch.float64)
    generator = torch.Generator().manual_seed(num_layers + 2 * bidirectional)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.rand(param.shape, generator=generator, dtype=param.dtype) - 0.5)
    return module


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cell", ["RNN_tanh", "RNN_relu", "LSTM", "GRU"])
def test_packed_sequences_outputs_and_weight_gradients(
    cell: str, num_layers: int, bidirectional: bool
) -> None:
    module = _module(cell, num_layers, bidirectional)
    rng = np.random.default_rng(num_layers)
    x = rng.standard_normal((len(LENGTHS), 7, 3))
    lengths = np.array(LENGTHS)
    for row, n in enumerate(LENGTHS):
        x[row, n:] = 0.0  # what a padded batch holds; neither side may read it
    upstream = rng.standard_normal((len(LENGTHS), 7, 4 * (1 + bidirectional)))

    packed = rnn_utils.pack_padded_sequence(
        torch.tensor(x), torch.tensor(lengths), batch_first=True, enforce_sorted=False
    )
    y_torch, _ = rnn_utils.pad_packed_sequence(module(packed)[0], batch_first=True, total_length=7)
    (y_torch * torch.tensor(upstream)).sum().backward()

    model = from_torch(module)
    y = model.forward(x, training=True, lengths=lengths)
    assert np.max(np.abs(y - y_torch.detach().numpy())) <= 1e-10
    model.backward(upstream)

    # The weight gradients in PyTorch's layout: the converter's own mapping, applied to them.
    for key, value in model.params.items():
        value[...] = model.grads[key]
    mapped = dict(to_torch(model).named_parameters())
    for name, param in module.named_parameters():
        layer, direction = name.split("_l")[1][0], "_reverse" * name.endswith("_reverse")
        base = name.split("_l")[0]
        # Stacked layers become one module each (…_l0), in order.
        ours = mapped[f"{layer}.rnn.{base}_l0{direction}"].detach().numpy()
        if base == "bias_hh" and cell != "GRU":
            # One bias b = b_ih + b_hh in rnnkit (to_torch writes it to bias_ih): its gradient
            # is both of PyTorch's.
            ours = mapped[f"{layer}.rnn.bias_ih_l0{direction}"].detach().numpy()
        assert _relative(ours, param.grad.numpy()) <= 1e-9, name
