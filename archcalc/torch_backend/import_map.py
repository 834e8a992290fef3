"""Traced PyTorch calls as archcalc layer types (for ``archcalc import torch``).

``map_node`` takes one ``torch.fx`` node with its propagated shape and gives the layer
type, the arguments that differ from archcalc's defaults, and the input nodes; ``None``
for a call that is no layer (a size query); ``Unmapped`` names an op it does not know.
Spec axes have no batch axis: PyTorch's dim d ≥ 1 is the spec's d − 1.
"""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as F
from torch import nn

from ..spec_writer import non_default


# node.meta[ANNOTATION]: what a pass over the whole graph (import_passes.py) decided for
# the node: None (no layer), a layer (type, args, inputs[, module path naming it]), a list of
# them (a chain; PREVIOUS as an input is the chain's layer before, Link(k) its k-th layer),
# or an Unmapped to raise.
ANNOTATION = "archcalc_layer"
PREVIOUS = "the chain's previous layer"


class Link(int):
    """An input of a chain's layer: the chain's layer at this position (from 0)."""


class Unmapped(Exception):
    def __init__(self, op: str):
        super().__init__(f"no archcalc layer for {op}")
        self.op = op


def _one(v):
    """A per-axis tuple as one value where every axis has the same."""
    if isinstance(v, (tuple, list)):
        v = tuple(int(x) if isinstance(x, int) else x for x in v)
        return v[0] if v and all(x == v[0] for x in v) else list(v)
    return v


def _opts(**pairs) -> dict:
    """key=(value, archcalc's default): only the values that differ."""
    return non_default(pairs, _one)


def _dim(d: int) -> int:
    return d - 1 if d > 0 else d


def _shape(node):
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None


_ACT_MODULES = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.SiLU: "silu", nn.Sigmoid: "sigmoid",
                nn.Tanh: "tanh", nn.Hardswish: "hardswish", nn.Hardsigmoid: "hardsigmoid",
                nn.Mish: "mish", nn.Softplus: "softplus"}
_ACT_FUNCS = {F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", F.silu: "silu",
              torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", torch.tanh: "tanh",
              F.tanh: "tanh", F.hardswish: "hardswish", F.hardsigmoid: "hardsigmoid",
              F.mish: "mish", F.gelu: "gelu", torch.relu_: "relu", torch.sigmoid_: "sigmoid",
              torch.tanh_: "tanh"}  # the last three in place: the same values
_ACT_METHODS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "relu_": "relu",
                "sigmoid_": "sigmoid", "tanh_": "tanh"}  # in place: the same values
_DROPOUT_FUNCS = {F.dropout1d: "dropout1d", F.dropout2d: "dropout2d", F.dropout3d: "dropout3d"}
_INSTANCE_NORMS = {nn.InstanceNorm1d: 1, nn.InstanceNorm2d: 2, nn.InstanceNorm3d: 3}
_ZERO_PADS = (nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d, nn.ConstantPad1d, nn.ConstantPad2d,
              nn.ConstantPad3d)


def gives_tensors(node) -> bool:
    """Whether a call gives several tensors (a tuple: split's parts, max's values and
    indices), not sizes."""
    meta = node.meta.get("tensor_meta")
    return isinstance(meta, (tuple, list)) and any(hasattr(m, "shape") for m in meta)


def _max_over_dim(node) -> bool:
    """x.max(dim) or torch.max(x, dim) (and min): the (values, indices) pair."""
    if node.op == "call_method":
        known = node.target in ("max", "min")
    else:
        known = node.op == "call_function" and node.target in (torch.max, torch.min)
    dim = _arg(node, 1, "dim")
    return known and isinstance(dim, int) and not isinstance(dim, bool)


def _max_part(base, part):
    """Part 0 (values) or 1 (indices) of a max over a dim: the values are amax's."""
    name = base.target if isinstance(base.target, str) else base.target.__name__
    if part != 0:
        raise Unmapped(f"the indices of {name} over a dim (an argmax)")
    if name != "max":
        raise Unmapped(f"{name} over a dim")
    return _reduction(base, base.args[0], "amax")


