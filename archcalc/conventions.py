"""Counting conventions: what "params" and "FLOPs" mean in a report.

The default is PyTorch's: params are ``parameters()`` (BatchNorm running statistics are
buffers, reported apart as non-trainable); MACs are the multiply-accumulates of
convolutions, linear layers and matrix products, bias excluded; FLOPs = 2 × MACs, as
``torch.utils.flop_counter.FlopCounterMode`` reports. docs/conventions.md states them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SpecError, did_you_mean


@dataclass(frozen=True)
class Convention:
    name: str
    title: str
    params_include_buffers: bool = False  # Keras: moving statistics are (non-trainable) params
    flops_per_mac: int = 2
    source: str = ""

    def params(self, trainable, buffers):
        return trainable + buffers if self.params_include_buffers else trainable


DEFAULT = Convention(
    "pytorch", "PyTorch: params = parameters(); FLOPs = 2 × MACs (FlopCounterMode)",
    source="torch.nn.Module.parameters(); torch/utils/flop_counter.py",
)
KERAS = Convention(
    "keras", "Keras: params include BatchNorm moving mean/variance as non-trainable",
    params_include_buffers=True, source="keras Model.summary(); BatchNormalization weights",
)
CONVENTIONS = {c.name: c for c in (DEFAULT, KERAS)}


def get(name: str) -> Convention:
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise SpecError(f"unknown convention '{name}'{did_you_mean(name, CONVENTIONS)}; "
                        f"choose from {', '.join(CONVENTIONS)}") from None
