"""What PyTorch says about each node: output shape, parameters, buffers, FLOPs, and the input
region that one output unit depends on."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .weights import constant_weights
from .network import build_and_run
from .shapes import BYTES_PER_ELEMENT, batch_size, id_range, narrow_safe, reads_ids  # noqa: F401

@dataclass(frozen=True)
class Measured:
    shape: tuple
    params: int  # numel of parameters() (trainable)
    buffers: int  # numel of buffers, without num_batches_tracked
    flops: int  # FlopCounterMode total for one sample


def resolve_device(device: str) -> str:
    """'auto' is CUDA when available, else the CPU."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def measure_layers(graph, device: str, seed: int = 0) -> dict:
    """One forward pass (eval mode, no grad): a ``Measured`` per node id. Each layer's
    module and each output are let go as soon as no later layer needs them. A network
    with embeddings reads token ids: int64 ids drawn from ``id_range`` (on the meta device
    an int64 tensor without values), else float32 values."""
    batch = batch_size(graph)
    shape = (batch, *graph.input_shape)
    ids = reads_ids(graph)
    if device == "meta":
        x = torch.empty(shape, dtype=torch.long if ids else torch.float32, device="meta")
    else:
        gen = torch.Generator().manual_seed(seed)
        x = torch.randint(0, id_range(graph), shape, generator=gen) if ids else \
            torch.randn(shape, generator=gen)
        x = x.to(device)
    with torch.no_grad():
        trace = build_and_run(graph, x, release=True)
    return {node.id: Measured(trace.shapes[node.id], *trace.counts[node.id], trace.flops[node.id])
            for node in graph.nodes[1:]}


# Receptive fields: one batch element per measured unit, so one backward pass measures a
# chunk of up to PASS_UNITS layers (more would run early layers' units needlessly far).
# Work is counted per batch element and layer a pass runs through: ELEMENT_COST per output
# element (written forward, read and written again backward), one per multiply-accumulate,
# and LAYER_COST for running the layer at all. On a CPU one unit is about a nanosecond
# (calibrated on DenseNet-169 and on chains of small convolutions).
PASS_UNITS = 32
ELEMENT_COST = 8
LAYER_COST = 5_000


@dataclass(frozen=True)
class FieldPlan:
    """The linear copy, built on the meta device (nothing allocated), and what measuring
    its receptive fields costs."""

    net: object
    trace: object
    channels: int
    sample_bytes: int  # the copy's tensors for one batch element, forward and backward
    work: dict  # node id -> ELEMENT_COST × its output's elements (0 when it is its input's
    #             tensor) + its MACs


@dataclass(frozen=True)
class Fields:
    boxes: dict  # node id -> ((first, last) per input spatial axis) or None
    work: int  # elements computed (see LAYER_COST)


def plan_fields(graph, narrow: bool, wide: dict | None = None) -> FieldPlan:
    """Build the linear copy on the meta device and size it."""
    channels = 1 if narrow else graph.input_shape[0]
    x = torch.empty((1, channels, *graph.input_shape[1:]), dtype=torch.float64, device="meta")
    trace = build_and_run(graph, x, linear=True, narrow=narrow, wide=wide)
    seen, elements = set(), {}
    for node_id, y in enumerate(trace.outputs):
        elements[node_id] = 0 if id(y) in seen else y.numel()
        seen.add(id(y))
    work = {node_id: ELEMENT_COST * n + trace.flops.get(node_id, 0) // 2
            for node_id, n in elements.items()}
    return FieldPlan(trace.net, trace, channels, BYTES_PER_ELEMENT * sum(elements.values()),
                     work)