def _clamp(node, x):
    """clamp(min=0) → relu, clamp(0, 6) → relu6, clamp(a, b) → hardtanh(a, b): the same
    function; a bound that is a tensor, or one bound other than min 0, is unmapped."""
    low, high = _arg(node, 1, "min"), _arg(node, 2, "max")
    if not all(v is None or isinstance(v, (int, float)) and not isinstance(v, bool)
               for v in (low, high)):
        raise Unmapped("clamp by a tensor")
    if high is None and low == 0:
        return "relu", {}, [x]
    if low is None or high is None:
        raise Unmapped(f"clamp with only its {'max' if low is None else 'min'} bound")
    if (low, high) == (0, 6):
        return "relu6", {}, [x]
    return "hardtanh", _opts(min=(float(low), -1.0), max=(float(high), 1.0)), [x]


def _squeeze(node, x):
    """x.squeeze(d) of axes after the batch axis → reshape to the traced shape."""
    dims = _arg(node, 1, "dim")
    if dims is None:
        raise Unmapped("squeeze without dims (at the traced batch of one it removes the "
                       "batch axis too)")
    rank = len(_shape(x))
    if any(d % rank == 0 for d in (dims if isinstance(dims, (tuple, list)) else [dims])):
        raise Unmapped("squeeze of the batch axis")
    return "reshape", dict(shape=list(_shape(node)[1:])), [x]


_SUMS = (operator.add, torch.add, operator.sub, torch.sub)
_PRODUCTS = (operator.mul, torch.mul, operator.truediv, torch.div)


def _binary(kind, node):
    """x + y, x - y, x.add_(y), … of two tensors → add; x * y, x / y, x.mul(y) → mul (a
    difference counts as a sum, a quotient as a product: element-wise, no MACs, as the
    ONNX import counts Sub and Div); a number added or multiplied → identity."""
    tensors = [a for a in node.args if hasattr(a, "op") and _shape(a) is not None]
    if len(node.args) != 2 or node.kwargs or not tensors:
        raise Unmapped(f"{op_name(node)} with alpha or rounding_mode")
    if len(tensors) == 2:  # x + x too: the same tensor twice
        return kind, {}, list(node.args)
    other = node.args[1] if node.args[0] is tensors[0] else node.args[0]
    if isinstance(other, (int, float)) and not isinstance(other, bool) or \
            (hasattr(other, "op") and _shape(other) is None):  # a number, or a traced size
        return "identity", {}, tensors
    raise Unmapped(f"{op_name(node)} with a constant tensor")


def op_name(node) -> str:
    """A traced call in words: ``tensor.add``, ``module conv1``, ``function add``."""
    if node.op == "call_method":
        return f"tensor.{node.target}"
    if node.op == "call_module":
        return f"module {node.target}"
    return f"function {getattr(node.target, '__name__', node.target)}"


