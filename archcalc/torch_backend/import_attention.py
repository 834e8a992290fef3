"""Attention in a traced graph as archcalc's attention layers (``archcalc import torch``).

``nn.MultiheadAttention`` (batch_first) is ``multiheadattention``. Hand-written
attention is recognised as a whole and written as one ``attention`` layer when it is
exactly the layer's computation: query, key and value projections (three Linears, the keys
and values perhaps of another tensor: cross-attention, ``kv``; or one qkv Linear split,
chunked or reshaped into three), each viewed as heads and transposed to
[.., H, T, d] (queries and keys perhaps rotated, ``x * cos + rotate_half(x) * sin``;
keys and values perhaps repeated to the query heads by ``repeat_interleave`` or HF's
repeat_kv), then ``F.scaled_dot_product_attention`` or the
explicit ``softmax(q @ k.transpose(-2, -1) * scale) @ v`` or its einsum (a causal mask by
``is_causal``, by a lower-triangular ``attn_mask``, or by ``masked_fill`` or an additive
mask computed from buffers or sizes, −inf or HF's ``(1 - m) * min``; zeros added; dtype
casts around the softmax; dropout of the weights; a learned relative-position bias added
to the scores, a table [N, H] read at constant ids, ``import_position_bias.py``; Swin's
shifted-window mask, a constant added to the scores viewed per window, which counts
nothing), the heads merged back to [.., T, H·d] and an output
Linear. Its arguments: heads, kv_heads (fewer key/value heads: grouped-query), head_dim,
out, the bias flags, kv, causal, rotary, bias_table, dropout and a scale other than 1/√d.
Every intermediate value must be read only inside the pattern. Anything else (a mask that
is not causal, no output projection) is left to ``import_products.py``, which maps its ops
one by one.
"""

from __future__ import annotations

import inspect
import math
import operator

import torch
import torch.nn.functional as F
from torch import nn

from .import_map import Unmapped, _arg, _opts, _shape
from .import_graph import CONST, LEARNED
from .import_position_bias import NotATable, bias_table, is_zero

MATMULS = (operator.matmul, torch.matmul, torch.bmm)
MATMUL_METHODS = ("matmul", "bmm")
_SOFTMAX = (F.softmax, torch.softmax)
_SCALAR_MUL = (operator.mul, torch.mul)
_SCALAR_DIV = (operator.truediv, torch.div)
_RESHAPES = ("view", "reshape", "unflatten")  # unflatten(-1, (H, d)): the same view
CASTS = ("float", "half", "bfloat16", "double", "type_as", "to")


class NoMatch(Exception):
    """The subgraph is not the attention pattern exactly (its ops are mapped one by one)."""


def _need(condition) -> None:
    if not condition:
        raise NoMatch


def annotate(traced) -> None:
    for node in traced.nodes:
        if node.op == "call_module" and \
                isinstance(traced.modules[node.target], nn.MultiheadAttention):
            _multihead(traced, node)
    tables: set = set()  # the bias tables an attention layer counts (a later reader: none)
    for node in traced.nodes:
        if traced.decided(node) or not traced.live(node) or \
                not (is_sdpa(node) or is_matmul(node) or _einsum(node, "ij,jd->id")):
            continue
        try:
            anchor, layer, absorbed, table = _attention(traced, node, tables)
        except NotATable as e:
            if e.node is not None and not traced.decided(e.node):
                traced.decide(e.node, Unmapped(e.op))  # a bias no op maps: refused there
            continue
        except (NoMatch, TypeError, ValueError, IndexError, KeyError, AttributeError):
            continue  # not this pattern: its ops are mapped one by one
        if any(traced.decided(n) for n in absorbed):
            continue
        for n in absorbed:
            traced.decide(n, None)
        traced.decide(anchor, layer)
        if table is not None:
            tables.add(id(table))


