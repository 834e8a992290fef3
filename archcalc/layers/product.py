"""Products of the current tensor with named earlier outputs: ``matmul`` and ``einsum``.

Shapes follow torch.matmul and torch.einsum on the spec's tensors (no batch axis; the torch
copy adds it to every operand). MACs are what FlopCounterMode (torch/utils/flop_counter.py,
``mm_flop`` and ``bmm_flop``: 2·b·m·n·k FLOPs) counts for the matrix products these calls
decompose into, measured in tests/test_differential_layers.py:

* matmul (aten/src/ATen/native/LinearAlgebra.cpp, ``_matmul_impl``): operands of rank ≥ 2
  fold or broadcast their leading axes into one mm or bmm, so the MACs are
  ∏(broadcast leading axes)·n·k·m however they are folded;
* einsum with two operands (aten/src/ATen/native/Linear.cpp, ``einsum`` and
  ``sumproduct_pair``; torch/functional.py calls it directly for ≤ 2 operands): axes that
  only one operand has (or has with size 1) and the output lacks are summed away first; the
  rest is one bmm of ∏(output axes) × ∏(axes both contract) — unless nothing is left to
  contract, when it is an element-wise ``at::mul`` that FlopCounterMode does not count.

Receptive fields: an output element reads a whole row of one operand and a whole column of
the other, so no axis follows one input's field; archcalc reports none.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..dims import eq, prod, resolve
from .base import Arg, Ctx, Out, fmt_shape, register_layer
from .backward import backward
from .costs import counts, record_macs
from .saves import CONTIGUOUS, SEQ_FIRST, STRIDED, VIEW, VIEW_STRIDED, Kept, NotModelled
from .saves import kept_input, kept_new, output_layout, saves
from .strides import contiguous, is_contiguous, iterator_order, numbers, reshape_view
from .strides import strides_in_order
from .terms import named, note
from .terms import prod as product

ZERO = {"params": "{type} has no parameters"}


def _is_one(d) -> bool:
    return resolve(eq(d, 1)) is True


def _broadcast(ctx: Ctx, a: tuple, b: tuple, what: str) -> tuple:
    """PyTorch broadcasting of two lists of leading axes (trailing aligned; 1 stretches)."""
    rank = max(len(a), len(b))
    a = (1,) * (rank - len(a)) + tuple(a)
    b = (1,) * (rank - len(b)) + tuple(b)
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if _is_one(x):
            out.append(y)
        elif _is_one(y):
            out.append(x)
        else:
            ctx.require(eq(x, y), f"{what}: leading axis {i} has sizes {x} and {y}, which do "
                                  "not broadcast")
            out.append(x)
    return tuple(out)


# ---------------------------------------------------------------- matmul
@register_layer(
    "matmul", family="product", zero=ZERO,
    args={"with": Arg("ref", tensor=True, doc="the right operand, a named output [.., k, m]"),
          "transpose": Arg("bool", False, doc="transpose its last two axes first ([.., m, k])")},
)
def matmul(ctx: Ctx) -> Out:
    """torch.matmul(x, other): [.., n, k] @ [.., k, m] → [.., n, m]; MACs ∏batch·n·k·m."""
    # The loader requires 'with'; only the layer reference calls the rule without it.
    other = ctx.x if ctx.a["with"] is None else ctx.a["with"]
    for name, shape in (("the input", ctx.x), ("'with'", other)):
        if len(shape) < 2:
            ctx.fail(f"{name} {fmt_shape(shape)} has rank {len(shape)}; matmul needs matrices "
                     "(rank ≥ 2): a vector would meet the batch axis, reshape it to [1, k] "
                     "or [k, 1]")
    right = (*other[:-2], other[-1], other[-2]) if ctx.transpose else tuple(other)
    n, k = ctx.x[-2], ctx.x[-1]
    k2, m = right[-2], right[-1]
    side = "last" if ctx.transpose else "second-to-last"
    ctx.require(eq(k, k2), f"cannot multiply {fmt_shape(ctx.x)} by {fmt_shape(other)}"
                           f"{' transposed' if ctx.transpose else ''}: the input's last axis "
                           f"({k}) must equal the other's {side} axis ({k2})")
    batch = _broadcast(ctx, ctx.x[:-2], right[:-2], "matmul")
    macs = ctx.term("n", n) * ctx.term("k", k) * ctx.term("m", m)
    if batch:
        macs = ctx.term("∏batch", prod(batch)) * macs
    return Out(shape=(*batch, named("n", ctx.term("n", n)), named("m", ctx.term("m", m))),
               macs=macs, rf=(None,) * (len(batch) + 2))


# ---------------------------------------------------------------- einsum
ELLIPSIS = "..."


def _tokens(ctx: Ctx, text: str, what: str) -> list:
    """The subscripts of one operand (or the output): letters, and at most one '...'."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == ".":
            if text[i:i + 3] != ELLIPSIS:
                ctx.fail(f"{what} '{text}' has a '.' that is not part of an ellipsis (...)")
            if ELLIPSIS in out:
                ctx.fail(f"{what} '{text}' has more than one ellipsis (...)")
            out.append(ELLIPSIS)
            i += 3
            continue
        if not ("a" <= c <= "z" or "A" <= c <= "Z"):
            ctx.fail(f"{what} '{text}' has '{c}'; subscripts are letters a-z, A-Z (and ...)")
        out.append(c)
        i += 1
    return out