def _module(m, node):
    ins = [node.args[0]]
    for cls, name in _ACT_MODULES.items():
        if type(m) is cls:
            return name, {}, ins
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        padding = m.padding if isinstance(m.padding, str) else tuple(m.padding)
        return f"conv{len(m.kernel_size)}d", dict(out=m.out_channels, kernel=_one(m.kernel_size),
                                                  **_opts(stride=(m.stride, 1),
                                                          padding=(padding, 0),
                                                          dilation=(m.dilation, 1),
                                                          groups=(m.groups, 1),
                                                          bias=(m.bias is not None, True),
                                                          padding_mode=(m.padding_mode,
                                                                        "zeros"))), ins
    if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        return f"convtranspose{len(m.kernel_size)}d", dict(
            out=m.out_channels, kernel=_one(m.kernel_size),
            **_opts(stride=(m.stride, 1), padding=(m.padding, 0),
                    output_padding=(m.output_padding, 0), groups=(m.groups, 1),
                    bias=(m.bias is not None, True), dilation=(m.dilation, 1))), ins
    if type(m) is nn.Linear:
        return "linear", dict(out=m.out_features, **_opts(bias=(m.bias is not None, True))), ins
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
        n = {nn.BatchNorm1d: 1, nn.BatchNorm2d: 2, nn.BatchNorm3d: 3}[type(m)]
        return f"batchnorm{n}d", _opts(eps=(m.eps, 1e-5), momentum=(m.momentum, 0.1),
                                       affine=(m.affine, True),
                                       track_running_stats=(m.track_running_stats, True)), ins
    if type(m) is nn.LayerNorm:
        last = [_shape(node.args[0])[-1]]  # archcalc's default: the last axis
        return "layernorm", _opts(shape=(list(m.normalized_shape), last),
                                  eps=(m.eps, 1e-5), affine=(m.elementwise_affine, True),
                                  bias=(getattr(m, "bias", 1) is not None, True)), ins
    if type(m) is nn.RMSNorm:
        last = [_shape(node.args[0])[-1]]
        return "rmsnorm", _opts(shape=(list(m.normalized_shape), last),
                                affine=(m.elementwise_affine, True)), ins
    if type(m) is nn.Embedding:  # read with the input's ids (constant ids: import_learned)
        return "embedding", dict(vocab=m.num_embeddings, dim=m.embedding_dim,
                                 **_opts(padding_idx=(m.padding_idx, None))), ins
    if type(m) is nn.GroupNorm:
        return "groupnorm", dict(groups=m.num_groups, **_opts(eps=(m.eps, 1e-5),
                                                              affine=(m.affine, True))), ins
    if type(m) is nn.LocalResponseNorm:
        return "lrn", dict(size=m.size, alpha=m.alpha, beta=m.beta, k=m.k), ins
    if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
        t, a = _pool_layer("max", len(_shape(node.args[0])) - 2, m.kernel_size, m.stride,
                           m.padding, m.ceil_mode, m.dilation, True)
        return t, a, ins
    if isinstance(m, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        t, a = _pool_layer("avg", len(_shape(node.args[0])) - 2, m.kernel_size, m.stride,
                           m.padding, m.ceil_mode, 1, m.count_include_pad)
        return t, a, ins
    if isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
                      nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)):
        kind = "avg" if "Avg" in type(m).__name__ else "max"
        nd = len(_shape(node.args[0])) - 2
        return f"adaptive{kind}pool{nd}d", dict(out=_one(_shape(node)[2:])), ins
    if type(m) is nn.Unflatten:
        if m.dim % len(_shape(node)) == 0:
            raise Unmapped("nn.Unflatten of the batch axis")
        return "reshape", dict(shape=list(_shape(node)[1:])), ins
    if type(m) is nn.Flatten:
        return "flatten", _opts(start=(_dim(m.start_dim), 0), end=(_dim(m.end_dim), -1)), ins
    if type(m) in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d):
        return type(m).__name__.lower(), _opts(p=(m.p, 0.5)), ins
    if type(m) is nn.Identity:
        return None
    if type(m) is nn.GELU:
        return "gelu", _opts(approximate=(m.approximate, "none")), ins
    if type(m) is nn.LeakyReLU:
        return "leakyrelu", _opts(slope=(m.negative_slope, 0.01)), ins
    if type(m) is nn.ELU:
        return "elu", _opts(alpha=(m.alpha, 1.0)), ins
    if type(m) is nn.Hardtanh:
        return "hardtanh", _opts(min=(m.min_val, -1.0), max=(m.max_val, 1.0)), ins
    if type(m) is nn.PReLU:
        return "prelu", _opts(num=(m.num_parameters, 1)), ins
    if type(m) in _INSTANCE_NORMS:
        return f"instancenorm{_INSTANCE_NORMS[type(m)]}d", _opts(
            affine=(m.affine, False), track_running_stats=(m.track_running_stats, False),
            eps=(m.eps, 1e-5)), ins
    if type(m) in _ZERO_PADS:
        if getattr(m, "value", 0) != 0:
            raise Unmapped(f"{type(m).__name__} with the value {m.value}")
        return _pad(node, node.args[0], m.padding)
    if type(m) is nn.PixelUnshuffle:
        return "pixelunshuffle", dict(factor=m.downscale_factor), ins
    if type(m) in (nn.Softmax, nn.LogSoftmax):
        return type(m).__name__.lower(), dict(dim=_dim(m.dim)), ins
    if type(m) is nn.Upsample:
        return _upsample(node, m.size, m.scale_factor, m.mode, m.align_corners)
    if type(m) is nn.PixelShuffle:
        return "pixelshuffle", dict(factor=m.upscale_factor), ins
    if type(m) is nn.ChannelShuffle:
        return "channelshuffle", dict(groups=m.groups), ins
    raise Unmapped(f"module {type(m).__module__}.{type(m).__qualname__}")


