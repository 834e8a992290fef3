"""A user's PyTorch module as an archcalc spec (``archcalc import torch``).

The module is built by calling the user's own callable (their code, run as they would run
it), traced with ``torch.fx`` (buffers as graph nodes), and its shapes propagated once on a zero
input of the given size; where fx cannot trace the forward, ``torch.export`` (non-strict)
records it as ATen calls, and where those ATen calls do not map (attention over windows
folded into the batch axis, as Swin's), torch.fx traces it again at the input's sizes
(``import_fixed.py``: size-dependent control flow is then taken as at this input). Each
traced call (a module, a function, a tensor method; an ATen operator) becomes a layer in
PyTorch's vocabulary with only the arguments that differ from archcalc's defaults
(``torch_backend/import_map.py``, ``import_aten.py``); layers keep the module paths as
names. With ``allow_unknown``, a call neither maps becomes an
``unknown`` layer (the traced shape, its module's parameters, no MACs). The result is YAML
text, written from numbers and names only.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import itertools
import json
import logging
import operator
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import SpecError, option
from ..spec_writer import unique, write_spec
from .import_aten import map_aten
from .import_map import PREVIOUS, Link, Unmapped, map_node
from .import_passes import annotate


def parse_input(text: str) -> tuple:
    """``3,224,224`` as a shape of positive whole numbers (no batch axis)."""
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or not all(p.isascii() and p.isdigit() and int(p) > 0 for p in parts):
        raise SpecError(f"--input {text}: expected positive whole numbers separated by "
                        "commas, e.g. 3,224,224 (one sample, without the batch axis)")
    return tuple(int(p) for p in parts)


def load_callable(target: str):
    """``pkg.module:callable`` or ``file.py:callable``: the callable (importing the module
    runs the user's code)."""
    where, sep, name = str(target).rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise SpecError(f"'{target}': expected MODULE:CALLABLE or FILE.py:CALLABLE, "
                        "e.g. mypkg.models:resnet or model.py:Net")
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise SpecError(f"'{target}': no file {where}")
            spec = importlib.util.spec_from_file_location(f"_archcalc_user_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, str(path.resolve().parent))
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.pop(0)
        else:  # found as ``python -c 'import PKG.MODULE'`` in this directory finds it
            sys.path.insert(0, "")
            try:
                module = importlib.import_module(where)
            finally:
                sys.path.pop(0)
    except SpecError:
        raise
    except BaseException as e:  # noqa: BLE001 - the user's code may raise anything
        if isinstance(e, KeyboardInterrupt):
            raise
        raise SpecError(f"'{target}': importing {where} raised "
                        f"{type(e).__name__}: {_first_line(e)}") from None
    fn = getattr(module, name, None)
    if fn is None or not callable(fn):
        raise SpecError(f"'{target}': {where} has no callable '{name}'")
    return fn


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else ""


def build_module(target: str, args_json: str | None):
    """Call the target with ``--args`` (a JSON object: keyword arguments; a list:
    positional ones) and check that it gives an nn.Module."""
    from torch import nn

    fn = load_callable(target)
    args, kwargs = [], {}
    if args_json:
        try:
            given = json.loads(args_json)
        except ValueError as e:
            raise SpecError(f"--args: not JSON ({e})") from None
        if isinstance(given, dict):
            kwargs = given
        elif isinstance(given, list):
            args = given
        else:
            raise SpecError("--args: expected a JSON object (keyword arguments) or a list")
    try:
        model = fn(*args, **kwargs)
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, KeyboardInterrupt):
            raise
        raise SpecError(f"'{target}': calling it raised {type(e).__name__}: "
                        f"{_first_line(e)}") from None
    if not isinstance(model, nn.Module):
        raise SpecError(f"'{target}': returned {type(model).__name__}, not an nn.Module")
    return model


@dataclass
class Traced:
    """A traced forward: its graph, the names of the placeholders that are the network's
    input, its parameters' placeholders (name → elements), and whether torch.export made it
    (ATen calls) rather than torch.fx (modules, functions and tensor methods)."""

    graph: object
    inputs: set
    weights: dict
    exported: bool
    module: object = None  # torch.fx's GraphModule (None for torch.export's graph)
    fixed: bool = False  # traced by torch.fx at the input's sizes (import_fixed.py)


def trace(model, input_shape: tuple, target: str, tokens: bool = False) -> Traced:
    """The forward's graph with shapes, on a zero batch of one (``tokens``: of int64 token
    ids, for a model that starts with an embedding): torch.fx's, else (a forward fx cannot
    trace: data-dependent control flow on sizes, unsupported Python) torch.export's."""
    import torch
    from torch import fx

    model.eval()
    try:
        tracer = _buffer_tracer()
        graph = tracer.trace(model)
        gm = fx.GraphModule(tracer.root, graph, type(model).__name__)
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, KeyboardInterrupt):
            raise
        return _exported(model, input_shape, target, e, tokens)
    _propagate(gm, example_input(input_shape, tokens), input_shape, target)
    inputs = {n.name for n in gm.graph.nodes if n.op == "placeholder"}
    return Traced(gm.graph, inputs, {}, False, gm)


