"""RecurrentLayer: the base every recurrent layer shares (state, go_backwards, initial_state and
its gradient, return_state, the kernel backend), exercised with SimpleRNN and with a two-state
cell defined here, so that what LSTM needs (two states, ``[output, h, c]``) is proven before
LSTM exists; sublayers() and the helpers built on it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from _layer_testing import check_layer
from rnnkit import ops
from rnnkit.layers import (
    Bidirectional,
    Dense,
    Dropout,
    RecurrentLayer,
    SimpleRNN,
    TimeDistributed,
    deserialize_layer,
    serialize_layer,
    walk_layers,
)
from rnnkit.layers.recurrent import scoped_states
from rnnkit.models import Sequential

N, T, D, H = 3, 5, 4, 3
LENGTHS = np.array([0, T, 2])


class PairRNN(RecurrentLayer):
    """Two vanilla cells side by side over the same input: state ``h`` (the output) and a
    second state ``c`` that only ``return_state`` shows. Two states, like an LSTM's ``h, c``."""

    state_names = ("h", "c")

    def __init__(self, units: int, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.seed = seed

    def _build_cell(self, features: int) -> None:
        rng = np.random.default_rng(self.seed)
        for cell in ("h", "c"):
            self._add_param(f"Wx_{cell}", 0.5 * rng.standard_normal((features, self.units)))
            self._add_param(f"Wh_{cell}", 0.5 * rng.standard_normal((self.units, self.units)))
            self._add_param(f"b_{cell}", 0.1 * rng.standard_normal(self.units))

    @classmethod
    def _cell_param_shapes(cls, config, features, units):
        shapes = {}
        for cell in ("h", "c"):
            shapes.update(
                {
                    f"Wx_{cell}": (features, units),
                    f"Wh_{cell}": (units, units),
                    f"b_{cell}": (units,),
                }
            )
        return shapes

    def _cell_forward(self, x, initial_states, lengths, training):
        results = [
            self.kernels.rnn_forward(
                x,
                self.params[f"Wx_{cell}"],
                self.params[f"Wh_{cell}"],
                self.params[f"b_{cell}"],
                h0=h0,
                lengths=lengths,
            )
            for cell, h0 in zip(("h", "c"), initial_states)
        ]
        (hs, h_last, cache_h), (_, c_last, cache_c) = results
        return hs, [h_last, c_last], (cache_h, cache_c)

    def _cell_backward(self, cache, dhs, d_final_states, truncate):
        g_h = self.kernels.rnn_backward(
            cache[0], dhs=dhs, dh_last=d_final_states[0], truncate=truncate
        )
        g_c = self.kernels.rnn_backward(cache[1], dh_last=d_final_states[1], truncate=truncate)
        grads = {f"{key}_h": g_h[key] for key in ("Wx", "Wh", "b")}
        grads.update({f"{key}_c": g_c[key] for key in ("Wx", "Wh", "b")})
        return g_h["x"] + g_c["x"], [g_h["h0"], g_c["h0"]], grads

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


# -- a two-state cell on the shared base --------------------------------------------------------


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_two_state_cell_returns_and_backpropagates_both_states(go_backwards, return_sequences):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, D))
    h0, c0 = 0.5 * rng.standard_normal((N, H)), 0.5 * rng.standard_normal((N, H))
    layer = PairRNN(
        H,
        return_sequences=return_sequences,
        return_state=True,
        go_backwards=go_backwards,
        dtype="float64",
    )
    out = check_layer(layer, x, lengths=LENGTHS, initial=[h0, c0])
    assert len(out) == 3  # [output, h, c], as Keras's LSTM
    assert [s.shape for s in out[1:]] == [(N, H), (N, H)]
    assert layer.compute_output_shape((T, D))[1:] == [(H,), (H,)]
    assert isinstance(layer.d_initial_state, list) and len(layer.d_initial_state) == 2
    assert all(a is b for a, b in zip(layer.initial_state_grad(), layer.d_initial_state))


def test_two_state_cell_refuses_one_initial_state_and_a_short_dy():
    layer = PairRNN(H, return_state=True, dtype="float64")
    x = np.zeros((N, T, D))
    with pytest.raises(ValueError, match=r"has 2 states \['h', 'c'\].*list of 2 arrays"):
        layer.forward(x, initial_state=np.zeros((N, H)))
    with pytest.raises(ValueError, match=r"has 2 states.*got a list of 1"):
        layer.forward(x, initial_state=[np.zeros((N, H))])
    layer.forward(x)
    with pytest.raises(ValueError, match=r"\[d_output, d_h, d_c\]"):
        layer.backward([np.zeros((N, H)), None])


def test_two_state_cell_carries_both_states_when_stateful():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N, 2 * T, D))
    whole = PairRNN(H, return_state=True, dtype="float64")
    _, h, c = whole.forward(x)
    halves = PairRNN(H, return_state=True, stateful=True, dtype="float64")
    halves.forward(x[:, :T])
    _, h2, c2 = halves.forward(x[:, T:])
    np.testing.assert_allclose(h2, h, rtol=1e-12)
    np.testing.assert_allclose(c2, c, rtol=1e-12)
    assert isinstance(halves.state, list) and len(halves.states) == 2
    halves.reset_state()
    assert halves.states is None and halves.state is None


