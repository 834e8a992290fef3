"""ONNX operators as archcalc layer types (for ``archcalc import onnx``).

``map_node(node, graph)`` gives the layers one ONNX node becomes: a list of ``Layer``
(type, the arguments that differ from archcalc's defaults, the ONNX values it reads), or
``None`` for a node that is no layer (its output is its input: Identity, Cast, a fixed
scalar scale). ``Unmapped`` names what has no archcalc layer. ONNX tensors carry the batch
axis first; spec shapes do not, so ONNX axis a ≥ 1 is the spec's a − 1, and an op that
mixes the batch axis with others is refused (nn.MultiheadAttention's ops, which do, are
recognised as a whole before: ``multihead.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from onnx import helper

from ..spec_writer import non_default


class Unmapped(Exception):
    """An op, or a use of one, that archcalc has no layer for."""


class Invalid(Exception):
    """A node whose tensors do not fit together (a weight for other input channels)."""


def _fits(what: str, have, want) -> None:
    if have != want:
        raise Invalid(f"{what} is {have}, but the input has {want}")


@dataclass
class Layer:
    type: str
    args: dict
    inputs: list  # ONNX value names; None: the previous layer of the same node
    output: str | None = None  # the ONNX value it gives (default: the node's first output)
    absorbs: list = field(default_factory=list)  # later nodes' outputs it also gives
    refs: list = field(default_factory=list)  # arguments whose values are ONNX value names


def _one(v):
    """A per-axis list as one value where every axis has the same."""
    if isinstance(v, (tuple, list)):
        v = [_num(x) for x in v]
        return v[0] if v and all(x == v[0] for x in v) else list(v)
    return _num(v)


def _num(x):
    """A number as written: a float from a float32 attribute at its 7 significant digits,
    a whole float as an int."""
    if isinstance(x, bool):
        return x
    if isinstance(x, float):
        x = float(f"{x:.7g}")
        return int(x) if x.is_integer() and abs(x) < 2**53 else x
    return int(x) if isinstance(x, int) else x


def _opts(**pairs) -> dict:
    """key=(value, archcalc's default): only the values that differ."""
    return non_default(pairs, _one)


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            v = helper.get_attribute_value(a)
            return v.decode("utf-8", "replace") if isinstance(v, bytes) else v
    return default


def _given(node, i) -> str | None:
    """The name of optional input i, or None when it is absent."""
    return node.input[i] if len(node.input) > i and node.input[i] else None


def _axis(axis: int, rank: int, what: str) -> int:
    """ONNX axis (negative from the end) as the spec's axis; the batch axis is refused."""
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise Unmapped(f"{what} with axis {axis} on a rank-{rank} tensor")
    if a == 0:
        raise Unmapped(f"{what} along the batch axis")
    return a - 1


def _act(node, g, i=0) -> str:
    name = node.input[i]
    if not g.is_act(name):
        raise Unmapped(f"{node.op_type} whose input {i} is not computed from the network's "
                       "input")
    return name


def _weight(node, g, i, what) -> tuple:
    name = _given(node, i)
    if name is None or g.is_act(name):
        raise Unmapped(f"{node.op_type} whose {what} is computed from the network's input")
    return g.shape(name)


# ---------------------------------------------------------------- padding
def _auto_pads(node, spatial, kernel, strides, dilations):
    """(begin, end) per spatial axis from auto_pad or pads; 'same' for SAME_UPPER, which is
    Keras's 'same' (docs/spec-format.md: the extra pixel at the end)."""
    mode = attr(node, "auto_pad", "NOTSET")
    nd = len(kernel)
    if mode == "SAME_UPPER":
        return "same"
    if mode == "VALID":
        return [0] * nd, [0] * nd
    if mode == "SAME_LOWER":  # the extra pixel at the beginning
        begin, end = [], []
        for n, k, s, d in zip(spatial, kernel, strides, dilations):
            total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
            begin.append(total - total // 2)
            end.append(total // 2)
        return begin, end
    pads = list(attr(node, "pads", [0] * 2 * nd))
    if len(pads) != 2 * nd or any(p < 0 for p in pads):
        raise Unmapped(f"{node.op_type} with pads {pads}")
    return pads[:nd], pads[nd:]


def _padded(node, x, pads, nd):
    """(padding argument, a zeropad layer before it or None): asymmetric pads become an
    explicit zero pad and no padding in the layer (the same sizes and counts)."""
    if pads == "same":
        return "same", None
    begin, end = pads
    if begin == end:
        return _one(begin), None
    pairs = [[b, e] for b, e in zip(begin, end)]
    return 0, Layer("zeropad", dict(padding=pairs), [x])


# ---------------------------------------------------------------- convolutions, pools
def _conv(node, g):
    x = _act(node, g)
    ws = _weight(node, g, 1, "weight")
    nd = len(ws) - 2
    if nd not in (1, 2, 3):
        raise Unmapped(f"Conv with a rank-{len(ws)} weight")
    kernel = list(attr(node, "kernel_shape", ws[2:]))
    strides = list(attr(node, "strides", [1] * nd))
    dilations = list(attr(node, "dilations", [1] * nd))
    group = attr(node, "group", 1)
    if kernel != list(ws[2:]):
        raise Invalid(f"kernel_shape {kernel} is not the weight's {list(ws[2:])}")
    _fits(f"the weight {list(ws)} times {group} group(s) gives input channels", ws[1] * group,
          g.shape(x)[1])
    pads = _auto_pads(node, g.shape(x)[2:], kernel, strides, dilations)
    padding, pre = _padded(node, x, pads, nd)
    bias = _given(node, 2) is not None
    if bias:
        _weight(node, g, 2, "bias")
    args = dict(out=ws[0], kernel=_one(kernel),
                **_opts(stride=(strides, 1), padding=(padding, 0), dilation=(dilations, 1),
                        groups=(group, 1), bias=(bias, True)))
    conv = Layer(f"conv{nd}d", args, [None] if pre else [x])
    return [pre, conv] if pre else [conv]


def _conv_transpose(node, g):
    x = _act(node, g)
    ws = _weight(node, g, 1, "weight")  # [C_in, C_out / group, k...]
    nd = len(ws) - 2
    if nd not in (1, 2, 3):
        raise Unmapped(f"ConvTranspose with a rank-{len(ws)} weight")
    group = attr(node, "group", 1)
    _fits(f"the weight {list(ws)} gives input channels", ws[0], g.shape(x)[1])
    kernel = list(attr(node, "kernel_shape", ws[2:]))
    strides = list(attr(node, "strides", [1] * nd))
    dilations = list(attr(node, "dilations", [1] * nd))
    extra = list(attr(node, "output_padding", [0] * nd))
    pads = attr(node, "pads", [0] * 2 * nd)
    if attr(node, "output_shape") is not None or attr(node, "auto_pad", "NOTSET") != "NOTSET" \
            or list(pads[:nd]) != list(pads[nd:]):
        # PyTorch's symmetric padding and output_padding that give the inferred size
        n_in, n_out = g.shape(x)[2:], g.shape(node.output[0])[2:]
        padding, extra = [], []
        for n, o, k, s, d in zip(n_in, n_out, kernel, strides, dilations):
            diff = (n - 1) * s + d * (k - 1) + 1 - o  # 2·padding − output_padding
            p = max(0, -(-diff // 2))
            if not 0 <= 2 * p - diff < max(s, d):
                raise Unmapped("ConvTranspose whose output size no symmetric padding gives")
            padding.append(p)
            extra.append(2 * p - diff)
    else:
        padding = list(pads[:nd])
    bias = _given(node, 2) is not None
    args = dict(out=ws[1] * group, kernel=_one(kernel),
                **_opts(stride=(strides, 1), padding=(padding, 0),
                        output_padding=(extra, 0), dilation=(dilations, 1),
                        groups=(group, 1), bias=(bias, True)))
    return [Layer(f"convtranspose{nd}d", args, [x])]


def _pool(node, g):
    x = _act(node, g)
    kind = "max" if node.op_type == "MaxPool" else "avg"
    kernel = list(attr(node, "kernel_shape", []))
    nd = len(kernel)
    if nd not in (1, 2, 3) or len(g.shape(x)) != nd + 2:
        raise Unmapped(f"{node.op_type} with kernel {kernel}")
    strides = list(attr(node, "strides", [1] * nd))
    dilations = list(attr(node, "dilations", [1] * nd))
    pads = _auto_pads(node, g.shape(x)[2:], kernel, strides, dilations)
    padding, pre = _padded(node, x, pads, nd)
    args = dict(kernel=_one(kernel), **_opts(stride=(strides, kernel), padding=(padding, 0),
                                              ceil_mode=(bool(attr(node, "ceil_mode", 0)),
                                                         False)))
    if kind == "max":
        args.update(_opts(dilation=(dilations, 1)))
        if len(node.output) > 1 and node.output[1]:
            raise Unmapped("MaxPool with its indices output")
    elif padding != 0:  # ONNX's default excludes the padding from the average
        args.update(_opts(count_include_pad=(bool(attr(node, "count_include_pad", 0)), True)))
    pool = Layer(f"{kind}pool{nd}d", args, [None] if pre else [x])
    return [pre, pool] if pre else [pool]


def _global_pool(node, g):
    """Global pools keep the spatial axes as ones ([C, 1, 1]): an adaptive pool to 1."""
    x = _act(node, g)
    nd = len(g.shape(x)) - 2
    if nd not in (1, 2, 3):
        raise Unmapped(f"{node.op_type} of a rank-{nd + 2} tensor")
    kind = "max" if "Max" in node.op_type else "avg"
    return [Layer(f"adaptive{kind}pool{nd}d", dict(out=1), [x])]


def _reduce(node, g):
    """ReduceMean / ReduceMax over every spatial axis: a global pool."""
    x = _act(node, g)
    rank = len(g.shape(x))
    axes = attr(node, "axes")
    if axes is None and _given(node, 1):
        axes = g.value(node.input[1], f"{node.op_type} '{node.name}'")
    axes = sorted(a % rank for a in (axes or range(rank)))
    if axes != list(range(2, rank)) or rank < 3:
        raise Unmapped(f"{node.op_type} over axes {axes} (only every spatial axis, a global "
                       "pool, is mapped)")
    kind = "avg" if node.op_type == "ReduceMean" else "max"
    if attr(node, "keepdims", 1):
        return [Layer(f"adaptive{kind}pool{rank - 2}d", dict(out=1), [x])]
    return [Layer(f"global{kind}pool", {}, [x])]


# ---------------------------------------------------------------- fully connected, products
def _bias_after(node, g, n_out):
    """The Add right after a product that adds a weight of n_out elements along the last
    axis (a linear layer's bias), else None."""
    out = node.output[0]
    readers = g.readers.get(out, [])
    if len(readers) != 1 or out == g.output or readers[0].op_type != "Add":
        return None
    add = readers[0]
    other = [i for i in add.input if i != out]
    if len(other) != 1 or not g.is_weight(other[0]):
        return None
    shape = g.shape(other[0])
    if not shape or shape[-1] != n_out or math.prod(shape) != n_out:
        return None
    return add


def _gemm(node, g):
    x = _act(node, g)
    if attr(node, "transA", 0):
        raise Unmapped("Gemm with transA")
    if len(g.shape(x)) != 2:
        raise Unmapped(f"Gemm of a rank-{len(g.shape(x))} input")
    ws = _weight(node, g, 1, "weight")
    n_out, n_in = ws if attr(node, "transB", 0) else ws[::-1]
    _fits(f"the weight {list(ws)} gives input features", n_in, g.shape(x)[1])
    bias = _given(node, 2) is not None
    if bias:
        _weight(node, g, 2, "bias")
    return [Layer("linear", dict(out=n_out, **_opts(bias=(bias, True))), [x])]


def _matmul(node, g):
    a, b = node.input[0], node.input[1]
    if g.is_act(a) and g.is_act(b):
        return [Layer("matmul", {}, [a, b])]
    if not g.is_act(a):
        raise Unmapped("MatMul with a constant left operand")
    ws = g.shape(b)
    if len(ws) != 2:
        raise Unmapped(f"MatMul by a rank-{len(ws)} constant (a linear layer's weight is "
                       "[in, out])")
    _fits(f"the weight {list(ws)} gives input features", ws[0], g.shape(a)[-1])
    add = _bias_after(node, g, ws[1])
    layer = Layer("linear", dict(out=ws[1], **_opts(bias=(add is not None, True))), [a])
    if add is not None:
        layer.absorbs = [add.output[0]]
    return [layer]


def _einsum(node, g):
    """Einsum of one or two activations whose subscripts all start with the same letter
    (the batch axis): archcalc's einsum with that letter left out."""
    ins = [i for i in node.input if i]
    if not all(g.is_act(i) for i in ins) or len(ins) > 2:
        raise Unmapped("Einsum of a constant or of more than two operands")
    equation = str(attr(node, "equation", "")).replace(" ", "")
    left, _, right = equation.partition("->")
    terms = left.split(",")
    batch = terms[0][:1]
    if not right or not batch.isalpha() or any(t[:1] != batch or batch in t[1:]
                                                for t in [*terms, right]):
        raise Unmapped(f"Einsum '{equation}' (each operand and the output must start with "
                       "the batch axis)")
    return [Layer("einsum", dict(equation=",".join(t[1:] for t in terms) + "->" + right[1:]),
                  ins)]


def _elementwise(node, g):
    """Add, Sub, Mul, Div of two activations: add or mul (a difference or a quotient counts
    as they do); with a weight: a learned tensor (``parameter``); with a fixed scalar or a
    computed constant that leaves the shape alone: no layer."""
    acts = [i for i in node.input if g.is_act(i)]
    op = "add" if node.op_type in ("Add", "Sub") else "mul"
    if len(acts) == 2:
        return [Layer(op, {}, acts)]
    x = acts[0]
    other = next(i for i in node.input if i != x)
    same = g.shape(node.output[0]) == g.shape(x)
    if not g.is_weight(other) or g.numel(other) == 1:
        if not same:
            raise Unmapped(f"{node.op_type} with a constant that broadcasts the input to "
                           "another shape")
        return None
    return [Layer("parameter", dict(shape=_table(g, other, x), **_opts(op=(op, "add"))), [x])]


def _table(g, const, x) -> list:
    """A constant's shape as a learned tensor's (no batch axis; aligned with the input's
    trailing axes)."""
    shape = list(g.shape(const))
    rank = len(g.shape(x))
    if len(shape) == rank:
        if shape[0] != 1:
            raise Unmapped("a constant that varies along the batch axis")
        shape = shape[1:]
    while len(shape) > 1 and shape[0] == 1:
        shape = shape[1:]
    if len(shape) > rank - 1:
        raise Unmapped(f"a constant of shape {list(g.shape(const))} on a rank-{rank} input")
    return shape


def _concat(node, g):
    parts = [i for i in node.input if i]
    rank = len(g.shape(node.output[0]))
    dim = _axis(attr(node, "axis", 0), rank, "Concat")
    acts = [p for p in parts if g.is_act(p)]
    if len(acts) == len(parts):
        return [Layer("concat", _opts(dim=(dim, 0)), parts)]
    if len(parts) == 2 and len(acts) == 1 and g.is_weight(next(p for p in parts if p not in acts)):
        const = next(p for p in parts if p not in acts)
        shape = list(g.shape(const))
        if shape[0] != 1:
            raise Unmapped("Concat of a constant that varies along the batch axis")
        position = "before" if parts[0] == const else "after"
        return [Layer("parameter", dict(shape=shape[1:], op="concat",
                                        **_opts(dim=(dim, 0), position=(position, "before"))),
                      acts)]
    raise Unmapped("Concat of computed constants")


# ---------------------------------------------------------------- normalisations
def _batchnorm(node, g):
    x = _act(node, g)
    rank = len(g.shape(x))
    nd = {2: 1, 3: 1, 4: 2, 5: 3}.get(rank)
    if nd is None:
        raise Unmapped(f"BatchNormalization of a rank-{rank} tensor")
    momentum = 1 - attr(node, "momentum", 0.9)  # ONNX keeps the running value's share
    return [Layer(f"batchnorm{nd}d", _opts(eps=(attr(node, "epsilon", 1e-5), 1e-5),
                                           momentum=(round(momentum, 7), 0.1)), [x])]


def _instancenorm(node, g):
    x = _act(node, g)
    nd = len(g.shape(x)) - 2
    if nd not in (1, 2, 3):
        raise Unmapped(f"InstanceNormalization of a rank-{nd + 2} tensor")
    affine = g.is_weight(node.input[1])  # PyTorch writes fixed ones and zeros as Constants
    return [Layer(f"instancenorm{nd}d", _opts(affine=(affine, False),
                                              eps=(attr(node, "epsilon", 1e-5), 1e-5)), [x])]


def _layernorm(node, g):
    x = _act(node, g)
    shape = g.shape(x)
    axis = _axis(attr(node, "axis", -1), len(shape), "LayerNormalization")
    normalized = list(shape[axis + 1:])
    bias = _given(node, 2) is not None
    args = {} if len(normalized) == 1 else dict(shape=normalized)  # default: the last axis
    return [Layer("layernorm", dict(**args, **_opts(bias=(bias, True),
                                                    eps=(attr(node, "epsilon", 1e-5), 1e-5))),
                  [x])]


def _groupnorm(node, g):
    x = _act(node, g)
    return [Layer("groupnorm", dict(groups=attr(node, "num_groups"),
                                    **_opts(eps=(attr(node, "epsilon", 1e-5), 1e-5))), [x])]


def _lrn(node, g):
    return [Layer("lrn", dict(size=attr(node, "size"),
                              **_opts(alpha=(attr(node, "alpha", 1e-4), 1e-4),
                                      beta=(attr(node, "beta", 0.75), 0.75),
                                      k=(attr(node, "bias", 1.0), 1.0))), [_act(node, g)])]


# ---------------------------------------------------------------- element-wise
_PLAIN = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softplus": "softplus",
          "Mish": "mish", "HardSwish": "hardswish", "HardSigmoid": "hardsigmoid"}


def _activation(node, g):
    x = _act(node, g)
    op = node.op_type
    if op in _PLAIN:
        return [Layer(_PLAIN[op], {}, [x])]
    if op == "LeakyRelu":
        return [Layer("leakyrelu", _opts(slope=(attr(node, "alpha", 0.01), 0.01)), [x])]
    if op == "Elu":
        return [Layer("elu", _opts(alpha=(attr(node, "alpha", 1.0), 1.0)), [x])]
    if op == "Gelu":
        return [Layer("gelu", _opts(approximate=(attr(node, "approximate", "none"), "none")),
                      [x])]
    if op == "PRelu":
        return [Layer("prelu", _opts(num=(g.numel(node.input[1]), 1)), [x])]
    if op in ("Softmax", "LogSoftmax"):
        rank = len(g.shape(x))
        axis = attr(node, "axis", -1 if g.opset >= 13 else 1)
        return [Layer(op.lower(), _opts(dim=(_axis(axis, rank, op), 0)), [x])]
    if op == "Dropout":
        ratio = attr(node, "ratio")
        if ratio is None and _given(node, 1):
            ratio = g.value(node.input[1], f"Dropout '{node.name}'")[0]
        return [Layer("dropout", _opts(p=(0.5 if ratio is None else ratio, 0.5)), [x])]
    raise Unmapped(op)


def _scalar(g, name, value) -> bool:
    """A fixed one-element tensor equal to ``value`` (to float32's precision)."""
    if not g.is_constant(name) or g.is_act(name) or g.numel(name) != 1:
        return False
    got = g.value(name, "a scalar")[0]
    return abs(got - value) <= 1e-6 * max(1.0, abs(value))


def _sole_reader(g, value, op, other_ok):
    """The one node that reads ``value``, when it is ``op`` and its other input passes
    ``other_ok``; else None."""
    readers = g.readers.get(value, [])
    if len(readers) != 1 or value == g.output or readers[0].op_type != op:
        return None
    node = readers[0]
    others = [i for i in node.input if i != value]
    return node if len(others) == 1 and other_ok(others[0]) else None


def _erf(node, g):
    """GELU as exporters write it below opset 20, x · (1 + erf(x / √2)) · 0.5: the Erf and
    the three nodes after it are one gelu (the Div before it is a scalar scale, no layer).
    Any other Erf has no layer."""
    div = g.producer.get(node.input[0])
    if div is not None and div.op_type == "Div" and g.is_act(div.input[0]) and \
            _scalar(g, div.input[1], math.sqrt(2)):
        x = div.input[0]
        add = _sole_reader(g, node.output[0], "Add", lambda v: _scalar(g, v, 1.0))
        mul = add and _sole_reader(g, add.output[0], "Mul", lambda v: v == x)
        half = mul and _sole_reader(g, mul.output[0], "Mul", lambda v: _scalar(g, v, 0.5))
        if half:
            return [Layer("gelu", {}, [x], absorbs=[add.output[0], mul.output[0],
                                                     half.output[0]])]
    raise Unmapped("Erf (only GELU's x · (1 + erf(x / √2)) · 0.5 is mapped)")


def _clip(node, g):
    """Clip(0, 6) is relu6, Clip(0, ∞) relu, other bounds hardtanh."""
    x = _act(node, g)
    lo, hi = attr(node, "min"), attr(node, "max")
    if g.opset >= 11:
        what = f"Clip '{node.name}'"
        lo = g.value(node.input[1], what)[0] if _given(node, 1) else None
        hi = g.value(node.input[2], what)[0] if _given(node, 2) else None
    if lo == 0 and hi == 6:
        return [Layer("relu6", {}, [x])]
    if lo == 0 and hi is None:
        return [Layer("relu", {}, [x])]
    if lo is None or hi is None:
        raise Unmapped("Clip with one bound")
    return [Layer("hardtanh", _opts(min=(lo, -1.0), max=(hi, 1.0)), [x])]


# ---------------------------------------------------------------- shape operations
def _same_batch(node, g, x):
    if g.shape(node.output[0])[:1] != g.shape(x)[:1]:
        raise Unmapped(f"{node.op_type} across the batch axis")


def _reshaped(node, g, x, target=None):
    """A layer that gives the node's output shape: none when it is the input's, flatten to
    one axis, else reshape (with the -1 of a constant target kept)."""
    _same_batch(node, g, x)
    out = list(g.shape(node.output[0]))
    _fits(f"the number of elements of the output {out}", math.prod(out),
          math.prod(g.shape(x)))
    if out == list(g.shape(x)):
        return None
    if len(out) == 2:
        return [Layer("flatten", {}, [x])]
    shape = out[1:]
    if target is not None and len(target) == len(out) and list(target).count(-1) == 1 \
            and target[0] != -1:
        shape[list(target).index(-1) - 1] = -1
    return [Layer("reshape", dict(shape=shape), [x])]


def _reshape(node, g):
    x = _act(node, g)
    target = None
    if g.is_constant(node.input[1]):
        target = g.value(node.input[1], f"Reshape '{node.name}'")
    return _reshaped(node, g, x, target)


def _flatten(node, g):
    x = _act(node, g)
    if attr(node, "axis", 1) != 1:
        raise Unmapped(f"Flatten with axis {attr(node, 'axis')} (only axis 1 keeps the "
                       "batch axis alone)")
    return _reshaped(node, g, x)


def _squeeze(node, g):
    x = _act(node, g)
    axes = attr(node, "axes")
    if axes is None and _given(node, 1):
        axes = g.value(node.input[1], f"{node.op_type} '{node.name}'")
    rank = len(g.shape(node.output[0] if node.op_type == "Unsqueeze" else x))
    if axes is not None and 0 in [a % rank for a in axes]:
        raise Unmapped(f"{node.op_type} of the batch axis")
    return _reshaped(node, g, x)


def _transpose(node, g):
    x = _act(node, g)
    rank = len(g.shape(x))
    perm = list(attr(node, "perm", range(rank - 1, -1, -1)))
    if perm[0] != 0:
        raise Unmapped(f"Transpose with perm {perm}, which moves the batch axis")
    if perm == list(range(rank)):
        return None
    return [Layer("permute", dict(dims=[p - 1 for p in perm[1:]]), [x])]


def _depth_space(node, g):
    """DepthToSpace → pixelshuffle, SpaceToDepth → pixelunshuffle (of a [N, C, H, W] map).
    Mode CRD is PyTorch's channel order; DCR (DepthToSpace's default) and SpaceToDepth take
    the channels in another order, which changes no shape and no count."""
    x = _act(node, g)
    if len(g.shape(x)) != 4:
        raise Unmapped(f"{node.op_type} of a rank-{len(g.shape(x))} tensor")
    kind = "pixelshuffle" if node.op_type == "DepthToSpace" else "pixelunshuffle"
    return [Layer(kind, dict(factor=attr(node, "blocksize")), [x])]


def _resize(node, g):
    x = _act(node, g)
    shape, out = g.shape(x), g.shape(node.output[0])
    nd = len(shape) - 2
    if nd < 1 or out[:2] != shape[:2]:
        raise Unmapped(f"{node.op_type} of the batch or channel axis")
    mode = attr(node, "mode", "nearest")
    if mode == "nearest":
        args = {}
    elif mode in ("linear", "bilinear"):
        names = {1: "linear", 2: "bilinear", 3: "trilinear"}
        args = dict(mode=names[nd])
        if attr(node, "coordinate_transformation_mode") == "align_corners":
            args["align_corners"] = True
    elif mode in ("cubic", "bicubic") and nd == 2:
        args = dict(mode="bicubic")
        if attr(node, "coordinate_transformation_mode") == "align_corners":
            args["align_corners"] = True
    else:
        raise Unmapped(f"{node.op_type} in mode {mode} on {nd} axes")
    scales = attr(node, "scales")
    where = 1 if node.op_type == "Upsample" or g.opset < 11 else 2
    if scales is None and _given(node, where) and g.is_constant(node.input[where]):
        scales = g.value(node.input[where], f"{node.op_type} '{node.name}'")
    if scales and list(scales[:2]) == [1, 1]:
        args["scale"] = _one(list(scales[2:]))
    else:
        args["size"] = _one(list(out[2:]))
    return [Layer("upsample", args, [x])]


def _pad(node, g):
    x = _act(node, g)
    rank = len(g.shape(x))
    pads = attr(node, "pads") if g.opset < 11 else \
        g.value(node.input[1], f"Pad '{node.name}'")
    axes = list(range(rank))
    if _given(node, 3):
        axes = [a % rank for a in g.value(node.input[3], f"Pad '{node.name}'")]
    pads = [int(p) for p in pads]
    if len(pads) != 2 * len(axes) or any(p < 0 for p in pads):
        raise Unmapped(f"Pad with pads {pads}")
    begin, end = [0] * rank, [0] * rank
    for a, b, e in zip(axes, pads[:len(axes)], pads[len(axes):]):
        begin[a], end[a] = b, e
    if begin[0] or end[0]:
        raise Unmapped("Pad of the batch axis")
    layers = []
    if begin[1] or end[1]:
        layers.append(Layer("padchannels", _opts(before=(begin[1], 0), after=(end[1], 0)),
                            [x]))
    if any(begin[2:]) or any(end[2:]):
        pairs = [[b, e] for b, e in zip(begin[2:], end[2:])]
        layers.append(Layer("zeropad", dict(padding=pairs), [None] if layers else [x]))
    return layers or None


def _slice_layer(dim, start, stop, n, src):
    return Layer("slice", dict(**_opts(start=(start, 0), stop=(None if stop == n else stop,
                                                               None)), dim=dim), [src])


def _slice(node, g):
    x = _act(node, g)
    shape = g.shape(x)
    rank = len(shape)
    what = f"Slice '{node.name}'"
    if g.opset < 10:
        starts, ends = attr(node, "starts"), attr(node, "ends")
        axes, steps = attr(node, "axes"), None
    else:
        starts, ends = g.value(node.input[1], what), g.value(node.input[2], what)
        axes = g.value(node.input[3], what) if _given(node, 3) else None
        steps = g.value(node.input[4], what) if _given(node, 4) else None
    axes = list(axes) if axes is not None else list(range(len(starts)))
    steps = list(steps) if steps is not None else [1] * len(starts)
    layers, every = [], [1] * (rank - 2)
    for a, s, e, st in zip(axes, starts, ends, steps):
        a = a + rank if a < 0 else a
        n = shape[a]
        s = min(max(s + n if s < 0 else s, 0), n)
        e = min(max(e + n if e < 0 else e, 0), n)
        if st > 1 and a >= 2 and s == 0 and e == n:
            every[a - 2] = st  # every st-th position: below, a 1 x 1 max pool of stride st
            continue
        if s == 0 and e == n and st == 1:
            continue
        if st != 1:
            raise Unmapped(f"Slice with step {st} (only every st-th position of a whole "
                           "spatial axis is mapped)")
        layers.append(_slice_layer(_axis(a, rank, "Slice"), s, e, n, None if layers else x))
    if any(st > 1 for st in every):
        layers.append(Layer(f"maxpool{rank - 2}d", dict(kernel=1, stride=_one(every)),
                            [None] if layers else [x]))
    return layers or None


def _split(node, g):
    x = _act(node, g)
    shape = g.shape(x)
    rank = len(shape)
    axis = attr(node, "axis", 0)
    dim = _axis(axis, rank, "Split")
    a, start, layers = dim + 1, 0, []
    for out in node.output:
        size = g.shape(out)[a]
        if out:
            layers.append(Layer("slice", dict(dim=dim, **_opts(start=(start, 0)),
                                              stop=start + size), [x], output=out))
        start += size
    return layers


def _gather(node, g):
    data, index = node.input[0], node.input[1]
    axis = attr(node, "axis", 0)
    if g.is_weight(data) and g.is_act(index):
        table = g.shape(data)
        if axis != 0 or len(table) != 2:
            raise Unmapped("Gather of a constant other than rows of a [vocab, dim] table")
        return [Layer("embedding", dict(vocab=table[0], dim=table[1]), [index])]
    x = _act(node, g)
    shape = g.shape(x)
    dim = _axis(axis, len(shape), "Gather")
    where = f"Gather '{node.name}'"
    picked = g.value(index, where)
    n = shape[dim + 1]
    picked = [p + n if p < 0 else p for p in picked]
    if len(g.shape(index)) == 0:  # one index: the axis goes away
        layers = [_slice_layer(dim, picked[0], picked[0] + 1, n, x)]
        out = list(g.shape(node.output[0]))
        rest = Layer("flatten", {}, [None]) if len(out) == 2 else \
            Layer("reshape", dict(shape=out[1:]), [None])
        return layers + [rest]
    if dim == 0 and len(g.shape(index)) == 1:
        return [Layer("indexchannels", dict(count=len(picked)), [x])]
    raise Unmapped("Gather of several indices along an axis other than the channels")


def _passthrough(node, g):
    return None


_BROADCASTING = ("Add", "Sub", "Mul", "Div")


def _expand(node, g):
    """Expand of an activation read only by element-wise Add, Sub, Mul and Div of two
    activations, which broadcast it the same way: no layer (they read it unexpanded)."""
    out = node.output[0]
    readers = g.readers.get(out, [])
    if readers and out != g.output and all(
            r.op_type in _BROADCASTING and sum(g.is_act(i) for i in r.input) == 2
            for r in readers):
        return None
    raise Unmapped("Expand read by other than an element-wise Add, Sub, Mul or Div")


OPS = {
    "Conv": _conv, "ConvTranspose": _conv_transpose,
    "MaxPool": _pool, "AveragePool": _pool,
    "GlobalAveragePool": _global_pool, "GlobalMaxPool": _global_pool,
    "ReduceMean": _reduce, "ReduceMax": _reduce,
    "Gemm": _gemm, "MatMul": _matmul, "Einsum": _einsum,
    "Add": _elementwise, "Sub": _elementwise, "Mul": _elementwise, "Div": _elementwise,
    "Concat": _concat,
    "BatchNormalization": _batchnorm, "InstanceNormalization": _instancenorm,
    "LayerNormalization": _layernorm, "GroupNormalization": _groupnorm, "LRN": _lrn,
    **{op: _activation for op in (*_PLAIN, "LeakyRelu", "Elu", "Gelu", "PRelu", "Softmax",
                                  "LogSoftmax", "Dropout")},
    "Clip": _clip, "Erf": _erf,
    "Reshape": _reshape, "Flatten": _flatten, "Squeeze": _squeeze, "Unsqueeze": _squeeze,
    "Transpose": _transpose, "Resize": _resize, "Upsample": _resize, "Pad": _pad,
    "Slice": _slice, "Split": _split, "Gather": _gather,
    "DepthToSpace": _depth_space, "SpaceToDepth": _depth_space,
    "Identity": _passthrough, "Cast": _passthrough, "Expand": _expand,
    "Neg": _passthrough,  # element-wise, as a scale by a number: no layer
}


def map_node(node, g):
    """The layers of one node (see the module docstring); Unmapped for what has none."""
    if node.domain not in ("", "ai.onnx"):
        raise Unmapped(f"{node.domain}.{node.op_type} (an operator outside ONNX's own set)")
    fn = OPS.get(node.op_type)
    if fn is None:
        raise Unmapped(node.op_type)
    return fn(node, g)
