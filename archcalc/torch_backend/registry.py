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
    id_range: int | None = None  # an export: token ids are 0..id_range−1 (None: no ids)

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


# ``@exports("conv2d")``: how one or more layer types are written as PyTorch source
# (``archcalc export pytorch``), registered next to the type's builder.
EXPORTERS: dict[str, Callable] = {}
exports = registrar(EXPORTERS, "pytorch export for")


class NotExportable(Exception):
    """A layer that plain PyTorch (torch and torch.nn alone) cannot express as exported."""


@dataclass(frozen=True)
class Source:
    """A layer as PyTorch source. ``module``: a constructor (``nn.Conv2d(3, 64, 3)``) or an
    ``nn.Parameter`` kept as an attribute; ``expr``: the forward expression over the inputs
    ``{0}``, ``{1}`` …, ``{m}`` the attribute and ``{b}`` the buffer (default: the attribute
    called on the inputs); neither: the layer passes its input on (an identity).
    ``setup``: statements run on the attribute once it is made (``{m}.weight = None``);
    ``buffer``: (name, tensor source) of a tensor the layer keeps as a buffer (an index),
    the attribute ``name`` joined to the layer's own when it also has a module;
    ``classes``: the names of the classes of ``exported_modules`` the source uses, which
    the exported file then defines."""

    module: str | None = None
    expr: str | None = None
    setup: tuple = ()
    buffer: tuple | None = None
    classes: tuple = ()


def literal(value) -> str:
    """A Python literal of an evaluated argument: ints, floats, bools, strings, tuples."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple)):
        items = [literal(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    raise NotExportable(f"the value {value!r} is not a plain number")


def axes_value(value):
    """A per-axis argument as PyTorch takes it: one int when every axis has the same."""
    if isinstance(value, (list, tuple)) and value and all(v == value[0] for v in value):
        return value[0]
    return value


def call(name: str, *args, **options) -> str:
    """``name(arg, …, key=value, …)``; an option is a (value, PyTorch's default) pair and is
    written only where the value differs from the default."""
    parts = [literal(axes_value(a)) for a in args]
    for key, (value, default) in options.items():
        value = axes_value(value)
        if value != axes_value(default) or type(value) is not type(axes_value(default)):
            parts.append(f"{key}={literal(value)}")
    return f"{name}({', '.join(parts)})"
