"""The analysed graph as an ``nn.Module``, built and run node by node.

Each node's module is built from the shapes torch itself produced for its inputs (never from
the closed form), then run once, a forward hook recording its output shape;
``GraphNet.forward`` runs the whole graph again (up to a given node). FLOPs are counted per
node with one ``FlopCounterMode`` (the difference of its total before and after each node).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import builders  # noqa: F401  (registers the builders)
from .registry import BUILDERS, BuildCtx


class TorchRejected(Exception):
    """PyTorch raised while building or running one node."""

    def __init__(self, node, error: BaseException):
        super().__init__(f"{type(error).__name__}: {error}")
        self.node, self.error = node, error


class GraphNet(nn.Module):
    """Runs the nodes in order; returns every node's output (index = node id)."""

    def __init__(self, graph):
        super().__init__()
        self.graph = graph
        self.nodes = nn.ModuleDict()

    def forward(self, x, last: int | None = None):
        """Every node's output up to node ``last`` (default: all)."""
        outputs = [x]
        for node in self.graph.nodes[1:]:
            if last is not None and node.id > last:
                break
            outputs.append(self.nodes[str(node.id)](*(outputs[i] for i in node.inputs)))
        return outputs


@dataclass
class Trace:
    net: GraphNet
    outputs: list  # tensors, index = node id (None once released)
    shapes: dict = field(default_factory=dict)  # node id -> output shape (batch axis removed)
    flops: dict = field(default_factory=dict)  # node id -> FlopCounterMode total ÷ batch
    counts: dict = field(default_factory=dict)  # node id -> (parameters, buffers) when released


# BatchNorm's step counter is an int64 scalar, not a statistic; archcalc's buffers count
# running_mean + running_var only.
_NOT_COUNTED_BUFFERS = ("num_batches_tracked",)


def _ctx(node, rule_args: dict, shapes: dict, xs: list, linear: bool, narrow: bool,
         wide: dict | None, weights: dict) -> BuildCtx:
    args = {}
    for key, value in node.args.items():
        kind = rule_args[key].kind if key in rule_args else "any"
        if kind == "ref" and value is not None:
            value = shapes[value]
        if kind == "weight" and value is not None:
            value = weights[value]
        args[key] = value
    in_shapes = [tuple(x.shape[1:]) for x in xs]
    wide_xs = [tuple(wide[i]) for i in node.inputs] if wide is not None else None
    return BuildCtx(node.type, args, in_shapes, linear, narrow, wide_xs)


def build_and_run(graph, x, *, linear: bool = False, narrow: bool = False,
                  count_flops: bool = True, release: bool = False,
                  wide: dict | None = None, dtype=None) -> Trace:
    """Build every node on ``x``'s device and dtype (``dtype`` when ``x`` holds token ids,
    float32 unless given), running each once as it is built.

    ``release``: keep neither modules nor outputs once no later node needs them (the
    parameter and buffer counts are kept in ``counts``), so that memory holds one layer's
    weights and the live activations only. ``wide``: node id → the full network's output
    shape (node 0 the input), which a narrow copy's builders compare their inputs with."""
    from ..layers import REGISTRY

    net = GraphNet(graph)
    trace = Trace(net, [x])
    trace.shapes[0] = tuple(x.shape[1:])
    batch = x.shape[0]
    dtype = x.dtype if x.is_floating_point() else dtype or torch.float32
    last_use = last_uses(graph) if release else {}
    shared = _shared(graph, REGISTRY)
    weights: dict = {}  # node id -> the weight another layer shares (kept to the end)
    counter = FlopCounterMode(display=False) if count_flops else contextlib.nullcontext()
    with counter:
        for node in graph.nodes[1:]:
            xs = [trace.outputs[i] for i in node.inputs]
            try:
                with torch.device(x.device):
                    module = BUILDERS[node.type](_ctx(node, REGISTRY[node.type].args,
                                                      trace.shapes, xs, linear, narrow, wide,
                                                      weights))
                module = module.to(dtype=dtype).eval()
                if node.id in shared:
                    weights[node.id] = module.weight
                handle = module.register_forward_hook(_record_shape(trace, node.id))
                before = counter.get_total_flops() if count_flops else 0
                y = module(*xs)
                handle.remove()
                if count_flops:
                    trace.flops[node.id] = (counter.get_total_flops() - before) // batch
            except (RuntimeError, ValueError, TypeError, IndexError, AssertionError,
                    NotImplementedError, MemoryError) as e:
                raise TorchRejected(node, e) from None
            trace.outputs.append(y)
            if release:
                earlier = [w for i, w in weights.items() if i != node.id]
                trace.counts[node.id] = _counts(module, earlier)
                for i in set(node.inputs):
                    if last_use[i] == node.id:
                        trace.outputs[i] = None
            else:
                net.nodes[str(node.id)] = module
    return trace


def _record_shape(trace: Trace, node_id: int):
    def hook(module, inputs, output):
        trace.shapes[node_id] = tuple(output.shape[1:])

    return hook


def last_uses(graph) -> dict:
    """Node id → the id of the last node that reads its output (itself when none does)."""
    last = {node.id: node.id for node in graph.nodes}
    for node in graph.nodes[1:]:
        for i in node.inputs:
            last[i] = node.id
    return last


def _shared(graph, registry) -> set:
    """The ids of the nodes whose weight a later layer shares (a 'weight' argument, tie)."""
    out = set()
    for node in graph.nodes[1:]:
        for key, arg in registry[node.type].args.items():
            if arg.kind == "weight" and node.args.get(key) is not None:
                out.add(node.args[key])
    return out


def _counts(module, earlier: list) -> tuple:
    """(parameters, buffers) of one node's module. ``earlier``: the shared weights of the
    nodes built before it (a node's own weight is shared only with later ones, so it is
    never among them); a parameter among them is that earlier node's, counted once, as
    Module.parameters() yields a shared Parameter once for a model."""
    params = sum(p.numel() for p in module.parameters()
                 if not any(p is w for w in earlier))
    buffers = sum(b.numel() for name, b in module.named_buffers()
                  if name.rsplit(".", 1)[-1] not in _NOT_COUNTED_BUFFERS)
    return params, buffers
