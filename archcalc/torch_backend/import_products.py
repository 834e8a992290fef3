"""The ops of attention written by hand, one by one, where it is not recognised as a whole
(``archcalc import torch``; ``import_attention.py`` tries that first).

``@``, ``torch.matmul``, ``torch.bmm`` → ``matmul`` (a transpose of the last two axes read
only by it is its ``transpose: true``); ``torch.einsum`` → ``einsum`` (the batch axis's
subscript dropped); ``transpose``, ``swapaxes``, ``.mT`` → ``permute``; ``.softmax`` →
``softmax``; the parts of ``split`` and ``chunk`` → ``slice``; ``x[:, i]`` → ``slice`` and
``flatten``; a multiply or divide by a number, and a constant mask filled in or added →
``identity`` (element-wise: no parameters, no multiply-accumulates, as FlopCounterMode
counts none); ``F.scaled_dot_product_attention`` alone → ``matmul`` (q·kᵀ), ``softmax``,
``matmul`` (·v), the two products it computes; a dtype cast (``.float()``,
``.type_as(q)``) is no layer.
"""

from __future__ import annotations

import math
import operator
import re

import torch

from .import_attention import CASTS, is_matmul, is_sdpa, permutation, scalar, swap
from .import_map import PREVIOUS, Unmapped, _arg, _dim, _opts, _shape
from .import_graph import CONST, LIVE

_NOT_MINE = object()
_SPLITS = ("split", "chunk")


def annotate(traced) -> None:
    for node in traced.nodes:
        if traced.decided(node) or not traced.live(node) or node.op == "placeholder":
            continue
        try:
            layer = _map(traced, node)
        except Unmapped as e:
            layer = e
        except (TypeError, ValueError, IndexError, KeyError, AttributeError):
            layer = _NOT_MINE  # an unusual call: import_map maps it or says which op it is
        if layer is not _NOT_MINE:
            traced.decide(node, layer)


def _map(traced, node):
    if node.op == "call_method" and node.target in CASTS:
        return None  # a dtype cast: the same values for counting
    if is_matmul(node):
        return _matmul(traced, node)
    if is_sdpa(node):
        return _sdpa(node)
    if node.op == "call_function" and node.target is torch.einsum:
        return _einsum(traced, node)
    order = permutation(node)
    if order is not None and not (node.op == "call_method" and node.target == "permute"):
        if _folded(traced, node):
            return None  # the matmul reading it transposes
        if order[0] != 0:
            raise Unmapped("a transpose of the batch axis")
        return "permute", dict(dims=[d - 1 for d in order[1:]]), [node.args[0]]
    if node.op == "call_method" and node.target in ("view", "reshape") or \
            node.op == "call_function" and node.target is torch.reshape:
        return _reshape(node)
    if node.op == "call_method" and node.target == "softmax":
        return "softmax", dict(dim=_dim(_arg(node, 1, "dim"))), [node.args[0]]
    if node.op == "call_function" and node.target is operator.getitem:
        return _getitem(traced, node)
    if scalar(node, traced) is not None:
        return "identity", {}, [scalar(node, traced)[0]]
    return _masking(traced, node)


def _reshape(node):
    """A view that merges consecutive axes → flatten; one that keeps the first axis and
    splits or merges the rest → reshape with -1 there (the sequence's length, or a
    channel count, may then be a free symbol); others are import_map's."""
    x = node.args[0]
    before, after = tuple(_shape(x)[1:]), tuple(_shape(node)[1:])
    if _shape(x)[0] != _shape(node)[0]:
        return _NOT_MINE  # across the batch axis: refused by import_map
    for start in range(len(before)):
        for end in range(start + 1, len(before)):
            merged = before[:start] + (math.prod(before[start:end + 1]),) + before[end + 1:]
            if merged == after:
                return "flatten", _opts(start=(start, 0), end=(end - len(before), -1)), [x]
    if len(before) > 1 and len(after) > 1 and before[0] == after[0]:
        return "reshape", dict(shape=[-1, *after[1:]]), [x]
    return _NOT_MINE


def _folded(traced, node) -> bool:
    """A swap of the last two axes read only as a matmul's right operand."""
    users = traced.tensor_users(node)
    return permutation(node) == swap(len(_shape(node)), -2, -1) and len(users) == 1 and \
        is_matmul(users[0]) and users[0].args[1] is node and users[0].args[0] is not node