def _pool_layer(kind, nd, kernel, stride, padding, ceil_mode, dilation, count_include_pad):
    k = _one(kernel)
    s = _one(stride) if stride not in (None, ()) else k
    args = dict(kernel=k, **_opts(stride=(s, k), padding=(padding, 0),
                                  ceil_mode=(ceil_mode, False)))
    if kind == "max":
        args.update(_opts(dilation=(dilation, 1)))
    else:
        args.update(_opts(count_include_pad=(count_include_pad, True)))
    return f"{kind}pool{nd}d", args


def _upsample(node, size, scale, mode, align_corners):
    args = _opts(mode=(mode, "nearest"), align_corners=(align_corners, None))
    if scale is not None:
        args["scale"] = _one(scale)
    else:
        args["size"] = _one(_shape(node)[2:])
    return "upsample", args, [node.args[0]]


def _arg(node, i, key, default=None):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(key, default)


def _tensors(node):
    return [a for a in node.all_input_nodes if _shape(a) is not None]


def _function(node):
    fn = node.target
    x = node.args[0] if node.args else None
    if fn in _ACT_FUNCS:
        args = {}
        if fn is F.gelu and node.kwargs.get("approximate", "none") != "none":
            args["approximate"] = node.kwargs["approximate"]
        return _ACT_FUNCS[fn], args, [x]
    if fn in _SUMS or fn in _PRODUCTS:
        return _binary("add" if fn in _SUMS else "mul", node)
    if fn is operator.neg:
        return "identity", {}, [x]  # element-wise: no parameters, no MACs
    if fn is torch.cat:
        parts = list(node.args[0])
        dim = _arg(node, 1, "dim", 0)
        return "concat", _opts(dim=(_dim(dim), 0)), parts
    if fn is torch.stack:
        return _stack(node, list(node.args[0]), _arg(node, 1, "dim", 0))
    if fn is torch.flatten:
        return "flatten", _opts(start=(_dim(_arg(node, 1, "start_dim", 0)), 0),
                                end=(_dim(_arg(node, 2, "end_dim", -1)), -1)), [x]
    if fn in (F.max_pool1d, F.max_pool2d, F.max_pool3d, F.avg_pool1d, F.avg_pool2d,
              F.avg_pool3d):
        kind = "max" if "max" in fn.__name__ else "avg"
        nd = len(_shape(x)) - 2
        kernel = _arg(node, 1, "kernel_size")
        stride = _arg(node, 2, "stride")
        padding = _arg(node, 3, "padding", 0)
        if _spatial_size_of(kernel, x) and stride in (None, ()) and padding == 0:
            # F.avg_pool2d(x, x.size()[2:]): one window over the whole map
            return f"adaptive{kind}pool{nd}d", dict(out=1), [x]
        if kind == "max":
            dilation = _arg(node, 4, "dilation", 1)
            ceil = _arg(node, 5, "ceil_mode", False)
            cip = True
        else:
            dilation, ceil = 1, _arg(node, 4, "ceil_mode", False)
            cip = _arg(node, 5, "count_include_pad", True)
        t, a = _pool_layer(kind, nd, kernel, stride, padding, ceil, dilation, cip)
        return t, a, [x]
    if fn in (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d,
              F.adaptive_max_pool1d, F.adaptive_max_pool2d, F.adaptive_max_pool3d):
        kind = "avg" if "avg" in fn.__name__ else "max"
        nd = len(_shape(x)) - 2
        return f"adaptive{kind}pool{nd}d", dict(out=_one(_shape(node)[2:])), [x]
    if fn is F.interpolate:
        return _upsample(node, _arg(node, 1, "size"), _arg(node, 2, "scale_factor"),
                         _arg(node, 3, "mode", "nearest"), _arg(node, 4, "align_corners"))
    if fn is F.pad:
        mode, value = _arg(node, 2, "mode", "constant"), _arg(node, 3, "value", None)
        if mode != "constant" or value not in (None, 0):  # not zeros: no zeropad
            raise Unmapped(f"F.pad with mode {mode!r}" if mode != "constant" else
                           f"F.pad with the value {value}")
        return _pad(node, x, _arg(node, 1, "pad"))
    if fn is torch.roll:
        return _roll(x, _arg(node, 1, "shifts"), _arg(node, 2, "dims"))
    if fn is F.dropout or fn in _DROPOUT_FUNCS:
        return _DROPOUT_FUNCS.get(fn, "dropout"), _opts(p=(_arg(node, 1, "p", 0.5), 0.5)), [x]
    if fn is F.leaky_relu:
        return "leakyrelu", _opts(slope=(_arg(node, 1, "negative_slope", 0.01), 0.01)), [x]
    if fn is F.elu:
        return "elu", _opts(alpha=(_arg(node, 1, "alpha", 1.0), 1.0)), [x]
    if fn is F.hardtanh:
        return "hardtanh", _opts(min=(_arg(node, 1, "min_val", -1.0), -1.0),
                                 max=(_arg(node, 2, "max_val", 1.0), 1.0)), [x]
    if fn is F.softplus:
        return "softplus", {}, [x]
    if fn in (torch.clamp, torch.clip):
        return _clamp(node, x)
    if fn is torch.squeeze:
        return _squeeze(node, x)
    if fn is torch.pixel_shuffle:
        return "pixelshuffle", dict(factor=_arg(node, 1, "upscale_factor")), [x]
    if fn is torch.pixel_unshuffle:
        return "pixelunshuffle", dict(factor=_arg(node, 1, "downscale_factor")), [x]
    if fn is getattr:  # a tensor attribute (sizes and dtypes are no tensors: no node here)
        if _max_over_dim(x) and node.args[1] in ("values", "indices"):
            return _max_part(x, 0 if node.args[1] == "values" else 1)
        if node.args[1] == "data":
            return None
        raise Unmapped(f"the tensor attribute .{node.args[1]}" +
                       (", which moves the batch axis" if node.args[1] in ("T", "H") else ""))
    if fn is operator.getitem:
        return _getitem(node, x)
    if fn in (torch.softmax, F.softmax, torch.log_softmax, F.log_softmax):
        kind = "logsoftmax" if "log" in fn.__name__ else "softmax"
        return kind, dict(dim=_dim(_arg(node, 1, "dim"))), [x]
    if fn in (torch.mean, torch.amax):
        return _reduction(node, x, "mean" if fn is torch.mean else "amax")
    if fn is torch.unsqueeze:
        return _unsqueeze(node, x)
    raise Unmapped(f"function {getattr(fn, '__module__', '')}.{getattr(fn, '__name__', fn)}")