# ---------------------------------------------------------------- nn.MultiheadAttention
def _sequence_attention(m) -> bool:
    """archcalc export's SequenceAttention: nn.MultiheadAttention whose forward(x, kv=None)
    is the module on (x, kv, kv), kv x by default, giving the output alone."""
    return type(m).__name__ == "SequenceAttention" and \
        list(inspect.signature(type(m).forward).parameters) == ["self", "x", "kv"]


def _multihead(traced, node) -> None:
    m = traced.modules[node.target]
    sequence = _sequence_attention(m)
    if type(m) is not nn.MultiheadAttention and not sequence:
        traced.decide(node, Unmapped(f"{type(m).__name__}, a subclass of "
                                     "nn.MultiheadAttention with a forward of its own"))
        return
    if sequence:
        q = _arg(node, 0, "x")
        k = v = _arg(node, 1, "kv") or q
    else:
        q, k, v = (_arg(node, i, key) for i, key in enumerate(("query", "key", "value")))
    refused = None
    mask = _arg(node, 6, "attn_mask")
    if not m.batch_first:
        refused = "nn.MultiheadAttention with batch_first=False (the batch axis not first)"
    if _arg(node, 4, "key_padding_mask") is not None:
        refused = "nn.MultiheadAttention with key_padding_mask"
    if m.add_zero_attn:
        refused = "nn.MultiheadAttention with add_zero_attn"
    if k is not v:
        refused = "nn.MultiheadAttention with keys other than its values"
    causal = mask is not None and not refused and _causal_self_attention(traced, m, q, k, mask)
    if mask is not None and not causal and not refused:
        refused = "nn.MultiheadAttention with an attn_mask other than a causal one of " \
                  "self-attention without add_bias_kv"
    if refused:
        traced.decide(node, Unmapped(refused))
        return
    if causal:  # the same projections, products and counts as attention's, causal
        args = dict(heads=m.num_heads, **_opts(bias=(m.in_proj_bias is not None, True),
                                               dropout=(float(m.dropout), 0.0)))
        traced.decide(node, ("attention", dict(args, causal=True), [q]))
    else:
        args = dict(heads=m.num_heads, **_opts(bias=(m.in_proj_bias is not None, True),
                                               kdim=(m.kdim, m.embed_dim),
                                               vdim=(m.vdim, m.embed_dim),
                                               add_bias_kv=(m.bias_k is not None, False)))
        if k is not q:
            args["kv"] = k  # cross-attention: the keys' layer by name
        traced.decide(node, ("multiheadattention", args, [q]))
    for user in [] if sequence else node.users:  # (output, weights): the output's
        if user.target is operator.getitem and user.args[1] == 1 and user.users:
            traced.decide(user, Unmapped("the attention weights of nn.MultiheadAttention"))
        elif user.target is operator.getitem:
            traced.decide(user, None)


def _causal_self_attention(traced, m, q, k, mask) -> bool:
    """Whether nn.MultiheadAttention is called as causal self-attention: queries = keys,
    no bias_k, and an attn_mask that is a constant causal mask (bool: True masks; float:
    added, −inf masks)."""
    if q is not k or m.bias_k is not None:
        return False
    meta = mask.meta.get("tensor_meta") if hasattr(mask, "meta") else None
    kind = "fill" if getattr(meta, "dtype", None) == torch.bool else "add"
    try:
        return _causal_mask(traced, mask, kind)
    except NoMatch:
        return False


# ---------------------------------------------------------------- recognising the ops
def is_sdpa(node) -> bool:
    return node.op == "call_function" and node.target is F.scaled_dot_product_attention


def is_matmul(node) -> bool:
    return (node.op == "call_function" and node.target in MATMULS) or \
        (node.op == "call_method" and node.target in MATMUL_METHODS)