def _buffer_tracer():
    """torch.fx's tracer with buffers as graph nodes (``get_attr``), not as the tensors they
    hold: a buffer indexed by a traced size (nanoGPT's ``self.bias[:, :, :T, :T]``, a
    rotary table's ``cos[:T]``) then traces, a constant computed from the input's sizes
    like any other; torch.nn's composite transformer modules are traced into."""
    from torch import fx

    from .import_fixed import is_leaf

    class BufferTracer(fx.Tracer):
        proxy_buffer_attributes = True
        is_leaf_module = is_leaf

    return BufferTracer()


def example_input(input_shape: tuple, tokens: bool = False):
    """Zeros of one sample's shape with a batch axis of one: floats, or int64 token ids
    (id 0 is valid for every vocabulary)."""
    import torch

    return torch.zeros((1, *input_shape), dtype=torch.int64 if tokens else torch.float32)


def _rebind_in_place(graph) -> None:
    """After an in-place call (``out.add_(y)``, ``x.relu_()``, ``F.relu_(x)``, a module built
    with ``inplace=True``) whose result the forward does not keep, later readers of its
    tensor read the call: torch.fx records the call but keeps them on the tensor as it was,
    which would leave the call out of the network's path."""
    order = {node: i for i, node in enumerate(graph.nodes)}
    for node in graph.nodes:
        name = node.target if node.op == "call_method" else \
            getattr(node.target, "__name__", "") if node.op == "call_function" else ""
        in_place = isinstance(name, str) and name.endswith("_") and not name.startswith("_")
        if node.op == "call_module":  # nn.ReLU(inplace=True) called for its effect
            in_place = getattr(graph.owning_module.get_submodule(node.target), "inplace",
                               False) is True
        if not (in_place and node.args and hasattr(node.args[0], "users")):
            continue
        base = node.args[0]
        for user in list(base.users):
            if user is not node and order[user] > order[node]:
                user.replace_input_with(base, node)


def _propagate(gm, x, input_shape, target) -> None:
    """Shapes on every fx node (``meta['tensor_meta']``); ShapeProp prints a traceback of
    its own when the forward raises, which is kept from the user. In-place calls are
    rebound first (``_rebind_in_place``)."""
    import torch
    from torch.fx.passes.shape_prop import ShapeProp

    _rebind_in_place(gm.graph)
    gm.recompile()

    try:
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            ShapeProp(gm).propagate(x)
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, KeyboardInterrupt):
            raise
        cause = e.__cause__ or e
        raise SpecError(f"'{target}': its forward on an input of shape "
                        f"{list(input_shape)} raised {type(cause).__name__}: "
                        f"{_first_line(cause)}") from None


