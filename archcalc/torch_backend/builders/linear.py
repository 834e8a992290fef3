"""Builders for fully connected layers (mirrors archcalc/layers/linear.py)."""

from __future__ import annotations

from torch import nn

from ..registry import BuildCtx, builds
from ..weights import constant_weights


@builds("linear")
def linear(b: BuildCtx) -> nn.Module:
    """nn.Linear; in the narrow copy one output when it mixes (narrowed) channels."""
    layer = nn.Linear(b.x[-1], 1 if b.narrowed_last else b.a["out"], bias=b.a["bias"])
    return constant_weights(layer) if b.linear else layer