def permutation(node):
    """The full order of axes (batch axis included) a transpose, permute, ``.mT`` or a
    movedim of one axis gives, or None for another op."""
    shape = _shape(node.args[0]) if node.args and hasattr(node.args[0], "op") else None
    if shape is None:
        return None
    rank = len(shape)
    order = list(range(rank))
    if (node.op == "call_method" and node.target in ("transpose", "swapaxes", "swapdims")) or \
            (node.op == "call_function" and node.target in (torch.transpose, torch.swapaxes)):
        a, b = _arg(node, 1, "dim0"), _arg(node, 2, "dim1")
        if not (isinstance(a, int) and isinstance(b, int)):
            return None
        a, b = a % rank, b % rank
        order[a], order[b] = order[b], order[a]
        return tuple(order)
    if (node.op == "call_method" and node.target == "permute") or \
            (node.op == "call_function" and node.target is torch.permute):
        dims = node.args[1:] if not isinstance(node.args[1], (tuple, list)) else node.args[1]
        return tuple(d % rank for d in dims)
    if node.op == "call_function" and node.target is getattr and node.args[1] == "mT":
        order[-1], order[-2] = order[-2], order[-1]
        return tuple(order)
    if (node.op == "call_method" and node.target in ("movedim", "moveaxis")) or \
            (node.op == "call_function" and node.target in (torch.movedim, torch.moveaxis)):
        source, destination = _arg(node, 1, "source"), _arg(node, 2, "destination")
        if not (isinstance(source, int) and isinstance(destination, int)):
            return None  # several axes at once: not mapped
        order.remove(source % rank)
        order.insert(destination % rank, source % rank)
        return tuple(order)
    return None


def swap(rank: int, a: int, b: int) -> tuple:
    order = list(range(rank))
    order[a % rank], order[b % rank] = order[b % rank], order[a % rank]
    return tuple(order)


def scalar(node, traced):
    """(the live operand, the factor) of a multiply or divide by a number (a constant, or
    one computed from sizes such as ``1 / math.sqrt(k.size(-1))``), else None."""
    if not (node.op == "call_function" and node.target in _SCALAR_MUL + _SCALAR_DIV or
            node.op == "call_method" and node.target in ("mul", "div")):
        return None
    a, b = (list(node.args) + [None, None])[:2]
    div = node.target in _SCALAR_DIV or node.target == "div"
    pairs = [(a, b)] if div else [(a, b), (b, a)]
    for tensor, number in pairs:
        if hasattr(tensor, "op") and traced.live(tensor):
            value = _number(traced, number)
            if value is not None:
                return tensor, (1 / value if div else value)
    return None


def _number(traced, v):
    if hasattr(v, "op") and traced.kind.get(v) is None:  # a value computed from sizes
        try:
            v = traced.value(v)
        except Exception:  # noqa: BLE001 - not a number archcalc can compute
            return None
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v != 0:
        return float(v)
    return None


def _softmax_last(node) -> bool:
    if _shape(node) is None:
        return False
    rank = len(_shape(node))
    if node.op == "call_function" and node.target in _SOFTMAX:
        dim = _arg(node, 1, "dim")
    elif node.op == "call_method" and node.target == "softmax":
        dim = _arg(node, 1, "dim")
    else:
        return False
    return dim is not None and dim % rank == rank - 1


def _dropout(traced, node):
    """The probability of a dropout (module or F.dropout), else None."""
    if node.op == "call_module" and type(traced.modules[node.target]) is nn.Dropout:
        return traced.modules[node.target].p
    if node.op == "call_function" and node.target is F.dropout:
        return _arg(node, 1, "p", 0.5) if _arg(node, 2, "training", True) else 0.0
    return None


def _operands(node) -> tuple:
    if node.op == "call_function" and node.target is torch.einsum:
        ops = node.args[1:]
        return tuple(ops[0]) if len(ops) == 1 else tuple(ops)
    return node.args[0], node.args[1]