def _matmul(traced, node):
    a, b = node.args[0], node.args[1]
    if not (traced.live(a) and traced.live(b)):
        raise Unmapped("a product with a learned or constant tensor")
    if min(len(_shape(a)), len(_shape(b))) < 3:
        raise Unmapped("a product of a vector per sample (rank < 2 without the batch axis)")
    if _folded(traced, b):
        return "matmul", dict(transpose=True), [a, b.args[0]]
    return "matmul", {}, [a, b]


def _sdpa(node):
    q, k, v = (_arg(node, i, key) for i, key in enumerate(("query", "key", "value")))
    if _shape(q)[-3] != _shape(k)[-3] and _shape(k)[-3] != 1:
        raise Unmapped("scaled_dot_product_attention with fewer key heads (enable_gqa) "
                       "outside a recognised attention")
    return [("matmul", dict(transpose=True), [q, k]),
            ("softmax", dict(dim=-1), [PREVIOUS]),
            ("matmul", {}, [PREVIOUS, v])]


def _einsum(traced, node):
    equation, *ops = node.args
    if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
        ops = list(ops[0])
    if not all(traced.live(o) for o in ops):
        raise Unmapped("torch.einsum of a learned or constant tensor")
    text = str(equation).replace(" ", "")
    lhs, arrow, rhs = text.partition("->")
    terms = lhs.split(",") + [rhs]
    if not arrow or len(ops) > 2:
        raise Unmapped("torch.einsum without '->' or of more than two operands")
    if all(t.startswith("...") for t in terms):
        stripped = text  # the ellipsis covers the batch axis and fewer in the spec
    else:
        first = {t[:1] for t in terms}
        if len(first) != 1 or not re.fullmatch(r"[A-Za-z]", first.pop()) or \
                any(t[0] in t[1:] for t in terms):
            raise Unmapped(f"torch.einsum '{equation}' whose subscripts do not start with "
                           "the batch axis's")
        stripped = ",".join(t[1:] for t in terms[:-1]) + "->" + terms[-1][1:]
    return "einsum", dict(equation=stripped), ops


def _getitem(traced, node):
    base, index = node.args
    if base.op in ("call_method", "call_function") and \
            (base.target in _SPLITS or base.target in (torch.split, torch.chunk)):
        return _part(base, index)
    if not traced.live(base) or _shape(base) is None:
        return _NOT_MINE
    index = index if isinstance(index, tuple) else (index,)
    picks = [(i, s) for i, s in enumerate(index) if s != slice(None)]
    if len(picks) != 1 or not isinstance(picks[0][1], int) or isinstance(picks[0][1], bool):
        return _NOT_MINE  # slices: import_map's
    axis, i = picks[0]
    rank = len(_shape(base)) - 1  # without the batch axis
    if axis == 0:
        raise Unmapped("indexing the batch axis")
    if rank < 2:
        raise Unmapped("indexing a per-sample vector down to a number")
    axis -= 1
    cut = dict(dim=axis, start=i) if i < 0 else dict(dim=axis, start=i, stop=i + 1)
    cut = {k: v for k, v in cut.items() if not (k in ("dim", "start") and v == 0)}
    join = (axis, axis + 1) if axis + 1 < rank else (axis - 1, axis)
    return [("slice", cut, [base]),
            ("flatten", _opts(start=(join[0], 0), end=(join[1], -1)), [PREVIOUS])]


def _part(split, i):
    """Part i of split or chunk: the slice of its axis it is."""
    meta = split.meta.get("tensor_meta")
    source = split.args[0]
    rank = len(_shape(source))
    dim = _arg(split, 2, "dim", 0) % rank
    if dim == 0:
        raise Unmapped(f"tensor.{getattr(split.target, '__name__', split.target)} of the "
                       "batch axis")
    sizes = [m.shape[dim] for m in meta]
    start = sum(sizes[:i])
    stop = start + sizes[i]
    return "slice", dict(dim=dim - 1, **_opts(start=(start, 0),
                                              stop=(stop, _shape(source)[dim]))), [source]


def _masking(traced, node):
    """x.masked_fill(mask, value), x + mask with a constant mask: element-wise, identity."""
    tensors = [a for a in node.all_input_nodes if traced.kind.get(a) is not None]
    live = [a for a in tensors if traced.kind[a] == LIVE]
    consts = [a for a in tensors if traced.kind[a] == CONST]
    if len(live) != 1 or len(consts) != 1 or len(tensors) != 2:
        return _NOT_MINE
    if node.op == "call_method" and node.target == "masked_fill" and node.args[0] is live[0]:
        return "identity", {}, live
    if node.op == "call_function" and node.target in (operator.add, torch.add, operator.sub,
                                                      torch.sub, operator.mul, torch.mul):
        return "identity", {}, live
    return _NOT_MINE
