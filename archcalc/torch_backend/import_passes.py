"""Passes over the whole traced graph before each node is mapped on its own (``archcalc
import torch``).

Some layers are not one fx node: an attention written by hand is a dozen (projections,
head views, the product of queries and keys, softmax, the product with values, the
merge of the heads, the output projection), and a position table is a parameter read,
sliced and added. These passes see the whole graph: they tell the values computed from the
input (live) from constants (buffers, masks, ``arange``) and learned tensors (parameters
read in the forward), and write what they decide for a node into ``node.meta[ANNOTATION]``,
which ``import_map.map_node`` returns before mapping the node alone. The passes, in order:
window partitions and merges across the batch axis (``import_windows.py``), channel
selections by a constant index and channel shuffles (``import_channels.py``), −inf pads
before max pools (``import_same_pools.py``), attention
subgraphs (``import_attention.py``), functional calls on a module's own parameters
(``import_functional.py``), RMS norm written out (``import_rmsnorm.py``), learned tensors
combined with the input (``import_learned.py``), products and the other ops of attention
that was not recognised whole (``import_products.py``); then constants and learned tensors
themselves are no layer, and a live op that reads one in a way no pass took is refused.
"""

from __future__ import annotations

from . import (import_attention, import_channels, import_functional, import_learned,
               import_products, import_rmsnorm, import_same_pools, import_windows)
from .import_graph import CONST, LEARNED, LIVE, Traced, what
from .import_map import Unmapped, _shape, op_name


def annotate(gm, modules: dict) -> None:
    """Decide the nodes that only the whole graph explains (see the module's docstring)."""
    traced = Traced(gm, modules)
    import_windows.annotate(traced)
    import_channels.annotate(traced)
    import_same_pools.annotate(traced)
    import_attention.annotate(traced)
    import_functional.annotate(traced)
    import_rmsnorm.annotate(traced)
    import_learned.annotate(traced)
    import_products.annotate(traced)
    for node in traced.nodes:
        if traced.decided(node) or node.op in ("placeholder", "output"):
            continue
        kind = traced.kind.get(node)
        if kind in (CONST, LEARNED):
            traced.decide(node, None)  # read by a layer that was decided above
        elif kind == LIVE:
            read = [i for i in node.all_input_nodes if traced.kind.get(i) in (CONST, LEARNED)]
            if read and _shape(node) is not None:
                traced.decide(node, Unmapped(f"{op_name(node)} of {what(read[0], traced)}"))