def _einsum(node, form: str) -> bool:
    """torch.einsum of two operands in the form ``ij,jd->id`` (A·V) or ``id,jd->ij``
    (Q·Kᵀ) on any same leading subscripts."""
    if node.op != "call_function" or node.target is not torch.einsum or \
            not isinstance(node.args[0], str) or len(_operands(node)) != 2:
        return False
    text = node.args[0].replace(" ", "")
    lhs, arrow, out = text.partition("->")
    terms = lhs.split(",") + [out]
    if not arrow or len(terms) != 3 or any(len(t) < 2 for t in terms):
        return False
    lead = terms[0][:-2]
    if any(t[:-2] != lead for t in terms):
        return False
    (a, b), (c, d), (e, f) = (t[-2:] for t in terms)
    if len({a, b, c, d, e, f}) != 3 or {a, b, c, d, e, f} & set(lead):
        return False
    if form == "ij,jd->id":  # i j, j d -> i d
        return b == c and (e, f) == (a, d) and len({a, b, d}) == 3
    return b == d and (e, f) == (a, c) and len({a, b, c}) == 3  # i d, j d -> i j


# ---------------------------------------------------------------- the pattern
def _attention(traced, node, tables: set) -> tuple:
    """(the output projection, its attention layer, the nodes it replaces, the bias table it
    reads or None); ``tables``: the ids of the tables earlier attention layers count (read
    again, as T5's later blocks read the first block's, a table is no parameter here)."""
    absorbed: list = []
    table: list = []  # the relative-position bias table's (rows, heads, tensor), if one is added
    q, k, v, causal, p, scale, gqa = _core(traced, node, absorbed, table)
    (k, repeated_k), (v, repeated_v) = _repeated(k, absorbed), _repeated(v, absorbed)
    gqa = gqa or (repeated_k and repeated_v)
    (q, rotary), (k, rotary_k) = _rotated(traced, q, absorbed), _rotated(traced, k, absorbed)
    _need(rotary == rotary_k)
    parts = [_heads(traced, t, absorbed) for t in (q, k, v)]
    (_, _, heads, d), (_, _, kv_heads, dk), (_, _, kv_v, dv) = parts
    _need(d == dk == dv and kv_heads == kv_v and heads % kv_heads == 0)
    _need(kv_heads == heads or gqa or kv_heads == 1)
    x, source, flags = _projections(traced, parts, heads, kv_heads, d, absorbed)
    out = _merge(traced, node, heads, d, absorbed)
    o = traced.modules[out.target]
    flags["o"] = o.bias is not None
    inside = set(absorbed) | {out}
    for n in absorbed:  # read only inside the pattern
        _need(all(u in inside for u in traced.tensor_users(n)))
    embed = _shape(x)[-1]
    args: dict = dict(heads=heads)
    if kv_heads != heads:
        args["kv_heads"] = kv_heads
    if heads * d != embed:
        args["head_dim"] = d
    if o.out_features != embed:
        args["out"] = o.out_features
    if not any(flags.values()):
        args["bias"] = False
    else:
        args.update({f"{key}_bias": False for key, on in flags.items() if not on})
    if source is not x:  # cross-attention: keys and values of another tensor, by name
        args["kv"] = source
    if causal:
        args["causal"] = True
    if rotary:
        args["rotary"] = True
    if table:
        _need(table[0][1] == heads)
        if id(table[0][2]) not in tables:
            args["bias_table"] = table[0][0]
    if scale is not None and not math.isclose(scale, 1 / math.sqrt(d), rel_tol=1e-9):
        args["scale"] = float(scale)
    if p:
        args["dropout"] = float(p)
    return out, ("attention", args, [x], _owner(traced, [*absorbed, out])), absorbed, \
        table[0][2] if table else None