def trace_at_sizes(model, input_shape: tuple, target: str, tokens: bool = False) -> Traced:
    """torch.fx's graph of a forward run on a zero input of this shape as it is traced
    (``import_fixed.py``): sizes are numbers, branches on them taken as at this input; a
    SpecError where a Python value depends on a tensor's values or the forward raises."""
    import torch

    from .import_fixed import trace_fixed

    x = example_input(input_shape, tokens)
    try:
        with torch.no_grad(), _quiet():
            gm = trace_fixed(model, x)
    except BaseException as e:  # noqa: BLE001 - the user's forward may raise anything
        if isinstance(e, KeyboardInterrupt):
            raise
        raise SpecError(f"'{target}': torch.fx cannot trace it at the input's sizes "
                        f"either ({type(e).__name__}: {_first_line(e)})") from None
    _propagate(gm, x, input_shape, target)
    inputs = {n.name for n in gm.graph.nodes if n.op == "placeholder"}
    return Traced(gm.graph, inputs, {}, False, gm, fixed=True)


def _exported(model, input_shape, target, fx_error, tokens=False) -> Traced:
    """torch.export's graph (non-strict: the forward runs as Python on fake tensors, so a
    branch on a size is taken as at this input) of ATen calls."""
    import torch

    try:
        with torch.no_grad(), _quiet():
            program = torch.export.export(model, (example_input(input_shape, tokens),),
                                          strict=False)
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, KeyboardInterrupt):
            raise
        raise SpecError(f"'{target}': torch.fx cannot trace it ({type(fx_error).__name__}: "
                        f"{_first_line(fx_error)}), nor torch.export "
                        f"({type(e).__name__}: {_first_line(e)}); data-dependent control "
                        "flow on tensor values is not traceable") from None
    signature = program.graph_signature
    graph = program.graph_module.graph
    nodes = {n.name: n for n in graph.nodes}
    weights = {}
    for name in signature.inputs_to_parameters:
        val = nodes[name].meta.get("val")
        weights[name] = int(val.numel()) if val is not None else 0
    return Traced(graph, set(signature.user_inputs), weights, True)


