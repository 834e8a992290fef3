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
from .import_map import Unmapped, map_node

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
                 free: tuple = (), allow_unknown: bool = False) -> str:
    """The spec (YAML text) of the module the target builds, on inputs of
    ``input_shape``; ``free``: input axes (by name: C, H, W, D, L) written as free symbols."""
    shape = parse_input(input_shape) if isinstance(input_shape, str) else tuple(input_shape)
    model = build_module(target, args_json)
    gm = trace(model, shape, target)
    items = _items(gm, target, allow_unknown)
    return _yaml(model, target, shape, free, items)


def _items(gm, target, allow_unknown: bool) -> list:
    """(name, type, args, inputs) per traced call, the input as 'input'."""
    modules = dict(gm.named_modules())
    items, value_of = [], {}
    names: dict = {}
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            value_of[node.name] = "input"
            continue
        if node.op == "output":
            out = node.args[0]
            if isinstance(out, (tuple, list)):
                out = out[0]  # main output first (auxiliary outputs are not followed)
            items.append(("__output__", value_of.get(getattr(out, "name", None))))
            continue
        try:
            mapped = map_node(node, modules)
        except Unmapped as e:
            if not allow_unknown:
                where = node.target if node.op == "call_module" else \
                    node.meta.get("nn_module_stack") and \
                    list(node.meta["nn_module_stack"].values())[-1][0] or node.name
                raise SpecError(f"'{target}': {e} at {where} (fx node {node.name}); "
                                "--allow-unknown keeps it as a flagged zero-cost layer"
                                ) from None
            mapped = ("unknown", {"op": str(e.op)}, [a for a in node.all_input_nodes])
        if mapped is None:  # no layer: the value passes through (identity, size queries)
            ins = node.all_input_nodes
            value_of[node.name] = value_of.get(ins[0].name) if ins else None
            continue
        type_, args, inputs = mapped
        base = node.target if node.op == "call_module" else node.name
        name = _unique(_NAME_OK.sub("_", str(base)), names)
        value_of[node.name] = name
        items.append((name, type_, args, [value_of.get(i.name) for i in inputs]))
    return items


def _unique(name: str, names: dict) -> str:
    if name[:1].isdigit() or not name:
        name = "m" + name
    n = names.get(name, 0)
    names[name] = n + 1
    return name if n == 0 else f"{name}_{n + 1}"


_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def _yaml(model, target, shape, free, items) -> str:
    lines = [f"# Imported from {_comment(target)} ({type(model).__name__}) by archcalc "
             "import torch.", f"name: {_scalar(type(model).__name__)}"]
    free = [f.strip() for f in free if f.strip()]
    if free:
        axes = ("C",) + _AXES.get(len(shape) - 1, ())
        symbols, written = {}, []
        for axis, n in zip(axes, shape):
            if axis in free:
                symbols[axis] = n
                written.append(axis)
            else:
                written.append(str(n))
        unknown = set(free) - set(symbols)
        if unknown:
            raise SpecError(f"--free {','.join(sorted(unknown))}: the input's axes are "
                            f"{','.join(axes[:len(shape)])}")
        lines.append("symbols: {" + ", ".join(f"{k}: null" for k in symbols) + "}")
        lines.append("input: [" + ", ".join(written) + "]")
    else:
        lines.append("input: [" + ", ".join(str(n) for n in shape) + "]")
    lines.append("layers:")
    previous = "input"
    output = None
    for item in items:
        if item[0] == "__output__":
            output = item[1]
            continue
        name, type_, args, inputs = item
        fields = {"name": name}
        main = inputs[0] if inputs else previous
        if main != previous:
            fields["from"] = main
        extra = inputs[1:]
        if extra:
            fields["with"] = extra if len(extra) > 1 else extra[0]
        fields.update(args)
        if type_ == "unknown":
            fields.pop("with", None)
        lines.append(f"  - {type_}: {{" + ", ".join(f"{k}: {_value(v)}" for k, v in
                                                   fields.items()) + "}")
        previous = name
    if output is not None and output != previous:
        lines.append(f"  - identity: {{name: output, from: {output}}}")
    return "\n".join(lines) + "\n"


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