def _core(traced, node, absorbed, table) -> tuple:
    """q, k, v, causal, dropout, scale (None: 1/√d), enable_gqa of SDPA or of the explicit
    softmax(q·kᵀ·scale + bias)·v ending at ``node`` (a relative-position bias table added to
    the scores: its [rows, heads] appended to ``table``)."""
    absorbed.append(node)
    if is_sdpa(node):
        q, k, v = (_arg(node, i, key) for i, key in enumerate(("query", "key", "value")))
        mask = _arg(node, 3, "attn_mask")
        causal = bool(_arg(node, 5, "is_causal", False))
        if mask is not None:
            _need(not causal)
            causal = _causal_mask(traced, mask, "sdpa")
        return (q, k, v, causal, _arg(node, 4, "dropout_p", 0.0), _arg(node, 6, "scale"),
                bool(_arg(node, 7, "enable_gqa", False)))
    weights, v = _operands(node)
    p = _dropout(traced, weights)
    if p is not None:
        absorbed.append(weights)
        weights = weights.args[0]
    weights = _uncast(weights, absorbed)
    _need(_softmax_last(weights))
    absorbed.append(weights)
    scores, scale, causal = _uncast(weights.args[0], absorbed), 1.0, False
    while not (is_matmul(scores) or _einsum(scores, "id,jd->ij")):  # scale, mask
        absorbed.append(scores)
        by = scalar(scores, traced)
        if by is not None:
            scores, factor = by
            scale *= factor
        elif scores.op == "call_method" and scores.target == "masked_fill":
            _need(not causal and _arg(scores, 2, "value") == float("-inf"))
            causal = _causal_mask(traced, _arg(scores, 1, "mask"), "fill")
            scores = scores.args[0]
        elif _window_mask(traced, scores):  # Swin's shifted windows: one mask per window
            added = scores.args[0]
            split = next(a for a in _operands(added) if traced.live(a))
            absorbed += [added, split]
            scores = split.args[0]
        elif scores.op == "call_function" and scores.target in (operator.add, torch.add):
            a, b = _operands(scores)
            added = scores
            mask, scores = (b, a) if traced.live(a) else (a, b)
            if traced.kind.get(mask) == LEARNED:  # a relative-position bias (+ T5's mask)
                _need(not table)
                rows, heads, tensor, mask = bias_table(traced, mask, _shape(scores), added)
                table.append((rows, heads, tensor))
                if mask is not None:
                    _need(not causal)
                    causal = _causal_mask(traced, mask, "add")
                continue
            if is_zero(traced, mask):  # zeros added (T5's cross-attention): nothing
                continue
            _need(not causal)
            causal = _causal_mask(traced, mask, "add")
        else:
            raise NoMatch
    absorbed.append(scores)
    if _einsum(scores, "id,jd->ij"):  # k is not transposed
        q, k = _operands(scores)
        q, scale = _unscaled(traced, q, scale, absorbed)
        k, scale = _unscaled(traced, k, scale, absorbed)
        return q, k, v, causal, p or 0.0, scale, False
    q, kt = _operands(scores)
    q, scale = _unscaled(traced, q, scale, absorbed)
    order = permutation(kt)
    _need(order == swap(len(_shape(kt)), -2, -1))
    absorbed.append(kt)
    k, scale = _unscaled(traced, kt.args[0], scale, absorbed)
    return q, k, v, causal, p or 0.0, scale, False


def _window_mask(traced, node) -> bool:
    """Whether ``node`` is ``(s.view(B, n, H, T, T) + mask).view(B·n, H, T, T)`` with a
    constant mask: the scores of n windows folded into the batch axis viewed apart, a mask
    per window added (Swin's shifted windows: it adds, it multiplies nothing) and folded
    back."""
    if not (node.op == "call_method" and node.target in _RESHAPES):
        return False
    added = node.args[0]
    if not (added.op == "call_function" and added.target in (operator.add, torch.add)):
        return False
    ops = _operands(added)
    live = [a for a in ops if hasattr(a, "op") and traced.live(a)]
    consts = [a for a in ops if hasattr(a, "op") and traced.kind.get(a) == CONST]
    if len(live) != 1 or len(consts) != 1:
        return False
    split = live[0]
    if not (split.op == "call_method" and split.target in _RESHAPES):
        return False
    inner, outer = _shape(split.args[0]), _shape(split)
    return tuple(inner) == tuple(_shape(node)) and len(outer) == len(inner) + 1 and \
        outer[0] * outer[1] == inner[0] and tuple(outer[2:]) == tuple(inner[1:]) and \
        outer[1] > 1 and len(traced.tensor_users(split)) == 1 and \
        len(traced.tensor_users(added)) == 1