def _stack(node, parts, dim):
    """torch.stack → each part given a new axis of one (reshape), concatenated on it."""
    rank = len(_shape(node))
    if dim % rank == 0:
        raise Unmapped("torch.stack along the batch axis")
    one = list(_shape(node)[1:])
    one[dim % rank - 1] = 1
    return [("reshape", dict(shape=one), [p]) for p in parts] + \
        [("concat", _opts(dim=(dim % rank - 1, 0)), [Link(k) for k in range(len(parts))])]


def _roll(x, shifts, dims):
    """torch.roll of axes other than the batch axis → roll (Swin's shifted windows)."""
    if dims is None or dims == ():
        raise Unmapped("torch.roll of the flattened tensor (the batch axis with it)")
    dims = list(dims) if isinstance(dims, (tuple, list)) else [dims]
    shifts = list(shifts) if isinstance(shifts, (tuple, list)) else [shifts]
    rank = len(_shape(x))
    if any(d % rank == 0 for d in dims):
        raise Unmapped("torch.roll of the batch axis")
    return "roll", dict(shifts=shifts, dims=[_dim(d) for d in dims]), [x]


def _pad(node, x, pads):
    """F.pad of the channels only (ResNet's option-A shortcut) → padchannels; of the
    spatial axes → zeropad; of H and W of a channels-last [B, H, W, C] (Swin's whole
    windows) → zeropad between permutes; by nothing → no layer."""
    pads = list(pads)
    nd = len(_shape(x)) - 2
    if not any(pads):
        return None
    if len(pads) == 2 * (nd + 1) and all(p == 0 for p in pads[:2 * nd]):
        return "padchannels", _opts(before=(pads[-2], 0), after=(pads[-1], 0)), [x]
    if len(pads) == 2 * nd and nd in (1, 2, 3):
        pairs = [[pads[2 * i], pads[2 * i + 1]] for i in range(nd)][::-1]
        return "zeropad", dict(padding=pairs), [x]
    if nd == 2 and len(pads) == 6 and pads[:2] == [0, 0]:
        pairs = [pads[4:6], pads[2:4]]
        return [("permute", dict(dims=[2, 0, 1]), [x]),
                ("zeropad", dict(padding=pairs), [PREVIOUS]),
                ("permute", dict(dims=[1, 2, 0]), [PREVIOUS])]
    raise Unmapped("F.pad of these axes")


