"""Pooling: max/avg pools, adaptive pools and global pools."""

from __future__ import annotations

from ..dims import divides, floordiv, resolve
from .backward import backward_zero
from .base import Arg, Ctx, Out, Window, register_layer

from .. import dims
from .base import Arg, Ctx, Out, Window, per_axis, register_layer
from .conv import AXES, sliding_axis
from .costs import counts, counts_zero
from .saves import INT64, NotModelled, kept_input, kept_new, kept_output, saves
from .saves import saves_nothing
from .terms import named
from .terms import value as value_of
from .window import effective_kernel, keras_same_pads, pool_out_ceil, same_out

# Why each metric without a formula is zero (checked by tests/test_explain.py).
ZERO = {"params": "{type} has no parameters",
        "macs": "pooling compares or adds, it does not multiply-accumulate (zero on purpose)"}

_LAYOUT = {1: "[C, L]", 2: "[C, H, W]", 3: "[C, D, H, W]"}

POOL_ARGS = {
    "kernel": Arg("ints", min=1),
    "stride": Arg("ints", None, min=1, doc="defaults to the kernel"),
    "padding": Arg("padding", 0, min=0, doc="per side, at most kernel//2; or 'same'/'valid'/'full'"),
    "ceil_mode": Arg("bool", False),
}
MAXPOOL_ARGS = {**POOL_ARGS, "dilation": Arg("ints", 1, min=1)}
AVGPOOL_ARGS = {**POOL_ARGS, "count_include_pad": Arg("bool", True)}

_ND = {f"{kind}pool{n}d": n for kind in ("max", "avg") for n in (1, 2, 3)}


@register_layer("avgpool1d", "avgpool2d", "avgpool3d", family="pool", zero=ZERO, nd=_ND,
                args=AVGPOOL_ARGS)
@register_layer("maxpool1d", "maxpool2d", "maxpool3d", family="pool", zero=ZERO, nd=_ND,
                args=MAXPOOL_ARGS)
def pool(ctx: Ctx) -> Out:
    """Max/average pooling, with PyTorch's ceil-mode rule and padding ≤ kernel//2."""
    ctx.expect_rank(ctx.nd + 1, _LAYOUT[ctx.nd])
    k = ctx.per_axis("kernel")
    s = k if ctx.a.get("stride") is None else ctx.per_axis("stride")
    d = ctx.per_axis("dilation") if "dilation" in ctx.a else (1,) * ctx.nd
    k_eff = tuple(effective_kernel(ki, di) for ki, di in zip(k, d))
    pad = ctx.padding
    out_sp, windows = [], []
    for axis, (n, ki, ke, si) in enumerate(zip(ctx.spatial, k, k_eff, s)):
        if pad == "same":
            left, _ = keras_same_pads(n, ke, si)
            name = AXES[ctx.nd][axis]
            size = named(f"{name}_out", same_out(ctx.term(name, n), ctx.term("s", si)))
        else:
            left = 0 if pad == "valid" else ctx.per_axis("padding")[axis]
            ctx.require(
                2 * left <= ki,
                f"padding {left} is more than half the kernel {ki} (PyTorch needs padding ≤ "
                "kernel//2)",
            )
            if ctx.ceil_mode:
                t, name = ctx.term, AXES[ctx.nd][axis]
                k_span = effective_kernel(t("k", ki), t("d", d[axis]))
                size = named(f"{name}_out", pool_out_ceil(t(name, n), t("p", left), k_span,
                                                          t("s", si)))
            else:
                size = sliding_axis(ctx, axis, n, ki, si, d[axis], left, left)
        ctx.require(
            value_of(size) >= 1,
            f"output size {value_of(size)} on spatial axis {axis + 1} is not positive: input "
            f"{n} is too small for kernel span {ke}",
        )
        if ctx.type == "avgpool3d":
            ctx.require(n >= ki, f"avgpool3d needs each input size ≥ kernel, got {n} < {ki}")
        out_sp.append(size)
        windows.append(Window(ke, si, left))
    return Out(shape=(ctx.x[0], *out_sp), rf=(None, *windows))


_ADAPTIVE_ND = {f"adaptive{kind}pool{n}d": n for kind in ("avg", "max") for n in (1, 2, 3)}


@register_layer(
    *_ADAPTIVE_ND, family="pool", zero=ZERO, nd=_ADAPTIVE_ND,
    args={"out": Arg("ints", min=1, nullable=True, doc="output size; null keeps the axis")},
)
def adaptive_pool(ctx: Ctx) -> Out:
    """Adaptive pooling to a fixed output size; bin i spans [⌊i·n/o⌋, ⌈(i+1)·n/o⌉)."""
    ctx.expect_rank(ctx.nd + 1, _LAYOUT[ctx.nd])
    outs = ctx.per_axis("out")
    out_sp, windows = [], []
    for n, o in zip(ctx.spatial, outs):
        if o is None and ctx.nd == 1:  # torch 2.13: adaptive_*_pool1d needs an int
            ctx.fail("'out' must be a number for a 1-d adaptive pool (PyTorch keeps an axis "
                     "with null only in 2-d and 3-d)")
        o = n if o is None else o
        out_sp.append(o)
        # Equal, non-overlapping bins are a plain pool with kernel = stride = n/o.
        windows.append(Window(floordiv(n, o), floordiv(n, o), 0) if resolve(divides(o, n)) else None)
    return Out(shape=(ctx.x[0], *out_sp), rf=(None, *windows))


