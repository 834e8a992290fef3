"""Fully connected layers."""

from __future__ import annotations

from ..dims import prod
from .base import Arg, Ctx, Out, register_layer
from .costs import bias_adds, counts, record_macs, record_params
from .terms import named


@register_layer(
    "linear", family="linear",
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


# ---------------------------------------------------------------- other tools' counts
# FlopCounterMode: matrix products, 2 FLOPs per MAC. fvcore (0.1.5.post20221221): one
# fused multiply-add is one "flop".
counts("flopcounter", "linear")(record_macs)
counts("fvcore", "linear")(record_macs)


@counts("ptflops", "linear")
def _ptflops_linear(v):
    """linear_flops_counter_hook: (in·out + out)·∏leading."""
    return v.record.macs + (v.n_out if v.arg("bias", True) else 0)


# ptflops, backend 'aten': mm/addmm as MACs including the bias.
@counts("ptflops-aten", "linear")
def _ptflops_aten_linear(v):
    return v.record.macs + bias_adds(v)


@counts("thop", "linear")
def _thop_linear(v):
    """count_linear: in_features·output numel (no bias)."""
    return v.x[-1] * v.n_out


# torchinfo: a non-conv layer adds each weight and bias numel × batch.
counts("torchinfo", "linear")(record_params)