def _getitem(node, x):
    """x[:, a:b] (a slice of one axis) → slice; x[:, [i, j, …]] → slices of its runs of
    consecutive channels, concatenated; a centre crop to another tensor's size → crop;
    other indexing is unmapped."""
    if _max_over_dim(x):
        return _max_part(x, node.args[1])
    if _shape(node) is None:
        return None  # an element of a size tuple
    index = node.args[1]
    if not isinstance(index, tuple):
        index = (index,)
    if len(index) == 2 and index[0] == slice(None) and isinstance(index[1], (list, tuple)):
        return _channel_list(x, list(index[1]))
    crop = _centre_crop(node, x, index)
    if crop is not None:
        return crop
    if None in index and all(s is None or s == slice(None) or s is Ellipsis for s in index) \
            and (index[0] == slice(None) or index[0] is Ellipsis):
        # x[:, :, None, None]: new axes of size one, the batch axis kept first
        return "reshape", dict(shape=list(_shape(node)[1:])), [x]
    cut = [(i, s) for i, s in enumerate(index) if s != slice(None)]
    rank = len(_shape(x))
    if len(index) == rank and cut and all(i >= 2 and isinstance(s, slice) and s.start is None
                                          and s.stop is None and isinstance(s.step, int)
                                          for i, s in cut):
        # every s-th position of the spatial axes: a 1 x 1 max pool with stride s
        steps = [1] * (rank - 2)
        for i, s in cut:
            steps[i - 2] = s.step
        return f"maxpool{rank - 2}d", dict(kernel=1, stride=_one(steps)), [x]
    if not all(_whole_bounds(s) for _, s in cut):  # a bound that is a traced size
        raise Unmapped(f"indexing {index!r}")
    if len(cut) == 1 and isinstance(cut[0][1], slice) and cut[0][1].step in (None, 1) \
            and cut[0][0] >= 1:
        i, s = cut[0]
        return "slice", dict(dim=i - 1, **_opts(start=(s.start or 0, 0), stop=(s.stop, None))), [x]
    if len(index) <= rank and cut and Ellipsis not in index and \
            all(i >= 1 and isinstance(s, slice) and s.step in (None, 1) for i, s in cut):
        # x[:, :h, :w] (Swin's cut back to the map): one slice per axis that is cut
        sizes = _shape(x)
        kept = [(i, s) for i, s in cut if (s.start or 0) != 0 or
                (s.stop is not None and s.stop < sizes[i])]
        if not kept:
            return None  # every axis whole
        return [("slice", dict(dim=i - 1, **_opts(start=(s.start or 0, 0), stop=(s.stop, None))),
                 [x if k == 0 else PREVIOUS]) for k, (i, s) in enumerate(kept)]
    raise Unmapped(f"indexing {index!r}")


def _whole_bounds(s) -> bool:
    """Whether an index is a slice whose bounds are numbers (or absent), not traced sizes
    the spec could not write."""
    return not isinstance(s, slice) or all(
        v is None or isinstance(v, int) and not isinstance(v, bool)
        for v in (s.start, s.stop, s.step))


def _channel_list(x, picks):
    """x[:, [i, j, …]]: one slice per run of consecutive channels (LeNet-5's C3 table:
    [0, 4, 5] is channels 0..0 and 4..5), concatenated when there are several."""
    c = _shape(x)[1]
    if not picks or not all(isinstance(i, int) and not isinstance(i, bool) and -c <= i < c
                            for i in picks):
        raise Unmapped(f"indexing the channels with {picks!r}")
    picks = [i % c for i in picks]
    runs = [[picks[0], picks[0] + 1]]
    for i in picks[1:]:
        if i == runs[-1][1]:
            runs[-1][1] += 1
        else:
            runs.append([i, i + 1])
    cuts = [("slice", _opts(start=(a, 0), stop=(None if b == c else b, None)), [x])
            for a, b in runs]
    if len(cuts) == 1:
        return cuts[0]
    return cuts + [("concat", {}, [Link(k) for k in range(len(cuts))])]


