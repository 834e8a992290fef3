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

from ..dims import eq, prod, resolve
from .base import Arg, Ctx, Out, fmt_shape, register_layer
from .costs import counts, record_macs
from .saves import NotModelled, kept_input, not_modelled, saves
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


# ---------------------------------------------------------------- kept for backward
# tools/autograd/derivatives.yaml, bmm/mm (torch.matmul folds its operands to them, views
# when both have the same leading sizes): each operand is kept for the other's gradient.
@saves("matmul")
def _matmul_keeps(v) -> list:
    a, b = v.inputs[0], v.inputs[1]
    if len(a) != len(b) or tuple(a[:-2]) != tuple(b[:-2]):
        raise NotModelled("the tensors a broadcasting matmul keeps are not modelled")
    return [kept_input(1 - i) for i in (0, 1) if v.grads[i]]


not_modelled("einsum")
