"""The analysed graph run with activation checkpointing, measured: each checkpointed group
instance (archcalc/checkpointing.py) wrapped in ``torch.utils.checkpoint.checkpoint(fn,
*inputs, use_reentrant=True)``, ``fn`` running the group's layers from its inputs to its
output. One training-mode forward pass under ``saved_tensors_hooks`` gives the bytes kept
(distinct storages, parameters and buffers left out, as archcalc/torch_backend/saved.py
counts them; a checkpoint's kept inputs at the group's first layer); the same forward and
``out.sum().backward()`` under FlopCounterMode give the training FLOPs, the recomputation
included."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch.utils.checkpoint import checkpoint as torch_checkpoint
from torch.utils.flop_counter import FlopCounterMode

from ..checkpointing import group_inputs
from .network import build_and_run
from .shapes import id_range, reads_ids


@dataclass
class CheckpointMeasure:
    per_node: dict  # node id -> bytes first saved there (forward pass)
    saved_total: int  # bytes of the distinct storages saved in the forward pass
    flops: int  # FlopCounterMode's total over forward and backward


def run(net, graph, ckpt, x, current: list | None = None) -> list:
    """Every node's output (None inside a checkpointed group), the checkpointed groups run
    through reentrant checkpoints; ``current[0]`` is set to the node running (a
    checkpoint's: its group's first layer)."""
    outputs: list = [x] + [None] * (len(graph.nodes) - 1)
    i = 1
    while i < len(graph.nodes):
        node = graph.nodes[i]
        gid = ckpt.of_node[i] if ckpt.of_node else None
        if current is not None:
            current[0] = i
        if gid is None:
            outputs[i] = net.nodes[str(i)](*(outputs[j] for j in node.inputs))
            i += 1
            continue
        group = graph.groups[gid]
        ins = group_inputs(graph, group)

        def block(*xs, group=group, ins=ins):
            local = dict(zip(ins, xs))
            for k in range(group.first, group.last + 1):
                n = graph.nodes[k]
                local[k] = net.nodes[str(k)](*(local[j] for j in n.inputs))
            return local[group.output]

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "None of the inputs have requires_grad=True"
            outputs[group.output] = torch_checkpoint(block, *(outputs[j] for j in ins),
                                                     use_reentrant=True)
        i = group.last + 1
    return outputs


def measure_checkpointed(graph, ckpt, batch: int, device: str = "cpu", seed: int = 0,
                         dtype=torch.float32) -> CheckpointMeasure:
    """The bytes kept by a training-mode forward pass of ``batch`` samples and the FLOPs of
    that pass and its backward, with ``ckpt``'s groups checkpointed."""
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, *graph.input_shape)
    x = torch.randint(0, id_range(graph), shape, generator=gen) if reads_ids(graph) else \
        torch.randn(shape, generator=gen).to(dtype)
    x = x.to(device)
    torch.manual_seed(seed)
    net = build_and_run(graph, x, count_flops=False).net.train()
    for node in graph.nodes[1:]:
        if node.args.get("trainable") is False:
            for p in net.nodes[str(node.id)].parameters():
                p.requires_grad_(False)
    state = {t.untyped_storage().data_ptr() for t in (*net.parameters(), *net.buffers())}
    per_node: dict = {}
    seen: set = set()
    total = [0]
    current = [0]

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        nbytes = t.untyped_storage().nbytes()
        if ptr not in seen and ptr not in state and nbytes > 0:
            seen.add(ptr)
            per_node[current[0]] = per_node.get(current[0], 0) + nbytes
            total[0] += nbytes
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        outputs = run(net, graph, ckpt, x, current)
    del outputs
    counter = FlopCounterMode(display=False)
    with counter:
        out = run(net, graph, ckpt, x)[graph.output]
        if out.requires_grad:
            out.sum().backward()
    return CheckpointMeasure(per_node, total[0], counter.get_total_flops())
