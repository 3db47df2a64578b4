"""rnnkit.interop.to_onnx / Model.export: onnxruntime's outputs equal rnnkit's predict."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from rnnkit import activations  # noqa: E402
from rnnkit.interop import to_onnx  # noqa: E402
from rnnkit.layers import (  # noqa: E402
    GRU,
    LSTM,
    Activation,
    Add,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Input,
    Masking,
    SimpleRNN,
    TimeDistributed,
)
from rnnkit.models import Model, Sequential  # noqa: E402

RELATIVE = 1e-5  # float32, relative to the largest output
N, T, D = 4, 6, 3
LENGTHS = np.array([6, 2, 4, 1])  # random-looking, with the full length and a single step


def randomise(model: Any, seed: int) -> Any:
    """Every weight U(-0.6, 0.6): biases too (rnnkit's initial biases are zeros, which would
    not tell the input bias from the recurrent one)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape) for w in model.get_weights()])
    return model


def session(proto: Any) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the CI machines have 2 cores, shared
    return ort.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def run_onnx(proto: Any, x: np.ndarray, lengths: np.ndarray | None = None) -> list[np.ndarray]:
    feed = {"x": x}
    if lengths is not None:
        feed["lengths"] = lengths.astype(np.int32)
    return list(session(proto).run(None, feed))


def assert_close(onnx_out: list[np.ndarray], expected: Any) -> None:
    expected = expected if isinstance(expected, list) else [expected]
    assert len(onnx_out) == len(expected)
    for got, want in zip(onnx_out, expected):
        assert got.shape == want.shape
        assert got.dtype == np.float32
        scale = max(float(np.max(np.abs(want))), 1e-3)
        assert np.max(np.abs(got - want)) <= RELATIVE * scale


def assert_exports_exactly(model: Any, x: np.ndarray, lengths: np.ndarray | None) -> Any:
    """Export (with a ``lengths`` input when given), check, run, compare; the proto."""
    proto = to_onnx(model, lengths=lengths is not None)
    onnx.checker.check_model(proto, full_check=True)
    assert_close(run_onnx(proto, x, lengths), model.predict(x, lengths=lengths, verbose=0))
    return proto


def inputs(seed: int = 0, n: int = N, t: int = T) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, t, D)).astype(np.float32)


def ops(proto: Any) -> list[str]:
    return [node.op_type for node in proto.graph.node]


def recurrent_node(proto: Any) -> Any:
    (node,) = [n for n in proto.graph.node if n.op_type in ("RNN", "LSTM", "GRU")]
    return node


def attribute(node: Any, name: str) -> Any:
    return next(onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name)


# -- every recurrent layer and option ----------------------------------------------------------
CELLS = {
    "rnn_tanh": lambda **k: SimpleRNN(5, **k),
    "rnn_relu": lambda **k: SimpleRNN(5, activation="relu", **k),
    "rnn_sigmoid": lambda **k: SimpleRNN(5, activation="sigmoid", **k),
    "rnn_hard_sigmoid": lambda **k: SimpleRNN(5, activation="hard_sigmoid", **k),
    "rnn_linear": lambda **k: SimpleRNN(5, activation="linear", **k),
    "lstm": lambda **k: LSTM(5, **k),
    "lstm_hard_sigmoid": lambda **k: LSTM(5, recurrent_activation="hard_sigmoid", **k),
    "gru_reset_after": lambda **k: GRU(5, **k),
    "gru_reset_before": lambda **k: GRU(5, reset_after=False, **k),
    # HardSigmoid after a Sigmoid: onnxruntime takes alphas only for activations that have one
    "gru_hard_sigmoid_candidate": lambda **k: GRU(5, activation="hard_sigmoid", **k),
    "gru_linear_gates": lambda **k: GRU(5, activation="relu", recurrent_activation="linear", **k),
}


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("cell", list(CELLS))
def test_a_recurrent_layer_equals_predict_with_and_without_lengths(
    cell: str, return_sequences: bool, go_backwards: bool, use_bias: bool
) -> None:
    layer = CELLS[cell](
        return_sequences=return_sequences, go_backwards=go_backwards, use_bias=use_bias
    )
    model = randomise(Sequential([Input((None, D)), layer]), seed=len(cell))
    x = inputs()
    proto = assert_exports_exactly(model, x, None)
    assert_exports_exactly(model, x, LENGTHS)
    node = recurrent_node(proto)
    assert attribute(node, "direction") == (b"reverse" if go_backwards else b"forward")
    assert not any(a.name == "layout" for a in node.attribute)  # time-major: onnxruntime's
    if isinstance(layer, GRU):
        assert attribute(node, "linear_before_reset") == int(layer.reset_after)


