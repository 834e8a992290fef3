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
import re
import sys
from pathlib import Path

from ..errors import SpecError
from .import_map import PREVIOUS, Unmapped, map_node
from .import_passes import annotate

_NAME_OK = re.compile(r"[^A-Za-z0-9_.\-]")


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


def trace(model, input_shape: tuple, target: str, tokens: bool = False):
    """The fx graph with shapes (``node.meta['tensor_meta']``) on a zero batch of one
    (``tokens``: of int64 token ids, for a model that starts with an embedding)."""
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
            ShapeProp(gm).propagate(example_input(input_shape, tokens))
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, KeyboardInterrupt):
            raise
        raise SpecError(f"'{target}': its forward on an input of shape "
                        f"{list(input_shape)} raised {type(e).__name__}: "
                        f"{_first_line(e)}") from None
    return gm


def example_input(input_shape: tuple, tokens: bool = False):
    """Zeros of one sample's shape with a batch axis of one: floats, or int64 token ids
    (id 0 is valid for every vocabulary)."""
    import torch

    return torch.zeros((1, *input_shape), dtype=torch.int64 if tokens else torch.float32)


def import_torch(target: str, input_shape, args_json: str | None = None,
                 free: tuple = (), tokens: bool = False) -> str:
    """The spec (YAML text) of the module the target builds, on inputs of
    ``input_shape``; ``free``: input axes (by name: C, H, W, D, L) written as free symbols;
    ``tokens``: the input is token ids (its one axis is L)."""
    shape = parse_input(input_shape) if isinstance(input_shape, str) else tuple(input_shape)
    model = build_module(target, args_json)
    gm = trace(model, shape, target, tokens)
    items, output, modules = _items(gm, target, dict(model.named_modules()))
    return _yaml(model, target, shape, free, items, output, modules, tokens)


def _items(gm, target, modules: dict) -> tuple:
    """(items, output): per traced call a dict of name, type, args, inputs (value names, the
    input as 'input') and owner (the module path whose forward made it); the output's name."""
    from torch.fx import Node

    items, value_of, output = [], {}, None
    names: dict = {}
    annotate(gm, modules)  # whole-graph patterns: attention, learned tensors, products
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
        name = None  # a chain of layers: each reads the one before (PREVIOUS)
        for type_, args, inputs, *path in (mapped if isinstance(mapped, list) else [mapped]):
            module = node.op == "call_module" or bool(path)  # path: named by that module
            base = path[0] if path else node.target if module else node.name
            ins = [name if i is PREVIOUS else value_of.get(i.name) for i in inputs]
            refs = [k for k, v in args.items() if isinstance(v, Node)]  # by name
            args = {k: value_of.get(v.name) if k in refs else v for k, v in args.items()}
            name = _unique(_NAME_OK.sub("_", str(base)), names)
            owner = path[0] if path else str(node.target) if module else _module_path(node)
            items.append(dict(name=name, type=type_, args=args, module=module, owner=owner,
                              inputs=ins, refs=refs))
        value_of[node.name] = name
    return items, output, modules


def _module_path(node) -> str:
    """The path of the module whose forward made the call (fx records it), else the
    network's own forward."""
    stack = node.meta.get("nn_module_stack") or {}
    paths = [v[0] if isinstance(v, tuple) else v for v in stack.values()]
    return paths[-1] if paths and paths[-1] else ""


def _unique(name: str, names: dict) -> str:
    if name[:1].isdigit() or not name:
        name = "m" + name
    n = names.get(name, 0)
    names[name] = n + 1
    return name if n == 0 else f"{name}_{n + 1}"


_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def _yaml(model, target, shape, free, items, output, modules, tokens=False) -> str:
    lines = [f"# Imported from {_comment(target)} ({type(model).__name__}) by archcalc "
             "import torch.", f"name: {_scalar(type(model).__name__)}"]
    lines += _input_lines(shape, free, tokens)
    runs = _blocks(items, output, modules)
    defs: dict = {}  # block body text -> block name
    body_lines, previous = [], "input"
    k = 0
    while k < len(runs):
        run = runs[k]
        if run["path"] is None:
            body_lines.append(_layer_line(run["items"][0], previous, "  "))
            previous = run["items"][0]["name"]
            k += 1
            continue
        block = _block_name(run, defs, modules)
        n = 1  # consecutive identical calls, each read only by the next: one repeat
        while k + n < len(runs) and runs[k + n]["path"] is not None and \
                _body(runs[k + n]) == _body(run) and \
                all(runs[k + n]["start"] <= r <= runs[k + n]["end"]
                    for r in runs[k + n - 1]["readers"]):
            n += 1
        main = run["input"]
        where = "" if main == previous else f", from: {main}"
        if n == 1:
            body_lines.append(f"  - {block}: {{name: {run['path']}{where}}}")
        else:
            body_lines.append(f"  - repeat: {n}")
            if where:
                body_lines.append(f"    from: {main}")
            body_lines.append(f"    layers: [{block}]   # {runs[k]['path']} … "
                              f"{runs[k + n - 1]['path']}")
        previous = runs[k + n - 1]["last"]
        k += n
    if defs:
        lines.append("blocks:")
        for text, name in defs.items():
            lines.append(f"  {name}:")
            lines.append("    layers:")
            lines += ["    " + line for line in text.splitlines()]
    lines.append("layers:")
    lines += body_lines
    if output is not None and output != previous:
        lines.append(f"  - identity: {{name: output, from: {output}}}")
    return "\n".join(lines) + "\n"