def _uncast(node, absorbed):
    """The tensor before dtype casts (``.float()``, ``.type_as(q)``: softmax in float32)."""
    while node.op == "call_method" and node.target in CASTS:
        absorbed.append(node)
        node = node.args[0]
    return node


def _unscaled(traced, node, scale, absorbed) -> tuple:
    while scalar(node, traced) is not None:
        absorbed.append(node)
        node, factor = scalar(node, traced)
        scale *= factor
    return node, scale


def _causal_mask(traced, node, kind: str) -> bool:
    """True for a constant mask that is exactly causal; NoMatch for any other mask.
    ``kind``: fill (masked_fill: True is masked), sdpa (bool: True attends; float: added),
    add (added to the scores: 0 attends, −inf or the dtype's least value, which softmax
    makes zero as it does −inf, does not)."""
    _need(hasattr(node, "op") and traced.kind.get(node) == CONST)
    try:
        m = traced.value(node)
    except Exception:  # noqa: BLE001 - a mask archcalc cannot compute is no causal mask
        raise NoMatch from None
    _need(isinstance(m, torch.Tensor) and m.dim() >= 2 and m.shape[-1] == m.shape[-2])
    if m.dtype == torch.bool:
        allowed = ~m if kind == "fill" else m
    else:
        _need(kind != "fill")
        allowed = m == 0  # the others −inf, or the dtype's least value (HF's (1 - m) * min)
        _need(m.is_floating_point() and bool(torch.all(
            torch.isneginf(m[~allowed]) | (m[~allowed] == torch.finfo(m.dtype).min))))
    n = m.shape[-1]
    _need(bool(torch.all(allowed == torch.ones(n, n, dtype=torch.bool).tril())))
    return True


_ADD = (operator.add, torch.add)
_MUL = (operator.mul, torch.mul)
_NEG = (operator.neg, torch.neg)


def _rotated(traced, node, absorbed) -> tuple:
    """(the heads before a rotary embedding, whether there was one): ``x * cos +
    rotate_half(x) * sin`` with constant cos and sin, rotate_half(x) =
    ``torch.cat((-x[..., d/2:], x[..., :d/2]), dim=-1)`` (HF's apply_rotary_pos_emb)."""
    if not (node.op == "call_function" and node.target in _ADD and len(node.args) == 2):
        return node, False
    seen = [node]
    products = []
    for term in node.args:
        if not (hasattr(term, "op") and term.op == "call_function" and term.target in _MUL):
            return node, False
        a, b = term.args
        live, const = (a, b) if traced.live(a) else (b, a)
        if traced.kind.get(const) != CONST or not traced.live(live):
            return node, False
        products.append(live)
        seen.append(term)
    x, turned = products if products[1].op == "call_function" and \
        products[1].target is torch.cat else products[::-1]
    if not (turned.op == "call_function" and turned.target is torch.cat):
        return node, False
    parts = list(turned.args[0])
    dim = _arg(turned, 1, "dim", 0)
    rank = len(_shape(x))
    half = _shape(x)[-1] // 2
    if len(parts) != 2 or dim % rank != rank - 1 or _shape(x)[-1] % 2:
        return node, False
    neg, first = parts
    if not (neg.op == "call_function" and neg.target in _NEG or
            neg.op == "call_method" and neg.target == "neg"):
        return node, False
    second = neg.args[0]
    for part, want in ((first, slice(None, half)), (second, slice(half, None))):
        if not (part.op == "call_function" and part.target is operator.getitem and
                part.args[0] is x):
            return node, False
        index = part.args[1] if isinstance(part.args[1], tuple) else (part.args[1],)
        last, lead = index[-1], index[:-1]
        if not isinstance(last, slice) or last.step not in (None, 1) or \
                not all(i is Ellipsis or i == slice(None) for i in lead):
            return node, False
        bounds = (_size(traced, last.start, 0), _size(traced, last.stop, _shape(x)[-1]))
        if bounds != (want.start or 0, want.stop or _shape(x)[-1]):
            return node, False
    absorbed += [*seen, turned, neg, first, second]
    return x, True