def _parse(ctx: Ctx, equation, n_ops: int) -> tuple:
    """(per operand its subscripts, the output's subscripts or None when implicit) of a
    torch.einsum equation (aten/src/ATen/native/Linear.cpp, einsum: spaces ignored)."""
    if not isinstance(equation, str):
        ctx.fail(f"'equation' must be a string such as \"ij,jk->ik\", got {equation!r}")
    text = equation.replace(" ", "")
    lhs, arrow, rhs = text.partition("->")
    if "->" in rhs:
        ctx.fail(f"equation '{equation}' has more than one '->'")
    ops = lhs.split(",")
    if len(ops) != n_ops:
        ctx.fail(f"equation '{equation}' names {len(ops)} operand(s), but einsum has {n_ops} "
                 f"(the input and {n_ops - 1} named in 'with')")
    ops = [_tokens(ctx, op, f"operand {i}") for i, op in enumerate(ops)]
    if not arrow:
        return ops, None
    out = _tokens(ctx, rhs, "output")
    for c in out:
        if c != ELLIPSIS and not any(c in op for op in ops):
            ctx.fail(f"output subscript '{c}' appears in no operand of '{equation}'")
        if c != ELLIPSIS and out.count(c) > 1:
            ctx.fail(f"output subscript '{c}' appears more than once in '{equation}'")
    return ops, out


def _expand(ctx: Ctx, ops: list, out, shapes: list) -> tuple:
    """Subscripts with each ellipsis written out as labels ``…0``, ``…1``, …: an operand's
    ellipsis covers its last axes of the broadcast ellipsis (aligned at the right), as
    torch aligns them; the implicit output is the ellipsis, then the letters seen once
    in the order A..Z, a..z."""
    spans = []
    for i, (tokens, shape) in enumerate(zip(ops, shapes)):
        letters = len(tokens) - (ELLIPSIS in tokens)
        if ELLIPSIS in tokens and letters > len(shape):
            ctx.fail(f"operand {i} has {letters} subscripts besides its ellipsis, more than "
                     f"the {len(shape)} axes of its shape {fmt_shape(shape)}")
        if ELLIPSIS not in tokens and letters != len(shape):
            ctx.fail(f"operand {i} '{''.join(tokens)}' has {letters} subscripts but its shape "
                     f"{fmt_shape(shape)} has {len(shape)} axes")
        spans.append(len(shape) - letters if ELLIPSIS in tokens else 0)
    width = max(spans, default=0)
    ell = [f"…{j}" for j in range(width)]
    labels = []
    for tokens, n in zip(ops, spans):
        labels.append([c for t in tokens for c in ((ell[width - n:]) if t == ELLIPSIS
                                                   else (t,))])
    if out is None:  # Linear.cpp: "Implicit output is ellipsis (...) + labels seen only once"
        count: dict = {}
        for tokens in ops:
            for c in tokens:
                if c != ELLIPSIS:
                    count[c] = count.get(c, 0) + 1
        once = sorted((c for c, n in count.items() if n == 1), key=lambda c: (c.islower(), c))
        return labels, ell + once
    return labels, [c for t in out for c in (ell if t == ELLIPSIS else (t,))]


