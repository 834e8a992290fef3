"""Merges of the current tensor with named earlier outputs (or a ``branches`` item's paths)."""

from __future__ import annotations

from ..dims import resolve
from .base import UNION, Arg, Ctx, Out, fmt_shape, register_layer
from .saves import NotModelled, kept_input, saves, saves_nothing

# Why each metric without a formula is zero (checked by tests/test_explain.py).
ZERO = {"params": "{type} has no parameters",
        "macs": "element-wise merge: no multiply-accumulates (zero on purpose)"}

_WITH = {"with": Arg("refs", (), doc="named outputs merged with the current tensor")}


def _all_shapes(ctx: Ctx) -> str:
    return " and ".join(fmt_shape(s) for s in ctx.xs)


def broadcast(ctx: Ctx) -> tuple:
    """PyTorch broadcasting (trailing axes aligned; size 1 stretches)."""
    rank = max(len(s) for s in ctx.xs)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in ctx.xs]
    out = []
    for axis in range(rank):
        sizes = [s[axis] for s in padded]
        others = [d for d in sizes if resolve(d == 1) is not True]
        for d in others[1:]:
            if resolve(d - others[0] == 0) is not True and not _maybe_equal(ctx, d, others[0]):
                ctx.fail(f"cannot broadcast shapes {_all_shapes(ctx)}: axis {axis} has sizes "
                         f"{sizes}")
        out.append(others[0] if others else 1)
    return tuple(out)


def _maybe_equal(ctx: Ctx, a, b) -> bool:
    from ..dims import eq

    known = resolve(eq(a, b))
    if known is None:
        ctx.require(eq(a, b), f"shapes {_all_shapes(ctx)} must agree ({a} = {b})")
        return True
    return known


@register_layer("add", "mul", family="merge", zero=ZERO, merge=True, args=_WITH)
def elementwise_merge(ctx: Ctx) -> Out:
    """Element-wise sum or product of the inputs, with broadcasting (residuals, SE gates)."""
    if len(ctx.xs) < 2:
        ctx.fail("needs something to merge with: give 'with: name'")
    return Out(shape=broadcast(ctx), rf=UNION)


@register_layer("concat", family="merge", zero=ZERO, merge=True,
                args={**_WITH, "dim": Arg("int", 0, doc="axis (no batch axis); default channels")})
def concat(ctx: Ctx) -> Out:
    """Concatenate along one axis (default channels); every other axis must agree."""
    if len(ctx.xs) < 2:
        ctx.fail("needs something to concatenate with: give 'with: [names]'")
    rank = len(ctx.x)
    if any(len(s) != rank for s in ctx.xs):
        ctx.fail(f"cannot concatenate shapes of different rank: {_all_shapes(ctx)}")
    if not -rank <= ctx.dim < rank:
        ctx.fail(f"dim {ctx.dim} is out of range for rank {rank}")
    axis = ctx.dim % rank
    for i in range(rank):
        if i != axis:
            for s in ctx.xs[1:]:
                if not _maybe_equal(ctx, s[i], ctx.x[i]):
                    ctx.fail(f"cannot concatenate {_all_shapes(ctx)} along axis {axis}: axis "
                             f"{i} differs")
    total = ctx.xs[0][axis]
    for s in ctx.xs[1:]:
        total = total + s[axis]
    shape = tuple(total if i == axis else d for i, d in enumerate(ctx.x))
    return Out(shape=shape, rf=UNION)




# ---------------------------------------------------------------- kept for backward
# tools/autograd/derivatives.yaml: add (grad, and grad × alpha) and cat (slices of grad)
# keep nothing; mul keeps each operand for the other's gradient (self's gradient reads
# other), so an operand is kept only when the other one needs a gradient.
saves_nothing("{type}'s gradient is the output's gradient (sliced): nothing kept",
              "add", "concat")


@saves("mul")
def _mul_keeps(v) -> list:
    if len(v.inputs) != 2:
        raise NotModelled("the tensors a product of more than two inputs keeps are not "
                          "modelled")
    return [kept_input(1 - i) for i in (0, 1) if v.grads[i]]