def _size(traced, v, default):
    """A slice bound: a number, None (the default), or one computed from sizes."""
    if v is None:
        return default
    if hasattr(v, "op") and traced.kind.get(v) is None:
        v = traced.value(v)
    return v


def _repeated(node, absorbed) -> tuple:
    """(the key or value heads before they are repeated to the query heads, whether they
    were): ``repeat_interleave(n, dim=1)``, or HF's repeat_kv,
    ``x[:, :, None].expand(B, H_kv, n, T, d).reshape(B, H_kv·n, T, d)``."""
    if (node.op == "call_method" and node.target == "repeat_interleave" or
            node.op == "call_function" and node.target is torch.repeat_interleave) and \
            isinstance(_arg(node, 2, "dim"), int) and \
            _arg(node, 2, "dim") % len(_shape(node)) == 1 and \
            isinstance(_arg(node, 1, "repeats"), int):  # dim 1 or −3 of [B, H, T, d]
        absorbed.append(node)
        return node.args[0], True
    if node.op == "call_method" and node.target in _RESHAPES:
        grown = node.args[0]
        if grown.op == "call_method" and grown.target == "expand":
            lifted = grown.args[0]
            if lifted.op == "call_function" and lifted.target is operator.getitem and \
                    lifted.args[1] in ((slice(None), slice(None), None, slice(None),
                                        slice(None)), (slice(None), slice(None), None)):
                before, after = _shape(lifted.args[0]), _shape(node)
                if len(before) == len(after) == 4 and before[0] == after[0] and \
                        before[2:] == after[2:] and after[1] % before[1] == 0:
                    absorbed += [node, grown, lifted]
                    return lifted.args[0], True
    return node, False


def _heads(traced, node, absorbed) -> tuple:
    """(the projection's output, its part 0/1/2 of a packed qkv or None, heads, head size)
    of a tensor [.., H, T, d] made from [.., T, H·d] by a view and a transpose."""
    while node.op == "call_module" and type(traced.modules[node.target]) is nn.Identity:
        absorbed.append(node)  # timm's q_norm and k_norm without qk_norm
        node = node.args[0]
    shape = _shape(node)
    rank = len(shape)
    if node.op == "call_function" and node.target is operator.getitem and \
            isinstance(node.args[1], int):  # qkv.reshape(B, T, 3, H, d).permute(2, 0, 3, 1, 4)
        z, part = node.args
        if _is_unbind(z):  # q, k, v = qkv.unbind(0)
            absorbed.append(z)
            z = z.args[0]
        _need(rank == 4 and permutation(z) == (2, 0, 3, 1, 4))
        y = z.args[0]
        _need(y.op == "call_method" and y.target in _RESHAPES)
        src = y.args[0]
        _need(tuple(_shape(y)[:2]) == tuple(_shape(src)[:2]) and _shape(y)[2] == 3 and
              len(_shape(src)) == 3 and _shape(src)[2] == 3 * shape[1] * shape[3])
        absorbed += [node, z, y]
        return src, part, shape[1], shape[3]
    _need(permutation(node) == swap(rank, -3, -2))
    view = node.args[0]
    _need(view.op == "call_method" and view.target in _RESHAPES)
    src = view.args[0]
    heads, d = shape[-3], shape[-1]
    _need(tuple(_shape(src)) == (*_shape(view)[:-2], heads * d))
    absorbed += [node, view]
    return src, None, heads, d


def _is_unbind(node) -> bool:
    return (node.op == "call_method" and node.target == "unbind" or
            node.op == "call_function" and node.target is torch.unbind) and \
        _arg(node, 1, "dim", 0) == 0


