"""Normalisation layers. Counts follow PyTorch: affine weights are parameters, running
statistics are buffers (Keras counts those as non-trainable parameters).

For the receptive field every normalisation is element-wise: its statistics are not counted
as spatial dependence (as for BatchNorm at inference; docs/conventions.md)."""

from __future__ import annotations

from ..dims import divides, prod
from .backward import backward_zero

from .. import dims
from .base import Arg, Ctx, Out, register_layer
from .saves import ACC, ACC_STATS, STATS, NotModelled, kept_copied, kept_dense, kept_input
from .saves import kept_new, kept_upcast, saves
from .costs import affine, counts, record_params
from .terms import note

# Why each metric without a formula is zero (checked by tests/test_explain.py).
ZERO_MACS = {"macs": "normalisation is element-wise: no multiply-accumulates (zero on purpose; "
                      "see --convention fvcore/ptflops/thop for tools that count it)"}
# Of the tool profiles only torchinfo counts RMSNorm (fvcore, ptflops and thop have no rule).
ZERO_MACS_RMS = {"macs": "normalisation is element-wise: no multiply-accumulates (zero on "
                          "purpose; see --convention torchinfo for a tool that counts it)"}

_BN_ND = {"batchnorm1d": 1, "batchnorm2d": 2, "batchnorm3d": 3}
_IN_ND = {"instancenorm1d": 1, "instancenorm2d": 2, "instancenorm3d": 3}


def _check_rank(ctx: Ctx, ranks: tuple) -> None:
    if len(ctx.x) not in ranks:
        want = " or ".join(str(r) for r in ranks)
        ctx.fail(f"expects an input of rank {want} (channels first), got rank {len(ctx.x)}")


@register_layer(
    *_BN_ND, family="norm", zero=ZERO_MACS, nd=_BN_ND,
    args={"affine": Arg("bool", True), "track_running_stats": Arg("bool", True),
          "eps": Arg("float", 1e-5), "momentum": Arg("float", 0.1),
          "scale": Arg("bool", True, doc="Keras: γ learned (false: C fewer parameters)"),
          "center": Arg("bool", True, doc="Keras: β learned (false: C fewer parameters)")},
)
def batchnorm(ctx: Ctx) -> Out:
    """Batch norm over channels: params 2C (γ, β; Keras's scale/center drop one each); buffers
    2C (running mean and variance)."""
    out = _per_channel_norm(ctx, (1, 2) if ctx.nd == 1 else (ctx.nd + 1,))
    if ctx.affine and not (ctx.scale and ctx.center):
        out = Out(shape=out.shape, params=ctx.term("C", ctx.x[0]) * (ctx.scale + ctx.center),
                  buffers=out.buffers)
    return out


def affine_params(ctx: Ctx):
    """``2·C`` (a weight and a bias per channel) when ``affine``, else none."""
    if not ctx.affine:
        return note("0 (affine=False)", 0) if ctx.terms else 0
    return 2 * ctx.term("C", ctx.x[0])


def _per_channel_norm(ctx: Ctx, ranks: tuple) -> Out:
    """2C affine parameters when ``affine``; 2C running statistics when tracked."""
    _check_rank(ctx, ranks)
    c = ctx.x[0]
    return Out(
        shape=ctx.x,
        params=affine_params(ctx),
        buffers=2 * ctx.term("C", c) if ctx.track_running_stats else 0,
    )


@register_layer(
    *_IN_ND, family="norm", zero=ZERO_MACS, nd=_IN_ND,
    args={"affine": Arg("bool", False), "track_running_stats": Arg("bool", False),
          "eps": Arg("float", 1e-5)},
)
def instancenorm(ctx: Ctx) -> Out:
    """Instance norm: no parameters by default (affine=False), 2C when affine.

    Without running statistics each sample is normalised by its own, which PyTorch refuses
    to do over a single position (even in eval mode)."""
    out = _per_channel_norm(ctx, (ctx.nd + 1,))
    if not ctx.track_running_stats:
        ctx.require(prod(ctx.spatial) > 1, "a single spatial position: "
                    "instance statistics need more than one (or track_running_stats: true)")
    return out


@register_layer(
    "layernorm", family="norm", zero=ZERO_MACS,
    args={"shape": Arg("shape", None, doc="normalized_shape; default: the last axis"),
          "affine": Arg("bool", True, doc="elementwise_affine"), "bias": Arg("bool", True),
          "eps": Arg("float", 1e-5)},
)
def layernorm(ctx: Ctx) -> Out:
    """Layer norm over the trailing ``shape``: params 2·∏shape (∏shape without bias)."""
    n = ctx.term("∏normalized_shape", prod(normalized_shape(ctx)))
    if not ctx.affine:
        params = note("0 (elementwise_affine=False)", 0) if ctx.terms else 0
    else:
        params = 2 * n if ctx.bias else n
    return Out(shape=ctx.x, params=params)


