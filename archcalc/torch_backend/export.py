"""An analysed graph as readable PyTorch source (``archcalc export pytorch``).

One ``nn.Module`` class per spec block (instances that write the same source share their
class), the spec's layer names as attribute names, and a forward that follows the spec's
order. The text is generated from evaluated values only (numbers, booleans, the names
made identifiers): nothing of the spec is executed, and no spec text reaches the source
except as an identifier or a quoted literal. Each layer type's source is registered next
to its builder (``@exports`` in ``builders/``); the classes torch.nn lacks are copied into
the file from ``exported_modules.py``, so that it needs torch alone. Weights a layer
shares (``tie``) are assigned once the network's modules exist.
"""

from __future__ import annotations

import inspect
import keyword
import re

from ..errors import SpecError
from . import builders  # noqa: F401  (registers the exporters)
from .exported_modules import CLASSES
from .registry import EXPORTERS, BuildCtx, NotExportable, Source
from .shapes import id_range, reads_ids

_ANONYMOUS = ("repeat", "branches")  # group types that are scopes, not blocks


def identifier(name: str, taken: set | None = None) -> str:
    """A name made a Python identifier (other characters become '_'), not a keyword, and
    unique among ``taken`` (which it joins)."""
    text = re.sub(r"\W", "_", name, flags=re.ASCII) or "_"
    if text[0].isdigit():
        text = "_" + text
    if keyword.iskeyword(text) or text in ("self", "torch", "nn", "F"):
        text += "_"
    if taken is not None:
        base, n = text, 2
        while text in taken:
            text, n = f"{base}_{n}", n + 1
        taken.add(text)
    return text


def class_name(block: str) -> str:
    words = [w for w in re.split(r"[^0-9A-Za-z]+", block) if w]
    text = "".join(w[:1].upper() + w[1:] for w in words) or "Block"
    return identifier(text)


def export_pytorch(analysis) -> str:
    """The PyTorch source of an analysed graph whose sizes are all numbers."""
    return _Writer(analysis).source()


def export_with_paths(analysis) -> tuple:
    """The source, and per node id the dotted attribute path of the module or parameter
    that holds its weights in the built network (``layer1_basic_1.conv1``)."""
    writer = _Writer(analysis)
    text = writer.source()
    return text, {i: ".".join(writer.path(i)) for i in writer.attrs}


