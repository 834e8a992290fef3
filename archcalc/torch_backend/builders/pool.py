"""Builders for pools (mirrors archcalc/layers/pool.py)."""

from __future__ import annotations

import torch
from torch import nn

from ..modules import GlobalPool, KerasAvgPool, Pad, WindowSum
from ..registry import BuildCtx, Source, builds, call, exports
from .conv import k_eff, padded, same_pairs


def _real_pool(b: BuildCtx, kind: str) -> nn.Module:
    k = b.per_axis("kernel")
    s = k if b.a.get("stride") is None else b.per_axis("stride")
    d = b.per_axis("dilation") if kind == "max" else (1,) * b.nd
    pad = b.a["padding"]
    if pad == "same":
        pairs = same_pairs(b, k_eff(b, d), s)
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
        left = tuple(lp for lp, _ in same_pairs(b, k_eff(b, d), s))
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


@exports("maxpool1d", "maxpool2d", "maxpool3d", "avgpool1d", "avgpool2d", "avgpool3d")
def export_pool(b: BuildCtx) -> Source:
    """nn.MaxPoolNd / nn.AvgPoolNd; Keras 'same' as F.pad of the asymmetric padding (the
    extra row or column at the end): −inf for max, and for average the pool of the padded
    input over the pool of padded ones, so that padded positions are left out of the mean."""
    kind = b.type[:3]
    pad = b.a["padding"]
    k = b.per_axis("kernel")
    s = k if b.a.get("stride") is None else b.per_axis("stride")
    if pad == "same":
        return _export_same_pool(b, kind, k, s)
    p = 0 if pad == "valid" else b.per_axis("padding")
    if kind == "max":
        return Source(call(f"nn.MaxPool{b.nd}d", k, stride=(s, k), padding=(p, 0),
                           dilation=(b.per_axis("dilation"), 1),
                           ceil_mode=(b.a["ceil_mode"], False)))
    return Source(call(f"nn.AvgPool{b.nd}d", k, stride=(s, k), padding=(p, 0),
                       ceil_mode=(b.a["ceil_mode"], False),
                       count_include_pad=(b.a["count_include_pad"], True)))


@exports(*(f"adaptive{kind}pool{n}d" for kind in ("avg", "max") for n in (1, 2, 3)))
def export_adaptive_pool(b: BuildCtx) -> Source:
    kind = "Avg" if b.type.startswith("adaptiveavg") else "Max"
    return Source(call(f"nn.Adaptive{kind}Pool{b.nd}d", b.per_axis("out")))


@exports("globalavgpool", "globalmaxpool")
def export_global_pool(b: BuildCtx) -> Source:
    axes = tuple(range(2, len(b.x) + 1))
    method = "mean" if b.type == "globalavgpool" else "amax"
    return Source(expr=f"{{0}}.{method}(dim={axes!r})")


def _export_same_pool(b: BuildCtx, kind: str, k, s) -> Source:
    d = b.per_axis("dilation") if kind == "max" else (1,) * b.nd
    pairs = same_pairs(b, k_eff(b, d), s)
    if kind == "max":
        layer = call(f"nn.MaxPool{b.nd}d", k, stride=(s, k), dilation=(d, 1))
        source = padded(pairs, value='float("-inf")')
        return Source(layer, None if source == "{0}" else "{m}(" + source + ")")
    layer = call(f"nn.AvgPool{b.nd}d", k, stride=(s, k))
    source = padded(pairs)
    if source == "{0}":
        return Source(layer)
    ones = padded(pairs).replace("{0}", "torch.ones_like({0})")
    return Source(layer, "{m}(" + source + ") / {m}(" + ones + ")")