def normalized_shape(ctx: Ctx) -> tuple:
    """The trailing axes normalised over (``shape``; default the last axis), checked to end
    the input as PyTorch requires."""
    shape = (ctx.x[-1],) if ctx.shape is None else tuple(ctx.shape)
    if len(shape) > len(ctx.x) or tuple(ctx.x[len(ctx.x) - len(shape):]) != shape:
        ctx.fail(f"normalized shape {list(shape)} does not match the end of the input "
                 f"{list(ctx.x)}")
    return shape


@register_layer(
    "rmsnorm", family="norm", zero=ZERO_MACS_RMS,
    args={"shape": Arg("shape", None, doc="normalized_shape; default: the last axis"),
          "affine": Arg("bool", True, doc="elementwise_affine")},
)
def rmsnorm(ctx: Ctx) -> Out:
    """RMS norm over the trailing ``shape`` (nn.RMSNorm): params ∏shape (a scale, no bias)."""
    n = ctx.term("∏normalized_shape", prod(normalized_shape(ctx)))
    if not ctx.affine:
        return Out(shape=ctx.x, params=note("0 (elementwise_affine=False)", 0) if ctx.terms
                   else 0)
    return Out(shape=ctx.x, params=n)


@register_layer(
    "layernorm2d", family="norm", zero=ZERO_MACS,
    args={"affine": Arg("bool", True), "eps": Arg("float", 1e-6)},
)
def layernorm2d(ctx: Ctx) -> Out:
    """Layer norm over the channels of a [C, *spatial] tensor at each position: params 2C."""
    if len(ctx.x) < 2:
        ctx.fail(f"expects a [C, *spatial] input, got rank {len(ctx.x)}")
    return Out(shape=ctx.x, params=affine_params(ctx))


@register_layer(
    "groupnorm", family="norm", zero=ZERO_MACS,
    args={"groups": Arg("int", min=1), "affine": Arg("bool", True), "eps": Arg("float", 1e-5)},
)
def groupnorm(ctx: Ctx) -> Out:
    """Group norm: channels in ``groups`` groups; params 2C when affine."""
    c = ctx.x[0]
    ctx.require(divides(ctx.groups, c), f"groups {ctx.groups} does not divide the channels {c}")
    return Out(shape=ctx.x, params=affine_params(ctx))


@register_layer(
    "lrn", family="norm", zero={"params": "{type} has no parameters", **ZERO_MACS},
    args={"size": Arg("int", min=1), "alpha": Arg("float", 1e-4), "beta": Arg("float", 0.75),
          "k": Arg("float", 1.0)},
)
def lrn(ctx: Ctx) -> Out:
    """Local response normalisation across ``size`` neighbouring channels: no parameters."""
    if len(ctx.x) < 2:
        ctx.fail(f"expects a [C, *spatial] input, got rank {len(ctx.x)}")
    return Out(shape=ctx.x)


# ---------------------------------------------------------------- other tools' counts
# fvcore/nn/flop_count.py + jit_handles.py (0.1.5.post20221221), eval mode.
@counts("fvcore", *_BN_ND)
def _fvcore_batchnorm(v):
    """batchnorm_flop_jit, eval mode: numel·(2 if affine else 1)."""
    return v.n_in * (2 if affine(v) else 1)


@counts("fvcore", "groupnorm", "layernorm", "layernorm2d", *_IN_ND)
def _fvcore_norm(v):
    """norm_flop_counter: numel·(5 if affine else 4)."""
    return v.n_in * (5 if affine(v) else 4)


# ptflops/pytorch_ops.py (0.7.5), backend 'pytorch'.
@counts("ptflops", *_BN_ND, *_IN_ND, "groupnorm", "layernorm")
def _ptflops_norm(v):
    """bn_flops_counter_hook: numel·(2 if module.affine) — LayerNorm has no .affine: ×1."""
    return v.n_in * (2 if v.type != "layernorm" and v.arg("affine", False) else 1)


# thop/vision/basic_hooks.py (0.1.1.post2209072238)
@counts("thop", *_BN_ND, *_IN_ND, "layernorm")
def _thop_norm(v):
    """count_normalization: 2·numel, doubled when affine (elementwise_affine)."""
    return 2 * v.n_in * (2 if v.arg("affine", False) else 1)


# torchinfo/layer_info.py calculate_macs (1.8.0): each weight and bias numel × batch (any
# module; RMSNorm's one parameter is named weight). fvcore, ptflops and thop (versions
# above) have no handle or hook for RMSNorm: zero there (thop: zero parameters too).
counts("torchinfo", *_BN_ND, *_IN_ND, "groupnorm", "layernorm", "layernorm2d",
       "rmsnorm")(record_params)


