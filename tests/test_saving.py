"""Saving and loading: exact round trips, atomic writes, clear errors for bad files, no
unpickling, and resuming training from a checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rnnkit
from rnnkit import saving as rio
from rnnkit.layers import (
    Activation,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Input,
    SimpleRNN,
    TimeDistributed,
)
from rnnkit.models import Model, Sequential, load_model
from rnnkit.training import Trainer
from test_models import EncoderDecoder, seq2seq_data

rng = np.random.default_rng(0)
X_SEQ = rng.standard_normal((7, 5, 3)).astype(np.float32)
IDS = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8], [9, 0, 0, 0, 0]])


def sine_model() -> Sequential:
    return Sequential([SimpleRNN(10, input_shape=(5, 3)), Dense(1)], name="sine")


def bidirectional_model() -> Sequential:
    return Sequential(
        [
            Bidirectional(
                SimpleRNN(6, return_sequences=True, activation="relu"),
                merge_mode="sum",
                input_shape=(5, 3),
            ),
            Dropout(0.2),
            SimpleRNN(4, return_sequences=True, go_backwards=True, use_bias=False),
            TimeDistributed(Dense(2, activation="tanh")),
            Activation("sigmoid"),
        ]
    )


def embedding_model() -> Sequential:
    return Sequential(
        [
            Embedding(10, 4, mask_zero=True, input_shape=(5,)),
            SimpleRNN(6, return_sequences=True),
            SimpleRNN(5, dtype="float64"),
            Dense(3, dtype="float64"),
        ]
    )


def keras3_input_model() -> Sequential:
    return Sequential(
        [Input((5, 3), name="series"), SimpleRNN(6, return_sequences=True), SimpleRNN(4), Dense(2)]
    )


CASES: list[tuple[Callable[[], Model], Any]] = [
    (sine_model, X_SEQ),
    (keras3_input_model, X_SEQ),
    (bidirectional_model, X_SEQ),
    (embedding_model, IDS),
    (EncoderDecoder, seq2seq_data()[0]),
]


@pytest.mark.parametrize(
    "make,x", CASES, ids=["sine", "keras3_input", "bidirectional", "embedding", "seq2seq"]
)
def test_round_trip_is_exact(tmp_path: Path, make: Callable[[], Model], x: Any) -> None:
    model = make()
    expected = model.predict(x)
    path = model.save(tmp_path / "model.npz")
    restored = load_model(path)
    assert type(restored) is type(model) and restored.name == model.name
    assert [layer.name for layer in restored.layers] == [layer.name for layer in model.layers]
    assert [type(layer) for layer in restored.layers] == [type(layer) for layer in model.layers]
    assert list(restored.params) == list(model.params)
    for key, value in model.params.items():
        assert restored.params[key].dtype == value.dtype
        np.testing.assert_array_equal(restored.params[key], value)
    np.testing.assert_array_equal(restored.predict(x), expected)
    if isinstance(model, Sequential):
        assert restored.get_config() == model.get_config()


def test_keras3_listing_with_input_round_trips_with_its_trainer(tmp_path: Path) -> None:
    x, y = _data()
    model = Sequential([Input((5, 3), name="series"), SimpleRNN(8, seed=0), Dense(1, seed=1)])
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0)
    loaded = load_model(model.save(tmp_path / "k3.npz"))
    assert loaded.input_layer is not None and loaded.input_layer.name == "series"
    assert loaded.input_layer.shape == (5, 3) and len(loaded.layers) == 2
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.summary(print_fn=None) == model.summary(print_fn=None)
    model.fit(x, y, epochs=3, initial_epoch=2, batch_size=16, verbose=0, seed=0)
    loaded.fit(x, y, epochs=3, initial_epoch=2, batch_size=16, verbose=0, seed=0)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)  # training resumes exactly


def test_load_model_is_exported_like_keras(tmp_path: Path) -> None:
    model = sine_model()
    model.save(tmp_path / "m.npz")
    assert isinstance(rnnkit.load_model(tmp_path / "m.npz"), Sequential)


def test_custom_model_through_custom_objects(tmp_path: Path) -> None:
    model = EncoderDecoder()
    model.predict(seq2seq_data()[0])  # a custom model builds on its first call
    model.save(tmp_path / "m.npz")

    class Renamed(EncoderDecoder):
        pass

    restored = load_model(tmp_path / "m.npz", custom_objects={"EncoderDecoder": Renamed})
    assert type(restored) is Renamed


def test_file_is_one_npz_with_json_config(tmp_path: Path) -> None:
    sine_model().save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        raw = npz[rio.CONFIG_KEY]
        assert raw.dtype == np.uint8 and raw.ndim == 1
        config = json.loads(raw.tobytes())
        assert config["format_version"] == rio.FORMAT_VERSION
        assert config["model"]["class_name"] == "Sequential"
        assert config["model"]["module"] == "rnnkit.models"
        assert config["rnnkit_version"] == rnnkit.__version__
        assert sorted(npz.files) == sorted([rio.CONFIG_KEY, "w0", "w1", "w2", "w3", "w4"])


def test_unbuilt_model_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not built"):
        Sequential([SimpleRNN(3), Dense(1)]).save(tmp_path / "m.npz")


# -- atomic writes -----------------------------------------------------------------------------


def _fail_on_second_array(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make np.savez fail after it has written one array (a crash in the middle of a save)."""
    import numpy.lib._npyio_impl as npyio

    real = npyio.format.write_array
    calls = {"n": 0}

    def write_array(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full (simulated)")
        real(*args, **kwargs)

    monkeypatch.setattr(npyio.format, "write_array", write_array)


@pytest.mark.parametrize("failure", ["mid-write", "fsync"])
def test_failed_write_leaves_old_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    path = tmp_path / "model.npz"
    old = sine_model()
    old.save(path)
    old_bytes = path.read_bytes()
    if failure == "mid-write":
        _fail_on_second_array(monkeypatch)
    else:

        def fsync(fd: int) -> None:
            raise OSError("I/O error (simulated)")

        monkeypatch.setattr(rio.os, "fsync", fsync)
    with pytest.raises(OSError, match="simulated"):
        bidirectional_model().save(path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
    np.testing.assert_array_equal(load_model(path).predict(X_SEQ), old.predict(X_SEQ))


def test_overwrite_keeps_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    sine_model().save(path)
    os.chmod(path, 0o640)
    sine_model().save(path)
    assert (os.stat(path).st_mode & 0o777) == 0o640


# -- bad files ---------------------------------------------------------------------------------


def _saved(tmp_path: Path) -> Path:
    path = tmp_path / "model.npz"
    sine_model().save(path)
    return path


def _rewrite(
    path: Path,
    edit_config: Callable[[dict], None] = lambda c: None,
    edit_arrays: Callable[[dict], None] = lambda a: None,
) -> None:
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    config = json.loads(arrays[rio.CONFIG_KEY].tobytes())
    edit_config(config)
    edit_arrays(arrays)
    arrays[rio.CONFIG_KEY] = np.frombuffer(json.dumps(config).encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_truncated_file(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    data = path.read_bytes()
    for size in (len(data) // 2, len(data) - 30, 10):
        path.write_bytes(data[:size])
        with pytest.raises(rio.ModelFileError, match=str(path)):
            load_model(path)


def test_corrupted_bytes(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    with np.load(path) as npz:  # find the weight data of w1 (Wh) inside the archive
        assert "w1" in npz.files
    start = data.find(b"w1.npy")
    assert start > 0
    data[start + 200] ^= 0xFF  # inside w1's array bytes, past its header
    path.write_bytes(bytes(data))
    with pytest.raises(rio.ModelFileError, match=str(path)):
        load_model(path)


def test_not_an_archive_and_not_rnnkit(tmp_path: Path) -> None:
    path = tmp_path / "x.npz"
    path.write_bytes(b"hello, this is not a zip file at all" * 10)
    with pytest.raises(rio.ModelFileError, match=r"x\.npz"):
        load_model(path)
    np.savez(path, a=np.zeros(3))
    with pytest.raises(rio.ModelFileError, match="not an rnnkit model"):
        load_model(path)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.npz")


def test_wrong_format_version(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    _rewrite(path, edit_config=lambda c: c.update(format_version=rio.FORMAT_VERSION + 1))
    with pytest.raises(rio.ModelFileError, match=r"format_version 2 .*newer rnnkit"):
        load_model(path)


def test_mismatched_arrays(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    _rewrite(path, edit_arrays=lambda a: a.update(w1=np.zeros((3, 3), np.float32)))
    with pytest.raises(rio.ModelFileError, match=r"'w1'.*shape"):
        load_model(path)
    path = _saved(tmp_path)
    _rewrite(path, edit_arrays=lambda a: a.pop("w2"))
    with pytest.raises(rio.ModelFileError, match="missing"):
        load_model(path)

    def wider(config: dict) -> None:  # config says 12 units, arrays hold 10
        config["model"]["config"]["layers"][0]["config"]["units"] = 12

    path = _saved(tmp_path)
    _rewrite(path, edit_config=wider)
    with pytest.raises(rio.ModelFileError, match="shape"):
        load_model(path)


# A crafted or corrupted config must be refused before anything is built: no initialiser, no
# orthogonal QR of an (H, H) matrix, no MemoryError.


def _edit_layer(index: int, **changes: Any) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        config["model"]["config"]["layers"][index]["config"].update(changes)

    return edit


def _edit_inner(index: int, inner: str, **changes: Any) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        config["model"]["config"]["layers"][index]["config"][inner]["config"].update(changes)

    return edit


def _spy_on_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    built: list[str] = []
    for cls in (SimpleRNN, Dense, Embedding):
        original = cls.build

        def spy(self: Any, input_shape: Any, _original: Any = original) -> None:
            built.append(type(self).__name__)
            _original(self, input_shape)

        monkeypatch.setattr(cls, "build", spy)
    return built


@pytest.mark.parametrize(
    "make,edit",
    [
        (sine_model, _edit_layer(0, units=300_000)),
        (sine_model, _edit_layer(1, units=300_000)),
        (sine_model, _edit_layer(0, input_shape=[5, 300_000])),
        (sine_model, lambda c: c["model"]["config"].update(build_input_shape=[5, 300_000])),
        (
            keras3_input_model,
            lambda c: c["model"]["config"]["input_layer"]["config"].update(
                input_shape=[5, 300_000]
            ),
        ),
        (keras3_input_model, _edit_layer(1, units=300_000)),
        (bidirectional_model, _edit_inner(0, "layer", units=300_000)),
        (bidirectional_model, _edit_inner(3, "layer", units=300_000)),
        (embedding_model, _edit_layer(0, input_dim=10**9)),
        (embedding_model, _edit_layer(0, output_dim=10**9)),
        (embedding_model, _edit_layer(1, units=0)),
        (embedding_model, _edit_layer(2, units="many")),
    ],
)
def test_corrupted_config_sizes_are_refused_before_building(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[], Model],
    edit: Callable[[dict], None],
) -> None:
    path = tmp_path / "m.npz"
    make().save(path)
    _rewrite(path, edit_config=edit)
    built = _spy_on_builds(monkeypatch)
    with pytest.raises(rio.ModelFileError, match=str(path)):
        load_model(path)
    assert built == []  # refused from the file's entries alone


def test_rebuild_failures_become_model_file_errors(tmp_path: Path) -> None:
    """Whatever a custom model's rebuild trips over (MemoryError included) is reported as a
    bad file naming the path."""

    class HugeOnLoad(Model):
        def __init__(self, units: int = 3, name: Any = None) -> None:
            super().__init__(name=name)
            self.units = units
            self.dense = Dense(units, input_shape=(2,), seed=0)

        def forward(self, x: Any, training: bool = False, lengths: Any = None) -> Any:
            return self.dense(x)

        def backward(self, dy: Any) -> Any:
            return self.dense.backward(dy)

        def get_config(self) -> dict:
            return {"units": self.units, "name": self.name}

        @classmethod
        def from_config(cls, config: dict) -> HugeOnLoad:
            if config["units"] > 10**6:
                raise MemoryError("Unable to allocate 335. TiB")
            return cls(**config)

    path = tmp_path / "huge.npz"
    HugeOnLoad().save(path)
    assert isinstance(load_model(path, custom_objects={"HugeOnLoad": HugeOnLoad}), HugeOnLoad)
    _rewrite(path, edit_config=lambda c: c["model"]["config"].update(units=10**7))
    with pytest.raises(rio.ModelFileError, match=rf"{path}.*MemoryError"):
        load_model(path, custom_objects={"HugeOnLoad": HugeOnLoad})


def _checkpoint(tmp_path: Path) -> Path:
    x, y = _data()
    trainer = Trainer(_model(), "mse", "adam")
    trainer.fit(x, y, epochs=1, verbose=0)
    return trainer.save(tmp_path / "ckpt.npz")


@pytest.mark.parametrize(
    "rng_states",
    [
        {"7": None},  # no such layer (was IndexError)
        {"x": None},  # not an index (was ValueError)
        {"0/layer": None},  # SimpleRNN wraps nothing (was AttributeError)
        {"0/__class__": None},  # no attribute walks
        {"-1": None},  # negative indices do not wrap around
        {"2": None},  # a layer without a random stream (Dense)
        {"1": {"bit_generator": "PCG64", "state": "garbage"}},
        {"1": "not a state"},
        ["1"],  # not an object (was AttributeError)
    ],
)
def test_bad_rng_states_are_model_file_errors(tmp_path: Path, rng_states: Any) -> None:
    path = _checkpoint(tmp_path)
    _rewrite(path, edit_config=lambda c: c["trainer"].update(rng_states=rng_states))
    with pytest.raises(rio.ModelFileError, match=str(path)):
        Trainer.load(path)


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.update(optimizer_state=[{"array": "s0"}]),  # no key
        lambda t: t.update(optimizer_state=["s0"]),
        lambda t: t.update(optimizer_state={"key": "s0"}),
        lambda t: t.update(epoch="three"),
    ],
)
def test_malformed_trainer_entries_are_model_file_errors(tmp_path: Path, edit: Any) -> None:
    path = _checkpoint(tmp_path)
    _rewrite(path, edit_config=lambda c: edit(c["trainer"]))
    with pytest.raises(rio.ModelFileError, match=str(path)):
        Trainer.load(path)


def _patch_central_directory(path: Path, offset: int, value: int) -> None:
    """Overwrite a 2-byte field of the first central directory entry (offset from its
    signature): 6 = version needed to extract, 10 = compression method."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    assert at > 0
    data[at + offset : at + offset + 2] = value.to_bytes(2, "little")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "offset,value,why",
    [
        (6, 99, "zip file version"),  # zipfile: NotImplementedError at open
        (10, 77, "compression method is not supported"),  # NotImplementedError at read
    ],
)
def test_unsupported_zip_features_are_model_file_errors(
    tmp_path: Path, offset: int, value: int, why: str
) -> None:
    path = _saved(tmp_path)
    _patch_central_directory(path, offset, value)
    with pytest.raises(rio.ModelFileError, match=rf"{path}.*{why}"):
        load_model(path)


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    _rewrite(path, edit_arrays=lambda a: a.update(w0=np.array([{"evil": 1}], dtype=object)))
    with pytest.raises(rio.ModelFileError, match="object array"):
        load_model(path)


def test_loading_never_allows_pickle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _saved(tmp_path)
    seen = []
    real_load = np.load

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    load_model(path)
    assert seen == [False]


# -- checkpoints -------------------------------------------------------------------------------


def _data() -> tuple[np.ndarray, np.ndarray]:
    r = np.random.default_rng(3)
    x = r.standard_normal((48, 5, 3)).astype(np.float32)
    return x, x.mean(axis=(1, 2))[:, None]


def _model() -> Sequential:
    return Sequential(
        [
            SimpleRNN(8, input_shape=(5, 3), seed=0, name="rnn"),
            Dropout(0.25, seed=5, name="drop"),
            Dense(1, seed=1, name="out"),
        ]
    )


def test_resuming_from_checkpoint_equals_uninterrupted(tmp_path: Path) -> None:
    x, y = _data()
    straight = _model()
    Trainer(straight, "mse", "adam", metrics=["mae"]).fit(
        x, y, epochs=4, batch_size=8, verbose=0, seed=11
    )

    first = _model()
    trainer = Trainer(first, "mse", "adam", metrics=["mae"])
    trainer.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=11)
    trainer.save(tmp_path / "ckpt.npz")
    resumed = Trainer.load(tmp_path / "ckpt.npz")
    assert resumed.epoch == 2 and resumed.optimizer.iterations == 12
    assert [m.name for m in resumed.metrics] == ["mae"]
    resumed.fit(x, y, epochs=4, initial_epoch=resumed.epoch, batch_size=8, verbose=0, seed=11)
    for key, value in straight.params.items():
        np.testing.assert_array_equal(resumed.model.params[key], value)


@pytest.mark.parametrize("saved_key", ["1/0", "1/layer"], ids=["today", "before sublayers()"])
def test_random_streams_of_wrapped_layers_are_restored(tmp_path: Path, saved_key: str) -> None:
    """A wrapped Dropout's stream is keyed by its position in sublayers(); files written when
    the key was the wrapper's attribute name ("1/layer") load the same."""
    model = Sequential(
        [
            SimpleRNN(4, return_sequences=True, input_shape=(5, 3), seed=0, name="rnn"),
            TimeDistributed(Dropout(0.5, seed=2), name="drop"),
        ]
    )
    trainer = Trainer(model, "mse", "sgd")
    drop = model.layers[1].layer
    drop.rng.random(7)  # move the stream on from its seed
    path = trainer.save(tmp_path / "ckpt.npz")
    expected = drop.rng.bit_generator.state

    def rekey(config: dict[str, Any]) -> None:
        states = config["trainer"]["rng_states"]
        assert list(states) == ["1/0"]
        states[saved_key] = states.pop("1/0")

    _rewrite(path, edit_config=rekey)
    restored = Trainer.load(path).model.layers[1].layer
    assert restored.rng.bit_generator.state == expected


def test_compiled_model_save_keeps_the_optimizer(tmp_path: Path) -> None:
    x, y = _data()
    model = _model()
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    restored = load_model(tmp_path / "m.npz")
    assert restored.trainer is not None and restored.trainer.optimizer.iterations == 2
    restored.fit(x, y, epochs=1, verbose=0)  # training continues with the restored moments
    with pytest.raises(rio.ModelFileError, match="without a trainer"):
        sine_model().save(tmp_path / "plain.npz")
        Trainer.load(tmp_path / "plain.npz")


def test_checkpoint_with_foreign_optimizer_state_is_refused(tmp_path: Path) -> None:
    x, y = _data()
    trainer = Trainer(_model(), "mse", "adam")
    trainer.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "c.npz"
    trainer.save(path)

    def rename(config: dict) -> None:
        for entry in config["trainer"]["optimizer_state"]:
            entry["key"] = entry["key"].replace("rnn/", "other/")

    _rewrite(path, edit_config=rename)
    with pytest.raises(rio.ModelFileError, match="optimizer state"):
        Trainer.load(path)


def test_metadata_and_trainable_flags_round_trip(tmp_path: Path) -> None:
    model = Sequential([Embedding(5, 3, input_shape=(4,), seed=0), SimpleRNN(2, seed=1)])
    model.layers[0].trainable = False
    model.metadata["char_vocab"] = {"chars": "abcd", "note": ["json", 1]}
    path = model.save(tmp_path / "m.npz")
    loaded = load_model(path)
    assert loaded.metadata == model.metadata
    assert [layer.trainable for layer in loaded.layers] == [False, True]


@pytest.mark.parametrize(
    "load",
    [
        "from rnnkit.training import Trainer; print(type(Trainer.load(path).model).__name__)",
        "from rnnkit import saving; print(type(saving.read_model(path)[0]).__name__)",
    ],
    ids=["Trainer.load", "saving.read_model"],
)
def test_a_fresh_process_loads_without_importing_the_models_first(
    tmp_path: Path, load: str
) -> None:
    """The loaders sit below rnnkit.models in the import graph: a file names the module of its
    model class, and one of rnnkit's own is imported on the way."""
    path = tmp_path / "ckpt.npz"
    Trainer(_model(), "mse", "adam").save(path)
    done = subprocess.run(
        [sys.executable, "-c", f"path = {str(path)!r}; {load}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "Sequential"  # (an editable install may log first)


def test_a_file_never_imports_a_module_outside_rnnkit(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    _model().save(path)
    _rewrite(path, edit_config=lambda c: c["model"].update(module="antigravity"))
    assert load_model(path).layers  # the module is ignored: Sequential is known already
    _rewrite(path, edit_config=lambda c: c["model"].update(class_name="Unknown"))
    with pytest.raises(rio.ModelFileError, match="unknown model class 'Unknown'"):
        load_model(path)
    assert "antigravity" not in sys.modules