@register_layer(
    "einsum", family="product", zero=ZERO, merge=True,
    args={"equation": Arg("text", doc="torch.einsum's equation without the batch axis, "
                                      "e.g. \"ij,jk->ik\"", example="bij,bjk->bik"),
          "with": Arg("refs", (), doc="the other operand (at most one: see the rule)")},
)
def einsum(ctx: Ctx) -> Out:
    """torch.einsum of the input and at most one named output; MACs of the one bmm."""
    if len(ctx.xs) > 2:
        ctx.fail(f"{len(ctx.xs)} operands: torch.einsum contracts three or more in an order "
                 "that depends on opt_einsum (installed or not, its strategy), so archcalc "
                 "cannot count it exactly; chain einsums of two operands")
    ops, out = _expand(ctx, *_parse(ctx, ctx.equation, len(ctx.xs)), ctx.xs)
    sizes: list = []  # per operand: label -> size, after taking diagonals
    size: dict = {}  # label -> broadcast size
    for i, (labels, shape) in enumerate(zip(ops, ctx.xs)):
        own: dict = {}
        for c, d in zip(labels, shape):
            if c in own:  # a repeated label takes the diagonal: sizes must match exactly
                ctx.require(eq(own[c], d), f"subscript '{c}' is repeated in operand {i} with "
                                           f"sizes {own[c]} and {d}")  # (never an ellipsis's)
                continue
            own[c] = d
            if _is_one(d):
                size.setdefault(c, 1)
            elif c not in size or _is_one(size[c]):
                size[c] = d
            else:
                what = f"subscript '{c}'" if c[0] != "…" else \
                    f"axis {c[1:]} of the ellipsis (counted over all operands' ellipses)"
                ctx.require(eq(size[c], d), f"{what} has size {d} in operand {i}, which does "
                                            f"not broadcast with size {size[c]}")
        sizes.append(own)
    shape = tuple(named(c, ctx.term(c, size[c])) for c in out)
    if len(ops) == 1:
        return Out(shape=shape, macs=note("0 (one operand: no product)", 0) if ctx.terms
                   else 0, rf=(None,) * len(out))
    left, right = sizes
    # Linear.cpp sumproduct_pair: the contracted axes that both operands hold with a size
    # other than 1 are the bmm's k; every output axis is in its batch, m or n.
    both = [c for c in size if c not in out and c in left and c in right
            and not _is_one(left[c]) and not _is_one(right[c])]
    if not both:
        return Out(shape=shape, macs=note("0 (nothing contracted: an element-wise product)", 0)
                   if ctx.terms else 0, rf=(None,) * len(out))
    if not any(resolve(left[c] >= 2) and resolve(right[c] >= 2) for c in both):
        contracted = prod([size[c] for c in both])  # symbols: torch multiplies element-wise
        ctx.require(contracted >= 2, f"the contracted sizes {contracted} must not all be 1 "
                                     "(torch would multiply element-wise, counting nothing)")
    macs = product([ctx.term(c, size[c]) for c in out] + [ctx.term(c, size[c]) for c in both])
    return Out(shape=shape, macs=macs, rf=(None,) * len(out))


