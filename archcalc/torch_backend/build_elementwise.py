"""Builders for normalisations and element-wise layers (all the identity in the linear copy)."""

from __future__ import annotations

from torch import nn

from .modules import LayerNorm2d, LayerScale
from .registry import BuildCtx, batch_dim, builds

_SIMPLE = {
    "relu": lambda a: nn.ReLU(), "relu6": lambda a: nn.ReLU6(),
    "gelu": lambda a: nn.GELU(approximate=a["approximate"]), "silu": lambda a: nn.SiLU(),
    "sigmoid": lambda a: nn.Sigmoid(), "tanh": lambda a: nn.Tanh(),
    "hardswish": lambda a: nn.Hardswish(), "hardsigmoid": lambda a: nn.Hardsigmoid(),
    "mish": lambda a: nn.Mish(), "elu": lambda a: nn.ELU(alpha=a["alpha"]),
    "leakyrelu": lambda a: nn.LeakyReLU(a["slope"]), "softplus": lambda a: nn.Softplus(),
    "hardtanh": lambda a: nn.Hardtanh(a["min"], a["max"]), "identity": lambda a: nn.Identity(),
    "dropout": lambda a: nn.Dropout(a["p"]), "dropout1d": lambda a: nn.Dropout1d(a["p"]),
    "dropout2d": lambda a: nn.Dropout2d(a["p"]), "dropout3d": lambda a: nn.Dropout3d(a["p"]),
    "stochasticdepth": lambda a: nn.Identity(),  # torchvision's StochasticDepth: identity in eval
}


def _identity_when_linear(fn):
    def build(b: BuildCtx) -> nn.Module:
        return nn.Identity() if b.linear else fn(b)

    build.__name__, build.__doc__ = fn.__name__, fn.__doc__
    return build


@builds(*_SIMPLE)
@_identity_when_linear
def simple(b: BuildCtx) -> nn.Module:
    return _SIMPLE[b.type](b.a)


@builds("softmax", "logsoftmax")
@_identity_when_linear
def softmax(b: BuildCtx) -> nn.Module:
    cls = nn.Softmax if b.type == "softmax" else nn.LogSoftmax
    return cls(dim=batch_dim(b.a["dim"]))


@builds("prelu")
@_identity_when_linear
def prelu(b: BuildCtx) -> nn.Module:
    return nn.PReLU(b.a["num"])


@builds("layerscale")
@_identity_when_linear
def layerscale(b: BuildCtx) -> nn.Module:
    return LayerScale(b.x, b.a["init"], b.a["dim"])


@builds("batchnorm1d", "batchnorm2d", "batchnorm3d")
@_identity_when_linear
def batchnorm(b: BuildCtx) -> nn.Module:
    cls = getattr(nn, f"BatchNorm{b.type[-2]}d")
    bn = cls(b.x[0], eps=b.a["eps"], momentum=b.a["momentum"], affine=b.a["affine"],
             track_running_stats=b.a["track_running_stats"])
    for arg, weight in (("scale", "weight"), ("center", "bias")):  # Keras: γ or β not learned
        if b.a["affine"] and not b.a.get(arg, True):
            bn.register_parameter(weight, None)
    return bn


@builds("instancenorm1d", "instancenorm2d", "instancenorm3d")
@_identity_when_linear
def instancenorm(b: BuildCtx) -> nn.Module:
    cls = getattr(nn, f"InstanceNorm{b.type[-2]}d")
    return cls(b.x[0], eps=b.a["eps"], affine=b.a["affine"],
               track_running_stats=b.a["track_running_stats"])


@builds("layernorm")
@_identity_when_linear
def layernorm(b: BuildCtx) -> nn.Module:
    shape = (b.x[-1],) if b.a["shape"] is None else tuple(b.a["shape"])
    return nn.LayerNorm(shape, eps=b.a["eps"], elementwise_affine=b.a["affine"],
                        bias=b.a["bias"])


@builds("layernorm2d")
@_identity_when_linear
def layernorm2d(b: BuildCtx) -> nn.Module:
    return LayerNorm2d(b.x[0], b.a["eps"], b.a["affine"])


@builds("groupnorm")
@_identity_when_linear
def groupnorm(b: BuildCtx) -> nn.Module:
    return nn.GroupNorm(b.a["groups"], b.x[0], eps=b.a["eps"], affine=b.a["affine"])


@builds("lrn")
@_identity_when_linear
def lrn(b: BuildCtx) -> nn.Module:
    return nn.LocalResponseNorm(b.a["size"], b.a["alpha"], b.a["beta"], b.a["k"])
