"""What PyTorch's autograd saves for the backward pass, per layer type, registered by the
type's family module.

Each family registers, next to its rules, ``@saves(types...)``: a function of the layer's
view (``SavedView``: arguments, input and output shapes without the batch axis, the batch,
which inputs need a gradient) that lists the tensors the layer's autograd nodes keep
(``Kept``), read from PyTorch's tools/autograd/derivatives.yaml (the formulas name the
saved inputs and results) and the module's functional form, and confirmed with
``torch.autograd.graph.saved_tensors_hooks`` (archcalc/torch_backend/saved.py,
tests/test_activations.py). A kept tensor is either one the network already has (the
layer's input or output: its storage may be kept by another layer too, and is counted once
by archcalc/activations.py) or a new one (a mask, indices, statistics, a padded copy).
A type that keeps nothing says why (``saves_nothing``); a type or an option whose saved
tensors are not modelled raises ``NotModelled``.

``VIEWS`` says which types return a view of (or the very tensor of) their input: the
storage a later layer saves is then their input's. "same": the input tensor itself;
"view": a contiguous view of a contiguous input (a copy of any other: flatten, reshape);
"strided": a view that is not contiguous (a permutation, a slice), which a layer that
reshapes its input first (linear, layer norm) copies before saving.

``LAYOUTS`` says, for the types whose new output is not always contiguous, how it is laid
out (a function of the view): "contiguous", "seq_first" (a [B, L, E] tensor stored as
[L, B, E], as nn.MultiheadAttention with batch_first returns it) or "strided" (any other
order); "view" or "view_strided" when the output is a view of the first input (a one-operand
einsum that permutes or takes a diagonal), contiguous or not. A rule reads its inputs'
layouts in ``SavedView.layouts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .. import dims
from .base import register_once, registrar

FLOAT, INT64, BOOL, STATS = "float", "int64", "bool", "stats"
CONTIGUOUS, SEQ_FIRST, STRIDED = "contiguous", "seq_first", "strided"
VIEW, VIEW_STRIDED = "view", "view_strided"  # the output is a view of input 0's storage
ACC_STATS = "acc_stats"
ACC = "acc"  # a tensor a composite kernel computes in float32 below 32 bits (x.float())
# bytes per element of each kind: FLOAT and STATS (the statistics norms keep) take the
# activation dtype's (measured on a CPU for float16, bfloat16, float32 and float64 with the
# whole network in that dtype); int64 indices 8, bool masks 1. ACC_STATS: statistics a CUDA
# kernel keeps in the accumulation type of the activation dtype (at::toAccumulateType with
# is_cuda: float32 for float16, bfloat16 and float32, float64 for float64), as
# native_layer_norm's CUDA kernel allocates its mean and rstd
# (aten/src/ATen/native/cuda/layer_norm_kernel.cu, layer_norm_cuda).
FIXED_BYTES = {INT64: 8, BOOL: 1}


def element_bytes(kind: str, dtype_bytes: int) -> int:
    """Bytes per element of a kept tensor of ``kind`` when activations take
    ``dtype_bytes``."""
    if kind in (ACC_STATS, ACC):
        return max(4, dtype_bytes)
    return FIXED_BYTES.get(kind, dtype_bytes)


@dataclass(frozen=True)
class Kept:
    """One tensor a layer keeps: ``of`` "input" (input ``index`` as given), "contiguous"
    (input ``index`` as a contiguous tensor, as a reshape gives it: its own storage when it
    is contiguous, else a copy), "copied" (input ``index`` through ``.contiguous()``: its own
    storage when contiguous, else a copy, a slice's too), "dense" (input ``index`` as a
    kernel that takes any dense layout keeps it: its own storage unless it is a slice that is
    not contiguous, which is copied), "upcast" (input ``index`` through ``x.float()``: its
    own storage at 32 bits or more, a new float32 tensor below), "output" (the layer's
    output) or
    "new" (``elements`` of ``kind``, batch included)."""

    of: str
    index: int = 0
    elements: Any = 0
    kind: str = FLOAT


def kept_input(index: int = 0) -> Kept:
    return Kept("input", index)


def kept_contiguous(index: int = 0) -> Kept:
    return Kept("contiguous", index)


def kept_copied(index: int = 0) -> Kept:
    return Kept("copied", index)


def kept_dense(index: int = 0) -> Kept:
    return Kept("dense", index)


def kept_upcast(index: int = 0) -> Kept:
    return Kept("upcast", index)


def kept_output() -> Kept:
    return Kept("output")


def kept_new(elements, kind: str = FLOAT) -> Kept:
    return Kept("new", 0, dims.simplify(elements), kind)


@dataclass(frozen=True)
class SavedView:
    """One layer as a saved-tensor rule sees it: shapes without the batch axis."""

    type: str
    args: dict
    inputs: tuple
    output: tuple
    batch: Any
    grads: tuple  # per input: does it need a gradient
    trainable: bool  # the layer has parameters that need a gradient
    device: str  # "cpu" or "cuda": a few kernels keep other tensors on a GPU
    # per input: "contiguous", "seq_first" or "strided" (see LAYOUTS)
    layouts: tuple = ()

    def layout(self, index: int = 0) -> str:
        return self.layouts[index] if self.layouts else CONTIGUOUS

    @property
    def x(self) -> tuple:
        return self.inputs[0]

    def arg(self, name: str, default=None):
        return self.args.get(name, default)

    def elements(self, shape) -> Any:
        return self.batch * dims.prod(shape)


class NotModelled(Exception):
    """The tensors this layer keeps for backward are not modelled (``reason``)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


Rule = Callable[[SavedView], list]
RULES: dict[str, Rule] = {}
NOTHING: dict[str, str] = {}  # type -> why it keeps nothing
VIEWS: dict[str, str] = {}  # type -> "view" or "strided"
LAYOUTS: dict[str, Callable] = {}  # type -> fn(view) -> the new output's layout


# ``@saves("conv2d")``: fn(view) -> [Kept], what these layer types keep for backward
saves = registrar(RULES, "saved tensors of")


def saves_nothing(reason: str, *types: str) -> None:
    """These types keep no tensor for backward, for ``reason`` ({type}: the type)."""
    for t in types:
        register_once(NOTHING, t, reason, "saved tensors of")
        register_once(RULES, t, lambda v: [], "saved tensors of")


def view_of_input(mode: str, *types: str) -> None:
    """These types return their input or a view of it (``mode``: "same", "view" or
    "strided")."""
    for t in types:
        register_once(VIEWS, t, mode, "view kind of")


# ``@output_layout("multiheadattention")``: fn(view) -> CONTIGUOUS, SEQ_FIRST or STRIDED
output_layout = registrar(LAYOUTS, "output layout of")


def not_modelled(*types: str) -> None:
    """Saved tensors of these types are not modelled yet: asking for them is an error."""

    def refuse(v: SavedView):
        raise NotModelled(f"the tensors {v.type} keeps for backward are not modelled")

    for t in types:
        register_once(RULES, t, refuse, "saved tensors of")
