"""One small builder per layer type, registered with ``@builds("conv2d")``.

A builder gets a ``BuildCtx`` — the node's evaluated arguments and the shapes torch actually
produced for its inputs (no batch axis) — and returns an ``nn.Module`` taking the batched
input tensors. Two variants are built from the same code:

* ``linear``: the copy used to measure receptive fields — constant positive weights, zero
  biases, average instead of max pooling, normalisations, activations and dropout as the
  identity — so that the gradient of one output unit is non-zero on its whole field;
* ``narrow``: convolutions with one output channel and no groups, linear layers over
  channels (after a permute) with one output, channel shuffles as the identity: a cheap
  receptive-field copy, exact when no layer drops channels (the field is measured as the
  union over channels, which does not depend on the width).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..layers.base import per_axis, registrar

BUILDERS: dict[str, Callable] = {}


# ``@builds("conv2d")``: a builder for one or more layer types, registered once
builds = registrar(BUILDERS, "torch builder for")


@dataclass
class BuildCtx:
    type: str
    a: dict  # evaluated arguments; 'ref' arguments replaced by the referenced output's shape
    xs: list  # torch's shapes of the inputs, without the batch axis
    linear: bool = False
    narrow: bool = False
    wide_xs: list | None = None  # a narrow copy: the full network's input shapes

    @property
    def narrowed_last(self) -> bool:
        """In a narrow copy: the main input's last axis is narrower than in the network,
        so it holds channels (a narrowed convolution's output moved last by a permute)."""
        return self.narrow and self.wide_xs is not None and self.x[-1] != self.wide_xs[0][-1]

    @property
    def x(self) -> tuple:
        return self.xs[0]

    @property
    def nd(self) -> int:
        """Spatial axes of the main input (channels first)."""
        return len(self.x) - 1

    def per_axis(self, name: str, n: int | None = None) -> tuple:
        """An argument as one value per spatial axis (the rule already checked its length)."""
        return per_axis(self.a[name], self.nd if n is None else n)


def batch_dim(dim: int) -> int:
    """A spec axis (no batch axis; negative counts from the end) as a torch axis."""
    return dim + 1 if dim >= 0 else dim