def test_padded_steps_are_zeros_and_the_final_state_is_the_last_valid_step() -> None:
    forward = randomise(Sequential([Input((None, D)), LSTM(5, return_sequences=True)]), 1)
    last = Sequential([Input((None, D)), LSTM(5)])
    last.set_weights(forward.get_weights())
    x = inputs()
    sequences = run_onnx(to_onnx(forward, lengths=True), x, LENGTHS)[0]
    finals = run_onnx(to_onnx(last, lengths=True), x, LENGTHS)[0]
    for row, length in enumerate(LENGTHS):
        assert np.all(sequences[row, length:] == 0)
        np.testing.assert_array_equal(finals[row], sequences[row, length - 1])


def test_go_backwards_sequences_are_in_processing_order_within_the_valid_prefix() -> None:
    model = randomise(
        Sequential([Input((None, D)), GRU(4, return_sequences=True, go_backwards=True)]), 2
    )
    x = inputs()
    got = run_onnx(to_onnx(model, lengths=True), x, LENGTHS)[0]
    # Row 1 has 2 valid steps: its first output has seen only its last valid step.
    alone = run_onnx(to_onnx(model), x[1:2, 1:2])[0]
    np.testing.assert_allclose(got[1, 0], alone[0, 0], rtol=1e-6, atol=1e-7)
    assert np.all(got[1, 2:] == 0)


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru_reset_after", "gru_reset_before"])
def test_bidirectional_is_one_node_for_every_merge_mode(
    cell: str, merge_mode: str | None, return_sequences: bool
) -> None:
    layer = Bidirectional(CELLS[cell](return_sequences=return_sequences), merge_mode=merge_mode)
    model = randomise(Sequential([Input((None, D)), layer]), seed=3)
    x = inputs(1)
    proto = assert_exports_exactly(model, x, None)
    assert_exports_exactly(model, x, LENGTHS)
    assert attribute(recurrent_node(proto), "direction") == b"bidirectional"
    outputs = [o.name for o in proto.graph.output]
    assert outputs == (["output_0", "output_1"] if merge_mode is None else ["output"])


# -- stacks and the layers around the recurrent ones -------------------------------------------
def test_a_stacked_char_model_with_embedding_and_time_distributed_softmax() -> None:
    model = Sequential(
        [
            Input((None,), dtype="int64"),
            Embedding(11, 4),
            Bidirectional(GRU(5, return_sequences=True), merge_mode="concat"),
            Dropout(0.3),
            LSTM(6, return_sequences=True, go_backwards=True, dropout=0.2),
            SimpleRNN(3, return_sequences=True, activation="relu"),
            TimeDistributed(Dense(7, activation="softmax")),
        ]
    )
    randomise(model, seed=4)
    ids = np.random.default_rng(5).integers(0, 11, (N, T)).astype(np.int64)
    proto = assert_exports_exactly(model, ids, None)
    with_lengths = assert_exports_exactly(model, ids, LENGTHS)
    assert ops(proto).count("Transpose") == 6  # in and out of each recurrent node
    assert {"Gather", "GRU", "LSTM", "RNN", "Softmax", "MatMul", "Slice"} <= set(ops(proto))
    assert not {"Loop", "Scan"} & set(ops(proto))  # never unrolled, never looped by hand
    # go_backwards's sequence back in processing order: the valid prefixes only, with lengths
    assert "ReverseSequence" in ops(with_lengths) and "Slice" not in ops(with_lengths)


