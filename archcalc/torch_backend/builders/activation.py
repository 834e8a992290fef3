"""Builders for element-wise layers (mirrors archcalc/layers/activation.py): all the
identity in the linear copy."""

from __future__ import annotations

from torch import nn

from ..modules import LayerScale, StochasticDepth
from ..registry import BuildCtx, Source, batch_dim, builds, call, exports, literal

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


_PLAIN = {  # type -> (nn class, its options as (argument, PyTorch keyword, default))
    "relu": ("ReLU", ()), "relu6": ("ReLU6", ()), "silu": ("SiLU", ()),
    "gelu": ("GELU", (("approximate", "approximate", "none"),)),
    "sigmoid": ("Sigmoid", ()), "tanh": ("Tanh", ()), "hardswish": ("Hardswish", ()),
    "hardsigmoid": ("Hardsigmoid", ()), "mish": ("Mish", ()), "softplus": ("Softplus", ()),
    "elu": ("ELU", (("alpha", "alpha", 1.0),)),
    "leakyrelu": ("LeakyReLU", (("slope", "negative_slope", 0.01),)),
    "hardtanh": ("Hardtanh", (("min", "min_val", -1.0), ("max", "max_val", 1.0))),
    "dropout": ("Dropout", (("p", "p", 0.5),)), "dropout1d": ("Dropout1d", (("p", "p", 0.5),)),
    "dropout2d": ("Dropout2d", (("p", "p", 0.5),)), "dropout3d": ("Dropout3d", (("p", "p", 0.5),)),
}


@exports(*_PLAIN)
def export_simple(b: BuildCtx) -> Source:
    cls, options = _PLAIN[b.type]
    given = {}
    for arg, key, default in options:
        value = b.a[arg]
        given[key] = (float(value) if isinstance(default, float) else value, default)
    return Source(call(f"nn.{cls}", **given))


@exports("identity")
def export_identity(b: BuildCtx) -> Source:
    return Source()


@exports("softmax", "logsoftmax")
def export_softmax(b: BuildCtx) -> Source:
    cls = "nn.Softmax" if b.type == "softmax" else "nn.LogSoftmax"
    return Source(f"{cls}(dim={batch_dim(b.a['dim'])})")


@exports("prelu")
def export_prelu(b: BuildCtx) -> Source:
    return Source(call("nn.PReLU", num_parameters=(b.a["num"], 1)))


@exports("stochasticdepth")
def export_stochasticdepth(b: BuildCtx) -> Source:
    """torchvision's StochasticDepth (exported_modules.py): the identity in evaluation."""
    return Source(call("StochasticDepth", float(b.a["p"]), mode=(b.a["mode"], "row")),
                  classes=("StochasticDepth",))


@exports("layerscale")
def export_layerscale(b: BuildCtx) -> Source:
    """``x * gamma``, gamma an nn.Parameter of one value per index of axis ``dim`` (the
    others 1, so that it broadcasts), as LayerScale builds it."""
    dim = b.a["dim"] % len(b.x)
    size = tuple(n if i == dim else 1 for i, n in enumerate(b.x))
    return Source(f"nn.Parameter(torch.full({literal(size)}, {literal(float(b.a['init']))}))",
                  "{0} * {m}")
