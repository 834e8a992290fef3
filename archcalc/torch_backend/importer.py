"""A user's PyTorch module as an archcalc spec (``archcalc import torch``).

The module is built by calling the user's own callable (their code, run as they would run
it), traced with ``torch.fx.symbolic_trace``, and its shapes propagated once on a zero
input of the given size. Each traced call (a module, a function, a tensor method) becomes
a layer in PyTorch's vocabulary with only the arguments that differ from archcalc's
defaults (``torch_backend/import_map.py``); layers keep the module paths as names. The
result is YAML text, written from numbers and names only.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path

from ..errors import SpecError
from ..spec_writer import unique, write_spec
from .import_map import Unmapped, map_node


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


def trace(model, input_shape: tuple, target: str):
    """The fx graph with shapes (``node.meta['tensor_meta']``) on a zero batch of one."""
    import torch
    from torch import fx
    from torch.fx.passes.shape_prop import ShapeProp

    try:
        gm = fx.symbolic_trace(model)
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, KeyboardInterrupt):
            raise
        raise SpecError(f"'{target}': torch.fx cannot trace it ({type(e).__name__}: "
                        f"{_first_line(e)}); data-dependent control flow in forward is "
                        "not traceable") from None
    model.eval()
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros((1, *input_shape)))
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, KeyboardInterrupt):
            raise
        raise SpecError(f"'{target}': its forward on an input of shape "
                        f"{list(input_shape)} raised {type(e).__name__}: "
                        f"{_first_line(e)}") from None
    return gm


def import_torch(target: str, input_shape, args_json: str | None = None,
                 free: tuple = ()) -> str:
    """The spec (YAML text) of the module the target builds, on inputs of
    ``input_shape``; ``free``: input axes (by name: C, H, W, D, L) written as free symbols."""
    shape = parse_input(input_shape) if isinstance(input_shape, str) else tuple(input_shape)
    model = build_module(target, args_json)
    gm = trace(model, shape, target)
    items, output, modules = _items(gm, target, dict(model.named_modules()))
    return write_spec(f"{target} ({type(model).__name__}) by archcalc import torch",
                      type(model).__name__, shape, free, items, output, _Containers(modules))


def _items(gm, target, modules: dict) -> tuple:
    """(items, output): per traced call a dict of name, type, args, inputs (value names, the
    input as 'input') and owner (the module path whose forward made it); the output's name."""
    items, value_of, output = [], {}, None
    names: dict = {}
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            value_of[node.name] = "input"
            continue
        if node.op == "output":
            out = node.args[0]
            if isinstance(out, (tuple, list)):
                out = out[0]  # main output first (auxiliary outputs are not followed)
            output = value_of.get(getattr(out, "name", None))
            continue
        try:
            mapped = map_node(node, modules)
        except Unmapped as e:
            where = node.target if node.op == "call_module" else _module_path(node)
            raise SpecError(f"'{target}': {e} at {where} (fx node {node.name})") from None
        if mapped is None:  # no layer: the value passes through (identity, size queries)
            ins = node.all_input_nodes
            value_of[node.name] = value_of.get(ins[0].name) if ins else None
            continue
        type_, args, inputs = mapped
        module = node.op == "call_module"
        base = node.target if module else node.name
        name = unique(base, names)
        value_of[node.name] = name
        owner = str(node.target) if module else _module_path(node)
        items.append(dict(name=name, type=type_, args=args, module=module, owner=owner,
                          inputs=[value_of.get(i.name) for i in inputs]))
    return items, output, modules


def _module_path(node) -> str:
    """The path of the module whose forward made the call (fx records it), else the
    network's own forward."""
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