def test_a_many_to_one_stack_with_dense_and_activations() -> None:
    model = Sequential(
        [
            Input((None, D)),
            LSTM(6, return_sequences=True),
            GRU(5, reset_after=False),
            Dense(4, activation="relu"),
            Dropout(0.5),
            Dense(3, use_bias=False),
            Activation("tanh"),
            Dense(2, activation="sigmoid"),
        ]
    )
    randomise(model, seed=6)
    proto = assert_exports_exactly(model, inputs(2), None)
    assert_exports_exactly(model, inputs(2), LENGTHS)
    assert ops(proto).count("Gemm") == 3  # (N, features) after the last recurrent layer


def test_a_functional_chain_exports_like_a_sequential() -> None:
    # Layers named like the graph's ports get other tensor names.
    x_in = Input((None, D))
    h = Bidirectional(SimpleRNN(4, return_sequences=True), merge_mode="ave", name="x")(x_in)
    h = TimeDistributed(Activation("sigmoid"))(LSTM(3, return_sequences=True, name="output")(h))
    y = TimeDistributed(Dense(2))(TimeDistributed(Dropout(0.5))(h))
    model = randomise(Model(x_in, y), seed=7)
    assert_exports_exactly(model, inputs(3), None)
    assert_exports_exactly(model, inputs(3), LENGTHS)


def test_one_graph_runs_at_any_batch_and_time() -> None:
    model = randomise(Sequential([Input((None, D)), GRU(4, return_sequences=True)]), 8)
    proto = to_onnx(model, lengths=True)
    dims = [
        [d.dim_param or d.dim_value for d in port.type.tensor_type.shape.dim]
        for port in (*proto.graph.input, *proto.graph.output)
    ]
    assert dims == [["batch", "time", D], ["batch"], ["batch", "time", 4]]
    for n, t, seed in ((2, 9, 0), (7, 3, 1)):
        x = inputs(seed, n, t)
        lengths = np.random.default_rng(seed).integers(1, t + 1, n)
        lengths[0] = t
        assert_close(run_onnx(proto, x, lengths), model.predict(x, lengths=lengths, verbose=0))


def test_a_float64_model_exports_as_float32() -> None:
    model = Sequential([Input((None, D)), LSTM(4, dtype="float64"), Dense(2, dtype="float64")])
    randomise(model, seed=9)
    x = inputs(4)
    proto = to_onnx(model)
    assert {t.data_type for t in proto.graph.initializer} <= {
        onnx.TensorProto.FLOAT,
        onnx.TensorProto.INT64,
    }
    assert_close(run_onnx(proto, x), model.predict(x.astype(np.float64), verbose=0))


# -- refusals ----------------------------------------------------------------------------------
def built(*layers: Any, shape: tuple[int | None, ...] = (None, D)) -> Sequential:
    return Sequential([Input(shape), *layers])


def with_state() -> Model:
    x_in = Input((None, D))
    return Model(x_in, LSTM(3, return_state=True)(x_in))


# Models are made in the test (a lambda each): a refusal at construction must fail one case.
@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (with_state, ValueError, "return_state"),
        (lambda: built(GRU(3, stateful=True)), ValueError, "stateful"),
        (lambda: built(SimpleRNN(3, layer_norm=True)), ValueError, "layer_norm"),
        (lambda: built(Embedding(5, 2, mask_zero=True), shape=(None,)), ValueError, "mask_zero"),
        (lambda: built(Dense(3), Embedding(5, 2)), ValueError, "first layer"),
        (lambda: built(Bidirectional(LSTM(3, go_backwards=True))), ValueError, "go_backwards"),
        (
            lambda: built(Bidirectional(LSTM(3), backward_layer=GRU(3, go_backwards=True))),
            ValueError,
            "differ in class",
        ),
        (lambda: built(Masking(), LSTM(3)), TypeError, "Masking"),
        (lambda: Sequential([LSTM(3)]), ValueError, "build the model first"),
        (lambda: "not a model", TypeError, "rnnkit model"),
    ],
)
def test_to_onnx_refuses(make: Any, error: type[Exception], match: str) -> None:
    model = make()
    with pytest.raises(error, match=match):
        to_onnx(model)