# FlopCounterMode: mm and bmm at 2 FLOPs per MAC, the products above exactly (measured in
# tests/test_differential_layers.py).
counts("flopcounter", "matmul", "einsum")(record_macs)


# fvcore/nn/jit_handles.py (0.1.5.post20221221) matmul_flop_jit, and ptflops/pytorch_ops.py
# (0.7.5) _matmul_tensor_flops_hook for the patched torch.matmul: both count
# prod(input.shape) · other.shape[-1], the input's own leading axes only (an operand with
# more leading axes than the input is undercounted). Read from the sources, not measured.
# Neither counts einsum as archcalc does (fvcore asks numpy's einsum_path for an estimate;
# ptflops patches no einsum): their profiles count einsum as 0.
@counts("fvcore", "matmul")
@counts("ptflops", "matmul")
def _matmul_input_times_columns(v):
    """prod(input shape) · the other operand's last size (after the transpose)."""
    other = v.inputs[1]
    return prod(v.x) * (other[-2] if v.arg("transpose", False) else other[-1])



# Backward: bmm/mm's derivatives (tools/autograd/derivatives.yaml) give each operand that
# needs a gradient one product of the forward's size (a broadcast operand's is the same
# product, then summed over the broadcast axes: no MACs); einsum's is that of the bmm it
# decomposes into (an element-wise product has none, as its forward).
@backward("matmul", "einsum")
def _product_backward(v, need):
    """One product of the forward's size per operand that needs a gradient."""
    return (sum(v.record.macs for n in need.inputs if n), 0)

# ---------------------------------------------------------------- kept for backward
# Which storage a product keeps is decided by the strides of the operands it hands to bmm:
# derivatives.yaml, bmm (and mul, for an einsum that contracts nothing) keeps each operand
# for the other's gradient, as the tensor it was given: the input's own storage when the
# permutes and reshapes before it are views, else the copy the reshape made (or the sum that
# took away an axis only one operand has). archcalc/layers/strides.py follows the strides.
class _Refuse:
    """What the spec's parsers call on an error: the analysis has checked the spec, so none
    is expected here."""

    terms = False

    def fail(self, message):
        raise NotModelled(message)


def _full_strides(v, index: int):
    """The strides of input ``index`` with the batch axis, from its layout: contiguous, or
    nn.MultiheadAttention's sequence-first [B, L, E]; None for any other."""
    shape = numbers((v.batch, *v.inputs[index]))
    layout = v.layout(index)
    if layout == CONTIGUOUS:
        return shape, contiguous(shape)
    if layout == SEQ_FIRST and len(shape) == 3:
        b, _, e = shape
        return shape, (e, b * e, 1)
    return shape, None


@dataclass
class _Plan:
    """An einsum as ATen runs it (aten/src/ATen/native/Linear.cpp, einsum and
    sumproduct_pair): what it keeps, and its result's layout."""

    kept: list
    layout: str


def _permuted(values, order) -> tuple:
    return tuple(values[d] for d in order)


@dataclass
class _Operand:
    """One einsum operand aligned to einsum's axes: sizes (closed forms), strides (at
    generic sizes), and whether it is still a view of the input's storage."""

    sizes: list
    strides: list
    view: bool = True

    def numbers(self) -> tuple:
        return numbers(self.sizes)

    def size(self, j):
        return self.sizes[j]


