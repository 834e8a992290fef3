"""What PyTorch's autograd keeps for the backward pass, measured.

The graph is built (archcalc/torch_backend/network.py), put in training mode (dropout draws
its masks, batch norm uses batch statistics) and run node by node under
``torch.autograd.graph.saved_tensors_hooks``: the pack hook sees every tensor an autograd
node saves (torch/autograd/graph.py, ``saved_tensors_hooks``). Tensors are told apart by
their storage (``untyped_storage().data_ptr()``), so a tensor that two layers save, or a
view of a saved tensor, counts once, at the first layer that saves it; the storages of
parameters and buffers (module state, not activations) are left out. The hook returns the
tensor itself, so every saved tensor stays alive until the measurement ends and no storage
address is reused for another one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .network import build_and_run
from .shapes import id_range, reads_ids


@dataclass
class SavedMeasure:
    per_node: dict = field(default_factory=dict)  # node id -> bytes first saved by it
    total: int = 0  # bytes of the distinct storages saved
    tensors: dict = field(default_factory=dict)  # node id -> [(shape, dtype, nbytes, new)]
    outputs: list = field(default_factory=list)  # keeps the graph and its saved tensors alive


def _input(graph, batch: int, dtype, seed: int, device: str):
    """The network's input for ``batch`` samples (token ids for a network with embeddings),
    drawn from ``seed``; torch's own generator seeded too (the layers' initial weights)."""
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, *graph.input_shape)
    if reads_ids(graph):
        x = torch.randint(0, id_range(graph), shape, generator=gen)
    else:
        x = torch.randn(shape, generator=gen).to(dtype)
    torch.manual_seed(seed)
    return x.to(device)


def measure_saved(graph, batch: int, dtype=torch.float32, seed: int = 0,
                  frozen: frozenset = frozenset(), device: str = "cpu") -> SavedMeasure:
    """Bytes autograd saves per node for one training-mode forward pass of ``batch``
    samples in ``dtype`` (token ids for a network with embeddings). ``frozen``: node ids
    whose parameters need no gradient."""
    x = _input(graph, batch, dtype, seed, device)
    trace = build_and_run(graph, x, count_flops=False, dtype=dtype)
    net = trace.net.train()
    state = {t.untyped_storage().data_ptr()
             for t in (*net.parameters(), *net.buffers())}
    for node_id in frozen:
        for p in net.nodes[str(node_id)].parameters():
            p.requires_grad_(False)
    out = SavedMeasure()
    seen: set = set()
    current = [0]

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        nbytes = t.untyped_storage().nbytes()
        new = ptr not in seen and ptr not in state and nbytes > 0
        if ptr not in state:
            out.tensors.setdefault(current[0], []).append(
                (tuple(t.shape), str(t.dtype).replace("torch.", ""), nbytes, new))
        if new:
            seen.add(ptr)
            out.per_node[current[0]] = out.per_node.get(current[0], 0) + nbytes
            out.total += nbytes
        return t

    outputs = [x]
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        for node in graph.nodes[1:]:
            current[0] = node.id
            outputs.append(net.nodes[str(node.id)](*(outputs[i] for i in node.inputs)))
    out.outputs = outputs
    return out


@dataclass
class Resident:
    """CUDA memory over one training-mode forward pass, from torch.cuda.memory_allocated():
    what stays allocated after it (the output and what autograd keeps) and the most
    allocated at once during it (the peak adds the outputs still to be read and the
    kernels' workspaces)."""

    after: int
    peak: int


def measure_resident(graph, batch: int, dtype=torch.float32, seed: int = 0,
                     frozen: frozenset = frozenset(), device: str = "cuda") -> Resident:
    """One forward pass on a CUDA device that frees each output after its last reader (as
    a module's forward does) and keeps the network's output, measured from a baseline taken
    after one warm-up forward and backward pass (cuBLAS and cuDNN allocate their workspaces
    once, through the same allocator) with the gradients released."""
    from .network import last_uses

    x = _input(graph, batch, dtype, seed, device)
    net = build_and_run(graph, x, count_flops=False, dtype=dtype).net.train()
    for node_id in frozen:
        for p in net.nodes[str(node_id)].parameters():
            p.requires_grad_(False)
    last = last_uses(graph)

    def forward():
        outputs = {0: x}
        for node in graph.nodes[1:]:
            outputs[node.id] = net.nodes[str(node.id)](*(outputs[i] for i in node.inputs))
            for i in set(node.inputs):
                if last[i] == node.id and i not in (0, graph.output):
                    del outputs[i]
        return outputs[graph.output]

    out = forward()
    if out.requires_grad:
        out.float().sum().backward()
    del out
    net.zero_grad(set_to_none=True)
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    out = forward()
    torch.cuda.synchronize(device)
    after = torch.cuda.memory_allocated(device) - base
    peak = torch.cuda.max_memory_allocated(device) - base
    del out
    return Resident(after, peak)
