"""Imported layers as a readable spec (``archcalc import``), whatever framework they came from.

An importer gives one item per layer: a dict of ``name``, ``type``, ``args`` (only those
that differ from archcalc's defaults), ``inputs`` (value names; the network input is
``input``), ``owner`` (the path of the module or subgraph that made it) and ``module``
(whether the item is that module itself). ``Blocks`` says which owners are blocks; a block
whose layers form a closed piece becomes a block definition, and consecutive identical
calls one ``repeat``. The text is written from numbers and names only.
"""

from __future__ import annotations

import json
import re
from typing import Protocol

from .errors import SpecError

_NAME_OK = re.compile(r"[^A-Za-z0-9_.\-]")


class Blocks(Protocol):
    """The framework's hierarchy as the writer needs it."""

    def block_of(self, owner: str) -> str | None:
        """The block path an item of ``owner`` belongs to, or None (a top-level layer)."""

    def kind(self, path: str) -> str:
        """The block's kind (a class name), which names its definition."""


def unique(name: str, names: dict) -> str:
    """``name`` made a valid layer name and distinct from those in ``names`` (counted)."""
    name = _NAME_OK.sub("_", str(name))
    if name[:1].isdigit() or not name:
        name = "m" + name
    n = names.get(name, 0)
    names[name] = n + 1
    return name if n == 0 else f"{name}_{n + 1}"


_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def write_spec(origin: str, name: str, shape, free, items, output, blocks: Blocks,
               tokens: bool = False) -> str:
    """The spec text: a comment saying where it came from (``origin``), the name, the input
    (``free`` axes written as symbols; ``tokens``: a one-axis input of token ids, its axis
    L), block definitions and the layers."""
    lines = [f"# Imported from {_comment(origin)}.", f"name: {_scalar(name)}"]
    lines += _input_lines(shape, free, tokens)
    runs = _blocks(items, output, blocks)
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
        block = _block_name(run, defs, blocks)
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
                   for k, v in item["args"].items()})  # refs: arguments naming layers
    return f"{indent}- {item['type']}: {{" + ", ".join(
        f"{k}: {_value(v)}" for k, v in fields.items()) + "}"


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


def _block_name(run, defs: dict, blocks: Blocks) -> str:
    text = _body(run)
    if text not in defs:
        base = re.sub(r"[^a-z0-9_]", "_", blocks.kind(run["path"]).lower()) or "block"
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
