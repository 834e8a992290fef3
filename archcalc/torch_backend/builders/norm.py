"""Builders for normalisations (mirrors archcalc/layers/norm.py): the identity in the
linear copy."""

from __future__ import annotations

from torch import nn

from ..modules import LayerNorm2d
from ..registry import BuildCtx, builds
from .activation import identity_when_linear


@builds("batchnorm1d", "batchnorm2d", "batchnorm3d")
@identity_when_linear
def batchnorm(b: BuildCtx) -> nn.Module:
    cls = getattr(nn, f"BatchNorm{b.type[-2]}d")
    bn = cls(b.x[0], eps=b.a["eps"], momentum=b.a["momentum"], affine=b.a["affine"],
             track_running_stats=b.a["track_running_stats"])
    for arg, weight in (("scale", "weight"), ("center", "bias")):  # Keras: γ or β not learned
        if b.a["affine"] and not b.a.get(arg, True):
            bn.register_parameter(weight, None)
    return bn


@builds("instancenorm1d", "instancenorm2d", "instancenorm3d")
@identity_when_linear
def instancenorm(b: BuildCtx) -> nn.Module:
    cls = getattr(nn, f"InstanceNorm{b.type[-2]}d")
    return cls(b.x[0], eps=b.a["eps"], affine=b.a["affine"],
               track_running_stats=b.a["track_running_stats"])


@builds("layernorm")
@identity_when_linear
def layernorm(b: BuildCtx) -> nn.Module:
    shape = (b.x[-1],) if b.a["shape"] is None else tuple(b.a["shape"])
    return nn.LayerNorm(shape, eps=b.a["eps"], elementwise_affine=b.a["affine"],
                        bias=b.a["bias"])


@builds("layernorm2d")
@identity_when_linear
def layernorm2d(b: BuildCtx) -> nn.Module:
    return LayerNorm2d(b.x[0], b.a["eps"], b.a["affine"])


@builds("groupnorm")
@identity_when_linear
def groupnorm(b: BuildCtx) -> nn.Module:
    return nn.GroupNorm(b.a["groups"], b.x[0], eps=b.a["eps"], affine=b.a["affine"])


@builds("lrn")
@identity_when_linear
def lrn(b: BuildCtx) -> nn.Module:
    return nn.LocalResponseNorm(b.a["size"], b.a["alpha"], b.a["beta"], b.a["k"])


@builds("rmsnorm")
@identity_when_linear
def rmsnorm(b: BuildCtx) -> nn.Module:
    shape = [b.x[-1]] if b.a["shape"] is None else list(b.a["shape"])
    return nn.RMSNorm(shape, elementwise_affine=b.a["affine"])
