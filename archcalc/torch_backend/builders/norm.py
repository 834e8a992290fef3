"""Builders for normalisations (mirrors archcalc/layers/norm.py): the identity in the
linear copy."""

from __future__ import annotations

from torch import nn

from ..modules import LayerNorm2d
from ..registry import BuildCtx, Source, builds, call, exports
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


@exports("batchnorm1d", "batchnorm2d", "batchnorm3d")
def export_batchnorm(b: BuildCtx) -> Source:
    """nn.BatchNormNd; Keras's scale: false (center: false) drops the learned weight
    (bias), which BatchNorm's forward then leaves out, as the builder drops it."""
    dropped = tuple(f"{{m}}.{weight} = None"
                    for arg, weight in (("scale", "weight"), ("center", "bias"))
                    if b.a["affine"] and not b.a.get(arg, True))
    layer = call(f"nn.BatchNorm{b.type[-2]}d", b.x[0], eps=(float(b.a["eps"]), 1e-5),
                 momentum=(b.a["momentum"], 0.1), affine=(b.a["affine"], True),
                 track_running_stats=(b.a["track_running_stats"], True))
    return Source(layer, setup=dropped)


@exports("instancenorm1d", "instancenorm2d", "instancenorm3d")
def export_instancenorm(b: BuildCtx) -> Source:
    return Source(call(f"nn.InstanceNorm{b.type[-2]}d", b.x[0], eps=(float(b.a["eps"]), 1e-5),
                       affine=(b.a["affine"], False),
                       track_running_stats=(b.a["track_running_stats"], False)))


@exports("layernorm")
def export_layernorm(b: BuildCtx) -> Source:
    shape = b.x[-1] if b.a["shape"] is None else tuple(b.a["shape"])
    return Source(call("nn.LayerNorm", shape, eps=(float(b.a["eps"]), 1e-5),
                       elementwise_affine=(b.a["affine"], True), bias=(b.a["bias"], True)))


@exports("layernorm2d")
def export_layernorm2d(b: BuildCtx) -> Source:
    """A LayerNorm over the channels at each position: channels moved last and back."""
    return Source(call("nn.LayerNorm", b.x[0], eps=(float(b.a["eps"]), 1e-5),
                       elementwise_affine=(b.a["affine"], True)),
                  "{m}({0}.movedim(1, -1)).movedim(-1, 1)")


@exports("groupnorm")
def export_groupnorm(b: BuildCtx) -> Source:
    return Source(call("nn.GroupNorm", b.a["groups"], b.x[0], eps=(float(b.a["eps"]), 1e-5),
                       affine=(b.a["affine"], True)))


@exports("lrn")
def export_lrn(b: BuildCtx) -> Source:
    return Source(call("nn.LocalResponseNorm", b.a["size"], alpha=(float(b.a["alpha"]), 1e-4),
                       beta=(float(b.a["beta"]), 0.75), k=(float(b.a["k"]), 1.0)))


@exports("rmsnorm")
def export_rmsnorm(b: BuildCtx) -> Source:
    shape = b.x[-1] if b.a["shape"] is None else tuple(b.a["shape"])
    return Source(call("nn.RMSNorm", shape, elementwise_affine=(b.a["affine"], True)))