def _align(v, labels: list, index: dict, n_all: int, i: int) -> _Operand:
    """Input ``i`` as einsum aligns it: diagonals of repeated labels, unsqueezed missing
    axes, permuted to einsum's order."""
    full = (v.batch, *v.inputs[i])
    shape, strides = _full_strides(v, i)
    if strides is None:
        raise NotModelled("what einsum keeps of a sliced or permuted operand is not modelled")
    sizes, steps, perm = list(full), list(strides), [-1] * n_all
    d = 0
    for c in labels:
        if perm[index[c]] == -1:
            perm[index[c]] = d
            d += 1
        else:  # op.diagonal(0, prev, d).movedim(-1, prev): a view
            prev = perm[index[c]]
            steps[prev] += steps[d]
            del sizes[d], steps[d]
    for j in range(n_all):
        if perm[j] == -1:  # unsqueeze(d) at the end: size 1, stride 1
            sizes.append(1)
            steps.append(1)
            perm[j] = d
            d += 1
    return _Operand(list(_permuted(sizes, perm)), list(_permuted(steps, perm)))


def _kept(v, i: int, op: _Operand, elements, is_view: bool) -> Kept:
    """What bmm or mul keeps of operand ``i``: the input's storage when it reaches them as a
    view of it, else a tensor of its own."""
    return kept_input(i) if op.view and is_view else kept_new(elements)


def _einsum_plan(v) -> _Plan:
    ops, out = _expand(_Refuse(), *_parse(_Refuse(), v.arg("equation"), len(v.inputs)),
                       list(v.inputs))
    batch = "⊛"  # the letter verify's copy gives the batch axis, first in every operand
    ops = [[batch, *labels] for labels in ops]
    out = [batch, *out]
    ellipsis = [c for labels in ops for c in labels if c.startswith("…")]
    contracted = [c for c in dict.fromkeys(ellipsis) if c not in out]
    letters = sorted({c for labels in ops for c in labels if not c.startswith("…")
                      and c != batch and c not in out}, key=lambda c: (c.islower(), c))
    order = out + contracted + letters  # einsum's axes: the output's, then the contracted
    index = {c: i for i, c in enumerate(order)}
    n_out, n_all = len(out), len(order)
    aligned = [_align(v, labels, index, n_all, i) for i, labels in enumerate(ops)]
    if len(aligned) == 1:
        op = aligned[0]
        if n_all > n_out:  # sum over the contracted axes: a new, contiguous tensor
            return _Plan([], CONTIGUOUS)
        return _Plan([], VIEW if is_contiguous(op.numbers(), tuple(op.strides))
                     else VIEW_STRIDED)
    a, b = aligned
    counts = [sum(not _is_one(op.sizes[j]) for op in aligned) for j in range(n_all)]
    summed = []
    for j in range(n_out, n_all):
        if not _is_one(a.sizes[j]) and not _is_one(b.sizes[j]):
            summed.append(j)
        elif counts[j] == 1:  # only one operand has it: summed away first (keepdim)
            op = a if not _is_one(a.sizes[j]) else b
            op.sizes[j] = 1
            op.strides = list(contiguous(op.numbers()))  # sum's result: new, contiguous
            op.view = False
    grads = v.grads
    if not summed:  # sumproduct_pair's at::mul: each operand kept as it is
        kept = [_kept(v, i, op, prod(op.sizes), True)
                for i, op in ((0, a), (1, b)) if grads[1 - i]]
        shape = tuple(max(x, y) for x, y in zip(a.numbers(), b.numbers()))
        operands = [tuple(0 if n == 1 and m != 1 else st
                          for n, m, st in zip(op.numbers(), shape, op.strides))
                    for op in (a, b)]
        steps = strides_in_order(shape, iterator_order(shape, operands))
        return _Plan(kept, _layout(shape[:n_out], steps[:n_out]))
    both = [j for j in range(n_all) if not _is_one(a.sizes[j]) and not _is_one(b.sizes[j])]
    lro = [j for j in both if j not in summed]
    lo = [j for j in range(n_all) if j not in both and not _is_one(a.sizes[j])]
    ro = [j for j in range(n_all) if j not in both and j not in lo]
    p_lro, p_lo = prod([a.sizes[j] for j in lro]), prod([a.sizes[j] for j in lo])
    p_sum, p_ro = prod([a.sizes[j] for j in summed]), prod([b.sizes[j] for j in ro])
    kept = []
    for i, op, perm, new in ((0, a, lro + lo + summed + ro, (p_lro, p_lo, p_sum)),
                             (1, b, lro + summed + ro + lo, (p_lro, p_sum, p_ro))):
        if grads[1 - i]:
            view = reshape_view(_permuted(op.numbers(), perm), _permuted(op.strides, perm),
                                numbers(new)) is not None
            kept.append(_kept(v, i, op, prod(new), view))
    # the result: bmm's [lro, lo, ro] viewed as lro, lo, the summed axes (1) and ro, then
    # permuted back to einsum's order; the contracted axes (now 1) dropped
    groups = lro + lo + summed + ro
    sizes = [1 if j in summed else (b if j in ro else a).numbers()[j] for j in groups]
    steps = contiguous(tuple(sizes))
    where = {j: k for k, j in enumerate(groups)}
    shape = tuple(sizes[where[j]] for j in range(n_out))
    return _Plan(kept, _layout(shape, tuple(steps[where[j]] for j in range(n_out))))


