"""The receptive-field copy's weights (shared by the builders and the measurement)."""

from __future__ import annotations

import torch
from torch import nn


def constant_weights(module: nn.Module) -> nn.Module:
    """The receptive-field copy's weights: every weight 1/fan-in (positive, and averages
    stay ≤ 1 so no value under- or overflows in float64), every bias 0."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias") or p.dim() < 2:
                p.zero_()
            else:
                p.fill_(1.0 / p[0].numel())
    return module
