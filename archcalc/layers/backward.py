"""What a layer's backward pass costs, registered by its family module next to its rule.

PyTorch's autograd computes, for a layer with multiply-accumulates, the gradient of each
input that needs one and the gradient of each trainable weight; each is a product of the
same size as the forward's. FlopCounterMode (torch/utils/flop_counter.py) counts them so:
``conv_backward_flop`` adds one forward convolution per set entry of ``output_mask``
(grad_input, grad_weight; grad_bias is a sum), and the derivatives of mm, addmm and bmm
(tools/autograd/derivatives.yaml: ``mat1: grad.mm(mat2.t())``, ``mat2: mat1.t().mm(grad)``)
are one mm or bmm each, computed only for the operands that need a gradient.

A family registers, per layer type, ``fn(view, need) -> (input_grad, weight_grad)``, the
MACs of the two parts (``view``: archcalc/profiles.py's LayerView; ``need``: ``Need``), or
declares with ``backward_zero`` why the type's backward has no multiply-accumulates
(element-wise derivatives, reductions, scatter-adds). archcalc/training.py applies them;
every registered layer type has one or the other (tests/test_training.py checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .base import register_once, registrar


@dataclass(frozen=True)
class Need:
    """Which gradients autograd computes at one layer: per tensor input (main input first,
    then named operands, as the node's inputs), whether it needs a gradient; ``weights``:
    whether the layer's parameters are trained (it has some, and it is not frozen)."""

    inputs: tuple
    weights: bool

    @property
    def x(self) -> bool:
        return self.inputs[0]


Rule = Callable[[Any, Need], tuple]
BACKWARD: dict[str, Rule] = {}  # layer type -> (input grad MACs, weight grad MACs)
ZERO_BACKWARD: dict[str, str] = {}  # layer type -> why its backward has no MACs


# ``@backward("conv2d")``: fn(view, need) -> (input grad MACs, weight grad MACs)
backward = registrar(BACKWARD, "backward rule of")


def backward_zero(reason: str, *types: str) -> None:
    """These types' backward has no multiply-accumulates, for ``reason``."""
    for t in types:
        register_once(ZERO_BACKWARD, t, reason, "backward rule of")


def each_needed(view, need: Need) -> tuple:
    """A product with a weight (convolution, linear): the input's gradient and the
    weight's each cost the forward's MACs, when needed."""
    macs = view.record.macs
    return (macs if need.x else 0, macs if need.weights else 0)


# layer type -> fn(view, (input grad, weight grad)) -> what FlopCounterMode counts for that
# backward, where it counts otherwise than autograd computes (verify compares with it).
FLOPCOUNTER_BACKWARD: dict[str, Callable] = {}


# ``@flopcounter_backward("conv2d")``: fn(view, grads) -> FlopCounterMode's MACs
flopcounter_backward = registrar(FLOPCOUNTER_BACKWARD, "FlopCounterMode backward of")


def flopcounter_count(view, grads: tuple):
    """FlopCounterMode's MACs for a layer's backward whose exact parts are ``grads``."""
    rule = FLOPCOUNTER_BACKWARD.get(view.type)
    return grads[0] + grads[1] if rule is None else rule(view, grads)
