"""Imported layers as a readable spec (``archcalc import``), whatever framework they came from.

An importer gives one item per layer: a dict of ``name``, ``type``, ``args`` (only those
that differ from archcalc's defaults), ``inputs`` (value names; the network input is
``input``), ``owner`` (the path of the module or subgraph that made it) and ``module``
(whether the item is that module itself). ``Blocks`` says which owners are blocks; a block
whose layers form a closed piece becomes a block call, instances of one kind that differ
only in numbers share a definition with parameters (``block_params.py``), and consecutive
calls with equal arguments are one ``repeat``. The text is written from numbers and names
only.
"""

from __future__ import annotations

import json
import re
from typing import Protocol

from .block_params import MISSING, Expr, share
from .errors import SpecError

_NAME_OK = re.compile(r"[^A-Za-z0-9_.\-]")


class Blocks(Protocol):
    """The framework's hierarchy as the writer needs it."""

    def block_of(self, owner: str) -> str | None:
        """The block path an item of ``owner`` belongs to, or None (a top-level layer)."""

    def kind(self, path: str) -> str:
        """The block's kind (a class name), which names its definition."""


def valid_name(name: str) -> str:
    """``name`` made a valid layer name (``0.conv`` is ``m0.conv``)."""
    name = _NAME_OK.sub("_", str(name))
    return "m" + name if name[:1].isdigit() or not name else name


def unique(name: str, names: dict) -> str:
    """``name`` made a valid layer name and distinct from those in ``names`` (counted)."""
    name = valid_name(name)
    n = names.get(name, 0)
    names[name] = n + 1
    return name if n == 0 else f"{name}_{n + 1}"


_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def non_default(pairs: dict, one) -> dict:
    """The arguments to write of ``pairs`` (key → (value, archcalc's default)): each value,
    made one value by ``one`` (a per-axis tuple with equal entries as one number), where it
    differs from the default."""
    out = {}
    for key, (value, default) in pairs.items():
        value = one(value)
        if value != one(default):
            out[key] = value
    return out


def write_spec(origin: str, name: str, shape, free, items, output, blocks: Blocks,
               tokens: bool = False) -> str:
    """The spec text: a comment saying where it came from (``origin``), the name, the input
    (``free`` axes written as symbols; ``tokens``: a one-axis input of token ids, its axis
    L), block definitions and the layers."""
    lines = [f"# Imported from {_comment(origin)}.", f"name: {_scalar(name)}"]
    lines += _input_lines(shape, free, tokens)
    runs = _blocks(items, output, blocks)
    calls = [run for run in runs if run["path"] is not None]
    definitions, used = share([(blocks.kind(run["path"]), _body(run)) for run in calls],
                              _defaults)
    names = _definition_names(definitions)
    for run, (index, args) in zip(calls, used):
        run["block"], run["args"] = names[index], args
    body_lines, previous = [], "input"
    alias: dict = {}  # the last layer of a repeat read after it -> the repeat's name
    k = 0
    while k < len(runs):
        run = runs[k]
        if run["path"] is None:
            body_lines.append(_layer_line(run["items"][0], previous, "  ", alias))
            previous = run["items"][0]["name"]
            k += 1
            continue
        n = 1  # consecutive calls with equal arguments, each read only by the next: a repeat
        while k + n < len(runs) and runs[k + n]["path"] is not None and \
                (runs[k + n]["block"], runs[k + n]["args"]) == (run["block"], run["args"]) and \
                all(runs[k + n]["start"] <= r <= runs[k + n]["end"]
                    for r in runs[k + n - 1]["readers"]):
            n += 1
        main = alias.get(run["input"], run["input"])
        where = {} if main == previous else {"from": main}
        if n == 1:
            body_lines.append(f"  - {run['block']}: " + _mapping(
                dict(name=valid_name(run["path"]), **where, **run["args"])))
        else:
            body_lines.append(f"  - repeat: {n}")
            last = runs[k + n - 1]["last"]
            if last == output and k + n < len(runs):  # names inside a repeat are not seen
                alias[last] = valid_name(_common(runs[k]["path"], runs[k + n - 1]["path"]))
                body_lines.append(f"    name: {alias[last]}")
            if where:
                body_lines.append(f"    from: {main}")
            call = run["block"] if not run["args"] else \
                f"{run['block']}: " + _mapping(run["args"])
            body_lines.append(f"    layers: [{call}]   # {runs[k]['path']} … "
                              f"{runs[k + n - 1]['path']}")
        previous = alias.get(runs[k + n - 1]["last"], runs[k + n - 1]["last"])
        k += n
    if definitions:
        lines.append("blocks:")
        for definition, block in zip(definitions, names):
            lines.append(f"  {block}:")
            if definition.params:
                lines.append("    params: [" + ", ".join(definition.params) + "]")
            lines.append("    layers:")
            before = "block_input"
            for type_, fields, args in definition.body:
                lines.append("    " + _entry_line(type_, fields, args, before, ""))
                before = fields["name"]
    lines.append("layers:")
    lines += body_lines
    output = alias.get(output, output)
    if output is not None and output != previous:
        lines.append(f"  - identity: {{name: output, from: {output}}}")
    return "\n".join(lines) + "\n"


