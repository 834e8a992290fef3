"""Builders for convolutions (mirrors archcalc/layers/conv.py)."""

from __future__ import annotations

import torch
from torch import nn

from ..modules import IndexChannels, Pad, flat_pads, tf_same_pads
from ..registry import BuildCtx, Source, builds, call, exports, literal
from ..weights import constant_weights

_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
             "circular": "circular"}


def k_eff(b: BuildCtx, dilation) -> tuple:
    return tuple(d * (k - 1) + 1 for k, d in zip(b.per_axis("kernel"), dilation))


def same_pairs(b: BuildCtx, spans, stride) -> tuple:
    """Keras 'same' padding as (left, right) per spatial axis."""
    return tuple(tf_same_pads(n, ke, s) for n, ke, s in zip(b.x[1:], spans, stride))


@builds("conv1d", "conv2d", "conv3d")
def conv(b: BuildCtx) -> nn.Module:
    """nn.ConvNd; 'same' with a stride > 1 (Keras) as explicit asymmetric padding."""
    cls = getattr(nn, f"Conv{b.nd}d")
    out, groups = (1, 1) if b.narrow else (b.a["out"], b.a["groups"])
    k, s, d = b.per_axis("kernel"), b.per_axis("stride"), b.per_axis("dilation")
    mode = "zeros" if b.linear else b.a["padding_mode"]
    pad = b.a["padding"]
    common = dict(stride=s, dilation=d, groups=groups, bias=b.a["bias"])
    if pad == "same" and any(si != 1 for si in s):
        layer = cls(b.x[0], out, k, padding=0, **common)
        pairs = same_pairs(b, k_eff(b, d), s)
        module = nn.Sequential(Pad(pairs, _PAD_MODE[mode]), layer)
    else:
        padding = pad if isinstance(pad, str) else b.per_axis("padding")
        module = layer = cls(b.x[0], out, k, padding=padding, padding_mode=mode, **common)
    if b.linear:
        constant_weights(layer)
    return module


@builds("convtranspose1d", "convtranspose2d", "convtranspose3d")
def conv_transpose(b: BuildCtx) -> nn.Module:
    cls = getattr(nn, f"ConvTranspose{b.nd}d")
    out, groups = (1, 1) if b.narrow else (b.a["out"], b.a["groups"])
    layer = cls(b.x[0], out, b.per_axis("kernel"), stride=b.per_axis("stride"),
                padding=b.per_axis("padding"), output_padding=b.per_axis("output_padding"),
                groups=groups, bias=b.a["bias"], dilation=b.per_axis("dilation"))
    return constant_weights(layer) if b.linear else layer


@builds("learnedgroupconv")
def learned_group_conv(b: BuildCtx) -> nn.Module:
    """Test phase: the condensed layer, index_select of Cin·G/C channels (index i mod Cin;
    any valid index gives the same counts) then a G-group convolution; train phase: the dense
    convolution with its mask as a buffer (all ones: pruning changes no count)."""
    k, s, p = b.per_axis("kernel"), b.per_axis("stride"), b.per_axis("padding")
    cin, out, g = b.x[0], b.a["out"], b.a["groups"]
    if b.narrow:
        layer = nn.Conv2d(cin, 1, k, stride=s, padding=p, bias=b.a["bias"])
        return constant_weights(layer) if b.linear else layer
    if b.a["phase"] == "train":
        layer = nn.Conv2d(cin, out, k, stride=s, padding=p, bias=b.a["bias"])
        layer.register_buffer("mask", torch.ones_like(layer.weight))
        return constant_weights(layer) if b.linear else layer
    selected = cin * g // b.a["condense_factor"]
    layer = nn.Conv2d(selected, out, k, stride=s, padding=p, groups=g, bias=b.a["bias"])
    if b.linear:
        constant_weights(layer)
    return nn.Sequential(IndexChannels(torch.arange(selected) % cin), layer)


def padded(pairs, mode: str = "constant", value: str | None = None) -> str:
    """``F.pad({0}, …)`` of (before, after) pairs per spatial axis; ``{0}`` when none pads."""
    if not any(any(p) for p in pairs):
        return "{0}"
    options = (f', mode="{mode}"' if mode != "constant" else "") + \
        (f", value={value}" if value is not None else "")
    return f"F.pad({{0}}, {literal(tuple(flat_pads(pairs)))}{options})"


@exports("conv1d", "conv2d", "conv3d")
def export_conv(b: BuildCtx) -> Source:
    """nn.ConvNd; Keras 'same' with a stride > 1 as F.pad of the asymmetric padding (the
    extra row or column at the end), then the convolution without padding."""
    pad = b.a["padding"]
    stride, dilation = b.per_axis("stride"), b.per_axis("dilation")
    keras = pad == "same" and any(s != 1 for s in stride)
    padding = 0 if keras else pad if isinstance(pad, str) else b.per_axis("padding")
    mode = "zeros" if keras else b.a["padding_mode"]
    layer = call(f"nn.Conv{b.nd}d", b.x[0], b.a["out"], b.per_axis("kernel"),
                 stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1),
                 groups=(b.a["groups"], 1), bias=(b.a["bias"], True),
                 padding_mode=(mode, "zeros"))
    if not keras:
        return Source(layer)
    source = padded(same_pairs(b, k_eff(b, dilation), stride), _PAD_MODE[b.a["padding_mode"]])
    return Source(layer, None if source == "{0}" else "{m}(" + source + ")")


@exports("convtranspose1d", "convtranspose2d", "convtranspose3d")
def export_conv_transpose(b: BuildCtx) -> Source:
    return Source(call(f"nn.ConvTranspose{b.nd}d", b.x[0], b.a["out"], b.per_axis("kernel"),
                       stride=(b.per_axis("stride"), 1), padding=(b.per_axis("padding"), 0),
                       output_padding=(b.per_axis("output_padding"), 0),
                       groups=(b.a["groups"], 1), bias=(b.a["bias"], True),
                       dilation=(b.per_axis("dilation"), 1)))


@exports("learnedgroupconv")
def export_learned_group_conv(b: BuildCtx) -> Source:
    """Test phase: the condensed layer, the selected channels (an index buffer) into a
    G-group convolution; train phase: the dense convolution of weight · mask, CondenseNet's
    LearnedGroupConv, the mask a buffer of ones (pruning changes no count)."""
    from .tensor import channel_index

    k, s, p = b.per_axis("kernel"), b.per_axis("stride"), b.per_axis("padding")
    cin, out, g = b.x[0], b.a["out"], b.a["groups"]
    options = dict(stride=(s, 1), padding=(p, 0), bias=(b.a["bias"], True))
    if b.a["phase"] == "train":
        layer = call("nn.Conv2d", cin, out, k, **options)
        given = call("", stride=(s, 1), padding=(p, 0))[1:-1]  # F.conv2d's defaults too
        return Source(layer, "F.conv2d({0}, {m}.weight * {b}, {m}.bias"
                      + (", " + given if given else "") + ")",
                      buffer=("mask", f"torch.ones({out}, {cin}, {', '.join(map(str, k))})"))
    selected = cin * g // b.a["condense_factor"]
    layer = call("nn.Conv2d", selected, out, k, groups=(g, 1), **options)
    return Source(layer, "{m}({0}.index_select(1, {b}))",
                  buffer=("index", channel_index(selected, cin)))
