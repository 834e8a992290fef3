"""Builders for merges (mirrors archcalc/layers/merge.py)."""

from __future__ import annotations

from torch import nn

from ..modules import Merge
from ..registry import BuildCtx, Source, batch_dim, builds, exports


@builds("add", "mul")
def elementwise_merge(b: BuildCtx) -> nn.Module:
    """In the linear copy the mean of the inputs: every value there is positive, so a sum
    or product depends on the same inputs as the mean, and the mean cannot overflow (residual
    sums double the values at each block, squeeze-excitation products square them)."""
    return Merge("mean" if b.linear else b.type)


@builds("concat")
def concat(b: BuildCtx) -> nn.Module:
    return Merge("concat", batch_dim(b.a["dim"]))


@exports("add", "mul")
def export_elementwise_merge(b: BuildCtx) -> Source:
    """``a + b`` / ``a * b``: PyTorch broadcasts from the last axis, as the rule does; an
    input of lower rank gets size-1 axes after the batch axis (``unsqueeze(1)``), so that
    its batch axis meets the batch axis, as Merge aligns it."""
    rank = max(len(x) for x in b.xs)
    op = " + " if b.type == "add" else " * "
    return Source(expr=op.join(f"{{{i}}}" + ".unsqueeze(1)" * (rank - len(x))
                               for i, x in enumerate(b.xs)))


@exports("concat")
def export_concat(b: BuildCtx) -> Source:
    items = ", ".join(f"{{{i}}}" for i in range(len(b.xs)))
    return Source(expr=f"torch.cat([{items}], dim={batch_dim(b.a['dim'])})")
