"""Convolutions: conv1d/2d/3d and convtranspose1d/2d/3d."""

from __future__ import annotations

from ..dims import divides, dmax, prod
from .base import Arg, Ctx, Out, Window, register_layer
from .window import effective_kernel, paddings, same_out, sliding_out

_LAYOUT = {1: "[C, L]", 2: "[C, H, W]", 3: "[C, D, H, W]"}

CONV_ARGS = {
    "out": Arg("int", min=1, doc="output channels"),
    "kernel": Arg("ints", min=1, doc="kernel size, one or one per axis"),
    "stride": Arg("ints", 1, min=1),
    "padding": Arg("padding", 0, min=0, doc="per side; or 'same'/'valid' (Keras, any stride)"),
    "dilation": Arg("ints", 1, min=1),
    "groups": Arg("int", 1, min=1),
    "bias": Arg("bool", True),
    "padding_mode": Arg("str", "zeros", choices=("zeros", "reflect", "replicate", "circular")),
}


def _check_groups(ctx: Ctx, cin, cout, g) -> None:
    ctx.require(divides(g, cin), f"groups {g} does not divide the input channels {cin}")
    ctx.require(divides(g, cout), f"groups {g} does not divide the output channels {cout}")


@register_layer(
    "conv1d", "conv2d", "conv3d", args=CONV_ARGS, family="conv", cost="macs",
    nd={"conv1d": 1, "conv2d": 2, "conv3d": 3},
)
def conv(ctx: Ctx) -> Out:
    """Convolution: out = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1; params Cout·Cin/g·∏k (+ Cout)."""
    ctx.expect_rank(ctx.nd + 1, _LAYOUT[ctx.nd])
    cin, cout, g = ctx.x[0], ctx.out, ctx.groups
    _check_groups(ctx, cin, cout, g)
    k, s, d = ctx.per_axis("kernel"), ctx.per_axis("stride"), ctx.per_axis("dilation")
    k_eff = tuple(effective_kernel(ki, di) for ki, di in zip(k, d))
    pads = paddings(ctx, k_eff, s)
    out_sp = []
    for axis, (n, ke, si, (pl, pr)) in enumerate(zip(ctx.spatial, k_eff, s, pads)):
        if ctx.padding_mode == "reflect":  # torch checks each side (F.pad)
            ctx.require(dmax(pl, pr) < n,
                        f"reflect padding {dmax(pl, pr)} must be smaller than the input size {n}")
        if ctx.padding_mode == "circular":
            ctx.require(dmax(pl, pr) <= n, f"circular padding {dmax(pl, pr)} must not exceed "
                        f"the input size {n} (it would wrap around more than once)")
        if ctx.padding == "same":
            out_sp.append(same_out(n, si))
            continue
        ctx.require(
            n + pl + pr >= ke,
            f"kernel span {ke} is larger than the padded input {n + pl + pr} on spatial axis "
            f"{axis + 1} (input {n}, padding {pl}+{pr}); needs n + padding ≥ d·(k−1)+1",
        )
        out_sp.append(sliding_out(n, pl, pr, ke, si))
    weights = cout * (cin // g) * prod(k)
    return Out(
        shape=(cout, *out_sp),
        params=weights + (cout if ctx.bias else 0),
        macs=prod(out_sp) * weights,
        rf=(None, *(Window(ke, si, pl) for ke, si, (pl, _) in zip(k_eff, s, pads))),
    )


CONVT_ARGS = {
    "out": Arg("int", min=1, doc="output channels"),
    "kernel": Arg("ints", min=1),
    "stride": Arg("ints", 1, min=1),
    "padding": Arg("ints", 0, min=0),
    "output_padding": Arg("ints", 0, min=0),
    "dilation": Arg("ints", 1, min=1),
    "groups": Arg("int", 1, min=1),
    "bias": Arg("bool", True),
}


@register_layer(
    "convtranspose1d", "convtranspose2d", "convtranspose3d", args=CONVT_ARGS, family="conv",
    cost="macs", nd={"convtranspose1d": 1, "convtranspose2d": 2, "convtranspose3d": 3},
)
def conv_transpose(ctx: Ctx) -> Out:
    """Transposed convolution: out = (n−1)s − 2p + d(k−1) + output_padding + 1.

    MACs use the input's spatial size (FlopCounterMode, fvcore): ∏n_in · Cin · Cout/g · ∏k.
    """
    ctx.expect_rank(ctx.nd + 1, _LAYOUT[ctx.nd])
    cin, cout, g = ctx.x[0], ctx.out, ctx.groups
    _check_groups(ctx, cin, cout, g)
    k, s, d = ctx.per_axis("kernel"), ctx.per_axis("stride"), ctx.per_axis("dilation")
    p, op = ctx.per_axis("padding"), ctx.per_axis("output_padding")
    out_sp = []
    for axis, (n, ki, si, di, pi, opi) in enumerate(zip(ctx.spatial, k, s, d, p, op)):
        ctx.require(
            opi < dmax(si, di),
            f"output_padding {opi} must be smaller than stride {si} or dilation {di}",
        )
        size = (n - 1) * si - 2 * pi + di * (ki - 1) + opi + 1
        ctx.require(
            size >= 1,
            f"output size {size} on spatial axis {axis + 1} is not positive",
        )
        out_sp.append(size)
    weights = cin * (cout // g) * prod(k)
    return Out(
        shape=(cout, *out_sp),
        params=weights + (cout if ctx.bias else 0),
        macs=prod(ctx.spatial) * weights,
        rf=(None,) * (ctx.nd + 1),
    )