@register_layer("globalavgpool", "globalmaxpool", family="pool", zero=ZERO, args={})
def global_pool(ctx: Ctx) -> Out:
    """Pool every spatial axis away: [C, *spatial] → [C] (Keras's GlobalAveragePooling)."""
    if len(ctx.x) < 2:
        ctx.fail(f"needs spatial axes to pool, got a rank-{len(ctx.x)} input")
    return Out(shape=(ctx.x[0],), rf=(None,))


# ---------------------------------------------------------------- other tools' counts
_MAXPOOLS = ("maxpool1d", "maxpool2d", "maxpool3d", "adaptivemaxpool1d", "adaptivemaxpool2d",
             "adaptivemaxpool3d", "globalmaxpool")
_AVGPOOLS = ("avgpool1d", "avgpool2d", "avgpool3d")
_ADAPTIVE_AVGPOOLS = ("adaptiveavgpool1d", "adaptiveavgpool2d", "adaptiveavgpool3d",
                      "globalavgpool")


# fvcore (0.1.5.post20221221): max/avg pooling are "unsupported" and skipped.
@counts("fvcore", "adaptiveavgpool2d", "globalavgpool")
def _fvcore_adaptive_avg(v):
    """aten::adaptive_avg_pool2d only (1-d and 3-d are unsupported): input numel."""
    return v.n_in if v.spatial_rank == 2 else 0


# ptflops/pytorch_ops.py (0.7.5): module hook plus the patched F.*pool* call.
@counts("ptflops", *_MAXPOOLS, *_AVGPOOLS, *_ADAPTIVE_AVGPOOLS)
def _ptflops_pool(v):
    """pool_flops_counter_hook (input numel) + the patched F.*pool* (input numel)."""
    return 2 * v.n_in


# thop/vision/basic_hooks.py (0.1.1.post2209072238): max pools have a zero rule.
counts_zero("thop", *_MAXPOOLS)


@counts("thop", *_AVGPOOLS)
def _thop_avgpool(v):
    """count_avgpool: output numel."""
    return v.n_out


@counts("thop", *_ADAPTIVE_AVGPOOLS)
def _thop_adaptive_avg(v):
    """count_adap_avgpool: (∏(in/out) + 1)·output numel = input numel + output numel."""
    return v.n_in + v.n_out


# The backward pass (archcalc/layers/backward.py): no multiply-accumulates.
backward_zero(
    "a pool's backward scatters or spreads the gradient over its window "
    "(max_pool2d_with_indices_backward, avg_pool2d_backward): no products",
    "maxpool1d", "maxpool2d", "maxpool3d", "avgpool1d", "avgpool2d", "avgpool3d",
    "adaptiveavgpool1d", "adaptiveavgpool2d", "adaptiveavgpool3d", "adaptivemaxpool1d",
    "adaptivemaxpool2d", "adaptivemaxpool3d", "globalavgpool", "globalmaxpool")

# ---------------------------------------------------------------- kept for backward
# tools/autograd/derivatives.yaml: max_pool{1,2,3}d_with_indices and
# adaptive_max_pool{2,3}d keep their input and their int64 indices (one per output
# element; 1-d pools run as 2-d on a view); avg_pool{2,3}d and _adaptive_avg_pool{2,3}d
# keep their input; an adaptive average pool to size 1 along every axis is a mean
# (AdaptiveAveragePooling.cpp), which keeps nothing, as the global average pool does;
# amax (the global max pool) keeps its input and its result.
def _padded(v):
    """The input as the pool reads it: Keras 'same' padding is a separate pad (a copy)."""
    if v.arg("padding") != "same":
        return kept_input()
    nd = len(v.x) - 1
    k = per_axis(v.arg("kernel"), nd)
    s = k if v.arg("stride") is None else per_axis(v.arg("stride"), nd)
    d = per_axis(v.arg("dilation", 1), nd)
    spans = [effective_kernel(ki, di) for ki, di in zip(k, d)]
    padded = [n + sum(keras_same_pads(n, e, si)) for n, e, si in zip(v.x[1:], spans, s)]
    return kept_new(v.batch * v.x[0] * dims.prod(padded))


@saves("maxpool1d", "maxpool2d", "maxpool3d")
def _max_pool_keeps(v) -> list:
    return [_padded(v), kept_new(v.elements(v.output), INT64)]


@saves("avgpool1d", "avgpool2d", "avgpool3d")
def _avg_pool_keeps(v) -> list:
    if v.arg("padding") == "same":
        raise NotModelled(f"the tensors {v.type} keeps with Keras 'same' padding are not "
                          "modelled")
    return [kept_input()]


@saves("adaptivemaxpool1d", "adaptivemaxpool2d", "adaptivemaxpool3d")
def _adaptive_max_keeps(v) -> list:
    return [kept_input(), kept_new(v.elements(v.output), INT64)]


@saves("adaptiveavgpool1d", "adaptiveavgpool2d", "adaptiveavgpool3d")
def _adaptive_avg_keeps(v) -> list:
    ones = [resolve(dims.eq(n, 1)) for n in v.output[1:]]
    if all(ones):
        return []
    if any(o is None for o in ones):
        raise NotModelled(f"{v.type} keeps its input unless every output size is 1, which "
                          "these free sizes leave open")
    return [kept_input()]


@saves("globalmaxpool")
def _global_max_keeps(v) -> list:
    return [kept_input(), kept_output()]


saves_nothing("{type} is a mean: its gradient needs only the input's size", "globalavgpool")