def _spatial_size_of(n, x) -> bool:
    """Whether ``n`` is ``x.size()[2:]`` or ``x.shape[2:]``, or its sizes one by one
    (``x.size(2)`` of a 1-D map: a text CNN's max over time): x's spatial axes."""
    rank = len(_shape(x))
    parts = list(n) if isinstance(n, (list, tuple)) else [n]
    axes = [_size_of(p) for p in parts]
    if len(parts) == rank - 2 and all(a is not None and a[0] is x and a[1] % rank == i + 2
                                      for i, a in enumerate(axes)):
        return True
    if getattr(n, "op", None) != "call_function" or n.target is not operator.getitem or \
            n.args[1] != slice(2, None, None):
        return False
    sizes = n.args[0]
    return getattr(sizes, "op", None) == "call_method" and sizes.target == "size" and \
        sizes.args == (x,) or getattr(sizes, "op", None) == "call_function" and \
        sizes.target is getattr and sizes.args == (x, "shape")


def _size_of(n):
    """(tensor, axis) of a traced size ``t.shape[i]`` or ``t.size(i)``, else None."""
    if getattr(n, "op", None) == "call_function" and n.target is operator.getitem and \
            isinstance(n.args[1], int):
        shape = n.args[0]
        if getattr(shape, "op", None) == "call_function" and shape.target is getattr and \
                shape.args[1] == "shape":
            return shape.args[0], n.args[1]
        if getattr(shape, "op", None) == "call_method" and shape.target == "size" and \
                len(shape.args) == 1:
            return shape.args[0], n.args[1]
    if getattr(n, "op", None) == "call_method" and n.target == "size" and len(n.args) == 2:
        return n.args[0], n.args[1]
    return None


def _centre_crop(node, x, index):
    """x[:, :, (H − h)//2 : (H − h)//2 + h, …] on every spatial axis, h the sizes of one
    other tensor: a centre crop to that tensor's size (U-Net's skips) → crop like it."""
    rank = len(_shape(x))
    if len(index) != rank or rank < 3 or any(s != slice(None) for s in index[:2]):
        return None
    like = None
    for axis, s in enumerate(index[2:], start=2):
        if not isinstance(s, slice) or s.step is not None:
            return None
        start, stop = s.start, s.stop
        if getattr(start, "target", None) is not operator.floordiv or start.args[1] != 2:
            return None
        diff = start.args[0]
        if getattr(diff, "target", None) is not operator.sub:
            return None
        outer, inner = (_size_of(a) for a in diff.args)
        if getattr(stop, "target", None) is not operator.add or stop.args[0] is not start:
            return None
        if outer != (x, axis) or inner is None or _size_of(stop.args[1]) != inner or \
                inner[1] != axis or (like is not None and inner[0] is not like):
            return None
        like = inner[0]
    if _shape(like) is None or tuple(_shape(like)[2:]) != tuple(_shape(node)[2:]):
        return None
    return "crop", dict(like=like), [x]


def _method(node):
    name = node.target
    x = node.args[0]
    if name in ("size", "dim"):
        return None
    if name in _ACT_METHODS:
        return _ACT_METHODS[name], {}, [x]
    if name in ("clamp", "clip", "clamp_", "clip_"):
        return _clamp(node, x)
    if name == "squeeze":
        return _squeeze(node, x)
    if name in ("add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_"):
        return _binary("add" if name[:3] in ("add", "sub") else "mul", node)
    if name in ("view", "reshape", "view_as", "reshape_as", "unflatten"):
        out = _shape(node)
        if _shape(x)[0] != out[0]:
            raise Unmapped(f"tensor.{name} across the batch axis")
        if len(out) == 2:
            return "flatten", {}, [x]
        return "reshape", dict(shape=list(out[1:])), [x]
    if name == "flatten":
        return "flatten", _opts(start=(_dim(_arg(node, 1, "start_dim", 0)), 0),
                                end=(_dim(_arg(node, 2, "end_dim", -1)), -1)), [x]
    if name == "permute":
        dims = node.args[1:] if not isinstance(node.args[1], (tuple, list)) else node.args[1]
        if dims[0] != 0:
            raise Unmapped("tensor.permute of the batch axis")
        return "permute", dict(dims=[d - 1 for d in dims[1:]]), [x]
    if name in ("mean", "amax"):
        return _reduction(node, x, name)
    if name in ("softmax", "log_softmax"):
        return name.replace("_", ""), dict(dim=_dim(_arg(node, 1, "dim"))), [x]
    if name == "unsqueeze":
        return _unsqueeze(node, x)
    if name in ("contiguous", "detach"):  # the same values
        return None
    if name in ("expand", "expand_as"):
        return _expand(node)
        return None
    raise Unmapped(f"tensor method .{name}")