# The backward pass (archcalc/layers/backward.py): no multiply-accumulates.
backward_zero(
    "normalisation's backward is element-wise arithmetic and sums over the normalised "
    "axes (native_batch_norm_backward, native_layer_norm_backward: FlopCounterMode "
    "counts none): no products",
    "batchnorm1d", "batchnorm2d", "batchnorm3d", "instancenorm1d", "instancenorm2d",
    "instancenorm3d", "layernorm", "rmsnorm", "layernorm2d", "groupnorm", "lrn")

# ---------------------------------------------------------------- kept for backward
# tools/autograd/derivatives.yaml: batch norm in training (_batch_norm_with_update) keeps
# its input and the batch mean and inverse standard deviation of each channel (result1,
# result2; the running statistics and the weight are module state); native_layer_norm its
# input as it is given (a view of a larger tensor keeps that tensor) and a mean and rstd
# per normalised row;
# native_group_norm its input and a mean and rstd per sample and group. The statistics are
# in the activation dtype (measured on a CPU with the whole network in that dtype), except
# layer norm's on a GPU: layer_norm_cuda (aten/src/ATen/native/cuda/layer_norm_kernel.cu)
# allocates mean and rstd in at::toAccumulateType(input, is_cuda=true), float32 for 16-bit
# inputs (ACC_STATS).
def _batch_norm_keeps(v) -> list:
    if v.device == "cuda":
        raise NotModelled("the tensors cuDNN's batch norm keeps (its reserve space) are not "
                          "modelled")
    return [kept_input(), kept_new(2 * v.x[0], STATS)]


def _instance_norm_keeps(v) -> list:
    """F.instance_norm runs batch norm on the input viewed as [1, B·C, …] (the same
    storage): a mean and rstd per sample and channel, and the running statistics and the
    weight repeated B times (Normalization.cpp, instance_norm: ``repeat_if_defined``),
    which autograd keeps as new tensors. The view is of ``input.contiguous()``
    (Normalization.cpp, instance_norm): a non-contiguous input (layernorm2d's channels-last
    output, an element-wise layer's after it) is copied, and the copy is what it keeps."""
    copies = 2 + (2 if v.arg("track_running_stats") else 0) + (1 if v.arg("affine") else 0)
    return [kept_copied(), kept_new(copies * v.batch * v.x[0], STATS)]


def _layer_stats(v) -> str:
    """The kind of layer norm's mean and rstd on the view's device."""
    return ACC_STATS if v.device == "cuda" else STATS


def _layer_norm_keeps(v) -> list:
    shape = (v.x[-1],) if v.arg("shape") is None else tuple(v.arg("shape"))
    rows = v.batch * dims.prod(v.x[:len(v.x) - len(shape)])
    return [kept_input(), kept_new(2 * rows, _layer_stats(v))]


def _layer_norm2d_keeps(v) -> list:
    """LayerNorm over the channels of x.movedim(1, −1): it keeps that view of the input."""
    rows = v.batch * dims.prod(v.x[1:])
    return [kept_input(), kept_new(2 * rows, _layer_stats(v))]


def _rms_norm_keeps(v) -> list:
    """On a CPU F.rms_norm is composite (torch/_decomp, rms_norm), computed in float32 below
    32 bits (x.float(): a new float32 copy of a 16-bit input, the input itself otherwise):
    x.pow(2) keeps that x, the rsqrt its result (one per row), x · rstd both (already
    kept), and the weight's mul x · rstd (a new tensor) when there is a weight."""
    if v.device == "cuda":
        raise NotModelled("the tensors the fused RMS norm keeps on a GPU are not modelled")
    shape = (v.x[-1],) if v.arg("shape") is None else tuple(v.arg("shape"))
    rows = v.batch * dims.prod(v.x[:len(v.x) - len(shape)])
    out = [kept_upcast(), kept_new(rows, ACC)]
    return out + [kept_new(v.elements(v.x), ACC)] if v.arg("affine", True) else out


def _group_norm_keeps(v) -> list:
    """native_group_norm takes a contiguous or channels-last input as it is and copies any
    other (a slice: ``X.contiguous(memory_format)``), keeping what it normalised."""
    return [kept_dense(), kept_new(2 * v.batch * v.arg("groups"), STATS)]


def _lrn_keeps(v) -> list:
    """F.local_response_norm: input·input keeps the input, the average pool its padded
    square ([B, 1, C + size − 1, …]), pow its base and the division its divisor (two new
    tensors of the input's size)."""
    padded = v.batch * (v.x[0] + v.arg("size") - 1) * dims.prod(v.x[1:])
    return [kept_input(), kept_new(padded), kept_new(2 * v.elements(v.x))]


saves("batchnorm1d", "batchnorm2d", "batchnorm3d")(_batch_norm_keeps)
saves("instancenorm1d", "instancenorm2d", "instancenorm3d")(_instance_norm_keeps)
saves("layernorm")(_layer_norm_keeps)
saves("layernorm2d")(_layer_norm2d_keeps)
saves("rmsnorm")(_rms_norm_keeps)
saves("groupnorm")(_group_norm_keeps)
saves("lrn")(_lrn_keeps)