class _Writer:
    def __init__(self, analysis):
        self.analysis, self.graph = analysis, analysis.graph
        graph = self.graph
        if graph.layout != "channels_first":
            raise SpecError("export pytorch: the spec's shapes are channels-last; PyTorch's "
                            "modules take channels first", graph.nodes[0].loc)
        self.shapes = [tuple(r.output_shape) for r in analysis.layers]
        for node, shape in zip(graph.nodes, self.shapes):
            if any(not isinstance(n, int) for n in shape):
                raise SpecError(f"export pytorch: the shape {list(shape)} has free symbols; "
                                "give them values with --set", node.loc, node.name)
        self.block = {}  # group id -> the block group that holds it (None: the network)
        for g in graph.groups:
            if g.times != 1:
                raise SpecError("export pytorch: a repeat over a free symbol; give it a "
                                "value with --set", g.loc, g.name)
        self.classes: dict = {}  # source body -> class name
        self.used: list = []  # names of exported_modules classes the layers use
        self.ids = id_range(graph) if reads_ids(graph) else None
        self.ties: dict = {}  # node id -> the node whose weight it shares ('tie')
        self.attrs: dict = {}  # node id -> (its class's group id or None, attribute)
        self.group_attrs: dict = {}  # group id -> (its owner's group id or None, attribute)
        self.order: list = []  # (class name, text), dependencies first
        self.names: set = set()
        self.consumers = self._consumers()
        self.as_class = {g.id for g in graph.groups
                         if g.type not in _ANONYMOUS and self._closed(g)}

    # which groups become classes -------------------------------------------------------
    def _consumers(self) -> dict:
        out: dict = {}
        for node in self.graph.nodes[1:]:
            for i in node.inputs:
                out.setdefault(i, []).append(node.id)
        return out

    def _closed(self, g) -> bool:
        """A block can be a module when nothing outside it reads a value inside it other
        than its output."""
        for i in range(g.first, g.last + 1):
            if i == g.output:
                continue
            if any(not g.first <= c <= g.last for c in self.consumers.get(i, ())):
                return False
        return g.first <= g.output <= g.last

    def _owner(self, node_or_group_parent) -> int | None:
        """The innermost enclosing group that is a class (None: the network)."""
        g = node_or_group_parent
        while g is not None and g not in self.as_class:
            g = self.graph.groups[g].parent
        return g

    # the source --------------------------------------------------------------------------
    def source(self) -> str:
        graph = self.graph
        main = identifier(class_name(graph.name or "Net"))
        args, init, forward = self._module(None, 0, graph.output, 1, len(graph.nodes) - 1)
        for node_id, target in self.ties.items():  # shared weights: one Parameter
            init.append(f"self.{'.'.join(self.path(node_id))}.weight = "
                        f"self.{'.'.join(self.path(target))}.weight")
        self.order.append((main, _class_text(main, (args, init, forward))))
        shape = literal_shape(graph.input_shape)
        head = (f'"""{_docstring(graph.name)} as PyTorch modules, written by archcalc '
                'export pytorch."""\n\nimport torch\nimport torch.nn.functional as F\n'
                'from torch import nn\n\n\n')
        helpers = [inspect.getsource(CLASSES[name]).rstrip() for name in CLASSES
                   if name in self.used]
        tail = f"\n\n\nINPUT_SHAPE = {shape}  # one sample, without the batch axis\n"
        if self.ids is not None:
            tail += "INPUT_DTYPE = torch.int64  # token ids\n"
        tail += f"\n\ndef build() -> nn.Module:\n    return {main}()\n"
        return head + "\n\n\n".join(helpers + [text for _, text in self.order]) + tail

    def path(self, node_id: int) -> list:
        """The attribute names from the network down to a node's module or parameter."""
        owner, attr = self.attrs[node_id]
        names = [attr]
        while owner is not None:
            owner, attr = self.group_attrs[owner]
            names.insert(0, attr)
        return names

    def _module(self, owner: int | None, first_in: int, output: int, first: int,
                last: int) -> tuple:
        """(inputs, init lines, forward lines) of the class of group ``owner``: nodes
        ``first..last``, whose inputs come from outside it."""
        graph = self.graph
        taken: set = set()
        attrs: list = []
        steps: list = []  # (kind, id): ("node", id) or ("group", id), in order
        seen_groups = set()
        for i in range(first, last + 1):
            node = graph.nodes[i]
            g = self._owner(node.group)
            if g == owner:
                steps.append(("node", i))
                continue
            top = g  # the class group directly below owner
            while self._owner(graph.groups[top].parent) != owner:
                top = self._owner(graph.groups[top].parent)
            if top not in seen_groups:
                seen_groups.add(top)
                steps.append(("group", top))
        inside = set(range(first, last + 1))
        sources = {ident: self._node_source(graph.nodes[ident])
                   for kind, ident in steps if kind == "node"}
        aliases: dict = {}  # a layer that passes its input on -> the value it passes
        root = (lambda v: aliases.get(v, v))
        emitted = []  # (step, value id, input value ids)
        for kind, ident in steps:
            if kind == "node":
                ins = [root(v) for v in graph.nodes[ident].inputs]
                src = sources[ident]
                if src.module is None and src.expr is None:
                    aliases[ident] = ins[0]
                    continue
                emitted.append((("node", ident), ident, ins))
            else:
                grp = graph.groups[ident]
                emitted.append((("group", ident), grp.output,
                                [root(v) for v in self._group_inputs(grp)]))
        outside_inputs: list = []  # value ids read from outside, in order of first use
        uses: dict = {}  # value id -> indexes of the emitted steps that read it
        for k, (_, _, ins) in enumerate(emitted):
            for v in ins:
                uses.setdefault(v, []).append(k)
                if v not in inside and v not in outside_inputs:
                    outside_inputs.append(v)
        result_value = root(output)
        if result_value not in inside and result_value not in outside_inputs:
            outside_inputs.append(result_value)
        uses.setdefault(result_value, []).append(len(emitted))  # returned
        var: dict = {}
        local_taken: set = {"x"}
        for v in outside_inputs:
            var[v] = "x" if len(outside_inputs) == 1 else identifier(
                self._value_name(v), local_taken)
        local_taken |= set(var.values())
        x_free_after = max(uses.get(outside_inputs[0], [0])) if outside_inputs and \
            var[outside_inputs[0]] == "x" else -1  # the last read of the value named x
        init, forward = [], []
        for k, ((kind, ident), target, ins_ids) in enumerate(emitted):
            ins = [var[v] for v in ins_ids]
            if kind == "node":
                node = graph.nodes[ident]
                src = sources[ident]
                attr = buffer = None
                if src.module is not None or src.buffer is not None:
                    attr = identifier(self._attr_name(node, owner), taken)
                if src.module is not None:
                    self.attrs[ident] = (owner, attr)
                    init.append(f"self.{attr} = {src.module}")
                    init += [line.format(m=f"self.{attr}") for line in src.setup]
                    if src.buffer is not None:
                        buffer = identifier(f"{attr}_{src.buffer[0]}", taken)
                elif src.buffer is not None:
                    attr, buffer = None, attr
                if src.buffer is not None:
                    init.append(f'self.register_buffer("{buffer}", {src.buffer[1]})')
                for name in src.classes:
                    if name not in self.used:
                        self.used.append(name)
                text = src.expr or "{m}(" + ", ".join(f"{{{j}}}" for j in range(len(ins))) + ")"
                expr = text.format(*ins, m=f"self.{attr}", b=f"self.{buffer}")
            else:
                grp = graph.groups[ident]
                cls = self._class_for(grp)
                attr = identifier(self._attr_name(grp, owner), taken)
                self.group_attrs[ident] = (owner, attr)
                init.append(f"self.{attr} = {cls}()")
                expr = f"self.{attr}({', '.join(ins)})"
            later = uses.get(target, [])
            if later and all(u == k + 1 for u in later) and x_free_after <= k:
                name, x_free_after = "x", k + 1
            else:
                name = identifier(self._value_name(target), local_taken)
            var[target] = name
            forward.append(f"{name} = {expr}")
        result = var[result_value]
        args = [var[v] for v in outside_inputs]
        return args, init, forward + [f"return {result}"]

    def _group_inputs(self, grp) -> list:
        ins = []
        for i in range(grp.first, grp.last + 1):
            for v in self.graph.nodes[i].inputs:
                if not grp.first <= v <= grp.last and v not in ins:
                    ins.append(v)
        return ins

    def _class_for(self, grp) -> str:
        body = self._module(grp.id, 0, grp.output, grp.first, grp.last)
        key = (grp.type, repr(body))
        if key not in self.classes:
            name = identifier(class_name(grp.type), self.names)
            self.classes[key] = name
            self.order.append((name, _class_text(name, body, grp.type)))
        return self.classes[key]

    def _attr_name(self, item, owner: int | None) -> str:
        """The item's name relative to the class that holds it (``layer1``, ``conv1``, or
        ``0_conv2d_1`` inside an anonymous repeat)."""
        prefix = "" if owner is None else self.graph.groups[owner].name + "."
        name = item.name[len(prefix):] if item.name.startswith(prefix) else item.local
        return name

    def _value_name(self, v: int) -> str:
        return "x" if v == 0 else self.graph.nodes[v].local

    def _node_source(self, node) -> Source:
        exporter = EXPORTERS.get(node.type)
        if exporter is None:
            raise SpecError(f"export pytorch: '{node.type}' has no plain PyTorch form in "
                            "archcalc's export", node.loc, node.name)
        from ..layers import REGISTRY

        rule_args = REGISTRY[node.type].args
        args = {}
        for key, value in node.args.items():
            kind = rule_args[key].kind if key in rule_args else "any"
            if kind == "refs" and len(node.inputs) > 1:  # the merge's inputs: node.inputs
                continue
            if kind == "ref" and value is not None:  # the named output's shape, as verify
                value = self.shapes[value]           # gives it (a tensor one is an input)
            elif kind == "weight" and value is not None:  # tied: assigned by the network
                self.ties[node.id], value = value, None
            elif kind == "refs" and value:
                raise SpecError(f"export pytorch: '{node.type}' with '{key}' is not exported",
                                node.loc, node.name)
            args[key] = value
        xs = [self.shapes[i] for i in node.inputs]
        try:
            return exporter(BuildCtx(node.type, args, xs, id_range=self.ids))
        except NotExportable as e:
            raise SpecError(f"export pytorch: {node.type}: {e}", node.loc, node.name) from None


def literal_shape(shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _docstring(name: str) -> str:
    text = " ".join(str(name or "The network").split())
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _class_text(name: str, body: tuple, block: str | None = None) -> str:
    args, init, forward = body
    doc = "The network." if block is None else f"The spec's block {_docstring(block)}."
    lines = [f"class {name}(nn.Module):", f'    """{doc}"""', "",
             "    def __init__(self):", "        super().__init__()"]
    lines += [f"        {line}" for line in init]
    lines += ["", f"    def forward(self, {', '.join(args)}):"]
    lines += [f"        {line}" for line in forward]
    return "\n".join(lines)
