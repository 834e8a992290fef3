"""Fully connected layers."""

from __future__ import annotations

from ..dims import prod
from .base import Arg, Ctx, Out, register_layer


@register_layer(
    "linear", family="linear", cost="macs",
    args={"out": Arg("int", min=1, doc="output features"), "bias": Arg("bool", True)},
)
def linear(ctx: Ctx) -> Out:
    """Linear on the last axis of any shape: params in·out (+ out); MACs ∏leading · in · out."""
    fin, lead = ctx.x[-1], ctx.x[:-1]
    return Out(
        shape=(*lead, ctx.out),
        params=fin * ctx.out + (ctx.out if ctx.bias else 0),
        macs=prod(lead) * fin * ctx.out,
        rf=(*range(len(lead)), None),
    )