@contextlib.contextmanager
def _quiet():
    """torch.export's own logging and printed graphs kept from the user (its failure is
    reported as one line)."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logging.disable(previous)


def import_torch(target: str, input_shape, args_json: str | None = None,
                 free: tuple = (), tokens: bool = False, allow_unknown: bool = False) -> str:
    """The spec (YAML text) of the module the target builds, on inputs of
    ``input_shape``; ``free``: input axes (by name: C, H, W, D, L) written as free symbols;
    ``tokens``: the input is token ids (its one axis is L); ``allow_unknown``: an op archcalc cannot map becomes an ``unknown`` layer (its traced
    shape, its module's parameters, no MACs) instead of an error."""
    shape = parse_input(input_shape) if isinstance(input_shape, str) else tuple(input_shape)
    model = build_module(target, args_json)
    traced = trace(model, shape, target, tokens)
    modules = dict(model.named_modules())
    traced, (items, output) = _mapped_graph(traced, model, shape, target, tokens, modules,
                                            allow_unknown)
    if traced.fixed and any(f.strip() for f in free):
        raise SpecError(f"--free {','.join(free)}: '{target}' was traced at the input's "
                        "sizes (its forward branches on sizes and torch.export's ATen calls "
                        "do not map), so its spec holds the sizes of --input "
                        f"{','.join(map(str, shape))}; import it without --free, once per "
                        "input size")
    how = " (torch.export)" if traced.exported else \
        " (torch.fx at the input's sizes)" if traced.fixed else ""
    return write_spec(f"{target} ({type(model).__name__}) by archcalc import torch{how}",
                      type(model).__name__, shape, free, items, output,
                      _Containers(modules), tokens=tokens)


def _mapped_graph(traced, model, shape, target, tokens, modules, allow_unknown) -> tuple:
    """(the graph, its items): fx's as traced; torch.export's where every ATen call maps,
    else fx's at the input's sizes where every call of that maps; else torch.export's with
    its unknown layers (``allow_unknown``) or the error of fx's at the input's sizes."""
    if not traced.exported:
        return traced, _items(traced, target, modules, allow_unknown)
    try:
        return traced, _items(traced, target, modules, False)
    except SpecError as e:
        first = e
    try:
        fixed = trace_at_sizes(model, shape, target, tokens)
    except SpecError:
        fixed = None  # fx cannot trace it at its sizes either: export's is the answer
    if fixed is not None:
        try:
            return fixed, _items(fixed, target, modules, False)
        except SpecError:
            if not allow_unknown:
                raise  # named in fx's words: the op neither graph maps
    if allow_unknown:
        return traced, _items(traced, target, modules, True)
    raise first


def _items(traced: Traced, target, modules: dict, allow_unknown: bool) -> tuple:
    """(items, output): per traced call a dict of name, type, args, inputs (value names, the
    input as 'input'), module (whether the call is a module's own) and owner (the module
    path whose forward made it); the output's name."""
    from torch.fx import Node

    items, value_of, output = [], {}, None
    names: dict = {}
    module_names: set = set()
    if traced.module is not None:  # whole-graph patterns: attention, learned tensors, products
        annotate(traced.module, modules)
    for node in traced.graph.nodes:
        if node.op == "placeholder":
            value_of[node.name] = "input" if node.name in traced.inputs else None
            continue
        if node.op == "output":
            out = node.args[0]
            if isinstance(out, (tuple, list)):
                out = out[0]  # main output first (auxiliary outputs are not followed)
            output = value_of.get(getattr(out, "name", None))
            continue
        ins = node.all_input_nodes
        if traced.exported and not any(value_of.get(i.name) for i in ins):
            value_of[node.name] = None  # on weights alone (a transposed weight): no value
            continue
        try:
            mapped = _mapped(node, traced, modules, value_of)
            _no_traced_sizes(mapped)
        except Unmapped as e:
            if not node.users:  # read by nothing (an RNN's unused state): not in the network
                value_of[node.name] = None
                continue
            where = node.target if node.op == "call_module" else _module_path(node)
            if not allow_unknown:
                raise SpecError(f"'{target}': {e} at {where or 'the network'} "
                                f"({'exported' if traced.exported else 'fx'} node "
                                f"{node.name}); {option('allow_unknown')} imports it as an "
                                "unknown layer") from None
            mapped = _unknown(node, e, traced, modules, value_of, target, where)
        if mapped is None:  # no layer: the value passes through (identity, size queries)
            value_of[node.name] = value_of.get(ins[0].name) if ins else None
            continue
        name, chain = None, []  # a chain of layers: PREVIOUS the one before, Link(k) the k-th
        for type_, args, inputs, *path in (mapped if isinstance(mapped, list) else [mapped]):
            owner = path[0] if path else str(node.target) if node.op == "call_module" \
                else _module_path(node)
            module = node.op == "call_module" or bool(path) or (  # path: named by that module
                traced.exported and owner not in module_names and owner in modules and
                not any(True for _ in modules[owner].children()) and owner != "")
            if module:
                module_names.add(owner)
            ins = [name if i is PREVIOUS else chain[i] if isinstance(i, Link)
                   else value_of.get(i.name) for i in inputs]
            refs = [k for k, v in args.items() if isinstance(v, Node)]  # by name
            args = {k: value_of.get(v.name) if k in refs else v for k, v in args.items()}
            name = unique(owner if module else node.name, names)
            items.append(dict(name=name, type=type_, args=args, module=module, owner=owner,
                              inputs=ins, refs=refs))
            chain.append(name)
        value_of[node.name] = name
    return items, output


def _no_traced_sizes(mapped) -> None:
    """Refuse a layer argument that is a size the forward computes (``kernel_size=(h, w)``
    with ``h = x.size(2)``): a spec holds numbers or symbols there, not values of the
    trace. Arguments that are tensors name the layers that make them (``like``, ``kv``)."""
    from torch.fx import Node

    def sizes(v):
        if isinstance(v, Node):
            return _traced_shape(v) is None
        return isinstance(v, (tuple, list)) and any(sizes(i) for i in v)

    for type_, args, *_ in (mapped if isinstance(mapped, list) else [mapped] if mapped else []):
        for key, value in args.items():
            if sizes(value):
                raise Unmapped(f"{type_} with its {key} computed from the input's sizes")


def _mapped(node, traced: Traced, modules: dict, value_of: dict):
    if traced.exported:
        return map_aten(node, {k for k, v in value_of.items() if v})
    if node.op == "call_function" and node.target is operator.getitem and \
            getattr(node.args[0], "op", None) == "call_module" and _several_results(node.args[0]):
        if node.args[1] == 0:
            return None  # the first result: the value its producer's layer stands for
        raise Unmapped(f"result {node.args[1]} of a call with several results")
    return map_node(node, modules)


def _several_results(node) -> bool:
    """Whether an fx node returned a tuple of tensors (an RNN's output and state)."""
    meta = getattr(node, "meta", {}).get("tensor_meta")
    return isinstance(meta, (tuple, list)) and not hasattr(meta, "shape")


def _unknown(node, error, traced, modules, value_of, target, where):
    """An op archcalc cannot map as an ``unknown`` layer: the traced output shape (without
    the batch axis), the op's name, and the parameters its module owns (an fx module call,
    at its first call) or that it reads (an exported call)."""
    shape = _traced_shape(node)
    inputs = [i for i in node.all_input_nodes if value_of.get(i.name)]
    if shape is None or len(shape) < 2 or not inputs:
        raise SpecError(f"'{target}': {error} at {where or 'the network'} (node {node.name}), "
                        "and it has no tensor output with a batch axis to import it as "
                        "unknown") from None
    if node.op == "call_module":  # counted at the module's first call only
        earlier = itertools.takewhile(lambda n: n is not node, traced.graph.nodes)
        params = 0 if any(n.op == "call_module" and n.target == node.target for n in earlier) \
            else sum(p.numel() for p in modules[node.target].parameters())
    else:
        params = sum(traced.weights.get(i.name, 0) for i in node.all_input_nodes)
    args = dict(shape=list(shape[1:]), op=error.op)
    if params:
        args["params"] = int(params)
    return "unknown", args, inputs


def _traced_shape(node):
    """The first tensor's shape of what the node returns (fx's tensor_meta or export's val)."""
    import torch

    for key in ("tensor_meta", "val"):
        meta = node.meta.get(key)
        while not hasattr(meta, "shape") and isinstance(meta, (tuple, list)) and meta:
            meta = meta[0]  # a tuple of results: the first
        shape = getattr(meta, "shape", None)
        if shape is not None and (key == "tensor_meta" or isinstance(meta, torch.Tensor)):
            return tuple(int(d) for d in shape)
    return None


def _module_path(node) -> str:
    """The path of the module whose forward made the call (fx and export record it), else
    the network's own forward."""
    stack = node.meta.get("nn_module_stack") or {}
    paths = [v[0] if isinstance(v, tuple) else v for v in stack.values()]
    return paths[-1] if paths and paths[-1] else ""


class _Containers:
    """Blocks of a PyTorch module: the shallowest module on an owner's path whose parent is
    a container (Sequential, ModuleList, ModuleDict; the network itself may be one) and
    which is itself no container."""

    def __init__(self, modules: dict):
        self.modules = modules

    def block_of(self, owner: str) -> str | None:
        from torch import nn

        containers = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
        parts = owner.split(".") if owner else []
        for i in range(len(parts)):
            parent, path = ".".join(parts[:i]), ".".join(parts[:i + 1])
            if isinstance(self.modules.get(parent), containers) and \
                    not isinstance(self.modules.get(path), containers):
                return path
        return None

    def kind(self, path: str) -> str:
        return type(self.modules[path]).__name__
