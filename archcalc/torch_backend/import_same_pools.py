"""A −inf pad read only by a max pool, as that pool's padding (``archcalc import torch``).

Keras 'same' max pooling is written in PyTorch as ``F.pad(x, pads, value=-inf)`` and then
the pool (with padding 0): archcalc export writes it so, as a ``Pad`` module before
``nn.MaxPool2d``, and so do ports of Keras models. The pair is one max pool with padding
'same' where the pads are Keras's (the extra pixel after), or a number where they are
equal on both sides and at most half the kernel; any other −inf pad before a max pool is
refused. ``padding_of`` decides that for torch.fx's graph here and torch.export's
(``import_aten.py``).
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import nn

from .import_map import Unmapped, _arg, _one, _pool_layer, _shape

_POOL_FUNCS = {F.max_pool1d: 1, F.max_pool2d: 2, F.max_pool3d: 3}
_POOL_MODULES = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3}


def padding_of(pads, sizes, kernel, stride, what: str):
    """The max pool padding that a −inf pad (F.pad's order: last axis first) is: 'same',
    a number, or Unmapped."""
    from ..layers.window import keras_same_pads

    nd = len(sizes)
    pairs = [tuple(pads[2 * i:2 * i + 2]) for i in range(nd)][::-1]
    if all(p == tuple(keras_same_pads(n, k, s)) for p, n, k, s in
           zip(pairs, sizes, kernel, stride)):
        return "same"
    if all(a == b and a <= k // 2 for (a, b), k in zip(pairs, kernel)):
        return _one([a for a, _ in pairs])
    raise Unmapped(f"{what} of {list(pads)} with -inf before a max pool (neither Keras "
                   "'same' nor one padding per side within half the kernel)")


def per_axis(v, nd: int) -> list:
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    return v * nd if len(v) == 1 else v


def annotate(traced) -> None:
    for node in traced.nodes:
        if traced.decided(node) or not traced.live(node) or not _inf_pad(node):
            continue
        pool = _pool_after(traced, node)
        if pool is None:
            continue  # the op map refuses the pad
        nd, kernel, stride = pool[1:]
        x, pads = node.args[0], list(_arg(node, 1, "pad"))
        if len(pads) != 2 * nd:
            continue
        try:
            padding = padding_of(pads, list(_shape(x)[2:]), kernel, stride, "F.pad")
        except Unmapped as e:
            traced.decide(node, e)
            continue
        kind, args = _pool_layer("max", nd, kernel, stride, padding, False, 1, True)
        traced.decide(node, None)  # the pool pads
        traced.decide(pool[0], (kind, args, [x]))


def _inf_pad(node) -> bool:
    if node.op != "call_function" or node.target is not F.pad:
        return False
    value = _arg(node, 3, "value", None)
    return _arg(node, 2, "mode", "constant") == "constant" and isinstance(value, float) and \
        math.isinf(value) and value < 0


def _pool_after(traced, pad):
    """(the pool node, its axes, kernel, stride) of the one max pool with padding 0,
    dilation 1 and floor mode that alone reads the pad, else None."""
    users = list(pad.users)
    if len(users) != 1 or users[0].args[:1] != (pad,):
        return None
    pool = users[0]
    if pool.op == "call_function" and pool.target in _POOL_FUNCS:
        nd = _POOL_FUNCS[pool.target]
        kernel = _arg(pool, 1, "kernel_size")
        stride = _arg(pool, 2, "stride") or kernel
        padding, dilation = _arg(pool, 3, "padding", 0), _arg(pool, 4, "dilation", 1)
        ceil = _arg(pool, 5, "ceil_mode", False)
    elif pool.op == "call_module" and type(traced.modules[pool.target]) in _POOL_MODULES:
        m = traced.modules[pool.target]
        nd, kernel, stride = _POOL_MODULES[type(m)], m.kernel_size, m.stride or m.kernel_size
        padding, dilation, ceil = m.padding, m.dilation, m.ceil_mode
    else:
        return None
    if per_axis(padding, nd) != [0] * nd or per_axis(dilation, nd) != [1] * nd or ceil:
        return None
    return pool, nd, per_axis(kernel, nd), per_axis(stride, nd)
