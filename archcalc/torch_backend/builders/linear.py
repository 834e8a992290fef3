"""Builders for fully connected layers (mirrors archcalc/layers/linear.py)."""

from __future__ import annotations

from torch import nn

from ..registry import BuildCtx, Source, builds, call, exports
from ..weights import constant_weights


@builds("linear")
def linear(b: BuildCtx) -> nn.Module:
    """nn.Linear; in the narrow copy one output when it mixes (narrowed) channels. Tied
    (``tie``): its weight is the named layer's Parameter itself, as GPT-2 ties lm_head to
    wte, so that parameters() yields it once; the receptive-field copies keep their own
    constant weight (they count nothing)."""
    layer = nn.Linear(b.x[-1], 1 if b.narrowed_last else b.a["out"], bias=b.a["bias"])
    if b.a.get("tie") is not None and not (b.linear or b.narrow):
        layer.weight = b.a["tie"]
    return constant_weights(layer) if b.linear else layer


@exports("linear")
def export_linear(b: BuildCtx) -> Source:
    """nn.Linear; a tied weight (``tie``) is assigned by the network's constructor, once
    every layer exists (export.py)."""
    return Source(call("nn.Linear", b.x[-1], b.a["out"], bias=(b.a["bias"], True)))
