"""Channel selections and shuffles in a traced graph (``archcalc import torch``).

CondenseNet's condensed layers (ShichenLiu/CondenseNet layers.py: CondenseConv,
CondenseLinear) select channels with ``torch.index_select(x, 1, self.index)``, the index a
buffer, and shuffle them with ``ShuffleLayer``, a view, a transpose and a view:

* ``torch.index_select`` or ``Tensor.index_select`` of the channel axis (axis 1: the
  channels of a map, the features of a [B, F] vector) by a constant index is
  ``indexchannels {count: n}``, n the index's length. The spec keeps the count, not the
  entries: any selection of n channels, repeats allowed, has the same shape and counts
  (verify and export build the index i mod C). An index of another axis, an empty one, or
  one computed from the input or from learned tensors is refused;
* ``x.view(B, g, C/g, …)``, ``transpose(1, 2)`` (``.contiguous()`` or not), and a view back
  to [B, C, …] is ``channelshuffle {groups: g}``, when the views and the transpose are read
  only inside the pattern (else the op map takes them one by one).
"""

from __future__ import annotations

import torch

from .import_attention import permutation
from .import_graph import CONST
from .import_map import Unmapped, _arg, _shape

_VIEWS = ("view", "reshape")


def annotate(traced) -> None:
    for node in traced.nodes:
        if traced.decided(node) or not traced.live(node):
            continue
        if _index_select(node):
            try:
                traced.decide(node, _selection(traced, node))
            except Unmapped as e:
                traced.decide(node, e)
            continue
        found = _shuffle(traced, node)
        if found is not None:
            layer, absorbed = found
            for n in absorbed:
                traced.decide(n, None)
            traced.decide(node, layer)


def _index_select(node) -> bool:
    return node.op == "call_function" and node.target is torch.index_select or \
        node.op == "call_method" and node.target == "index_select"


def _selection(traced, node):
    """index_select of the channels by a constant index → indexchannels."""
    x, dim, index = node.args[0], _arg(node, 1, "dim"), _arg(node, 2, "index")
    if not traced.live(x):
        raise Unmapped("torch.index_select of a constant or learned tensor by an index "
                       "computed from the input")
    rank = len(_shape(x))
    if not isinstance(dim, int) or dim % rank != 1:
        raise Unmapped(f"torch.index_select of axis {dim} (indexchannels selects along "
                       "axis 1, the channels)")
    if traced.kind.get(index) != CONST:
        raise Unmapped("torch.index_select by an index that is no constant (a learned "
                       "tensor, or one computed from the input)")
    count = _shape(node)[1]
    if count < 1:
        raise Unmapped("torch.index_select by an empty index (no channels selected)")
    return "indexchannels", dict(count=int(count)), [x]


def _view(node) -> bool:
    return node.op == "call_method" and node.target in _VIEWS or \
        node.op == "call_function" and node.target is torch.reshape


def _shuffle(traced, node):
    """(channelshuffle, the nodes it absorbs) when ``node`` is the view back of a
    view, transpose(1, 2), view; else None."""
    if not _view(node) or not node.args:
        return None
    swapped = node.args[0]
    absorbed = []
    if swapped.op == "call_method" and swapped.target == "contiguous":
        absorbed.append(swapped)
        swapped = swapped.args[0]
    split = swapped.args[0] if swapped.args else None
    if split is None or not hasattr(split, "op") or not _view(split) or \
            permutation(swapped) is None:
        return None
    x = split.args[0]
    shapes = [_shape(n) for n in (x, split, swapped, node)]
    if any(s is None for s in shapes):
        return None
    (b, c, *rest), parts = shapes[0], shapes[1]
    rank = len(parts)
    if len(shapes[0]) < 3 or rank != len(shapes[0]) + 1 or \
            permutation(swapped) != (0, 2, 1, *range(3, rank)):
        return None
    g = parts[1]
    if tuple(parts) != (b, g, c // g, *rest) or g * (c // g) != c or \
            tuple(shapes[3]) != tuple(shapes[0]):
        return None
    absorbed += [swapped, split]
    chain = [split, swapped, *absorbed[:-2], node]
    if any(traced.tensor_users(n) != [m] for n, m in zip(chain, chain[1:])) or \
            any(traced.decided(n) for n in absorbed):
        return None
    return ("channelshuffle", dict(groups=int(g)), [x]), absorbed
