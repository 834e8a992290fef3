"""Exported ATen calls as archcalc layer types (``archcalc import torch``'s fallback).

When torch.fx cannot trace a forward, ``torch.export`` records it as calls of ATen
operators (``aten.conv2d``, ``aten.batch_norm``, ``aten.add.Tensor``, …) on the user input
and on the module's parameters and buffers, which arrive as placeholders. ``map_aten``
takes one such node and gives the layer type, the arguments that differ from archcalc's
defaults and the input nodes (activations only), as ``import_map.map_node`` does for fx;
the sizes a layer needs (a convolution's out channels and kernel) are read from its weight
placeholder's shape. Spec axes have no batch axis: ATen's dim d ≥ 1 is the spec's d − 1.
"""

from __future__ import annotations

import operator

import torch

from .import_map import Unmapped, _dim, _one, _opts, _pool_layer
from .import_same_pools import padding_of, per_axis

aten = torch.ops.aten
_FULL = 2 ** 63 - 1  # an open slice end as ATen records it


def shape_of(node):
    """The node's traced shape (``meta['val']``), or None for a non-tensor."""
    val = node.meta.get("val") if hasattr(node, "meta") else None
    return tuple(int(d) for d in val.shape) if isinstance(val, torch.Tensor) else None


def _packet(target):
    return getattr(target, "overloadpacket", None)


_ACTS = {aten.relu: "relu", aten.relu_: "relu", aten.silu: "silu", aten.silu_: "silu",
         aten.sigmoid: "sigmoid", aten.tanh: "tanh", aten.hardswish: "hardswish",
         aten.hardswish_: "hardswish", aten.hardsigmoid: "hardsigmoid", aten.mish: "mish",
         aten.relu6: "relu6"}
_IDENTITY = {aten.clone, aten.contiguous, aten.alias, aten.detach, aten.lift_fresh_copy}


def _arg(node, i, key, default=None):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(key, default)


def _is_value(node, activations: set) -> bool:
    return getattr(node, "name", None) in activations


