"""Models: :class:`Sequential` (a linear stack of layers), :class:`Model` (the base class for
models with their own forward/backward over several layers) and :class:`Functional` (what
``Model(inputs, outputs)`` makes: a graph of layer calls). Mirrors ``keras.models``:
``Sequential``, ``Model``, ``load_model``.

The classes live in ``_model.py`` (:class:`Model` and :class:`Functional`, which
``Model.__new__`` makes, so they cannot live apart without an import circle; and
:func:`load_model`) and ``_sequential.py`` (:class:`Sequential`); the graph machinery is in
:mod:`rnnkit.functional`.

A model is a layer-like object: ``forward(x, training=False, lengths=None)`` returns the output,
``backward(dy)`` backpropagates and overwrites every layer's ``grads``; ``params``/``grads`` are
flat dicts ``"layer_name/key" -> array`` holding the layers' own arrays (updating them updates the
layers). Training goes through :class:`rnnkit.training.Trainer`; the Keras-familiar
``compile``/``fit``/``evaluate``/``predict`` are thin wrappers over it::

    from rnnkit.models import Sequential
    from rnnkit.layers import SimpleRNN, Dense

    model = Sequential()
    model.add(SimpleRNN(10, input_shape=(3, 1)))
    model.add(Dense(1))
    model.compile(loss="mean_squared_error", optimizer="adam")
    history = model.fit(X, Y, epochs=100, batch_size=32, verbose=0)
    model.save("sine.npz")                      # one .npz: weights + JSON config

Writing a custom model (e.g. an encoder-decoder): subclass :class:`Model`, assign layers as
attributes in ``__init__`` (they are tracked in assignment order and listed by ``layers``),
implement ``forward`` and ``backward``, and ``get_config`` if ``__init__`` takes arguments::

    class Seq2Seq(Model):
        def __init__(self, units=16, out_dim=1, name=None):
            super().__init__(name=name)
            self.units, self.out_dim = units, out_dim
            self.encoder = SimpleRNN(units, return_state=True)
            self.decoder = SimpleRNN(units, return_sequences=True)
            self.head = TimeDistributed(Dense(out_dim))

        def forward(self, x, training=False, lengths=None):
            source, target_in = x                       # fit() batches tuples of arrays
            _, h = self.encoder(source, training=training)
            hs = self.decoder(target_in, training=training, initial_state=h)
            return self.head(hs, training=training)

        def backward(self, dy):
            dhs = self.head.backward(dy)
            self.decoder.backward(dhs)
            # the decoder's dL/dh0 is the gradient of the encoder's final state
            self.encoder.backward([None, self.decoder.d_initial_state])
            return None

        def get_config(self):
            return {"units": self.units, "out_dim": self.out_dim, "name": self.name}

The Trainer, ``save`` and :func:`load_model` work on any such subclass: subclasses register
themselves by class name, so ``load_model`` finds them (or pass ``custom_objects``).

Or write only Keras's ``call(inputs, training=None)`` composing the layers: ``forward`` and
``backward`` are then derived from the layer calls ``call()`` makes, traced on symbolic tensors
(see :mod:`rnnkit.functional.traced`)::

    class Seq2Seq(Model):
        ...                                             # the same __init__ and get_config

        def call(self, inputs, training=None):
            source, target_in = inputs
            _, h = self.encoder(source)
            return self.head(self.decoder(target_in, initial_state=h))
"""

from __future__ import annotations

from ..network import get_model_class, num_samples, take
from ._model import Functional, Model, load_model
from ._sequential import Sequential

# The public home, which saved files and reprs name (the private modules are a layout detail).
for _cls in (Functional, Model, Sequential):
    _cls.__module__ = __name__
load_model.__module__ = __name__

__all__ = [
    "Functional",
    "Model",
    "Sequential",
    "get_model_class",
    "load_model",
    "num_samples",
    "take",
]
