"""Functional calls on a module's own parameters as their layers (``archcalc import torch``).

A module that subclasses a PyTorch one and calls the functional form itself (torchvision's
``LayerNorm2d``: ``F.layer_norm(x.permute(…), self.normalized_shape, self.weight,
self.bias, self.eps)``) is traced into by torch.fx, so its parameters arrive as ``get_attr``
nodes read by ``F.layer_norm``, ``F.linear``, ``F.conv1d/2d/3d``, ``F.batch_norm`` or
``F.group_norm``. Each such call is the layer the module would have been, named by the
module that owns the weight; the layer counts the parameters, so a parameter read by a
second call (or owned by a module also called as one) is refused rather than counted twice.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .import_map import Unmapped, _arg, _one, _opts, _shape

_CONVS = {F.conv1d: 1, F.conv2d: 2, F.conv3d: 3, torch.conv1d: 1, torch.conv2d: 2,
          torch.conv3d: 3}
_FUNCTIONS = (F.layer_norm, F.linear, F.batch_norm, F.group_norm, torch.layer_norm,
              torch.group_norm, *_CONVS)


def annotate(traced) -> None:
    counted = {id(p) for node in traced.nodes if node.op == "call_module"
               for p in traced.modules[node.target].parameters()}
    for node in traced.nodes:
        if traced.decided(node) or not traced.live(node) or node.op != "call_function" or \
                node.target not in _FUNCTIONS:
            continue
        try:
            layer = _layer(traced, node, counted)
        except Unmapped as e:
            layer = e
        if layer is not None:
            traced.decide(node, layer)


def _param(traced, fn, node, counted: set):
    """The parameter a weight or bias argument reads (a ``get_attr`` of an nn.Parameter);
    None for no argument; Unmapped for anything else or a parameter counted already."""
    if node is None:
        return None
    if getattr(node, "op", None) != "get_attr":
        raise Unmapped(f"function {fn.__name__} of a weight computed in the forward")
    p = traced.attr(node.target)
    if not isinstance(p, nn.Parameter):
        raise Unmapped(f"function {fn.__name__} of the buffer {node.target} as a weight")
    if id(p) in counted:
        raise Unmapped(f"function {fn.__name__} of the learned tensor {node.target}, read "
                       "before (its parameters would be counted twice)")
    counted.add(id(p))
    return node


def _owner(*weights) -> list:
    """The module path naming the layer: that of its first parameter."""
    for w in weights:
        if w is not None:
            owner = str(w.target).rpartition(".")[0]
            return [owner] if owner else []
    return []


def _layer(traced, node, counted: set):
    fn, x = node.target, node.args[0]
    if _shape(x) is None:
        return None
    if fn in (F.linear, *_CONVS) and _arg(node, 1, "weight") is None:
        return None  # no weight: import_map says which call it is
    if fn in (F.layer_norm, torch.layer_norm):
        axes = _arg(node, 1, "normalized_shape")  # perhaps traced sizes (x.shape[-1],)
        axes = len(axes) if isinstance(axes, (list, tuple)) else 1
        shape = [int(n) for n in _shape(x)[-axes:]]
        w = _param(traced, fn, _arg(node, 2, "weight"), counted)
        b = _param(traced, fn, _arg(node, 3, "bias"), counted)
        if w is None and b is not None:
            raise Unmapped("function layer_norm with a bias and no weight")
        last = [_shape(x)[-1]]
        return ("layernorm", _opts(shape=(shape, last), eps=(_arg(node, 4, "eps", 1e-5), 1e-5),
                                   affine=(w is not None, True),
                                   bias=(b is not None or w is None, True)), [x],
                *_owner(w, b))
    if fn is F.linear:
        w = _param(traced, fn, _arg(node, 1, "weight"), counted)
        b = _param(traced, fn, _arg(node, 2, "bias"), counted)
        out = tuple(traced.attr(w.target).shape)[0]
        return ("linear", dict(out=out, **_opts(bias=(b is not None, True))), [x],
                *_owner(w, b))
    if fn in _CONVS:
        w = _param(traced, fn, _arg(node, 1, "weight"), counted)
        b = _param(traced, fn, _arg(node, 2, "bias"), counted)
        padding = _arg(node, 4, "padding", 0)
        wshape = tuple(traced.attr(w.target).shape)
        return (f"conv{_CONVS[fn]}d", dict(
            out=wshape[0], kernel=_one(wshape[2:]),
            **_opts(stride=(_arg(node, 3, "stride", 1), 1),
                    padding=(padding if isinstance(padding, str) else _one(padding), 0),
                    dilation=(_arg(node, 5, "dilation", 1), 1),
                    groups=(_arg(node, 6, "groups", 1), 1), bias=(b is not None, True))),
                [x], *_owner(w, b))
    if fn is F.batch_norm:
        running = _arg(node, 1, "running_mean")
        w = _param(traced, fn, _arg(node, 3, "weight"), counted)
        b = _param(traced, fn, _arg(node, 4, "bias"), counted)
        if (w is None) != (b is None):
            raise Unmapped("function batch_norm with a weight and no bias (or a bias alone)")
        nd = max(len(_shape(x)) - 2, 1)
        return (f"batchnorm{nd}d", _opts(momentum=(_arg(node, 6, "momentum", 0.1), 0.1),
                                         eps=(_arg(node, 7, "eps", 1e-5), 1e-5),
                                         affine=(w is not None, True),
                                         track_running_stats=(running is not None, True)),
                [x], *_owner(w, b))
    if fn in (F.group_norm, torch.group_norm):
        w = _param(traced, fn, _arg(node, 2, "weight"), counted)
        b = _param(traced, fn, _arg(node, 3, "bias"), counted)
        if (w is None) != (b is None):
            raise Unmapped("function group_norm with a weight and no bias (or a bias alone)")
        groups = _arg(node, 1, "num_groups")
        if not isinstance(groups, int):
            raise Unmapped("function group_norm of a number of groups computed in the forward")
        return ("groupnorm", dict(groups=groups,
                                  **_opts(eps=(_arg(node, 4, "eps", 1e-5), 1e-5),
                                          affine=(w is not None, True))), [x], *_owner(w, b))
    return None