_BROADCASTING = (operator.add, torch.add, operator.sub, torch.sub, operator.mul, torch.mul,
                 operator.truediv, torch.div, "add", "sub", "mul", "div")


def _expand(node):
    """x.expand_as(y) read only by element-wise sums and products, which broadcast the
    same way: no layer (they read x itself); else unmapped."""
    users = list(node.users)
    if users and all(u.target in _BROADCASTING and len(_tensors(u)) == 2 for u in users):
        return None
    raise Unmapped(f"tensor.{node.target} read by other than an element-wise sum or product")


def _reduction(node, x, name):
    """A mean or max over every axis after the channels → globalavgpool / globalmaxpool
    (with keepdim: the adaptive pool to 1, which keeps the axes); over the tokens of a
    [B, L, D] sequence → the features first, then the global pool of the tokens."""
    dims = _arg(node, 1, "dim")
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    rank, keep = len(_shape(x)), _arg(node, 2, "keepdim", False)
    if dims == (None,):
        raise Unmapped(f"{name} over every axis (the batch axis with them)")
    if any(not isinstance(d, int) for d in dims):
        raise Unmapped(f"{name} over dims {list(dims)}")
    axes = sorted(d % rank for d in dims)
    pool = "globalavgpool" if name == "mean" else "globalmaxpool"
    if axes == list(range(2, rank)) and rank >= 3:
        if keep:
            kind = "avg" if name == "mean" else "max"
            return f"adaptive{kind}pool{rank - 2}d", dict(out=1), [x]
        return pool, {}, [x]
    if axes == [1] and rank == 3 and not keep:
        return [("permute", dict(dims=[1, 0]), [x]), (pool, {}, [PREVIOUS])]
    raise Unmapped(f"{name} over dims {list(dims)}" + (" keeping them" if keep else ""))


def _unsqueeze(node, x):
    """A new axis of size one after the batch axis → reshape to the traced shape."""
    out = _shape(node)
    if _arg(node, 1, "dim") % len(out) == 0:
        raise Unmapped("unsqueeze before the batch axis")
    return "reshape", dict(shape=list(out[1:])), [x]


def _ids_in_range(node, modules):
    """``ids % n`` read only by embeddings of n rows (archcalc export writes a token-type
    table read at the input's ids so): no layer, the embeddings read the ids; else
    unmapped."""
    ids, n = node.args[0], node.args[1] if len(node.args) > 1 else None
    meta = ids.meta.get("tensor_meta") if hasattr(ids, "meta") else None
    users = list(node.users)
    if meta is not None and not meta.dtype.is_floating_point and isinstance(n, int) and \
            users and all(u.op == "call_module" and isinstance(modules[u.target], nn.Embedding)
                          and modules[u.target].num_embeddings == n for u in users):
        return None
    raise Unmapped(op_name(node))


def _splits(node) -> bool:
    """split or chunk: their parts are slices (import_products)."""
    return node.target in ("split", "chunk", torch.split, torch.chunk)


def map_node(node, modules: dict):
    if ANNOTATION in node.meta:
        decided = node.meta[ANNOTATION]
        if isinstance(decided, Unmapped):
            raise decided
        return decided
    if node.op in ("call_function", "call_method") and _shape(node) is None and \
            node.target is not operator.getitem and \
            (not gives_tensors(node) or _max_over_dim(node) or _splits(node)):
        return None  # arithmetic on sizes; or parts that getitem reads
    if node.op == "call_module":
        return _module(modules[node.target], node)
    if node.op == "call_function" and node.target in (operator.mod, torch.remainder):
        return _ids_in_range(node, modules)
    if node.op == "call_function":
        return _function(node)
    if node.op == "call_method":
        return _method(node)
    if node.op == "get_attr":
        raise Unmapped(f"the tensor attribute {node.target}")
    raise Unmapped(node.op)
