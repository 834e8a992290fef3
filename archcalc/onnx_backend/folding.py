"""The few ONNX operators that compute sizes, evaluated on small constant arrays.

Exporters compute a slice's bounds, a pad's widths or a reshape's target in the graph
(torch.onnx: an Unsqueeze of a Constant, a Concat of sizes from Shape, a Where that
replaces -1 in an Expand's shape); ``evaluate`` gives
the value of one such node from its inputs' values with numpy, so the op map can read it.
It knows only these operators; any other gives None (the value stays unknown).
"""

from __future__ import annotations

import numpy as np
from onnx import helper, numpy_helper

_SMALL = 4096  # elements of a value it makes (a size, never a tensor of data)


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _axes(node, ins, opset, i=1):
    if opset >= 13 and len(ins) > i and ins[i] is not None:
        return [int(a) for a in np.asarray(ins[i]).reshape(-1)]
    axes = _attr(node, "axes")
    return None if axes is None else [int(a) for a in axes]


def evaluate(node, ins: list, opset: int):
    """The node's first output from its inputs' values (arrays; for Shape and Size, the
    input's shape), or None for an operator it does not evaluate."""
    op = node.op_type
    x = ins[0] if ins else None
    if op == "Shape":
        shape = np.array(x, dtype=np.int64)
        start, end = _attr(node, "start", 0), _attr(node, "end", None)
        return shape[start:end]
    if op == "Size":
        return np.array(int(np.prod(x)), dtype=np.int64)
    if op == "Identity":
        return np.asarray(x)
    if op == "Cast":
        return np.asarray(x).astype(helper.tensor_dtype_to_np_dtype(_attr(node, "to")))
    if op == "Unsqueeze":
        out = np.asarray(x)
        rank = out.ndim + len(_axes(node, ins, opset))
        for a in sorted(a % rank for a in _axes(node, ins, opset)):
            out = np.expand_dims(out, a)
        return out
    if op == "Squeeze":
        axes = _axes(node, ins, opset)
        return np.squeeze(np.asarray(x), axis=None if axes is None else tuple(axes))
    if op == "Concat":
        return np.concatenate([np.atleast_1d(np.asarray(v)) for v in ins if v is not None],
                              axis=_attr(node, "axis", 0))
    if op == "Gather":
        return np.take(np.asarray(x), np.asarray(ins[1]), axis=_attr(node, "axis", 0))
    if op == "Equal":
        return np.equal(np.asarray(x), np.asarray(ins[1]))
    if op == "Where":
        return np.where(np.asarray(x), np.asarray(ins[1]), np.asarray(ins[2]))
    if op == "Expand":
        a, shape = np.asarray(x), [int(d) for d in np.asarray(ins[1]).reshape(-1)]
        out = np.broadcast_shapes(a.shape, tuple(shape))  # ONNX's Expand broadcasts both
        return np.broadcast_to(a, out).copy() if int(np.prod(out)) <= _SMALL else None
    if op == "Transpose":
        perm = _attr(node, "perm")
        return np.transpose(np.asarray(x), None if perm is None else list(perm))
    if op == "Reshape":
        target = [int(d) for d in np.asarray(ins[1]).reshape(-1)]
        shape = [np.shape(x)[i] if d == 0 else d for i, d in enumerate(target)]
        return np.reshape(np.asarray(x), shape)
    if op in ("Add", "Sub", "Mul"):
        fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply}[op]
        return fn(np.asarray(x), np.asarray(ins[1]))
    if op == "Div":
        a, b = np.asarray(x), np.asarray(ins[1])
        if a.dtype.kind in "iu" and b.dtype.kind in "iu":
            return (np.trunc(a / b)).astype(a.dtype)  # ONNX's integer division truncates
        return a / b
    if op == "Slice" and opset >= 10:
        a = np.asarray(x)
        starts = np.asarray(ins[1]).reshape(-1)
        ends = np.asarray(ins[2]).reshape(-1)
        axes = np.asarray(ins[3]).reshape(-1) if len(ins) > 3 and ins[3] is not None \
            else range(len(starts))
        steps = np.asarray(ins[4]).reshape(-1) if len(ins) > 4 and ins[4] is not None \
            else [1] * len(starts)
        index = [slice(None)] * a.ndim
        for ax, s, e, st in zip(axes, starts, ends, steps):
            index[int(ax)] = slice(int(s), int(e), int(st))
        return a[tuple(index)]
    if op == "ConstantOfShape":
        value = _attr(node, "value")
        fill = 0.0 if value is None else numpy_helper.to_array(value).reshape(-1)[0]
        shape = [int(d) for d in np.asarray(x).reshape(-1)]
        if any(d < 0 for d in shape) or int(np.prod(shape)) > _SMALL:
            return None
        return np.full(shape, fill)
    return None
