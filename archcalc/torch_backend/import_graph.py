"""A traced graph seen whole, for the passes of ``import_passes.py``: which tensors are
computed from the input (live), which are constants (buffers, masks, ``arange``, a
``x.new_zeros(...)`` of the input's size) and which
learned tensors (parameters read in the forward, a table read at constant ids); a
constant's value, computed from the buffers and the input's sizes; what a pass decided for a
node (``node.meta[ANNOTATION]``, which ``import_map.map_node`` returns).
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from .import_map import ANNOTATION, Unmapped, gives_tensors

LIVE, CONST, LEARNED = "live", "constant", "learned"
# a new tensor of the size of the one it is called on, not of its values (Swin's region map)
_NEW = ("new_zeros", "new_ones", "new_full", "new_empty")
_LIKE = (torch.zeros_like, torch.ones_like, torch.full_like, torch.empty_like)


def is_tensor(node) -> bool:
    """Whether the node's value is a tensor or a tuple holding tensors (split's parts)."""
    meta = node.meta.get("tensor_meta")
    return hasattr(meta, "shape") or gives_tensors(node)  # TensorMetadata: a named tuple


class Traced:
    """The graph module, its modules by path, and each tensor node's kind."""

    def __init__(self, gm, modules: dict):
        self.gm, self.modules = gm, modules
        self.nodes = list(gm.graph.nodes)
        self.kind: dict = {}
        for node in self.nodes:
            self.kind[node] = self._kind(node)
        self._values: dict = {}

    def _kind(self, node):
        if not is_tensor(node) and node.op != "placeholder":
            return None  # a size, a dtype, a device: no tensor
        if node.op == "placeholder":
            return LIVE
        if node.op == "get_attr":
            return LEARNED if isinstance(self.attr(node.target), nn.Parameter) else CONST
        reads = node.all_input_nodes
        if node.op == "call_method" and node.target in _NEW or \
                node.op == "call_function" and node.target in _LIKE:
            reads = [i for i in reads if i is not node.args[0]]  # only its size is read
        kinds = {self.kind.get(i) for i in reads}
        if LIVE in kinds:
            return LIVE
        if LEARNED in kinds:
            return LEARNED
        if node.op == "call_module" and any(True for _ in
                                            self.modules[node.target].parameters()):
            return LEARNED  # a module's weights read with constant ids (positions)
        return CONST

    def attr(self, target: str):
        return functools.reduce(getattr, str(target).split("."), self.gm)

    def live(self, node) -> bool:
        return self.kind.get(node) == LIVE

    def decided(self, node) -> bool:
        return ANNOTATION in node.meta

    def decide(self, node, value) -> None:
        node.meta[ANNOTATION] = value

    def tensor_users(self, node) -> list:
        return [u for u in node.users if self.kind.get(u) is not None]

    def value(self, node):
        """A constant node's value, computed from the buffers and the input's sizes (a live
        tensor is zeros of its shape: only its sizes are read)."""
        if node in self._values:
            return self._values[node]
        if self.live(node):
            meta = node.meta["tensor_meta"]
            out = torch.zeros(tuple(meta.shape), dtype=meta.dtype)
        elif node.op == "get_attr":
            out = self.attr(node.target)
        else:
            args = torch.fx.node.map_arg(node.args, self.value)
            kwargs = torch.fx.node.map_arg(node.kwargs, self.value)
            with torch.no_grad():
                if node.op == "call_function":
                    out = node.target(*args, **kwargs)
                elif node.op == "call_method":
                    out = getattr(args[0], node.target)(*args[1:], **kwargs)
                elif node.op == "call_module":
                    out = self.modules[node.target](*args, **kwargs)
                else:
                    raise Unmapped(f"the value of {node.op} {node.name}")
        self._values[node] = out
        return out


def what(node, traced) -> str:
    """The learned tensor or constant a node reads, by the attribute it comes from."""
    seen = [node]
    while seen:
        n = seen.pop()
        if n.op == "get_attr":
            kind = "the learned tensor" if traced.kind[n] == LEARNED else "the buffer"
            return f"{kind} {n.target}"
        if n.op == "call_module":
            return f"the weights of {n.target} read with constant ids"
        seen += n.all_input_nodes
    return "a constant tensor"
