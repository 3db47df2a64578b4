"""The functional API's machinery: a graph of layer calls run forward and backward
(:class:`GraphNetwork`, which :class:`rnnkit.models.Model` becomes for ``Model(inputs,
outputs)``), per-call caches of shared layers, the graph's JSON config and summary, and the
losses and logs of several outputs. The symbolic tensors themselves live with the layers
(:mod:`rnnkit.layers.symbolic`), since calling a layer records them."""

from __future__ import annotations

from .graph_network import GraphNetwork

__all__ = ["GraphNetwork"]