def _linear(traced, node):
    _need(node.op == "call_module" and type(traced.modules[node.target]) is nn.Linear)
    return traced.modules[node.target]


def _projections(traced, parts, heads, kv_heads, d, absorbed) -> tuple:
    """(the queries' input, the keys' and values' input, bias per q, k, v) of the
    projections the three parts come from: one input but for three Linears whose keys and
    values read another tensor (cross-attention)."""
    (pq, iq, *_), (pk, ik, *_), (pv, iv, *_) = parts
    sizes = [heads * d, kv_heads * d, kv_heads * d]
    if iq is not None:  # one qkv Linear reshaped into three
        _need(pq is pk is pv and (iq, ik, iv) == (0, 1, 2))
        w = _linear(traced, pq)
        absorbed.append(pq)
        return pq.args[0], pq.args[0], {key: w.bias is not None for key in "qkv"}
    if pq.op == "call_function" and pq.target is operator.getitem:  # split / chunk
        split = pq.args[0]
        _need(pk.op == pv.op == "call_function" and pk.target is pv.target is operator.getitem
              and pk.args[0] is split and pv.args[0] is split and
              (pq.args[1], pk.args[1], pv.args[1]) == (0, 1, 2))
        _need(split.op == "call_method" and split.target in ("split", "chunk") or
              split.op == "call_function" and split.target in (torch.split, torch.chunk))
        meta = split.meta.get("tensor_meta")
        _need(isinstance(meta, (tuple, list)) and len(meta) == 3)
        source = split.args[0]
        rank = len(_shape(source))
        dim = _arg(split, 2, "dim", 0)
        _need(dim % rank == rank - 1 and [m.shape[-1] for m in meta] == sizes)
        w = _linear(traced, source)
        absorbed += [pq, pk, pv, split, source]
        return source.args[0], source.args[0], {key: w.bias is not None for key in "qkv"}
    ws = [_linear(traced, n) for n in (pq, pk, pv)]
    x = pq.args[0]
    _need(pv.args[0] is pk.args[0])  # keys and values of one tensor: x, or kv (cross)
    _need([w.out_features for w in ws] == sizes)
    _need(traced.live(pk.args[0]))
    absorbed += [pq, pk, pv]
    return x, pk.args[0], {key: w.bias is not None for key, w in zip("qkv", ws)}


def _merge(traced, core, heads, d, absorbed):
    """The output Linear after the heads are put back side by side: [.., T, H·d]."""
    rank = len(_shape(core))
    node = _single_user(traced, core)
    _need(permutation(node) == swap(rank, -3, -2))
    absorbed.append(node)
    node = _single_user(traced, node)
    while node.op == "call_method" and node.target == "contiguous":
        absorbed.append(node)
        node = _single_user(traced, node)
    merged = (*_shape(core)[:-3], _shape(core)[-2], heads * d)
    _need(tuple(_shape(node)) == merged and (
        node.op == "call_method" and node.target in _RESHAPES + ("flatten",) or
        node.op == "call_function" and node.target in (torch.reshape, torch.flatten)))
    absorbed.append(node)
    out = _single_user(traced, node)
    _need(_linear(traced, out).in_features == heads * d)
    return out


def _single_user(traced, node):
    users = traced.tensor_users(node)
    _need(len(users) == 1)
    return users[0]


def _owner(traced, nodes) -> str:
    """The innermost module whose forward made all the nodes (the attention's name)."""
    paths = []
    for n in nodes:
        if n.op == "call_module":
            paths.append(str(n.target).split(".")[:-1])
        else:
            stack = n.meta.get("nn_module_stack") or {}
            last = list(stack.values())[-1] if stack else ""
            paths.append((last[0] if isinstance(last, tuple) else last).split(".")
                         if last else [])
    common = paths[0]
    for p in paths[1:]:
        k = 0
        while k < min(len(common), len(p)) and common[k] == p[k]:
            k += 1
        common = common[:k]
    return ".".join(common) or "attention"