def _layout(shape, strides) -> str:
    return CONTIGUOUS if is_contiguous(tuple(shape), tuple(strides)) else STRIDED


@saves("einsum")
def _einsum_keeps(v) -> list:
    return _einsum_plan(v).kept


@output_layout("einsum")
def _einsum_layout(v) -> str:
    """The result's layout: bmm's result permuted back to the output's order (contiguous
    when that order is bmm's), a mul's in its first operand's order, or, for one operand, a
    view of it (a permutation or a diagonal) unless a sum makes a new tensor."""
    try:
        return _einsum_plan(v).layout
    except NotModelled:
        return STRIDED


# ---------------------------------------------------------------- matmul
# verify's copy lifts both operands to the same rank (views) and calls torch.matmul, which
# for operands of rank ≥ 3 expands them to the broadcast leading axes and reshapes each to
# [∏batch, rows, columns] (aten/src/ATen/native/LinearAlgebra.cpp, _matmul_impl) before
# bmm: a view when the leading axes merge (always without broadcasting; with a broadcast
# axis, stride 0, only when it is the one leading axis longer than 1), else a copy of the
# expanded operand, which bmm keeps.
@saves("matmul")
def _matmul_keeps(v) -> list:
    a, b = v.inputs[0], v.inputs[1]
    if len(a) == len(b) and tuple(a[:-2]) == tuple(b[:-2]) and \
            not any(_full_strides(v, i)[1] is None for i in (0, 1)):
        return [kept_input(1 - i) for i in (0, 1) if v.grads[i]]
    rank = max(len(a), len(b))
    other = (*b[:-2], b[-1], b[-2]) if v.arg("transpose", False) else tuple(b)
    shapes = [(v.batch, *(1,) * (rank - len(s)), *s) for s in (a, other)]
    lead = [x if not _is_one(x) else y for x, y in zip(shapes[0][:-2], shapes[1][:-2])]
    kept = []
    for i, shape in enumerate(shapes):
        if not v.grads[1 - i]:
            continue
        full, strides = _full_strides(v, i)
        if strides is None:
            raise NotModelled("what a broadcasting matmul keeps of a sliced or permuted "
                              "operand is not modelled")
        strides = (strides[0], *(1,) * (rank - len(v.inputs[i])), *strides[1:])
        if i == 1 and v.arg("transpose", False):
            strides = (*strides[:-2], strides[-1], strides[-2])
        sizes = numbers(shape)
        expanded = [0 if n == 1 and not _is_one(m) else st
                    for n, m, st in zip(sizes[:-2], lead, strides[:-2])] + list(strides[-2:])
        new = (prod(lead), *shape[-2:])
        target = numbers((*lead, *shape[-2:]))
        is_view = reshape_view(target, tuple(expanded), numbers(new)) is not None
        kept.append(kept_input(i) if is_view else kept_new(prod(new)))
    return kept
