"""Builders for ops archcalc cannot model (mirrors archcalc/layers/opaque.py)."""

from __future__ import annotations

from torch import nn

from ..modules import Unknown
from ..registry import BuildCtx, NotExportable, Source, builds, exports


@builds("unknown")
def unknown(b: BuildCtx) -> nn.Module:
    """The declared shape and the stated parameters, which is all the spec says of it."""
    return Unknown(b.a["shape"], b.a["params"])


@exports("unknown")
def export_unknown(b: BuildCtx) -> Source:
    raise NotExportable(f"'{b.type}' stands for an op archcalc could not import "
                        f"({b.a['op'] or 'unnamed'}); torch.nn has no form for it")
