"""Fully connected layers."""

from __future__ import annotations

from ..dims import prod
from .base import Arg, Ctx, Out, register_layer
from .terms import named


@register_layer(
    "linear", family="linear", cost="macs",
    args={"out": Arg("int", min=1, doc="output features"), "bias": Arg("bool", True)},
)
def linear(ctx: Ctx) -> Out:
    """Linear on the last axis of any shape: params in·out (+ out); MACs ∏leading · in · out."""
    lead = ctx.x[:-1]
    fin, out = ctx.term("in", ctx.x[-1]), ctx.term("out", ctx.out)
    per_row = fin * out if not lead else ctx.term("∏leading", prod(lead)) * fin * out
    return Out(
        shape=(*lead, named("features_out", ctx.term("out", ctx.out))),
        params=(fin + 1) * out if ctx.bias else fin * out,
        macs=per_row,
        rf=(*range(len(lead)), None),
    )
