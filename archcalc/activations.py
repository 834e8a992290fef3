"""Bytes PyTorch's autograd keeps for the backward pass, per layer and in total, as closed
forms in the batch and the free sizes.

Each layer type's rule (registered by its family module, archcalc/layers/saves.py) lists
the tensors its autograd nodes keep: its input, its output, or new tensors (masks,
indices, statistics, padded copies). This module follows the storages through the
network: the network's input and each layer's output have a storage of their own, except
a view of the input (flatten, reshape of a contiguous tensor, permute, slice, identity),
which shares its input's. A storage kept by several layers (a ReLU's output that the next
convolution keeps too, a tensor read by two branches) counts once, at the first layer
that keeps it; the total is the sum over distinct storages. Parameters and buffers are
module state, not activations, and are left out.

A layer none of whose inputs needs a gradient and which has no trainable parameter (a
pool on the network's input, a frozen layer before any trainable one) creates no autograd
node and keeps nothing. Training mode is assumed (dropout draws masks, batch norm uses
batch statistics). ``verify`` measures the same quantity with
``torch.autograd.graph.saved_tensors_hooks`` (archcalc/torch_backend/saved.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import dims
from .errors import SpecError
from .layers import REGISTRY  # importing the families registers their rules
from .layers.saves import FIXED_BYTES, INT64, LAYOUTS, RULES, VIEWS, NotModelled, SavedView
from .layers.saves import CONTIGUOUS, SEQ_FIRST, STRIDED, VIEW, VIEW_STRIDED, element_bytes

DEVICES = ("cpu", "cuda")
_DROPOUTS = ("dropout", "dropout1d", "dropout2d", "dropout3d", "stochasticdepth")


@dataclass(frozen=True)
class Saved:
    """Bytes kept for backward: per layer (qualified name → bytes first kept there) and in
    total (distinct storages)."""

    per_layer: dict
    total: Any
    dtype_bytes: int
    batch: Any
    # what a forward pass allocates and leaves alive: the bytes of each distinct storage kept
    # (the network's input, made before, left out), and of the output's storage where no
    # layer keeps it (0 where one does, or where it is the input's)
    allocated: tuple = ()
    output_bytes: Any = 0
    # with activation checkpointing (archcalc/checkpointing.py): per checkpointed group's
    # qualified name, the bytes its recomputation in backward keeps inside it (its inputs,
    # kept by the checkpoint through the forward pass, left out)
    recompute: dict = field(default_factory=dict)


def _reads_ids(graph) -> bool:
    return any(node.type == "embedding" for node in graph.nodes)


def _trainable(node, record) -> bool:
    """The layer has parameters that need a gradient: its own, or a weight it shares
    (``tie``: counted at the layer that owns it)."""
    if node.args.get("trainable") is False:
        return False
    rule = REGISTRY[node.type]
    if any(a.kind == "weight" and node.args.get(k) is not None for k, a in rule.args.items()):
        return True
    return dims.resolve(dims.eq(record.params, 0)) is not True


def _is_one(n) -> bool:
    return dims.resolve(dims.eq(n, 1)) is True


def _still_contiguous(node, x: tuple, out: tuple, batch) -> bool:
    """Whether a view that is strided in general (a permutation, a slice, a crop) of a
    contiguous tensor is contiguous here (PyTorch's is_contiguous ignores axes of size 1):
    a permutation that keeps the order of the axes longer than 1; a slice or crop whose
    first narrowed axis has only axes of size 1 before it (the batch included) and none
    narrowed after it. Unknown (free sizes, a free batch): not contiguous, the case of a
    batch of two or more."""
    full = (batch, *x)
    if node.type == "permute":
        order = [0, *(d % len(x) + 1 for d in node.args["dims"])]
        longer = [i for i in order if not _is_one(full[i])]
        return longer == sorted(longer)
    changed = [i for i, (a, b) in enumerate(zip(x, out))
               if dims.resolve(dims.eq(a, b)) is not True]
    if not changed:
        return True
    first = changed[0]
    return changed == [first] and _is_one(batch * dims.prod(x[:first]))


# Layers whose CPU kernels allocate their output in their input's suggested memory format
# (``suggest_memory_format()``: conv2d, batch norm, pooling, upsampling): a channels-last
# input (layernorm2d's output) gives a channels-last output; element-wise layers keep their
# input's layout too.
_KEEP_CHANNELS_LAST = ("conv2d", "batchnorm2d", "maxpool2d", "avgpool2d", "adaptiveavgpool2d",
                       "adaptivemaxpool2d", "upsample")


# element-wise in archcalc's families, but their CPU kernels make the input contiguous and
# allocate a contiguous result (aten/src/ATen/native/SoftMax.cpp, softmax_cpu_out)
_CONTIGUOUS_OUT = ("softmax", "logsoftmax")


def _changed_axes(x: tuple, out: tuple) -> list:
    """The axes a slice or crop narrows (or may narrow: free sizes)."""
    return [i for i, (a, b) in enumerate(zip(x, out)) if dims.resolve(dims.eq(a, b)) is not True]


def _slices_first_axis(node, x: tuple, out: tuple) -> bool:
    """Whether a slice or crop narrows the first axis only (the sequence of a [L, E]
    tensor)."""
    return node.type != "permute" and _changed_axes(x, out) == [0]


def _folds_rows(x: tuple, out: tuple, axis: int, batch) -> bool:
    """Whether a flatten or reshape to one axis per sample of a slice narrowed along
    ``axis`` (of the tensor with its batch axis) is a view (ATen's computeStride): the
    slice's strides are the whole tensor's, so two neighbouring axes longer than 1 merge
    unless the narrowed axis lies after the first and at or before the second; the batch
    axis is not merged. Free sizes: taken as longer than 1."""
    if len(out) != 1 or _is_one(batch):
        return False
    longer = [i + 1 for i, n in enumerate(x) if not _is_one(n)]
    return not any(p < axis <= q for p, q in zip(longer, longer[1:]))


def _follows_first(node) -> bool:
    """Whether the layer's new output is laid out as its first input (TensorIterator, which
    orders the output's axes by its first operand's strides): element-wise layers, add and
    mul, and a learned tensor added or multiplied."""
    if node.type in _CONTIGUOUS_OUT:
        return False
    return REGISTRY[node.type].family == "elementwise" or node.type in ("add", "mul") or \
        (node.type == "parameter" and node.args.get("op") in ("add", "mul"))


def _keeps_channels_last(node) -> bool:
    return node.type in _KEEP_CHANNELS_LAST or REGISTRY[node.type].family == "elementwise"


def _channels_last_contiguous(shape: tuple) -> bool:
    """A [C, H, W] tensor (per sample) laid out channels last is contiguous only when its
    channels or its positions are one (is_contiguous ignores axes of size 1)."""
    return _is_one(shape[0]) or _is_one(dims.prod(shape[1:]))


def _to_channels_last_order(node, channels_last: bool) -> bool:
    """A permutation of a channels-last [C, H, W] tensor to [H, W, C] is its memory order:
    a contiguous tensor (ConvNeXt's block permutes so before its LayerNorm)."""
    if not channels_last or node.type != "permute":
        return False
    return [d % 3 for d in node.args["dims"]] == [1, 2, 0]


def _new_is_contiguous(node, x: tuple, source_contiguous: bool, source_in_order: bool,
                       batch) -> bool:
    """Whether a layer's new output is contiguous: an element-wise layer keeps its input's
    order of axes in memory (TensorIterator allocates a dense tensor with its input's
    stride order: a slice of a contiguous tensor, ``source_in_order``, gives a contiguous
    one, a permuted layout a permuted one); layernorm2d, a LayerNorm over the channels
    between two permutations (ConvNeXt's, as built), returns the channels-last layout,
    contiguous only when the channels or the positions are one; others contiguous."""
    if node.type == "layernorm2d":
        return _channels_last_contiguous(x)
    if node.type in _CONTIGUOUS_OUT:
        return True
    if REGISTRY[node.type].family == "elementwise" and node.inputs:
        return source_contiguous or source_in_order
    return True


def _folds_transposed(node, x: tuple, batch) -> bool:
    """Whether a permutation of a contiguous tensor, folded to 2-D [rows, last axis] (its
    leading axes, the batch included, merged), is the transpose of a contiguous 2-D tensor:
    ignoring axes of size 1, the last axis comes first in memory and the others follow in
    their new order (measured with saved-tensor hooks: at batch 1, [C, H, W] permuted to
    [H, W, C] is kept as it is; at batch 2, or [W, H, C], F.linear's matmul copies it).
    Unknown sizes: no (the case of a batch of two or more)."""
    full = (batch, *x)
    order = [0, *(d % len(x) + 1 for d in node.args["dims"])]
    if any(dims.resolve(dims.eq(n, 1)) is None for n in full):
        return False
    longer = [i for i in order if not _is_one(full[i])]
    if len(longer) < 2 or _is_one(full[order[-1]]):  # a last axis of 1: matmul copies
        return False
    return longer[-1] == min(longer) and longer[:-1] == sorted(longer[:-1])


def saved(analysis, dtype_bytes: int = 4, batch: Any = 1, device: str = "cpu",
          checkpoint=None) -> Saved:
    """The bytes autograd keeps for one training step's forward pass of ``batch`` samples
    whose floating-point activations take ``dtype_bytes`` bytes each (4: float32) on
    ``device`` ("cpu", or "cuda", where dropout keeps a bool mask and layer norm its statistics
in float32 for 16-bit activations). ``batch`` may be a
    sympy symbol. ``analysis``: an analysis, or the Python API's (``archcalc.analyse``).
    ``checkpoint``: a ``checkpointing.Checkpoint`` (or names to select one): the layers of
    each checkpointed group keep nothing in the forward pass, the checkpoint keeps the
    group's inputs (counted at the group's first layer), and ``recompute`` holds what each
    group's recomputation keeps. Raises SpecError at a layer whose kept tensors are not
    modelled."""
    from .checkpointing import NONE, Checkpoint, group_inputs, select

    analysis = getattr(analysis, "_result", analysis)
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    graph = analysis.graph
    if checkpoint is None:
        checkpoint = NONE
    elif not isinstance(checkpoint, Checkpoint):
        checkpoint = select(graph, checkpoint)
    ckpt_of = checkpoint.of_node or (None,) * len(graph.nodes)
    inner: dict = {g: {} for g in checkpoint.groups}  # group id -> storage -> node id
    shapes = [r.output_shape for r in analysis.layers]
    ids = _reads_ids(graph)
    # storage key per node output, its bytes, and whether the tensor is contiguous
    key: list = [0]
    size: dict = {0: batch * dims.prod(shapes[0]) * (8 if ids else dtype_bytes)}
    contiguous: list = [True]
    sliced: set = set()  # nodes whose output is a slice that is not contiguous
    in_order: set = set()  # slices of a contiguous tensor (axes in order), and the very
    #                        tensor of one (identity)
    not_dense: set = set()  # strided views that are not contiguous: with gaps or permuted
    # permutations whose output, folded to [rows, last axis] as F.linear's matmul folds it,
    # is the transpose of a contiguous tensor: matmul reads it without a copy
    folds: set = set()
    channels_last: set = set()  # outputs laid out channels last (layernorm2d, and after it)
    seq_first: set = set()  # [B, L, E] stored as [L, B, E] (nn.MultiheadAttention's output)
    narrowed: dict = {}  # a slice of a contiguous tensor along one axis: that axis (batch 0)
    rows: set = set()  # [B, F] views of such a slice, with gaps between the rows
    # layouts no rule models: a strided view of a seq-first tensor, a layer's new output in
    # an order of its own (an einsum's permuted result), and what follows their order
    unknown: set = set()
    float_of: list = [not ids]  # does the node's output hold floats
    grads: list = [False]
    fresh = [1]

    def new(nbytes) -> int:
        fresh[0] += 1
        size[fresh[0]] = nbytes
        return fresh[0]

    kept_at: dict = {}  # storage key -> node id that first keeps it
    per_node: dict = {}
    for node in graph.nodes[1:]:
        rec = analysis.layers[node.id]
        src = node.inputs[0] if node.inputs else 0
        mode = VIEWS.get(node.type)
        if node.type in _DROPOUTS and node.args.get("p") == 0:
            mode = "same"  # ATen's _dropout_impl returns the input itself when p = 0
        is_float = node.type == "embedding" or float_of[src]
        trainable = _trainable(node, rec)
        in_grads = tuple(grads[i] for i in node.inputs)
        layouts = tuple(CONTIGUOUS if contiguous[i] else SEQ_FIRST if i in seq_first
                        else STRIDED for i in node.inputs)
        view = SavedView(node.type, node.args, tuple(shapes[i] for i in node.inputs),
                         shapes[node.id], batch, in_grads, trainable, device, layouts)
        layout = LAYOUTS[node.type](view) if node.type in LAYOUTS else None
        if layout in (VIEW, VIEW_STRIDED):  # a view of its first input, in an order of its own
            key.append(key[src])
            contiguous.append(layout == VIEW)
            if layout == VIEW_STRIDED:
                unknown.add(node.id)
                not_dense.add(node.id)
        elif mode == "same":
            key.append(key[src])
            contiguous.append(contiguous[src])
            for views in (sliced, in_order, not_dense, folds, channels_last, seq_first,
                          unknown):
                if src in views:
                    views.add(node.id)
        elif mode == "strided" and src in seq_first and _slices_first_axis(
                node, shapes[src], shapes[node.id]):
            key.append(key[src])  # rows of the [L, B, E] storage: sequence-first still,
            contiguous.append(_is_one(shapes[node.id][0]))  # contiguous when one row
            if not contiguous[-1]:
                seq_first.add(node.id)
        elif mode == "strided":
            key.append(key[src])
            contiguous.append(contiguous[src] and _still_contiguous(
                node, shapes[src], shapes[node.id], batch)
                or _to_channels_last_order(node, src in channels_last))
            if not contiguous[-1] and node.type != "permute":
                sliced.add(node.id)
                if contiguous[src] or src in in_order:
                    in_order.add(node.id)
                axes = _changed_axes(shapes[src], shapes[node.id])
                if contiguous[src] and len(axes) == 1:
                    narrowed[node.id] = axes[0] + 1
            if not contiguous[-1]:  # a slice, a permutation (not a layout kernels take)
                not_dense.add(node.id)
            if not contiguous[-1] and node.type == "permute" and contiguous[src] and \
                    _folds_transposed(node, shapes[src], batch):
                folds.add(node.id)
            if not contiguous[-1] and (src in seq_first or src in unknown):
                unknown.add(node.id)
        elif mode == "view" and contiguous[src]:
            key.append(key[src])
            contiguous.append(True)
        elif mode == "view" and src in narrowed and _folds_rows(
                shapes[src], shapes[node.id], narrowed[src], batch):
            key.append(key[src])  # reshape's view of the slice: rows with gaps
            contiguous.append(False)
            rows.add(node.id)
            not_dense.add(node.id)
        else:
            nbytes = batch * dims.prod(shapes[node.id]) * (dtype_bytes if is_float else 8)
            key.append(new(nbytes))
            contiguous.append(_new_is_contiguous(node, shapes[src], contiguous[src],
                                                 src in in_order, batch))
            if layout is not None:
                contiguous[-1] = layout == CONTIGUOUS
                if layout == SEQ_FIRST:
                    seq_first.add(node.id)
                elif layout == STRIDED:
                    unknown.add(node.id)
                    not_dense.add(node.id)
            elif _follows_first(node) and not contiguous[src] and \
                    (src in seq_first or src in unknown):
                contiguous[-1] = False  # TensorIterator allocates in its first operand's order
                (seq_first if src in seq_first else unknown).add(node.id)
                if src in unknown:
                    not_dense.add(node.id)
            out_shape = shapes[node.id]
            # a channels-last input that is contiguous too (one channel) is read as
            # contiguous by a layer that keeps the input's memory format (measured with
            # saved-tensor hooks: a 1 x 1 convolution after a one-channel layernorm2d)
            ambiguous = src in channels_last and node.type in _KEEP_CHANNELS_LAST and \
                _is_one(shapes[src][0])
            if node.type == "layernorm2d" or (src in channels_last and len(out_shape) == 3
                                              and _keeps_channels_last(node)
                                              and not ambiguous):
                channels_last.add(node.id)
                if node.type in _KEEP_CHANNELS_LAST:
                    contiguous[-1] = _channels_last_contiguous(out_shape)
        float_of.append(is_float)
        grads.append(trainable or any(in_grads))
        g = ckpt_of[node.id]
        if g is not None and node.id == graph.groups[g].first:
            _keep_checkpoint_inputs(analysis, graph.groups[g], grads, key, size, kept_at,
                                    per_node, node)
        if not grads[-1]:
            continue  # no autograd node: nothing kept
        try:
            kept = RULES[node.type](view)
        except NotModelled as e:
            raise SpecError(f"{node.type} '{node.local}': {e.reason}", node.loc,
                            node.name) from None
        for k in kept:
            if k.of == "new":
                per = element_bytes(k.kind, dtype_bytes)
                storage = new(k.elements * per)
            elif k.of == "upcast" and dtype_bytes < 4 and float_of[node.inputs[k.index]]:
                storage = new(batch * dims.prod(shapes[node.inputs[k.index]]) * 4)
            elif k.of == "output":
                storage = key[node.id]
            else:
                i = node.inputs[k.index]
                storage = key[i]
                if k.of in ("contiguous", "dense") and i in unknown:
                    raise SpecError(f"{node.type} '{node.local}': what it keeps of "
                                    f"'{graph.nodes[i].local}', a tensor in an order of its "
                                    "own (einsum's permuted result, a view of "
                                    "nn.MultiheadAttention's output, or a layer that keeps "
                                    "their order), is not modelled", node.loc, node.name)
                linear_rows = k.of == "contiguous" and i in rows and node.type == "linear"
                if k.of == "contiguous" and not contiguous[i] and i in sliced and \
                        not linear_rows:
                    raise SpecError(f"{node.type} '{node.local}': what it keeps of a slice "
                                    "that is not contiguous (a view of the whole tensor, or a "
                                    "copy) is not modelled", node.loc, node.name)
                if k.of == "contiguous" and not contiguous[i] and i in folds and \
                        node.type == "linear":
                    pass  # the transposed fold: matmul keeps the input's own storage
                elif linear_rows:
                    pass  # a [B, F] matrix with a row stride: mm and addmm keep it as it is
                elif k.of == "dense" and i not in not_dense:
                    pass  # a dense layout (contiguous, channels-last) is kept as it is
                elif k.of == "dense" and i not in in_order:
                    raise SpecError(f"{node.type} '{node.local}': what it keeps of a permuted "
                                    "view, or of a slice of one, is not modelled",
                                    node.loc, node.name)
                elif k.of in ("contiguous", "copied", "dense") and not contiguous[i]:
                    storage = new(batch * dims.prod(shapes[i]) *
                                  (dtype_bytes if float_of[i] else FIXED_BYTES[INT64]))
            if g is not None:  # under no_grad: kept only when the group is recomputed
                inner[g].setdefault(storage, node.id)
            elif storage not in kept_at:
                kept_at[storage] = node.id
                per_node[node.id] = per_node.get(node.id, 0) + size[storage]
    total = 0
    for storage in kept_at:
        total = total + size[storage]
    per_layer = {node.name: dims.simplify(per_node.get(node.id, 0))
                 for node in graph.nodes[1:]}
    out_key = key[graph.output]
    allocated = tuple(dims.simplify(size[k]) for k in kept_at if k != key[0])
    output_bytes = 0 if out_key in kept_at or out_key == key[0] else dims.simplify(size[out_key])
    recompute = {}
    for gid, storages in inner.items():
        group = graph.groups[gid]
        outside = {key[i] for i in group_inputs(graph, group)}  # detached: same storages
        recompute[group.name] = dims.simplify(sum(size[s] for s in storages
                                                  if s not in outside))
    return Saved(per_layer, dims.simplify(total), dtype_bytes, batch, allocated, output_bytes,
                 recompute)


# The CUDA caching allocator's block sizes (c10/cuda/CUDACachingAllocator.cpp, round_size:
# kMinBlockSize = 512): every allocation takes a multiple of 512 bytes, at least 512, and
# torch.cuda.memory_allocated() counts those block sizes.
CUDA_BLOCK = 512


def cuda_resident(kept: Saved):
    """Bytes ``torch.cuda.memory_allocated()`` grows by over one training-mode forward pass
    that keeps only its output and the autograd graph: each distinct kept storage and the
    output's, rounded up to the allocator's 512-byte blocks (numbers only)."""
    sizes = [*kept.allocated, *([kept.output_bytes] if kept.output_bytes else [])]
    return sum(max(CUDA_BLOCK, -(-int(b) // CUDA_BLOCK) * CUDA_BLOCK) for b in sizes if b)


def refuse_untrained_inputs(graph, analysis, group) -> None:
    """A SpecError when the checkpointed ``group``, whose inputs need no gradient, has
    trained parameters: PyTorch's reentrant checkpoint returns an output that needs no
    gradient then (no input of its autograd Function needs one), so they would get none."""
    for i in range(group.first, group.last + 1):
        if _trainable(graph.nodes[i], analysis.layers[i]):
            raise SpecError(f"checkpoint {group.name!r}: no input of it needs a gradient, so "
                            "a reentrant checkpoint would give its parameters none (layer "
                            f"'{graph.nodes[i].name}'); checkpoint a later group", group.loc)


def _keep_checkpoint_inputs(analysis, group, grads, key, size, kept_at, per_node,
                            first) -> None:
    """A reentrant checkpoint keeps its tensor inputs (``ctx.save_for_backward(*tensor_inputs)``
    in torch/utils/checkpoint.py ``CheckpointFunction.forward``) when one of them needs a
    gradient (an autograd Function saves nothing otherwise); counted at the group's first
    layer, a storage kept before once. A group with trained parameters whose inputs need no
    gradient is refused: PyTorch's reentrant checkpoint would give its parameters no
    gradient."""
    from .checkpointing import group_inputs

    graph = analysis.graph
    inputs = group_inputs(graph, group)
    if not any(grads[i] for i in inputs):
        refuse_untrained_inputs(graph, analysis, group)
        return
    for i in inputs:
        storage = key[i]
        if storage not in kept_at:
            kept_at[storage] = first.id
            per_node[first.id] = per_node.get(first.id, 0) + size[storage]


# ---------------------------------------------------------------- torchinfo's lines
@dataclass(frozen=True)
class TorchinfoMemory:
    """torchinfo's memory lines (torchinfo/model_statistics.py, ModelStatistics): bytes."""

    input: Any  # "Input size": the input tensor's bytes
    forward_backward: Any  # "Forward/backward pass size": 2 × output bytes of each leaf
    #                        layer with parameters ("x2 for gradients")
    params: Any  # "Params size": each parameter's bytes, a shared one once

    def lines(self) -> list:
        """The lines as torchinfo prints them by default (summary()'s sizes in megabytes,
        10^6 bytes: README's ResNet-152 example), through ModelStatistics.format_output_num
        (model_statistics.py): a whole number without decimals, else two."""
        total = self.input + self.forward_backward + self.params
        return [f"Input size (MB): {_megabytes(self.input)}",
                f"Forward/backward pass size (MB): {_megabytes(self.forward_backward)}",
                f"Params size (MB): {_megabytes(self.params)}",
                f"Estimated Total Size (MB): {_megabytes(total)}"]


def _megabytes(num: int) -> str:
    value = num / 10 ** 6
    return f"{int(value):,d}" if value.is_integer() else f"{value:,.2f}"


def torchinfo_memory(analysis, dtype_bytes: int = 4, batch: Any = 1) -> TorchinfoMemory:
    """torchinfo's three memory figures for the network at ``batch`` samples. Every
    archcalc layer is one leaf module (torchinfo counts leaves only); ``output_bytes`` is
    the output's elements × element size with the batch axis; param_bytes counts each
    parameter once (a tied weight at the layer that owns it, as archcalc's params do)."""
    analysis = getattr(analysis, "_result", analysis)
    graph = analysis.graph
    input_bytes = batch * dims.prod(analysis.layers[0].output_shape) * \
        (8 if _reads_ids(graph) else dtype_bytes)
    fb = 0
    for node in graph.nodes[1:]:
        rec = analysis.layers[node.id]
        if dims.resolve(dims.eq(rec.params, 0)) is not True:
            fb = fb + 2 * batch * rec.activations * dtype_bytes
    return TorchinfoMemory(dims.simplify(input_bytes), dims.simplify(fb),
                           dims.simplify(analysis.total.params * dtype_bytes))