def _input_lines(shape, free, tokens=False) -> list:
    free = [f.strip() for f in free if f.strip()]
    if not free:
        return ["input: [" + ", ".join(str(n) for n in shape) + "]"]
    axes = ("L",) if tokens and len(shape) == 1 else ("C",) + _AXES.get(len(shape) - 1, ())
    symbols, written = [], []
    for axis, n in zip(axes, shape):
        if axis in free:
            symbols.append(axis)
            written.append(axis)
        else:
            written.append(str(n))
    unknown = set(free) - set(symbols)
    if unknown:
        raise SpecError(f"--free {','.join(sorted(unknown))}: the input's axes are "
                        f"{','.join(axes[:len(shape)])}")
    return ["symbols: {" + ", ".join(f"{k}: null" for k in symbols) + "}",
            "input: [" + ", ".join(written) + "]"]


def _layer_line(item, previous, indent, rename=None) -> str:
    rename = rename or {}
    fields = {"name": rename.get(item["name"], item["name"])}
    inputs = [rename.get(v, v) for v in item["inputs"]]
    main = inputs[0] if inputs else previous
    if main != previous:
        fields["from"] = main
    if inputs[1:]:
        fields["with"] = inputs[1:] if len(inputs) > 2 else inputs[1]
    fields.update({k: rename.get(v, v) if k in item.get("refs", ()) else v
                   for k, v in item["args"].items()})
    return f"{indent}- {item['type']}: {{" + ", ".join(
        f"{k}: {_value(v)}" for k, v in fields.items()) + "}"


def _container_child(owner: str, modules: dict) -> str | None:
    """The shallowest module path on ``owner``'s path whose parent is a container
    (Sequential, ModuleList, ModuleDict) and which is itself no container: a block."""
    from torch import nn

    containers = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
    parts = owner.split(".") if owner else []
    for i in range(1, len(parts)):
        parent, path = ".".join(parts[:i]), ".".join(parts[:i + 1])
        if isinstance(modules.get(parent), containers) and \
                not isinstance(modules.get(path), containers):
            return path
    return None


def _blocks(items, output, modules) -> list:
    """Runs of items: one block call per container child whose layers form a closed piece
    (read the value before it, read from outside only through its last layer), else single
    layers."""
    readers: dict = {}
    for i, item in enumerate(items):
        for v in item["inputs"]:
            readers.setdefault(v, []).append(i)
    runs, i = [], 0
    while i < len(items):
        path = _container_child(items[i]["owner"], modules)
        j = i
        while path is not None and j + 1 < len(items) and \
                _container_child(items[j + 1]["owner"], modules) == path:
            j += 1
        run = items[i:j + 1]
        if path is not None and (items[i]["owner"] == path and len(run) == 1):
            path = None  # a leaf module in a Sequential is a layer, not a block
        if path is not None and _closed(run, i, items, readers, output):
            before = items[i - 1]["name"] if i else "input"
            ins = {v for item in run for v in item["inputs"]} - {it["name"] for it in run}
            runs.append(dict(path=path, items=run, input=(ins.pop() if ins else before),
                             last=run[-1]["name"], start=i, end=j,
                             readers=readers.get(run[-1]["name"], [])))
            i = j + 1
            continue
        for item in run:
            runs.append(dict(path=None, items=[item]))
        i = j + 1
    return runs


def _closed(run, first, items, readers, output) -> bool:
    names = {item["name"] for item in run}
    outside = {v for item in run for v in item["inputs"]} - names
    if len(outside) > 1:
        return False
    last = first + len(run) - 1
    for item in run[:-1]:
        if any(not first <= r <= last for r in readers.get(item["name"], [])) or \
                item["name"] == output:
            return False
    return True


def _body(run) -> str:
    """A block's layers with names relative to its path (instances that agree share it)."""
    path, lines = run["path"], []
    rename = {run["input"]: "block_input"}
    counts: dict = {}
    for item in run["items"]:
        if item["module"] and item["name"].startswith(path + "."):
            rename[item["name"]] = item["name"][len(path) + 1:]
        else:
            counts[item["type"]] = counts.get(item["type"], 0) + 1
            rename[item["name"]] = f"{item['type']}{counts[item['type']]}"
    reads_input = any("block_input" in [rename.get(v, v) for v in item["inputs"]]
                      for item in run["items"][1:])
    previous = "block_input"
    if reads_input:
        lines.append("- identity: {name: block_input}")
    for item in run["items"]:
        lines.append(_layer_line(item, previous, "", rename))
        previous = rename[item["name"]]
    return "\n".join(lines)


def _block_name(run, defs: dict, modules: dict) -> str:
    text = _body(run)
    if text not in defs:
        base = re.sub(r"[^a-z0-9_]", "_", type(modules[run["path"]]).__name__.lower())
        name, n = base, 2
        while name in defs.values():
            name, n = f"{base}_{n}", n + 1
        defs[text] = name
    return defs[text]


def _comment(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in str(text))[:200]


def _scalar(text: str) -> str:
    return json.dumps(str(text))  # a JSON string is a YAML double-quoted scalar


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    text = str(v)
    return text if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", text) else _scalar(text)
