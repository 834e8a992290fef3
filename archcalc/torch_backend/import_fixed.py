"""A forward traced by torch.fx at one input's sizes (``archcalc import torch``'s third way).

``torch.fx.symbolic_trace`` gives sizes as proxies, so a forward that branches on a size
(``if s < h``: Swin's shift, only where the window is smaller than the map) or iterates a
tensor in a generator (``for z in qkv.chunk(3)``: MaxViT's heads) cannot be traced;
``torch.export`` can, but as ATen calls whose attention the op map cannot see whole. This
tracer runs each call on the example input while it records it (as HuggingFace's HFTracer
records shapes): a size, a dtype, a flag is then a Python value, so control flow on it is
taken as at this input and the graph holds the numbers, not size arithmetic; a tensor stays
a proxy with its value alongside. The graph is torch.fx's vocabulary (modules, functions,
tensor methods), so the whole-graph passes recognise attention, windows and learned tensors
as on a symbolic trace; its sizes are those of the input traced (no ``--free``).
"""

from __future__ import annotations

import operator

import torch
from torch import fx
from torch.fx.node import map_aggregate

_VALUE = "archcalc_value"
# tensor methods whose Python result depends on sizes only (attributes such as .shape and
# .dtype are read from the value directly)
_SIZES = ("size", "dim", "ndimension", "numel", "nelement", "stride", "is_contiguous",
          "is_floating_point", "is_complex", "get_device", "element_size")


class FixedSizeError(Exception):
    """The forward needs a Python value computed from a tensor's values (a branch on a
    tensor, ``.item()``): at a zero input it would be taken wrongly, so it is refused."""


class _Proxy(fx.Proxy):
    """A traced tensor (or tuple of tensors) that also holds its value on the example input:
    its sizes, length and parts are Python values."""

    def _value(self):
        return self.node.meta[_VALUE]

    def __getattr__(self, name):
        if name.startswith("__") or name in ("node", "tracer"):
            raise AttributeError(name)
        value = getattr(self._value(), name)
        if isinstance(value, torch.Tensor):  # .T, .mT: a traced tensor
            return self.tracer.create_proxy("call_function", getattr, (self, name), {})
        if callable(value):  # a method: traced when called (create_proxy)
            return fx.proxy.Attribute(self, name)
        return value  # .shape, .dtype, .ndim, .device: the example input's

    def __len__(self):
        return len(self._value())

    def __iter__(self):
        return iter([self[i] for i in range(len(self._value()))])

    def __bool__(self):
        if isinstance(self._value(), torch.Tensor):
            raise FixedSizeError("a branch on a tensor's values")
        return bool(self._value())

    def __setitem__(self, index, value):  # an in-place write (Swin's region map)
        self.tracer.create_proxy("call_function", operator.setitem, (self, index, value), {})


def _in_place(kind, target) -> bool:
    return kind == "call_function" and target is operator.setitem or \
        kind == "call_method" and isinstance(target, str) and target.endswith("_") and \
        not target.startswith("_")


# torch.nn's composite transformer modules, traced into rather than kept whole (fx keeps
# every torch.nn module whole): their forward is nn.MultiheadAttention, Linears, norms and
# adds, on its plain path (the fused fast path is never taken for traced tensors, which
# have __torch_function__); their sublayers are then layers of their own.
COMPOSITE = (torch.nn.Transformer, torch.nn.TransformerEncoder, torch.nn.TransformerDecoder,
             torch.nn.TransformerEncoderLayer, torch.nn.TransformerDecoderLayer)


def is_leaf(tracer, m, qualified_name) -> bool:
    """fx's rule for a module kept whole, except torch.nn's composite transformer modules;
    a subclass of nn.MultiheadAttention is kept whole too (archcalc export's
    SequenceAttention: import_attention reads it as the module)."""
    if isinstance(m, torch.nn.MultiheadAttention):
        return True
    return not isinstance(m, COMPOSITE) and fx.Tracer.is_leaf_module(tracer, m, qualified_name)


class _Tracer(fx.Tracer):
    is_leaf_module = is_leaf

    def __init__(self, root, example):
        super().__init__()
        self.root_module, self.example = root, example

    def proxy(self, node):
        return _Proxy(node, self)

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None,
                     proxy_factory_fn=None):
        value = self._run(kind, target, args, kwargs)
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr,
                                     proxy_factory_fn)
        if value is None and kind == "call_function" and target is operator.getitem:
            self.graph.erase_node(proxy.node)  # a part that is None: attention weights not
            return None  # asked for (need_weights=False), a Python value
        if kind != "placeholder" and not _holds_tensor(value) and not _in_place(kind, target):
            if not (kind == "call_method" and target in _SIZES):  # .item(), .tolist()
                raise FixedSizeError(f"a Python value from a tensor's values ({target})")
            self.graph.erase_node(proxy.node)  # a size: a Python value
            return value
        proxy.node.meta[_VALUE] = value
        return proxy

    def _run(self, kind, target, args, kwargs):
        def concrete(a):
            return a.node.meta[_VALUE] if isinstance(a, _Proxy) else a

        if kind == "placeholder":  # the input first; a later argument at its default
            first, self.example = self.example, None
            return first if first is not None else (args[0] if args else None)
        args, kwargs = map_aggregate(args, concrete), map_aggregate(kwargs, concrete)
        with torch.no_grad(), _unpatched():  # the module's own calls, not traced ones
            if kind == "get_attr":
                return _attribute(self.root_module, target)
            if kind == "call_function":
                return target(*args, **kwargs)
            if kind == "call_method":
                return getattr(args[0], target)(*args[1:], **kwargs)
            if kind == "call_module":
                return self.root_module.get_submodule(target)(*args, **kwargs)
        raise FixedSizeError(f"a {kind} node")


def _unpatched():
    """fx's patches of nn.Module's __call__ and __getattr__ lifted while a call runs on
    values (its own private context manager, as fx's leaf-module hooks use it)."""
    from torch.fx import _symbolic_trace

    return _symbolic_trace._maybe_revert_all_patches()


def _attribute(root, target: str):
    value = root
    for part in target.split("."):
        value = getattr(value, part)
    return value


def _holds_tensor(value) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    return isinstance(value, (tuple, list)) and any(isinstance(v, torch.Tensor) for v in value)


def trace_fixed(model, example):
    """The GraphModule of the model's forward on ``example`` (a batch), with the sizes of
    that input as numbers in the graph."""
    tracer = _Tracer(model, example)
    with torch.no_grad():
        graph = tracer.trace(model)
    for node in graph.nodes:
        node.meta.pop(_VALUE, None)  # ShapeProp records the shapes the passes read
    return fx.GraphModule(model, graph)
