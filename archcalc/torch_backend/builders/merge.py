"""Builders for merges (mirrors archcalc/layers/merge.py)."""

from __future__ import annotations

from torch import nn

from ..modules import Merge
from ..registry import BuildCtx, batch_dim, builds


@builds("add", "mul")
def elementwise_merge(b: BuildCtx) -> nn.Module:
    """In the linear copy the mean of the inputs: every value there is positive, so a sum
    or product depends on the same inputs as the mean, and the mean cannot overflow (residual
    sums double the values at each block, squeeze-excitation products square them)."""
    return Merge("mean" if b.linear else b.type)


@builds("concat")
def concat(b: BuildCtx) -> nn.Module:
    return Merge("concat", batch_dim(b.a["dim"]))