def chunks(plan: FieldPlan, units: dict, max_bytes: int, max_work: int | None = None) -> list:
    """The units grouped into passes, in layer order: [(last node id, [(node ids, unit)],
    work)], each pass as large as ``max_bytes`` allows; with ``max_work``, the passes stop
    (the last one made smaller) where the work would pass it. Units of nodes that share a
    tensor (element-wise layers return their input in the linear copy) share one slot."""
    outputs = plan.trace.outputs
    slots: dict = {}
    for node_id, unit in units.items():
        slots.setdefault((id(outputs[node_id]), unit), []).append(node_id)
    per_pass = max(1, min(PASS_UNITS, max_bytes // max(plan.sample_bytes, 1)))
    prefix, total = {}, 0  # node id -> work of one batch element running up to it
    for node_id in sorted(plan.work):
        total += plan.work[node_id] + LAYER_COST
        prefix[node_id] = total
    out, used, group = [], 0, []

    def cost(keys) -> tuple:
        last = max(slots[k][0] for k in keys)
        return last, len(keys) * prefix[last]

    for key in slots:
        if group and len(group) < per_pass and \
                (max_work is None or used + cost([*group, key])[1] <= max_work):
            group.append(key)
            continue
        if group:
            last, work = cost(group)
            out.append((last, [(slots[k], k[1]) for k in group], work))
            used += work
        if max_work is not None and used + cost([key])[1] > max_work:
            return out
        group = [key]
    if group:
        last, work = cost(group)
        out.append((last, [(slots[k], k[1]) for k in group], work))
    return out


def measure_fields(graph, units: dict, device: str, narrow: bool, *, wide: dict | None = None,
                   max_bytes: int = 1 << 62, max_work: int | None = None,
                   plan: FieldPlan | None = None) -> dict:
    """Per node id in ``units`` (node id → output index without batch axis, None = every
    index along that axis, e.g. all channels of a concatenation): the bounding box
    (first, last) per input spatial axis of the input positions whose gradient is non-zero,
    or None when no input position reaches that unit. Uses the linear copy in float64.

    With ``max_work``, stops before the pass that would take the work past it: nodes not
    reached are missing from the answer."""
    return measure_planned(plan or plan_fields(graph, narrow, wide), graph, units, device,
                           max_bytes, max_work).boxes


def measure_planned(plan: FieldPlan, graph, units: dict, device: str, max_bytes: int,
                    max_work: int | None) -> Fields:
    net = plan.net.to_empty(device=device)
    for module in net.nodes.values():
        constant_weights(module)
    out, work = {}, 0
    for last, slots, cost in chunks(plan, units, max_bytes, max_work):
        work += cost
        x = torch.ones((len(slots), plan.channels, *graph.input_shape[1:]),
                       dtype=torch.float64, device=device, requires_grad=True)
        ys = net(x, last)
        total = sum(ys[node_ids[0]][(b, *(slice(None) if u is None else u for u in unit))].sum()
                    for b, (node_ids, unit) in enumerate(slots))
        (grad,) = torch.autograd.grad(total, x, allow_unused=True) if total.requires_grad \
            else (None,)
        for b, (node_ids, _) in enumerate(slots):
            box = None if grad is None else _box(grad[b])
            for node_id in node_ids:
                out[node_id] = box
        del ys, total, grad, x
    return Fields(out, work)


def _box(grad):
    hit = (grad.abs().sum(0) != 0).nonzero()
    if len(hit) == 0:
        return None
    lo, hi = hit.min(0).values.tolist(), hit.max(0).values.tolist()
    return tuple(zip(lo, hi))


@dataclass(frozen=True)
class TrainMeasured:
    forward: int  # FlopCounterMode over the node's forward, for one sample
    backward: int  # FlopCounterMode over the node's part of the backward of out.sum()


def measure_training(graph, device: str, seed: int = 0) -> dict:
    """FLOPs of one training step, ``out.sum().backward()``, per node id: the network built
    with the parameters of ``trainable: false`` layers set ``requires_grad=False`` (a tied
    weight with them, as it is one Parameter), run forward under FlopCounterMode, then
    backward node by node in reverse order: each node reads its inputs as leaves that
    require a gradient exactly when the tensor they stand for does (PyTorch's own
    propagation), so the FLOPs of each node's share of the backward are counted apart;
    gradients reaching a tensor from several readers accumulate in its leaf's ``grad``
    (additions, no products)."""
    from torch.utils.flop_counter import FlopCounterMode

    from .network import TorchRejected

    batch = batch_size(graph)
    shape = (batch, *graph.input_shape)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, id_range(graph), shape, generator=gen) if reads_ids(graph) else \
        torch.randn(shape, generator=gen)
    x = x.to(device)
    trace = build_and_run(graph, x, count_flops=False)  # builds every module (kept)
    net = trace.net
    for node in graph.nodes[1:]:
        if node.args.get("trainable") is False:
            for p in net.nodes[str(node.id)].parameters():
                p.requires_grad_(False)
    counter = FlopCounterMode(display=False)
    leaves, outs, fwd = {0: x}, {}, {}
    try:
        with counter:
            for node in graph.nodes[1:]:
                before = counter.get_total_flops()
                y = net.nodes[str(node.id)](*(leaves[i] for i in node.inputs))
                fwd[node.id] = (counter.get_total_flops() - before) // batch
                outs[node.id] = y
                leaves[node.id] = y.detach().requires_grad_(y.requires_grad) \
                    if y.is_floating_point() else y
            grads = {graph.output: torch.ones_like(outs[graph.output])}
            bwd = {}
            for node in reversed(graph.nodes[1:]):
                y = outs[node.id]
                g = grads.get(node.id)
                if g is None and leaves[node.id] is not y:
                    g = leaves[node.id].grad  # the sum of what its readers gave back
                before = counter.get_total_flops()
                if g is not None and y.requires_grad:
                    wanted = [leaves[i] for i in node.inputs if leaves[i].requires_grad]
                    wanted += [p for p in net.nodes[str(node.id)].parameters()
                               if p.requires_grad]
                    torch.autograd.backward(y, g, inputs=wanted)
                bwd[node.id] = (counter.get_total_flops() - before) // batch
    except (RuntimeError, ValueError, TypeError, IndexError, AssertionError,
            NotImplementedError, MemoryError) as e:
        raise TorchRejected(node, e) from None
    return {i: TrainMeasured(fwd[i], bwd[i]) for i in fwd}