def test_to_onnx_checks_its_arguments() -> None:
    model = built(SimpleRNN(2))
    with pytest.raises(TypeError, match="lengths"):
        to_onnx(model, lengths=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="opset_version"):
        to_onnx(model, opset_version=9)
    with pytest.raises(TypeError, match="path"):
        to_onnx(model, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time axis"):
        to_onnx(Sequential([Input((D,)), Dense(2)]), lengths=True)
    assert to_onnx(model, opset_version=21).opset_import[0].version == 21
    # Each opset with the IR version it came with, so that runtimes of its time can load it.
    assert [to_onnx(model, opset_version=v).ir_version for v in (14, 15, 16, 17)] == [7, 8, 8, 8]


def test_an_activation_that_is_not_rnnkit_own_is_refused() -> None:
    class Swish(activations.ActivationFunction):
        name = "swish"

        def forward(self, a: np.ndarray) -> np.ndarray:
            return a / (1.0 + np.exp(-a))

        def backward(self, dy: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
            raise NotImplementedError

    class OddTanh(activations.Tanh):  # keeps the name "tanh", changes the maths
        def forward(self, a: np.ndarray) -> np.ndarray:
            return 2.0 * np.tanh(a)

    for activation in (Swish(), OddTanh()):
        model = Sequential([Input((None, D)), SimpleRNN(3), Dense(2, activation=activation)])
        model.build()
        with pytest.raises(ValueError, match="has no ONNX operator"):
            to_onnx(model)


def test_a_functional_model_that_is_not_a_chain_is_refused() -> None:
    x_in = Input((None, D))
    y = LSTM(3)(x_in)
    with pytest.raises(ValueError, match="not a chain to one output"):
        to_onnx(Model(x_in, [y, Dense(2)(y)]))
    branches = Add()([LSTM(3)(x_in), GRU(3)(x_in)])
    with pytest.raises(ValueError, match=r"chain of layers from one input \(at layer 'gru"):
        to_onnx(Model(x_in, branches))


# -- files and Model.export --------------------------------------------------------------------
def test_the_file_is_written_atomically(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    model = randomise(built(GRU(3)), seed=10)
    path = tmp_path / "model.onnx"
    proto = to_onnx(model, path)
    assert onnx.load(str(path)) == proto
    path.write_bytes(b"old")

    def failing_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        to_onnx(model, path)
    assert path.read_bytes() == b"old"  # untouched, and no temporary file left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_model_export_is_keras_3s_spelling(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    model = randomise(built(LSTM(3, return_sequences=True), Dense(2)), seed=11)
    path = tmp_path / "model.onnx"
    assert model.export(path, format="onnx", verbose=True) is None
    assert str(path) in capsys.readouterr().out
    x = inputs(5)
    assert_close(run_onnx(onnx.load(str(path)), x), model.predict(x, verbose=0))
    model.export(str(path), format="onnx", lengths=True, opset_version=18)
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["x", "lengths"]
    assert proto.opset_import[0].version == 18
    with pytest.raises(ValueError, match="format='onnx' only"):
        model.export(path)  # Keras's default, tf_saved_model
    with pytest.raises(ValueError, match="input_signature"):
        model.export(path, format="onnx", input_signature=[(None, None, D)])
    with pytest.raises(TypeError, match="unexpected keyword"):
        model.export(path, format="onnx", dynamic_shapes=True)


def test_without_onnx_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "rnnkit\[onnx\]"'):
        to_onnx(built(SimpleRNN(2)))


def test_importing_rnnkit_interop_does_not_import_onnx() -> None:
    code = (
        "import sys, rnnkit, rnnkit.interop; "
        "assert 'onnx' not in sys.modules and 'onnxruntime' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