def test_bidirectional_wraps_a_two_state_cell():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N, T, D))
    initial = [0.5 * rng.standard_normal((N, H)) for _ in range(4)]
    layer = Bidirectional(
        PairRNN(H, return_sequences=True, return_state=True, dtype="float64", seed=4)
    )
    out = check_layer(layer, x, lengths=LENGTHS, initial=initial)
    assert len(out) == 5 and out[0].shape == (N, T, 2 * H)  # [merged, h_f, c_f, h_b, c_b]
    assert layer.compute_output_shape((T, D))[0] == (T, 2 * H)
    assert type(layer.backward_layer) is PairRNN and layer.backward_layer.go_backwards
    clone = deserialize_layer(serialize_layer(layer))
    assert type(clone.forward_layer) is PairRNN
    shapes = Bidirectional.config_param_shapes(layer.get_config(), (T, D))
    assert shapes == {key: value.shape for key, value in layer.params.items()}


def test_bidirectional_refuses_a_non_recurrent_spec_in_a_config():
    config = Bidirectional(SimpleRNN(2)).get_config()
    config["layer"] = serialize_layer(Dense(2))
    with pytest.raises(ValueError, match="wraps a recurrent layer, got 'Dense'"):
        Bidirectional.config_param_shapes(config, (T, D))


# -- the backend chosen per layer ---------------------------------------------------------------


@pytest.mark.parametrize("activation", ops.ACTIVATIONS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_numpy_backend_matches_the_cpp_kernels(go_backwards, activation):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H))
    layers = {
        backend: SimpleRNN(
            H,
            return_sequences=True,
            return_state=True,
            go_backwards=go_backwards,
            activation=activation,
            dtype="float64",
            seed=6,
            input_shape=(T, D),
            backend=backend,
        )
        for backend in ("cpp", "numpy")
    }
    dy = [rng.standard_normal((N, T, H)), rng.standard_normal((N, H))]
    results = {}
    for backend, layer in layers.items():
        assert layer.kernels.__name__ == ("rnnkit.ops" if backend == "cpp" else "rnnkit.reference")
        layer.truncate = 2
        out = layer.forward(x, lengths=LENGTHS, initial_state=h0)
        dx = layer.backward(dy)
        results[backend] = (out, dx, dict(layer.grads), layer.d_initial_state)
    (out_c, dx_c, g_c, dh0_c), (out_n, dx_n, g_n, dh0_n) = results.values()
    for a, b in [*zip(out_c, out_n), (dx_c, dx_n), (dh0_c, dh0_n)]:
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for key in g_c:
        np.testing.assert_allclose(g_c[key], g_n[key], rtol=1e-10, atol=1e-12, err_msg=key)


def test_backend_is_saved_in_the_config_and_checked():
    layer = SimpleRNN(4, backend="numpy")
    assert layer.get_config()["backend"] == "numpy"
    assert deserialize_layer(serialize_layer(layer)).backend == "numpy"
    assert SimpleRNN(4).backend == "cpp"
    config = SimpleRNN(4).get_config()
    del config["backend"]  # configs written before the option existed
    assert SimpleRNN.from_config(config).backend == "cpp"
    with pytest.raises(ValueError, match="backend must be one of"):
        SimpleRNN(4, backend="cuda")
    layer.backend = "cpp"
    assert layer.kernels.__name__ == "rnnkit.ops"


# -- sublayers() and what is built on it --------------------------------------------------------


def test_sublayers_list_what_a_layer_wraps():
    dense = Dense(2)
    wrapped = TimeDistributed(dense)
    bi = Bidirectional(SimpleRNN(3))
    assert dense.sublayers() == [] and SimpleRNN(2).sublayers() == []
    assert wrapped.sublayers() == [dense]
    assert bi.sublayers() == [bi.forward_layer, bi.backward_layer]
    drop = Dropout(0.5)
    order = list(walk_layers([bi, TimeDistributed(drop), wrapped]))
    assert order[:3] == [bi, bi.forward_layer, bi.backward_layer]
    assert order[4] is drop and order[-1] is dense
    assert [layer.rng is not None for layer in (dense, drop)] == [False, True]


def test_model_reset_states_reaches_wrapped_recurrent_layers():
    model = Sequential(
        [
            Bidirectional(SimpleRNN(3, stateful=True, return_sequences=True), input_shape=(T, D)),
            SimpleRNN(2, stateful=True),
        ]
    )
    model.forward(np.ones((N, T, D), np.float32))
    rnns = [layer for layer in walk_layers(model.layers) if isinstance(layer, RecurrentLayer)]
    assert len(rnns) == 3 and all(layer.state is not None for layer in rnns)
    model.reset_states()
    assert all(layer.state is None for layer in rnns)


def test_scoped_states_restore_flags_states_and_truncate_after_an_error():
    layer = SimpleRNN(2, stateful=False, input_shape=(T, D))
    layer.states = [np.ones((N, 2), np.float32)]
    layer.truncate = 4
    with pytest.raises(RuntimeError), scoped_states([layer], stateful=True, truncate=2):
        assert layer.stateful and layer.states is None and layer.truncate == 2
        raise RuntimeError
    assert not layer.stateful and layer.truncate == 4
    np.testing.assert_array_equal(layer.state, np.ones((N, 2)))
    with scoped_states([layer], stateful=True):
        assert layer.truncate == 4  # kept when not given
