"""Builders for convolutions and pools."""

from __future__ import annotations

import torch
from torch import nn

from .modules import GlobalPool, KerasAvgPool, Pad, WindowSum, tf_same_pads
from .registry import BuildCtx, builds

_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
             "circular": "circular"}


def constant_weights(module: nn.Module) -> nn.Module:
    """The receptive-field copy's weights: every weight 1/fan-in (positive, and averages
    stay ≤ 1 so no value under- or overflows in float64), every bias 0."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias") or p.dim() < 2:
                p.zero_()
            else:
                p.fill_(1.0 / p[0].numel())
    return module


def _k_eff(b: BuildCtx, dilation) -> tuple:
    return tuple(d * (k - 1) + 1 for k, d in zip(b.per_axis("kernel"), dilation))


def _same_pairs(b: BuildCtx, k_eff, stride) -> tuple:
    return tuple(tf_same_pads(n, ke, s) for n, ke, s in zip(b.x[1:], k_eff, stride))


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
        pairs = _same_pairs(b, _k_eff(b, d), s)
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


def _real_pool(b: BuildCtx, kind: str) -> nn.Module:
    k = b.per_axis("kernel")
    s = k if b.a.get("stride") is None else b.per_axis("stride")
    d = b.per_axis("dilation") if kind == "max" else (1,) * b.nd
    pad = b.a["padding"]
    if pad == "same":
        pairs = _same_pairs(b, _k_eff(b, d), s)
        if kind == "avg":
            return KerasAvgPool(b.nd, pairs, k, s)
        pool = getattr(nn, f"MaxPool{b.nd}d")(k, s, 0, d)
        return nn.Sequential(Pad(pairs, value=-float("inf")), pool)
    p = 0 if pad == "valid" else b.per_axis("padding")
    if kind == "max":
        return getattr(nn, f"MaxPool{b.nd}d")(k, s, p, d, ceil_mode=b.a["ceil_mode"])
    return getattr(nn, f"AvgPool{b.nd}d")(k, s, p, ceil_mode=b.a["ceil_mode"],
                                          count_include_pad=b.a["count_include_pad"])


def _linear_pool(b: BuildCtx, real: nn.Module, kind: str) -> nn.Module:
    """Same windows as ``real`` (kernel, stride, dilation, left pad, output count), summed
    with constant weights: the gradient reaches every position of every window."""
    k = b.per_axis("kernel")
    s = k if b.a.get("stride") is None else b.per_axis("stride")
    d = b.per_axis("dilation") if kind == "max" else (1,) * b.nd
    pad = b.a["padding"]
    if pad == "same":
        left = tuple(lp for lp, _ in _same_pairs(b, _k_eff(b, d), s))
    else:
        left = (0,) * b.nd if pad == "valid" else b.per_axis("padding")
    probe = torch.empty((1, *b.x), device="meta")
    target = tuple(real.to("meta")(probe).shape[2:])
    return WindowSum(b.nd, b.x[0], k, s, d, left, target)


@builds("maxpool1d", "maxpool2d", "maxpool3d", "avgpool1d", "avgpool2d", "avgpool3d")
def pool(b: BuildCtx) -> nn.Module:
    kind = b.type[:3]
    real = _real_pool(b, kind)
    return _linear_pool(b, real, kind) if b.linear else real


@builds(*(f"adaptive{kind}pool{n}d" for kind in ("avg", "max") for n in (1, 2, 3)))
def adaptive_pool(b: BuildCtx) -> nn.Module:
    kind = "Avg" if b.linear or b.type.startswith("adaptiveavg") else "Max"
    return getattr(nn, f"Adaptive{kind}Pool{b.nd}d")(b.per_axis("out"))


@builds("globalavgpool", "globalmaxpool")
def global_pool(b: BuildCtx) -> nn.Module:
    return GlobalPool("avg" if b.linear or b.type == "globalavgpool" else "max")


@builds("linear")
def linear(b: BuildCtx) -> nn.Module:
    """nn.Linear; in the narrow copy one output when it mixes (narrowed) channels."""
    layer = nn.Linear(b.x[-1], 1 if b.narrowed_last else b.a["out"], bias=b.a["bias"])
    return constant_weights(layer) if b.linear else layer