def map_aten(node, activations: set):
    """(type, args, inputs) of one exported call; None for a call that is no layer;
    ``activations``: the names of nodes that carry the network's values (not weights)."""
    if node.target is operator.getitem:
        return None  # the first result of a multi-result op (batch norm, pools with indices)
    packet = _packet(node.target)
    if packet is None:
        raise Unmapped(f"function {getattr(node.target, '__name__', node.target)}")
    if shape_of(node) is None and packet not in (aten.max_pool2d_with_indices,
                                                 aten._native_batch_norm_legit_no_training):
        return None  # sizes, not tensors
    x = node.args[0] if node.args else None
    if packet in _IDENTITY:
        return None
    if packet in _ACTS:
        return _ACTS[packet], {}, [x]
    if packet is aten.gelu:
        return "gelu", _opts(approximate=(node.kwargs.get("approximate", "none"), "none")), [x]
    if packet in (aten.hardtanh, aten.hardtanh_):
        lo, hi = _arg(node, 1, "min_val", -1.0), _arg(node, 2, "max_val", 1.0)
        if (lo, hi) == (0.0, 6.0):
            return "relu6", {}, [x]
        return "hardtanh", _opts(min=(lo, -1.0), max=(hi, 1.0)), [x]
    if packet in (aten.leaky_relu, aten.leaky_relu_):
        return "leakyrelu", _opts(slope=(_arg(node, 1, "negative_slope", 0.01), 0.01)), [x]
    if packet in (aten.conv1d, aten.conv2d, aten.conv3d, aten.convolution):
        return _conv(node, packet)
    if packet in (aten.conv_transpose1d, aten.conv_transpose2d, aten.conv_transpose3d):
        return _conv_transpose(node, _arg(node, 3, "stride", 1), _arg(node, 4, "padding", 0),
                               _arg(node, 5, "output_padding", 0), _arg(node, 6, "groups", 1),
                               _arg(node, 7, "dilation", 1))
    if packet in (aten.batch_norm, aten._native_batch_norm_legit_no_training):
        return _batch_norm(node, packet)
    if packet is aten.layer_norm:
        w, b = _arg(node, 2, "weight"), _arg(node, 3, "bias")
        return "layernorm", _opts(shape=(list(_arg(node, 1, "normalized_shape")), None),
                                  eps=(_arg(node, 4, "eps", 1e-5), 1e-5),
                                  affine=(w is not None, True),
                                  bias=(b is not None or w is None, True)), [x]
    if packet is aten.group_norm:
        return "groupnorm", dict(groups=_arg(node, 1, "num_groups"), **_opts(
            eps=(_arg(node, 4, "eps", 1e-5), 1e-5),
            affine=(_arg(node, 2, "weight") is not None, True))), [x]
    if packet is aten.linear:
        w, b = node.args[1], _arg(node, 2, "bias")
        return "linear", dict(out=shape_of(w)[0], **_opts(bias=(b is not None, True))), [x]
    if packet is aten.addmm:  # bias + x @ weight.T, the weight transposed by aten.t
        w = node.args[2]
        if _packet(getattr(w, "target", None)) is aten.t:
            return "linear", dict(out=shape_of(node)[-1]), [node.args[1]]
        raise Unmapped("aten.addmm of two activations")
    if packet in (aten.max_pool1d, aten.max_pool2d, aten.max_pool3d,
                  aten.max_pool2d_with_indices):
        nd = len(shape_of(x)) - 2
        padding = _arg(node, 3, "padding", 0)
        padded = _padded_pool(x)
        if padded is not None:
            x, padding = padded
        t, a = _pool_layer("max", nd, _arg(node, 1, "kernel_size"),
                           _arg(node, 2, "stride") or None, padding,
                           _arg(node, 5, "ceil_mode", False), _arg(node, 4, "dilation", 1),
                           True)
        return t, a, [x]
    if packet in (aten.avg_pool1d, aten.avg_pool2d, aten.avg_pool3d):
        nd = len(shape_of(x)) - 2
        t, a = _pool_layer("avg", nd, _arg(node, 1, "kernel_size"),
                           _arg(node, 2, "stride") or None, _arg(node, 3, "padding", 0),
                           _arg(node, 4, "ceil_mode", False), 1,
                           _arg(node, 5, "count_include_pad", True))
        return t, a, [x]
    if packet in (aten.adaptive_avg_pool1d, aten.adaptive_avg_pool2d, aten.adaptive_avg_pool3d,
                  aten._adaptive_avg_pool2d, aten.adaptive_max_pool2d):
        kind = "max" if packet is aten.adaptive_max_pool2d else "avg"
        nd = len(shape_of(x)) - 2
        return f"adaptive{kind}pool{nd}d", dict(out=_one(shape_of(node)[2:])), [x]
    if packet in (aten.add, aten.add_, aten.mul, aten.mul_):
        a, b = node.args[0], node.args[1] if len(node.args) > 1 else None
        if _is_value(a, activations) and _is_value(b, activations) and \
                _arg(node, 2, "alpha", 1) == 1:
            return ("add" if packet in (aten.add, aten.add_) else "mul"), {}, [a, b]
        raise Unmapped(f"aten.{packet.__name__} with a constant")
    if packet is aten.cat:
        return "concat", _opts(dim=(_dim(_arg(node, 1, "dim", 0)), 0)), list(node.args[0])
    if packet is aten.flatten:
        return "flatten", _opts(start=(_dim(_arg(node, 1, "start_dim", 0)), 0),
                                end=(_dim(_arg(node, 2, "end_dim", -1)), -1)), [x]
    if packet in (aten.view, aten.reshape, aten._unsafe_view):
        out, given = shape_of(node), shape_of(x)
        if given[0] != out[0]:
            raise Unmapped(f"aten.{packet.__name__} across the batch axis")
        if len(out) == 2:
            return "flatten", {}, [x]
        return "reshape", dict(shape=list(out[1:])), [x]
    if packet is aten.permute:
        dims = list(node.args[1])
        if dims[0] != 0:
            raise Unmapped("aten.permute of the batch axis")
        return "permute", dict(dims=[d - 1 for d in dims[1:]]), [x]
    if packet in (aten.mean, aten.amax):
        return _reduce(node, packet, x)
    if packet in (aten.dropout, aten.dropout_):
        return "dropout", _opts(p=(_arg(node, 1, "p", 0.5), 0.5)), [x]
    if packet in (aten._softmax, aten.softmax):
        return "softmax", dict(dim=_dim(_arg(node, 1, "dim"))), [x]
    if packet is aten.slice:
        return _slice(node, x)
    if packet in (aten.pad, aten.constant_pad_nd):
        return _pad(node, x)
    raise Unmapped(f"aten.{packet.__name__}")


def _conv(node, packet):
    x, w = node.args[0], node.args[1]
    if packet is aten.convolution:
        stride, padding, dilation, transposed, output_padding, groups = node.args[3:9]
        if transposed:
            return _conv_transpose(node, stride, padding, output_padding, groups, dilation)
    else:
        stride = _arg(node, 3, "stride", 1)
        padding = _arg(node, 4, "padding", 0)
        dilation = _arg(node, 5, "dilation", 1)
        groups = _arg(node, 6, "groups", 1)
    wshape = shape_of(w)
    padding = padding if isinstance(padding, str) else _one(padding)
    return f"conv{len(wshape) - 2}d", dict(
        out=wshape[0], kernel=_one(wshape[2:]),
        **_opts(stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1),
                groups=(groups, 1), bias=(_arg(node, 2, "bias") is not None, True))), [x]


def _conv_transpose(node, stride, padding, output_padding, groups, dilation):
    x, w = node.args[0], node.args[1]
    wshape = shape_of(w)  # [in, out / groups, k...]
    return f"convtranspose{len(wshape) - 2}d", dict(
        out=wshape[1] * groups, kernel=_one(wshape[2:]),
        **_opts(stride=(stride, 1), padding=(padding, 0), output_padding=(output_padding, 0),
                groups=(groups, 1), bias=(_arg(node, 2, "bias") is not None, True),
                dilation=(dilation, 1))), [x]


