"""Builders for element-wise layers (mirrors archcalc/layers/activation.py): all the
identity in the linear copy."""

from __future__ import annotations

from torch import nn

from ..modules import LayerScale, StochasticDepth
from ..registry import BuildCtx, batch_dim, builds

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
    "stochasticdepth": lambda a: StochasticDepth(a["p"], a["mode"]),  # identity in eval
}


def identity_when_linear(fn):
    def build(b: BuildCtx) -> nn.Module:
        return nn.Identity() if b.linear else fn(b)

    build.__name__, build.__doc__, build.__module__ = fn.__name__, fn.__doc__, fn.__module__
    return build


@builds(*_SIMPLE)
@identity_when_linear
def simple(b: BuildCtx) -> nn.Module:
    return _SIMPLE[b.type](b.a)


@builds("softmax", "logsoftmax")
@identity_when_linear
def softmax(b: BuildCtx) -> nn.Module:
    cls = nn.Softmax if b.type == "softmax" else nn.LogSoftmax
    return cls(dim=batch_dim(b.a["dim"]))


@builds("prelu")
@identity_when_linear
def prelu(b: BuildCtx) -> nn.Module:
    return nn.PReLU(b.a["num"])


@builds("layerscale")
@identity_when_linear
def layerscale(b: BuildCtx) -> nn.Module:
    return LayerScale(b.x, b.a["init"], b.a["dim"])
