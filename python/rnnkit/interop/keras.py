"""Weights in and out of Keras 3: :func:`from_keras` and :func:`to_keras`, exact both ways.

Keras is imported inside the functions only (never when rnnkit is imported); without it they
raise an ImportError that names ``pip install "rnnkit[keras]"``. Any Keras backend works (the
tests run JAX).

rnnkit's layers are Keras's: the same class names, constructor arguments and weight layouts
(``kernel``, ``recurrent_kernel``, ``bias``; LSTM gates i, f, c, o; GRU gates z, r, h with a
``(2, 3H)`` bias when ``reset_after``), so a layer maps to the class of the same name and its
weights move by ``get_weights``/``set_weights`` unchanged:

=========================================  ===============================================
Keras 3                                    rnnkit
=========================================  ===============================================
``SimpleRNN``, ``LSTM``, ``GRU``            the same, with ``units``, ``activation``,
(``reset_after`` either way)               ``recurrent_activation``, ``use_bias``,
                                           ``return_sequences``, ``go_backwards``,
                                           ``stateful``, ``unroll``, ``dropout``,
                                           ``recurrent_dropout``, ``seed``,
                                           ``unit_forget_bias``, ``reset_after``
``Dense``, ``Activation``                  the same (activations by name)
``Embedding`` (``mask_zero``),             the same; the mask reaches the recurrent layers
``Masking``
``Bidirectional`` (every merge mode)       ``Bidirectional`` with both directions' layers
``TimeDistributed``, ``Dropout``,          the same
``RepeatVector``
``Input`` (``batch_size`` too)             ``Input``
``Sequential``; a functional ``Model``     ``Sequential`` (a functional ``Model`` when the
that is one chain input -> output          last layer returns its states; :func:`to_keras`
                                           also takes an rnnkit functional chain)
=========================================  ===============================================

Names, ``trainable``, the dtype (float32 or float64) and the initialisers travel too. Every key
of a layer's ``get_config()`` is accounted for: what rnnkit cannot express is refused with a
ValueError naming the layer and the option (never dropped silently); a layer class it has no
equivalent for (a custom layer, a subclass) is a TypeError. In particular:

- Regularizers and constraints shape training only (a loss penalty, a projection after each
  update); rnnkit has neither, so :func:`from_keras` refuses them unless ``strict=False``, which
  drops them: the outputs are the same, further training in rnnkit is not Keras's. The same
  goes for an initialiser one side has no equivalent for.
- ``return_state=True`` on the last layer: :func:`from_keras` gives a functional rnnkit
  ``Model`` of the same chain (outputs ``[output, *states]``, which a Sequential cannot
  return), and :func:`to_keras` takes such a model back to a Keras Sequential. Earlier in the
  chain it is refused (the next layer would get a list).
- ``zero_output_for_mask`` is accepted and not kept: what a ``return_sequences`` output holds at
  masked steps follows the mask's form in rnnkit (README, "Keras features rnnkit does not
  support"); every valid step and every last output is Keras's.
- Towards Keras, ``SimpleRNN(layer_norm=True)`` has no built-in Keras layer: refused. rnnkit's
  ``backend`` (which kernels run) has no meaning there and is dropped, as are the per-layer
  ``seed`` of ``Dense`` and ``Embedding`` (Keras has none; it drew the initial weights only).
  A stateful layer needs a fixed batch size in Keras: give the rnnkit model
  ``Input(shape, batch_size=N)``.
- Weights travel, not the carried states of stateful layers, the optimizer or the training
  mode. Keras on JAX keeps float64 weights only with ``jax_enable_x64``; :func:`to_keras`
  warns when the backend rounds them. Keras 3.15 computes ``tanh`` in float32 even on float64
  input, so a float64 Keras model with tanh cells is only float32-accurate; rnnkit's float64
  is float64 throughout.
- ``go_backwards=True`` with post-padding reverses only each row's valid steps in rnnkit
  (Keras reverses whole rows): the same last output and states, but a ``return_sequences``
  output's steps sit elsewhere (inside ``Bidirectional`` they are aligned again, as Keras's).
"""

from __future__ import annotations

from ._from_keras import from_keras
from ._to_keras import to_keras

__all__ = ["from_keras", "to_keras"]
