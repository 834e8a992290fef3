"""What PyTorch says about each node: output shape, parameters, buffers, FLOPs, and the input
region that one output unit depends on."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from .network import build_and_run

# BatchNorm's step counter is an int64 scalar, not a statistic; archcalc's buffers count
# running_mean + running_var only.
_NOT_COUNTED_BUFFERS = ("num_batches_tracked",)


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


def batch_size(graph) -> int:
    """1, or 2 when a batch norm without running statistics needs batch statistics."""
    for node in graph.nodes:
        if node.type.startswith("batchnorm") and not node.args.get("track_running_stats", True):
            return 2
    return 1


def measure_layers(graph, device: str, seed: int = 0) -> dict:
    """One forward pass (eval mode, no grad): a ``Measured`` per node id."""
    batch = batch_size(graph)
    shape = (batch, *graph.input_shape)
    if device == "meta":
        x = torch.empty(shape, device="meta")
    else:
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(shape, generator=gen).to(device)
    with torch.no_grad():
        trace = build_and_run(graph, x)
    out = {}
    for node in graph.nodes[1:]:
        module = trace.net.nodes[str(node.id)]
        buffers = sum(b.numel() for name, b in module.named_buffers()
                      if name.rsplit(".", 1)[-1] not in _NOT_COUNTED_BUFFERS)
        out[node.id] = Measured(trace.shapes[node.id], sum(p.numel() for p in module.parameters()),
                                buffers, trace.flops[node.id])
    return out


def measure_fields(graph, units: dict, device: str, narrow: bool,
                   seconds: float | None = None) -> dict:
    """Per node id in ``units`` (node id → output index without batch axis, None = every
    index along that axis, e.g. all channels of a concatenation): the bounding box
    (first, last) per input spatial axis of the input positions whose gradient is non-zero,
    or None when no input position reaches that unit. Uses the linear copy in float64.

    A node whose linear copy returns its input tensor itself (activations, normalisations)
    shares that tensor's measurement. With ``seconds``, stops measuring when the time is up:
    nodes not reached are missing from the answer."""
    channels = 1 if narrow else graph.input_shape[0]
    x = torch.ones((1, channels, *graph.input_shape[1:]), dtype=torch.float64, device=device,
                   requires_grad=True)
    trace = build_and_run(graph, x, linear=True, narrow=narrow, count_flops=False)
    start = time.monotonic()
    out, seen = {}, {}
    for node_id, unit in units.items():
        if seconds is not None and time.monotonic() - start > seconds:
            break
        y = trace.outputs[node_id]
        key = (id(y), unit)
        if key not in seen:
            seen[key] = _field(y, unit, x)
        out[node_id] = seen[key]
    return out


def _field(y, unit: tuple, x):
    index = (0, *(slice(None) if u is None else u for u in unit))
    (grad,) = torch.autograd.grad(y[index].sum(), x, retain_graph=True, allow_unused=True)
    if grad is None:
        return None
    hit = (grad[0].abs().sum(0) != 0).nonzero()
    if len(hit) == 0:
        return None
    lo, hi = hit.min(0).values.tolist(), hit.max(0).values.tolist()
    return tuple(zip(lo, hi))


def narrow_safe(graph) -> bool:
    """True when a one-channel copy has the same spatial receptive fields as the network.

    The measurement sums the gradient over every channel of the measured output, so it is
    the union over channels; every layer that keeps all channels (convolutions with or
    without groups, shuffles, concatenations) has the same union at one channel. Layers
    that drop channels (a channel slice) or move channels into space (reshape, pixel
    shuffles) need the full width."""
    for node in graph.nodes[1:]:
        if node.type in ("pixelshuffle", "pixelunshuffle", "reshape"):
            return False
        if node.type == "slice" and (node.args.get("dim", 0) <= 0 or _has_permute(graph)):
            return False
    return True


def _has_permute(graph) -> bool:
    return any(node.type == "permute" for node in graph.nodes)
