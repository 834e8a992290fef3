"""The analysed graph as an ``nn.Module``, built and run node by node.

Each node's module is built from the shapes torch itself produced for its inputs (never from
the closed form), then run once; ``GraphNet.forward`` runs the whole graph again. Every node
module gets a forward hook that records the output shape; FLOPs are counted per node with
``FlopCounterMode``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import build_conv, build_elementwise, build_tensor  # noqa: F401  (register builders)
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

    def forward(self, x):
        outputs = [x]
        for node in self.graph.nodes[1:]:
            outputs.append(self.nodes[str(node.id)](*(outputs[i] for i in node.inputs)))
        return outputs


@dataclass
class Trace:
    net: GraphNet
    outputs: list  # tensors, index = node id
    shapes: dict = field(default_factory=dict)  # node id -> output shape (batch axis removed)
    flops: dict = field(default_factory=dict)  # node id -> FlopCounterMode total ÷ batch


def _ctx(node, rule_args: dict, outputs: list, linear: bool, narrow: bool) -> BuildCtx:
    args = {}
    for key, value in node.args.items():
        kind = rule_args[key].kind if key in rule_args else "any"
        if kind == "ref" and value is not None:
            value = tuple(outputs[value].shape[1:])
        args[key] = value
    xs = [tuple(outputs[i].shape[1:]) for i in node.inputs]
    return BuildCtx(node.type, args, xs, linear, narrow)


def build_and_run(graph, x, *, linear: bool = False, narrow: bool = False,
                  count_flops: bool = True) -> Trace:
    """Build every node on ``x``'s device and dtype, running each once as it is built."""
    from ..layers import REGISTRY

    net = GraphNet(graph)
    trace = Trace(net, [x])
    batch = x.shape[0]
    for node in graph.nodes[1:]:
        xs = [trace.outputs[i] for i in node.inputs]
        try:
            with torch.device(x.device):
                module = BUILDERS[node.type](_ctx(node, REGISTRY[node.type].args, trace.outputs,
                                                  linear, narrow))
            module = module.to(dtype=x.dtype).eval()
            net.nodes[str(node.id)] = module
            handle = module.register_forward_hook(_record_shape(trace, node.id))
            counter = FlopCounterMode(display=False) if count_flops else None
            if counter is None:
                y = module(*xs)
            else:
                with counter:
                    y = module(*xs)
                trace.flops[node.id] = counter.get_total_flops() // batch
            handle.remove()
        except (RuntimeError, ValueError, TypeError, IndexError, AssertionError,
                NotImplementedError) as e:
            raise TorchRejected(node, e) from None
        trace.outputs.append(y)
    return trace


def _record_shape(trace: Trace, node_id: int):
    def hook(module, inputs, output):
        trace.shapes[node_id] = tuple(output.shape[1:])

    return hook
