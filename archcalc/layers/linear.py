"""Fully connected layers."""

from __future__ import annotations

from ..dims import eq, prod
from .base import Arg, Ctx, Out, fmt_shape, register_layer, weight_shape
from .backward import backward, each_needed
from .costs import bias_adds, counts, record_macs
from .saves import kept_contiguous, saves
from .terms import named, note


@register_layer(
    "linear", family="linear",
    args={"out": Arg("int", min=1, doc="output features"), "bias": Arg("bool", True),
          "tie": Arg("weight", None, doc="share the weight of this named embedding [V, D] "
                                         "or linear [out, in]: counted once, there")},
)
def linear(ctx: Ctx) -> Out:
    """Linear on the last axis of any shape: params in·out (+ out); MACs ∏leading · in · out.

    Tied (``tie``), the weight is the named layer's and counted there: params the bias."""
    if not ctx.x:  # an einsum that contracts every axis leaves one number per sample
        ctx.fail("expects at least one axis of features, got a scalar [] (rank 0)")
    lead = ctx.x[:-1]
    fin, out = ctx.term("in", ctx.x[-1]), ctx.term("out", ctx.out)
    per_row = fin * out if not lead else ctx.term("∏leading", prod(lead)) * fin * out
    if ctx.tie is None:
        params = (fin + 1) * out if ctx.bias else fin * out
    else:
        params = _tied(ctx)
    return Out(
        shape=(*lead, named("features_out", ctx.term("out", ctx.out))),
        params=params,
        macs=per_row,
        rf=(*range(len(lead)), None),
    )


def _tied(ctx: Ctx):
    """A linear layer tied to a named layer's weight (GPT-2's lm_head to wte, nanoGPT
    model.py: ``self.transformer.wte.weight = self.lm_head.weight``): nn.Linear's weight is
    [out_features, in_features] (torch/nn/modules/linear.py, Linear.__init__), so the
    embedding's [V, D] table serves a linear from D to V. Module.parameters() yields a
    shared Parameter once (torch/nn/modules/module.py, named_parameters with
    remove_duplicate=True), so the weight is counted at the layer that owns it: here only
    the bias."""
    w, fin, fout = ctx.tie, ctx.x[-1], ctx.out
    if w.shape is None:
        ctx.fail(f"tie: '{w.name}' ({w.type}) is not an embedding or linear layer (only "
                 "their weights can be shared)")
    mine = f"[out, in] = [{fout}, {fin}]"
    for have, want in zip(w.shape, (fout, fin)):
        ctx.require(eq(have, want), f"tie: the weight of {w.type} '{w.name}' is "
                                    f"{fmt_shape(w.shape)}, not this layer's {mine}")
    if ctx.bias:
        return ctx.term("out", fout)
    return note(f"0 (weight tied to {w.name})", 0) if ctx.terms else 0


@weight_shape("linear")
def _linear_weight(args: dict, x: tuple) -> tuple:
    """nn.Linear.weight: [out_features, in_features]."""
    return (args["out"], x[-1])


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


@counts("torchinfo", "linear")
def _torchinfo_linear(v):
    """A non-conv layer adds each weight and bias numel × batch: in·out (+ out), whatever
    the leading sizes; a tied weight too (the module's parameters include it)."""
    out = v.arg("out")
    return v.x[-1] * out + (out if v.arg("bias", True) else 0)


# Backward (tools/autograd/derivatives.yaml, mm/addmm: mat1 grad.mm(mat2.t()), mat2
# mat1.t().mm(grad)): the input's gradient and the weight's are one mm each of the forward's
# size (a [.., in] input folded into rows, as F.linear's matmul folds it); the bias's is a sum.
# A tied weight is trained where its owner is trained (archcalc/training.py).
backward("linear")(each_needed)

# ---------------------------------------------------------------- kept for backward
# tools/autograd/derivatives.yaml, addmm/mm (F.linear on the input flattened to 2-D, a view
# of a contiguous input, else a copy): the weight's gradient reads the input, kept when the
# weight needs a gradient; the input's gradient reads the weight (a parameter).
@saves("linear")
def _linear_keeps(v) -> list:
    return [kept_contiguous()] if v.trainable else []