def _common(first: str, last: str) -> str:
    """The module path two calls share (``encoder.layer`` of ``encoder.layer.0`` and
    ``encoder.layer.11``), else the first's."""
    a, b = first.split("."), last.split(".")
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return ".".join(a[:n]) or first


def _defaults(type_: str) -> dict:
    """The type's arguments in order, each with archcalc's default (``MISSING`` for a
    required one); none for a type archcalc does not know."""
    from .layers import REGISTRY
    from .layers.base import REQUIRED

    rule = REGISTRY.get(type_)
    return {} if rule is None else {
        key: MISSING if arg.default is REQUIRED else arg.default
        for key, arg in rule.args.items()}


def _definition_names(definitions) -> list:
    """One name per definition: its kind in lower case, numbered from the second one."""
    names, seen = [], set()
    for definition in definitions:
        base = re.sub(r"[^a-z0-9_]", "_", definition.kind.lower()) or "block"
        if base[0].isdigit():
            base = "b" + base
        name, n = base, 2
        while name in seen:
            name, n = f"{base}_{n}", n + 1
        seen.add(name)
        names.append(name)
    return names


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
    args = {k: rename.get(v, v) if k in item.get("refs", ()) else v
            for k, v in item["args"].items()}  # refs: arguments naming layers
    return _entry_line(item["type"], fields, args, previous, indent)


def _entry_line(type_, fields, args, previous, indent) -> str:
    """One layer as a flow mapping; ``from`` is left out when it is the previous value."""
    fields = {k: v for k, v in fields.items() if not (k == "from" and v == previous)}
    return f"{indent}- {type_}: " + _mapping({**fields, **args})


def _mapping(fields: dict) -> str:
    return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in fields.items()) + "}"


def _blocks(items, output, blocks: Blocks) -> list:
    """Runs of items: one block call per container child whose layers form a closed piece
    (read the value before it, read from outside only through its last layer), else single
    layers."""
    readers: dict = {}
    for i, item in enumerate(items):
        for v in item["inputs"]:
            readers.setdefault(v, []).append(i)
    runs, i = [], 0
    while i < len(items):
        path = blocks.block_of(items[i]["owner"])
        j = i
        while path is not None and j + 1 < len(items) and \
                blocks.block_of(items[j + 1]["owner"]) == path:
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


def _body(run) -> list:
    """A block's layers as (type, fields, args), names relative to its path and every
    input named (instances that agree on these may share a definition)."""
    path = run["path"]
    rename = {run["input"]: "block_input"}
    counts: dict = {}
    for item in run["items"]:
        if item["module"] and item["name"].startswith(path + "."):
            rename[item["name"]] = item["name"][len(path) + 1:]
        else:
            counts[item["type"]] = counts.get(item["type"], 0) + 1
            rename[item["name"]] = f"{item['type']}{counts[item['type']]}"
    body = []
    reads_input = any("block_input" in [rename.get(v, v) for v in item["inputs"]]
                      for item in run["items"][1:])
    if reads_input:
        body.append(("identity", {"name": "block_input"}, {}))
    previous = "block_input"
    for item in run["items"]:
        inputs = [rename.get(v, v) for v in item["inputs"]]
        fields = {"name": rename[item["name"]], "from": inputs[0] if inputs else previous}
        if inputs[1:]:
            fields["with"] = inputs[1:] if len(inputs) > 2 else inputs[1]
        body.append((item["type"], fields, dict(item["args"])))
        previous = fields["name"]
    return body


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
    if isinstance(v, Expr):
        return str(v)  # 4*c, c/4: a plain scalar the spec reads as an expression
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    text = str(v)
    return text if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", text) else _scalar(text)