def _batch_norm(node, packet):
    x = node.args[0]
    weight, running = _arg(node, 1, "weight"), _arg(node, 3, "running_mean")
    if packet is aten.batch_norm:
        momentum, eps = _arg(node, 6, "momentum", 0.1), _arg(node, 7, "eps", 1e-5)
    else:
        momentum, eps = _arg(node, 5, "momentum", 0.1), _arg(node, 6, "eps", 1e-5)
    nd = max(len(shape_of(x)) - 2, 1)
    return f"batchnorm{nd}d", _opts(eps=(eps, 1e-5), momentum=(momentum, 0.1),
                                    affine=(weight is not None, True),
                                    track_running_stats=(running is not None, True)), [x]


def _reduce(node, packet, x):
    dims = _arg(node, 1, "dim")
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    rank = len(shape_of(x))
    keep = _arg(node, 2, "keepdim", False)
    if sorted(d % rank for d in dims) == list(range(2, rank)):
        kind = "avg" if packet is aten.mean else "max"
        if not keep:
            return f"global{kind}pool", {}, [x]
        return f"adaptive{kind}pool{rank - 2}d", dict(out=1), [x]
    raise Unmapped(f"aten.{packet.__name__} over dims {list(dims)}")


def _slice(node, x):
    """x[:, a:b] → slice; x[..., ::s] of a spatial axis → a 1 x 1 max pool with stride s."""
    dim, start = _arg(node, 1, "dim", 0), _arg(node, 2, "start", None)
    stop, step = _arg(node, 3, "end", None), _arg(node, 4, "step", 1)
    rank = len(shape_of(x))
    dim %= rank
    start = start or 0
    stop = None if stop is None or stop >= _FULL or stop >= shape_of(x)[dim] else stop
    if dim == 0:
        raise Unmapped("aten.slice of the batch axis")
    if step != 1 and start == 0 and stop is None and dim >= 2:
        steps = [1] * (rank - 2)
        steps[dim - 2] = step
        return f"maxpool{rank - 2}d", dict(kernel=1, stride=_one(steps)), [x]
    if step == 1:
        return "slice", dict(dim=dim - 1, **_opts(start=(start, 0), stop=(stop, None))), [x]
    raise Unmapped("aten.slice with a step and bounds")


def _pad_value(node):
    return _arg(node, 3 if _packet(node.target) is aten.pad else 2, "value", 0) or 0


def _pad(node, x):
    pads = list(_arg(node, 1, "pad"))
    value = _pad_value(node)
    mode = _arg(node, 2, "mode", "constant") if _packet(node.target) is aten.pad else "constant"
    nd = len(shape_of(x)) - 2
    if mode == "constant" and value == float("-inf") and _padded_pool(node, check=False):
        return None  # the max pool that reads it pads (_padded_pool)
    if mode == "constant" and value == 0:
        if len(pads) == 2 * (nd + 1) and all(p == 0 for p in pads[:2 * nd]):
            return "padchannels", _opts(before=(pads[-2], 0), after=(pads[-1], 0)), [x]
        if len(pads) == 2 * nd and nd in (1, 2, 3):
            pairs = [[pads[2 * i], pads[2 * i + 1]] for i in range(nd)][::-1]
            return "zeropad", dict(padding=pairs), [x]
    raise Unmapped("aten.pad of these axes")


_MAX_POOLS = ("max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices")


def _padded_pool(pad, check: bool = True):
    """A −inf pad of the spatial axes read only by a max pool of its own padding 0 (Keras
    'same' max pooling: ``F.pad(x, pads, value=-inf)`` then the pool) is that pool's
    padding: 'same' where the pads are Keras's (the extra pixel after), a number where they
    are equal and at most half the kernel. (the pad's input, the padding), else None."""
    if _packet(getattr(pad, "target", None)) not in (aten.pad, aten.constant_pad_nd) or \
            _pad_value(pad) != float("-inf") or len(pad.users) != 1:
        return None
    if _packet(pad.target) is aten.pad and _arg(pad, 2, "mode", "constant") != "constant":
        return None
    pool = next(iter(pad.users))
    if _packet(pool.target) is None or _packet(pool.target).__name__ not in _MAX_POOLS or \
            pool.args[0] is not pad:
        return None
    x, pads = pad.args[0], list(_arg(pad, 1, "pad"))
    nd = len(shape_of(x)) - 2
    kernel = per_axis(_arg(pool, 1, "kernel_size"), nd)
    stride = per_axis(_arg(pool, 2, "stride") or kernel, nd)
    if len(pads) != 2 * nd or per_axis(_arg(pool, 3, "padding", 0), nd) != [0] * nd or \
            per_axis(_arg(pool, 4, "dilation", 1), nd) != [1] * nd or \
            _arg(pool, 5, "ceil_mode", False):
        return None
    if not check:
        return x, None
    return x, padding_of(pads, list(shape_of(x)[2:]), kernel, stride, "aten.pad")


