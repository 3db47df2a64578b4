"""rnnkit.interop.from_torch / to_torch: the same outputs as PyTorch, the same weights back."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from rnnkit.interop import from_torch, to_torch  # noqa: E402
from rnnkit.layers import (  # noqa: E402
    GRU,
    LSTM,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Input,
    Masking,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
)
from rnnkit.models import Sequential  # noqa: E402

TOLERANCE = {"float64": 1e-10, "float32": 1e-5}
TORCH_DTYPE = {"float64": torch.float64, "float32": torch.float32}


def randomise(module: Any, seed: int) -> Any:
    """Every parameter U(-0.6, 0.6) (biases too: PyTorch's defaults would do, but not zeros)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.rand(param.shape, generator=generator, dtype=param.dtype) * 1.2 - 0.6)
    return module


def numpy_of(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy()


def assert_close(a: Any, b: Any, dtype: str) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    assert np.max(np.abs(a - b)) <= TOLERANCE[dtype]


def make_recurrent(cell: str, options: dict[str, Any]) -> Any:
    if cell.startswith("RNN"):
        return nn.RNN(nonlinearity=cell.split("_")[1], **options)
    return getattr(nn, cell)(**options)


def torch_state(module: Any) -> dict[str, np.ndarray]:
    return {k: numpy_of(v) for k, v in module.state_dict().items()}


# -- recurrent modules, every option -----------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cell", ["RNN_tanh", "RNN_relu", "LSTM", "GRU"])
def test_a_recurrent_module_gives_its_output_and_its_weights_back(
    cell: str, num_layers: int, bidirectional: bool, bias: bool, batch_first: bool, dtype: str
) -> None:
    options = {
        "input_size": 3,
        "hidden_size": 4,
        "num_layers": num_layers,
        "bias": bias,
        "batch_first": batch_first,
        "bidirectional": bidirectional,
    }
    module = randomise(make_recurrent(cell, options).to(TORCH_DTYPE[dtype]), seed=num_layers)
    x = torch.randn(5, 7, 3, dtype=TORCH_DTYPE[dtype], generator=torch.Generator().manual_seed(1))
    if batch_first:
        expected = module(x)[0]
    else:  # the module takes and gives (T, N, .); the rnnkit model stays batch-first
        expected = module(x.transpose(0, 1))[0].transpose(0, 1)

    model = from_torch(module)
    assert len(model.layers) == num_layers
    assert all(isinstance(layer, Bidirectional) == bidirectional for layer in model.layers)
    assert model.layers[-1].return_sequences
    assert all(layer.dtype == np.dtype(dtype) for layer in model.layers)
    assert_close(model.predict(numpy_of(x), verbose=0), numpy_of(expected), dtype)

    back = to_torch(model)
    assert_close(numpy_of(back(x)), numpy_of(expected), dtype)
    # PyTorch -> rnnkit -> PyTorch: the same kernels; the GRU's two bias rows as they were, the
    # other cells' one bias (b_ih + b_hh) in bias_ih with a zero bias_hh.
    before = torch_state(module)
    for k, wrapped in enumerate(back):
        after = torch_state(wrapped.rnn)
        for direction in ["", "_reverse"] if bidirectional else [""]:
            old, new = f"_l{k}{direction}", f"_l0{direction}"
            for name in ("weight_ih", "weight_hh"):
                np.testing.assert_array_equal(after[name + new], before[name + old])
            if not bias:
                assert "bias_ih" + new not in after
            elif cell == "GRU":
                for name in ("bias_ih", "bias_hh"):
                    np.testing.assert_array_equal(after[name + new], before[name + old])
            else:
                np.testing.assert_array_equal(
                    after["bias_ih" + new], before["bias_ih" + old] + before["bias_hh" + old]
                )
                assert not after["bias_hh" + new].any()
    # rnnkit -> PyTorch -> rnnkit: bit for bit.
    again = from_torch(back)
    for layer, copy in zip(model.layers, again.layers):
        assert type(copy) is type(layer)
        for w, w_again in zip(layer.get_weights(), copy.get_weights(), strict=True):
            assert w_again.dtype == w.dtype
            np.testing.assert_array_equal(w_again, w)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layer_class", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_last_step_output_survives_the_round_trip(
    layer_class: Any, bidirectional: bool, dtype: str
) -> None:
    layer = layer_class(4, dtype=dtype, seed=3)  # return_sequences=False
    stack = [Bidirectional(layer) if bidirectional else layer, Dense(2, dtype=dtype, seed=4)]
    model = Sequential([Input((None, 3)), *stack])
    x = np.random.default_rng(0).normal(size=(6, 5, 3)).astype(dtype)
    expected = model.predict(x, verbose=0)
    module = to_torch(model)
    assert_close(numpy_of(module(torch.from_numpy(x))), expected, dtype)
    again = from_torch(module)
    assert not again.layers[0].return_sequences
    assert_close(again.predict(x, verbose=0), expected, dtype)


# -- the other modules --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_embedding_lstm_linear(dtype: str) -> None:
    embedding = nn.Embedding(11, 5, padding_idx=0)
    lstm = nn.LSTM(5, 6, num_layers=2, dropout=0.25, batch_first=True)
    linear = nn.Linear(6, 3)
    stack = randomise(nn.Sequential(embedding, lstm, linear).to(TORCH_DTYPE[dtype]), seed=5)
    stack.eval()
    ids = torch.randint(0, 11, (4, 9), generator=torch.Generator().manual_seed(2))
    ids[:, -2:] = 0  # padding: looked up like any id (padding_idx only freezes its gradient)
    expected = linear(lstm(embedding(ids))[0])  # nn.Sequential cannot run an LSTM's tuple

    model = from_torch(stack)
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [Embedding, LSTM, Dropout, LSTM, Dense]  # PyTorch's dropout between layers
    assert model.layers[2].rate == 0.25
    assert not model.layers[0].mask_zero
    assert_close(model.predict(numpy_of(ids), verbose=0), numpy_of(expected), dtype)
    back = to_torch(model)
    assert_close(numpy_of(back(ids)), numpy_of(expected), dtype)
    np.testing.assert_array_equal(numpy_of(back[0].weight), numpy_of(embedding.weight))
    np.testing.assert_array_equal(numpy_of(back[-1].weight), numpy_of(linear.weight))
    np.testing.assert_array_equal(numpy_of(back[-1].bias), numpy_of(linear.bias))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_linear_layers_with_activations_and_dropout(dtype: str) -> None:
    stack = nn.Sequential(
        nn.Linear(4, 6),
        nn.Tanh(),
        nn.Dropout(0.5),
        nn.Sequential(nn.Linear(6, 5, bias=False), nn.ReLU()),
        nn.Identity(),
        nn.Linear(5, 5),
        nn.Sigmoid(),
        nn.Linear(5, 3),
        nn.Softmax(dim=-1),
    )
    stack = randomise(stack.to(TORCH_DTYPE[dtype]), seed=6).eval()
    x = torch.randn(7, 4, dtype=TORCH_DTYPE[dtype], generator=torch.Generator().manual_seed(3))
    model = from_torch(stack)
    activations = [
        (type(layer).__name__, getattr(layer, "activation", None)) for layer in model.layers
    ]
    assert [(name, act.name if act else None) for name, act in activations] == [
        ("Dense", "tanh"),
        ("Dropout", None),
        ("Dense", "relu"),
        ("Dense", "sigmoid"),
        ("Dense", "softmax"),
    ]
    assert not model.layers[2].use_bias
    assert_close(model.predict(numpy_of(x), verbose=0), numpy_of(stack(x)), dtype)
    back = to_torch(model)
    assert_close(numpy_of(back(x)), numpy_of(stack(x)), dtype)
    assert [type(m).__name__ for m in back] == [
        "Linear", "Tanh", "Dropout", "Linear", "ReLU", "Linear", "Sigmoid", "Linear", "Softmax"
    ]  # fmt: skip
    assert not back.training


def test_linear_after_a_recurrent_module_applies_at_every_step() -> None:
    stack = randomise(nn.Sequential(nn.Linear(3, 4), nn.GRU(4, 5)).double(), seed=7)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    expected = stack[1](stack[0](x).transpose(0, 1))[0].transpose(0, 1)
    assert_close(from_torch(stack).predict(numpy_of(x), verbose=0), numpy_of(expected), "float64")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_time_distributed_dense_becomes_its_linear(dtype: str) -> None:
    model = Sequential(
        [
            Embedding(7, 4, seed=1, dtype=dtype),
            SimpleRNN(5, return_sequences=True, seed=2, dtype=dtype),
            TimeDistributed(Dense(6, activation="tanh", seed=3, dtype=dtype)),
            TimeDistributed(Dropout(0.5, dtype=dtype)),
        ]
    )
    model.build((None,))
    back = to_torch(model)
    kinds = [type(m).__name__ for m in back]
    assert kinds == ["Embedding", "RecurrentOutput", "Linear", "Tanh", "Dropout"]
    ids = np.random.default_rng(0).integers(0, 7, size=(3, 8))
    with torch.no_grad():
        got = numpy_of(back(torch.from_numpy(ids)))
    assert_close(got, model.predict(ids, verbose=0), dtype)
    with pytest.raises(TypeError, match="TimeDistributed of Dense"):
        to_torch(built(LSTM(4, return_sequences=True), TimeDistributed(RepeatVector(2))))


# -- what is refused ----------------------------------------------------------------------------
class Custom(nn.Module):
    def forward(self, x: Any) -> Any:
        return x


@pytest.mark.parametrize(
    ("module", "error", "match"),
    [
        (nn.LSTM(3, 4, proj_size=2), ValueError, "proj_size"),
        (Custom(), TypeError, "Custom"),
        (nn.Sequential(nn.Linear(3, 3), Custom()), TypeError, "Custom"),
        (nn.Conv1d(3, 3, 1), TypeError, "Conv1d"),
        (nn.Embedding(5, 2, max_norm=1.0), ValueError, "max_norm"),
        (nn.Softmax(dim=0), ValueError, "dim=0"),
        (nn.GRU(3, 4).half(), ValueError, "float16"),
    ],
)
def test_from_torch_refuses(module: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        from_torch(module)


def built(*layers: Any, shape: tuple[int | None, ...] = (None, 3)) -> Sequential:
    return Sequential([Input(shape), *layers])


@pytest.mark.parametrize(
    ("model", "error", "match"),
    [
        (built(GRU(4, reset_after=False)), ValueError, "reset_after=False"),
        (built(LSTM(4, activation="relu")), ValueError, "activation='relu'"),
        (built(GRU(4, recurrent_activation="hard_sigmoid")), ValueError, "hard_sigmoid"),
        (built(SimpleRNN(4, activation="sigmoid")), ValueError, "sigmoid"),
        (built(SimpleRNN(4, layer_norm=True)), ValueError, "layer_norm"),
        (built(LSTM(4, go_backwards=True)), ValueError, "go_backwards"),
        (built(LSTM(4, dropout=0.1)), ValueError, "dropout"),
        (built(GRU(4, recurrent_dropout=0.1)), ValueError, "recurrent_dropout"),
        (built(Bidirectional(LSTM(4), merge_mode="sum")), ValueError, "merge_mode='sum'"),
        (built(Embedding(5, 3, mask_zero=True), shape=(None,)), ValueError, "mask_zero"),
        (built(Masking(), LSTM(4)), TypeError, "Masking"),
        (Sequential([LSTM(4)]), ValueError, "build the model first"),
    ],
)
def test_to_torch_refuses(model: Sequential, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        to_torch(model)


def test_to_torch_refuses_state_options() -> None:
    for layer, match in (
        (LSTM(4, return_state=True), "return_state"),
        (GRU(4, stateful=True), "stateful"),
    ):
        layer.build((5, 3))
        with pytest.raises(ValueError, match=match):
            to_torch(Sequential([layer]))
    with pytest.raises(TypeError, match="Sequential"):
        to_torch(nn.Linear(2, 2))


def test_without_torch_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    for convert in (from_torch, to_torch):
        with pytest.raises(ImportError, match="pip install torch"):
            convert(None)


def test_importing_rnnkit_interop_does_not_import_torch() -> None:
    code = "import sys, rnnkit, rnnkit.interop; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
