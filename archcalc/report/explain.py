"""Derivations: each number as formula, formula with this layer's numbers, and value.

    params(conv3_1) = (k_h·k_w·C_in/groups + 1)·C_out = (3·3·128 + 1)·256 = 295,168

One registry holds the formula text of every layer family (``@formula``); a family without
one is explained by its rule's own docstring and says why it costs zero. The value printed
is always the analysis's own (the registry only writes it out), and the tests check that the
written-out arithmetic gives that same value on every example spec. Blocks and the total
are explained as the sum of their parts; receptive fields as the recurrence, layer by layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .. import dims
from ..layers import REGISTRY
from ..layers.base import Window
from .values import expr_text, human, shape_text

METRICS = ("params", "macs", "flops", "shape", "rf")


@dataclass(frozen=True)
class Line:
    """``label = formula = substituted = value`` (formula/substituted may be empty)."""

    label: str
    formula: str = ""
    substituted: str = ""
    value: str = ""
    note: str = ""

    def text(self) -> str:
        parts = [self.label] + [p for p in (self.formula, self.substituted) if p]
        if self.value and self.value not in parts[1:]:
            parts.append(self.value)
        out = " = ".join(parts)
        return f"{out}   ({self.note})" if self.note else out


@dataclass
class Explanation:
    title: str
    metric: str
    lines: list = field(default_factory=list)


@dataclass(frozen=True)
class Formula:
    """A template such as ``({k}·{C_in}/{g} + 1)·{C_out}`` and the numbers for its names.

    ``value`` is the template's arithmetic on those numbers (checked against the rule)."""

    template: str
    names: dict  # placeholder -> (label, value)
    value: Any

    def symbolic(self) -> str:
        return self.template.format(**{k: lbl for k, (lbl, _) in self.names.items()})

    def substituted(self, order: Sequence[str]) -> str:
        """The numbers in place of the names; a divisor ``/{g}`` equal to 1 is left out."""
        template = self.template
        if "g" in self.names and self.names["g"][1] == 1:
            template = template.replace("/{g}", "")
        return template.format(**{k: _num(v, order) for k, (_, v) in self.names.items()})


def _num(v, order) -> str:
    text = expr_text(v, order)
    return f"({text})" if dims.is_symbolic(v) and not getattr(v, "is_Symbol", False) else text


# ---------------------------------------------------------------- the formula registry
FormulaFn = Callable[[Any], Formula]
FORMULAS: dict[tuple[str, str], FormulaFn] = {}


def formula(metric: str, *types: str):
    """Register the written-out formula of ``metric`` for these layer types."""

    def wrap(fn: FormulaFn) -> FormulaFn:
        for t in types:
            if (metric, t) in FORMULAS:
                raise ValueError(f"formula for {metric}({t}) registered twice")
            FORMULAS[metric, t] = fn
        return fn

    return wrap


_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
_CONVS = ("conv1d", "conv2d", "conv3d")
_CONVTS = ("convtranspose1d", "convtranspose2d", "convtranspose3d")
_POOLS = ("maxpool1d", "maxpool2d", "maxpool3d", "avgpool1d", "avgpool2d", "avgpool3d")


def _per_axis(v, name: str, default=1) -> tuple:
    value = v.arg(name, default)
    n = v.spatial_rank
    if value is None:
        value = default
    if isinstance(value, (list, tuple)):
        return tuple(value) * n if len(value) == 1 else tuple(value)
    return (value,) * n


def _kernel_names(v, ks: tuple) -> dict:
    axes = _AXES.get(v.spatial_rank, tuple(f"{i + 1}" for i in range(v.spatial_rank)))
    if len(ks) == 1:
        return {"k0": ("k", ks[0])}
    return {f"k{i}": (f"k_{a.lower()}", k) for i, (a, k) in enumerate(zip(axes, ks))}


def _kernel_template(names: dict) -> str:
    return "·".join("{" + k + "}" for k in names)


@formula("params", *_CONVS, *_CONVTS)
def _conv_params(v) -> Formula:
    ks = _per_axis(v, "kernel")
    kn = _kernel_names(v, ks)
    cin, cout, g = v.x[0], v.arg("out"), v.arg("groups", 1)
    names = {**kn, "cin": ("C_in", cin), "cout": ("C_out", cout), "g": ("groups", g)}
    kt = _kernel_template(kn)
    weights = dims.prod(ks) * cin * cout // g
    if v.type in _CONVTS:
        body = kt + "·{cin}·{cout}/{g}"
        return Formula(body + (" + {cout}" if v.arg("bias", True) else ""), names,
                       weights + (cout if v.arg("bias", True) else 0))
    if v.arg("bias", True):
        return Formula("(" + kt + "·{cin}/{g} + 1)·{cout}", names, weights + cout)
    return Formula(kt + "·{cin}/{g}·{cout}", names, weights)


@formula("params", "linear")
def _linear_params(v) -> Formula:
    names = {"fin": ("in", v.x[-1]), "fout": ("out", v.arg("out"))}
    if v.arg("bias", True):
        return Formula("({fin} + 1)·{fout}", names, (v.x[-1] + 1) * v.arg("out"))
    return Formula("{fin}·{fout}", names, v.x[-1] * v.arg("out"))


@formula("params", "batchnorm1d", "batchnorm2d", "batchnorm3d", "instancenorm1d",
         "instancenorm2d", "instancenorm3d", "groupnorm", "layernorm2d")
def _norm_params(v) -> Formula:
    c = v.x[0]
    if not v.arg("affine", False):
        return Formula("0 (affine=False)", {}, 0)
    return Formula("2·{c}", {"c": ("C", c)}, 2 * c)


@formula("params", "layernorm")
def _layernorm_params(v) -> Formula:
    shape = v.arg("shape") or (v.x[-1],)
    n = dims.prod(tuple(shape))
    names = {"n": ("∏normalized_shape", n)}
    if not v.arg("affine", True):
        return Formula("0 (elementwise_affine=False)", {}, 0)
    if v.arg("bias", True):
        return Formula("2·{n}", names, 2 * n)
    return Formula("{n}", names, n)


@formula("params", "prelu")
def _prelu_params(v) -> Formula:
    return Formula("{num}", {"num": ("num_parameters", v.arg("num", 1))}, v.arg("num", 1))


@formula("params", "layerscale")
def _layerscale_params(v) -> Formula:
    return Formula("{c}", {"c": ("C", v.x[0])}, v.x[0])


@formula("macs", *_CONVS)
def _conv_macs(v) -> Formula:
    ks = _per_axis(v, "kernel")
    kn = _kernel_names(v, ks)
    axes = _AXES[v.spatial_rank]
    outs = {f"o{i}": (f"{a}_out", n) for i, (a, n) in enumerate(zip(axes, v.output[1:]))}
    names = {**outs, **kn, "cin": ("C_in", v.x[0]), "cout": ("C_out", v.arg("out")),
             "g": ("groups", v.arg("groups", 1))}
    t = "·".join("{" + k + "}" for k in outs) + "·{cout}·" + _kernel_template(kn) + "·{cin}/{g}"
    value = dims.prod(v.output[1:]) * v.arg("out") * dims.prod(ks) * v.x[0] // v.arg("groups", 1)
    return Formula(t, names, value)


@formula("macs", *_CONVTS)
def _convt_macs(v) -> Formula:
    ks = _per_axis(v, "kernel")
    kn = _kernel_names(v, ks)
    axes = _AXES[v.spatial_rank]
    ins = {f"i{i}": (f"{a}_in", n) for i, (a, n) in enumerate(zip(axes, v.x[1:]))}
    names = {**ins, **kn, "cin": ("C_in", v.x[0]), "cout": ("C_out", v.arg("out")),
             "g": ("groups", v.arg("groups", 1))}
    t = "·".join("{" + k + "}" for k in ins) + "·{cin}·{cout}/{g}·" + _kernel_template(kn)
    value = dims.prod(v.x[1:]) * v.x[0] * v.arg("out") // v.arg("groups", 1) * dims.prod(ks)
    return Formula(t, names, value)


@formula("macs", "linear")
def _linear_macs(v) -> Formula:
    lead = v.x[:-1]
    names = {"fin": ("in", v.x[-1]), "fout": ("out", v.arg("out"))}
    if not lead:
        return Formula("{fin}·{fout}", names, v.x[-1] * v.arg("out"))
    names["lead"] = ("∏leading", dims.prod(lead))
    return Formula("{lead}·{fin}·{fout}", names, dims.prod(lead) * v.x[-1] * v.arg("out"))


def _sliding_formulas(v, ceil: bool) -> list:
    """Output size per spatial axis of a conv or pool:
    ⌊(n + p_l + p_r − d·(k − 1) − 1)/s⌋ + 1 (⌈…⌉ in ceil mode)."""
    from ..layers.window import keras_same_pads

    ks = _per_axis(v, "kernel")
    ss = ks if v.type in _POOLS and v.arg("stride") is None else _per_axis(v, "stride")
    ds = _per_axis(v, "dilation") if "dilation" in v.args else (1,) * v.spatial_rank
    pad = v.arg("padding", 0)
    out = []
    for i, (a, n, k, s, d, o) in enumerate(zip(_AXES[v.spatial_rank], v.x[1:], ks, ss, ds,
                                                v.output[1:])):
        if pad == "same":
            pl, pr = keras_same_pads(n, d * (k - 1) + 1, s)
        elif pad == "valid":
            pl = pr = 0
        else:
            pl = pr = _per_axis(v, "padding", 0)[i]
        names = {"n": (a, n), "k": ("k", k), "s": ("s", s), "d": ("d", d), "pl": ("p", pl),
                 "pr": ("p_r", pr)}
        pads = "2·{pl}"
        if dims.resolve(dims.eq(pl, pr)) is not True:
            pads, names["pl"] = "{pl} + {pr}", ("p_l", pl)
        br = ("⌈", "⌉") if ceil else ("⌊", "⌋")
        t = br[0] + "({n} + " + pads + " − {d}·({k} − 1) − 1)/{s}" + br[1] + " + 1"
        if ceil:
            t += "  (ceil mode: minus 1 if the last window starts in the padding)"
        out.append((f"{a}_out", Formula(t, names, o)))
    return out


@formula("shape", *_CONVS)
def _conv_shape(v):
    return _sliding_formulas(v, False)


@formula("shape", *_POOLS)
def _pool_shape(v):
    return _sliding_formulas(v, bool(v.arg("ceil_mode", False)))


@formula("shape", *_CONVTS)
def _convt_shape(v):
    ks, ss = _per_axis(v, "kernel"), _per_axis(v, "stride")
    ps, ops, ds = _per_axis(v, "padding", 0), _per_axis(v, "output_padding", 0), \
        _per_axis(v, "dilation")
    out = []
    for a, n, k, s, p, op, d, o in zip(_AXES[v.spatial_rank], v.x[1:], ks, ss, ps, ops, ds,
                                       v.output[1:]):
        names = {"n": (a, n), "k": ("k", k), "s": ("s", s), "p": ("p", p),
                 "op": ("output_padding", op), "d": ("d", d)}
        out.append((f"{a}_out", Formula("({n} − 1)·{s} − 2·{p} + {d}·({k} − 1) + {op} + 1",
                                        names, o)))
    return out


@formula("shape", "linear")
def _linear_shape(v):
    return [("features_out", Formula("{out}", {"out": ("out", v.arg("out"))}, v.output[-1]))]


# ---------------------------------------------------------------- explaining records
def explain(analysis, target: str | None = None, metric: str | None = None, conv=None):
    """Explanations of one layer, block or the total (``target`` None or 'total')."""
    from ..conventions import DEFAULT

    conv = conv or DEFAULT
    metrics = METRICS if metric is None else (metric,)
    kind, obj = find(analysis, target)
    return [_explain_one(analysis, kind, obj, m, conv) for m in metrics]


def find(analysis, target: str | None):
    """('total', None) | ('group', Group) | ('node', Node) for a user-given name."""
    from ..errors import SpecError, did_you_mean

    g = analysis.graph
    if target in (None, "", "total"):
        return "total", None
    for grp in g.groups:
        if grp.name == target:
            return "group", grp
    for node in g.nodes[1:]:
        if node.name == target:
            return "node", node
    if target == "input":
        return "node", g.nodes[0]
    hits = [("group", grp) for grp in g.groups if grp.local == target] + \
           [("node", n) for n in g.nodes[1:] if n.local == target]
    if len(hits) == 1:
        return hits[0]
    names = [grp.name for grp in g.groups] + [n.name for n in g.nodes[1:]]
    if hits:
        raise SpecError(f"'{target}' names several layers: "
                        f"{', '.join(h[1].name for h in hits)}; use the qualified name")
    raise SpecError(f"no layer or block named '{target}'{did_you_mean(target, names)}")


def record_of(analysis, kind, obj):
    if kind == "total":
        return analysis.total
    if kind == "node":
        return analysis.layers[obj.id]
    for r in analysis.records:
        if r.kind == "group" and r.id == obj.id:
            return r
    raise KeyError(obj.name)


def _label(kind, obj) -> str:
    return "total" if kind == "total" else obj.name


def explain_record(analysis, kind, obj, metric: str, conv) -> Explanation:
    """The explanation of one metric of what ``find`` found (kind, obj) under ``conv``."""
    return _explain_one(analysis, kind, obj, metric, conv)


def _explain_one(analysis, kind, obj, metric: str, conv) -> Explanation:
    order = list(analysis.graph.symbols)
    title = f"{metric}({_label(kind, obj)})"
    ex = Explanation(title, metric)
    if metric in ("shape", "rf"):
        node = _output_node(analysis, kind, obj)
        if kind != "node":
            ex.lines.append(Line(title, f"{metric}({node.name})", "", "",
                                 "the output of its last layer"))
        ex.lines += (_shape_lines if metric == "shape" else _rf_lines)(analysis, node, order)
        return ex
    if kind == "node":
        ex.lines += _cost_lines(analysis, obj, metric, conv, order)
    else:
        ex.lines += _sum_lines(analysis, kind, obj, metric, conv, order)
    return ex


def _output_node(analysis, kind, obj):
    g = analysis.graph
    if kind == "total":
        return g.nodes[g.output]
    if kind == "group":
        return g.nodes[obj.output]
    return obj


def view(analysis, node):
    from ..profiles import view_of

    return view_of(analysis, node)


def _cost_lines(analysis, node, metric: str, conv, order) -> list:
    rec = analysis.layers[node.id]
    label = f"{metric}({node.name})"
    if metric == "flops":
        line = Line(label, f"{conv.flops_per_mac}·MACs",
                    f"{conv.flops_per_mac}·{human(rec.macs, order)}",
                    human(conv.flops_per_mac * rec.macs, order))
        return [line] + _cost_lines(analysis, node, "macs", conv, order)
    if conv.tool is not None and metric == "macs":
        return [_tool_line(analysis, node, conv, order)]
    v = view(analysis, node)
    fn = FORMULAS.get((metric, node.type))
    value = rec.params if metric == "params" else rec.macs
    if fn is not None:
        f = fn(v)
        agrees = dims.eq(f.value, value) is True or _same(f.value, value)
        shown = f"trainable_params({node.name})" if metric == "params" and \
            conv.params_include_buffers and rec.buffers else label
        if agrees:
            lines = [Line(shown, f.symbolic(), f.substituted(order), human(value, order))]
        elif conv.tool:
            lines = [Line(shown, "", "", human(value, order),
                          f"{conv.name} does not count this layer's parameters (no rule for "
                          f"{node.type}); PyTorch's {f.symbolic()} = {f.substituted(order)} = "
                          f"{human(f.value, order)}")]
        else:
            lines = [Line(shown, f.symbolic(), f.substituted(order), human(value, order),
                          f"the written-out formula gives {human(f.value, order)}")]
    elif dims.eq(value, 0) is True:
        why = _zero_reason(node.type, metric, REGISTRY.get(node.type))
        lines = [Line(label, "", "", human(value, order), why)]
    else:  # never claim a zero reason for a value that is not zero
        lines = [Line(label, "", "", human(value, order),
                      f"the {node.type} rule's count (no written-out formula for it)")]
    if metric == "params" and rec.buffers and dims.eq(rec.buffers, 0) is not True:
        c = v.x[0]
        lines.append(Line(f"non_trainable({node.name})", "2·C (running mean and variance)",
                          f"2·{expr_text(c, order)}", human(rec.buffers, order),
                          "counted as params under --convention keras"
                          if not conv.params_include_buffers else "included above (keras)"))
        if conv.params_include_buffers:
            lines.insert(0, Line(label, "trainable + non-trainable",
                                 f"{human(rec.params, order)} + {human(rec.buffers, order)}",
                                 human(rec.params + rec.buffers, order)))
    return lines


def _same(a, b) -> bool:
    return dims.simplify(a - b) == 0


def _zero_reason(type_: str, metric: str, rule) -> str:
    family = rule.family if rule else "?"
    if metric == "params":
        return f"{type_} has no parameters"
    reasons = {
        "elementwise": "element-wise: no multiply-accumulates (counted as zero on purpose)",
        "norm": "normalisation is element-wise: no multiply-accumulates (zero on purpose; "
                "see --convention fvcore/ptflops/thop for tools that count it)",
        "pool": "pooling compares or adds, it does not multiply-accumulate (zero on purpose)",
        "tensor": "data movement only (zero on purpose)",
        "merge": "element-wise merge: no multiply-accumulates (zero on purpose)",
    }
    return reasons.get(family, "no multiply-accumulates")


def _tool_line(analysis, node, conv, order) -> Line:
    from ..profiles import RULES, count

    v = view(analysis, node)
    rule = RULES[conv.tool].get(node.type)
    how = (rule.__doc__ or "").strip().splitlines()[0] if rule and rule.__doc__ else \
        ("archcalc's MACs" if rule else f"{conv.name} counts nothing for {node.type}")
    return Line(f"macs[{conv.name}]({node.name})", "", "", human(count(conv.tool, v), order),
                how)


def _children(analysis, kind, obj) -> list:
    """Direct parts of a group (or of the whole network): sub-groups and layers, in order."""
    g = analysis.graph
    gid = None if kind == "total" else obj.id
    out = []
    for row_kind, i in g.rows:
        if row_kind == "group" and g.groups[i].parent == gid:
            out.append(("group", g.groups[i]))
        elif row_kind == "node" and g.nodes[i].group == gid:
            out.append(("node", g.nodes[i]))
    return out


def _sum_lines(analysis, kind, obj, metric: str, conv, order) -> list:
    rec = record_of(analysis, kind, obj)
    parts = []
    for ck, child in _children(analysis, kind, obj):
        value = conv.count(record_of(analysis, ck, child), metric)
        if not (dims.resolve(dims.eq(value, 0)) is True):
            parts.append((child.name, value))
    label = f"{metric}({_label(kind, obj)})"
    total = human(conv.count(rec, metric), order)
    if not parts:
        return [Line(label, "", "", total, "every part counts 0")]
    formula_ = " + ".join(f"{metric}({n})" for n, _ in parts)
    numbers = " + ".join(human(v, order) for _, v in parts)
    omitted = len(_children(analysis, kind, obj)) - len(parts)
    return [Line(label, formula_, numbers if len(parts) > 1 else "", total,
                 f"{omitted} other part{'s' if omitted > 1 else ''} count 0" if omitted else "")]


def _shape_lines(analysis, node, order) -> list:
    from ..layout import of, shown

    written_in = of(analysis.graph)  # a channels-last spec's shapes are shown channels last

    def written(shape) -> str:
        return shape_text(shown(shape, written_in), order)

    rec = analysis.layers[node.id]
    label = f"shape({node.name})"
    if node.id == 0:
        return [Line(label, "", "", written(rec.output_shape), "the network input")]
    fn = FORMULAS.get(("shape", node.type))
    lines = []
    if fn is not None:
        v = view(analysis, node)
        for name, f in fn(v):
            lines.append(Line(f"{name}({node.name})", f.symbolic(), f.substituted(order),
                              expr_text(f.value, order)))
    rule = REGISTRY.get(node.type)
    ins = " and ".join(written(analysis.layers[i].output_shape) for i in node.inputs)
    lines.append(Line(label, "", "", written(rec.output_shape),
                      f"input {ins}; {rule.doc if rule else node.type}"))
    return lines


def _rf_lines(analysis, node, order) -> list:
    """The receptive-field recurrence over every layer the target depends on."""
    rec = analysis.layers[node.id]
    if rec.rf is None:
        culprit = next((analysis.graph.nodes[i] for i in sorted(_ancestors(analysis.graph,
                                                                           node.id))
                        if analysis.layers[i].rf is None), node)
        return [Line(f"rf({node.name})", "", "", "—",
                     f"no receptive field: {culprit.name} ({culprit.type}) resizes or mixes "
                     "every position, and so does everything after it")]
    lines = [Line("rf(input)", "", "", "r = 1, j = 1, start = 0",
                  "r: size, j: jump (effective stride), start: first input index seen; "
                  "layers that leave the field unchanged are not listed")]
    for i in sorted(_ancestors(analysis.graph, node.id)):
        n = analysis.graph.nodes[i]
        if _rule_step(analysis, n) is not None or i == node.id:
            lines.extend(_rf_step(analysis, n, order))
    return lines


def _ancestors(g, nid: int) -> set:
    seen, todo = set(), [nid]
    while todo:
        i = todo.pop()
        if i in seen or i == 0:
            continue
        seen.add(i)
        todo.extend(g.nodes[i].inputs)
    return seen


def _rule_step(analysis, node):
    """The rule's receptive-field step for this node, as the analysis kept it."""
    return analysis.steps[node.id]


def _fmt_rf(rf, order) -> str:
    if rf is None:
        return "—"
    texts = [f"r = {expr_text(a.size, order)}, j = {expr_text(a.jump, order)}, "
             f"start = {expr_text(a.start, order)}" for a in rf]
    return texts[0] if len(set(texts)) == 1 else "; ".join(
        f"axis {i + 1}: {t}" for i, t in enumerate(texts))


def _rf_step(analysis, node, order) -> list:
    from ..layers.base import UNION

    rec = analysis.layers[node.id]
    prev = analysis.layers[node.inputs[0]].rf
    label = f"rf({node.name})"
    step = _rule_step(analysis, node)
    if step is None:
        return [Line(label, "", "", _fmt_rf(rec.rf, order), f"{node.type}: unchanged")]
    if step == UNION:
        ins = ", ".join(analysis.graph.nodes[i].name for i in node.inputs)
        return [Line(label, "", "", _fmt_rf(rec.rf, order),
                     f"{node.type}: the union of the fields of {ins}")]
    spatial = [e for e in step[1:]] if len(step) == len(analysis.layers[node.inputs[0]]
                                                         .output_shape) else list(step)
    windows = [e for e in spatial if isinstance(e, Window)]
    if prev is None or not windows:
        return [Line(label, "", "", _fmt_rf(rec.rf, order), f"{node.type}")]
    texts = []
    for a_prev, w, a in zip(prev, windows, rec.rf or ()):
        size, jump, start = (_num(a_prev.size, order), _num(a_prev.jump, order),
                             _num(a_prev.start, order))
        texts.append(
            f"r = r' + (k − 1)·j' = {size} + ({_num(w.kernel, order)} − 1)·{jump} = "
            f"{expr_text(a.size, order)}; j = j'·s = {jump}·{_num(w.stride, order)} = "
            f"{expr_text(a.jump, order)}; start = start' − p·j' = {start} − "
            f"{_num(w.pad_left, order)}·{jump} = {expr_text(a.start, order)}")
    if len(set(texts)) == 1:
        return [Line(label, texts[0], "", "", f"{node.type}, k = effective kernel")]
    return [Line(f"{label} axis {i + 1}", t, "", "", node.type) for i, t in enumerate(texts)]


# ---------------------------------------------------------------- rendering
def render(explanations: list, fmt: str, name: str = "") -> str:
    import csv
    import io
    import json

    if fmt == "json":
        return json.dumps({"name": name, "explanations": [
            {"title": e.title, "metric": e.metric, "lines": [
                {"label": ln.label, "formula": ln.formula, "substituted": ln.substituted,
                 "value": ln.value, "note": ln.note, "text": ln.text()} for ln in e.lines]}
            for e in explanations]}, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["metric", "label", "formula", "substituted", "value", "note"])
        for e in explanations:
            for ln in e.lines:
                w.writerow([e.metric, ln.label, ln.formula, ln.substituted, ln.value, ln.note])
        return buf.getvalue()
    if fmt == "markdown":
        out = []
        for e in explanations:
            out += [f"**{e.title}**", ""] + [f"- `{ln.text()}`" for ln in e.lines] + [""]
        return "\n".join(out)
    if fmt == "latex":
        from .render import latex_escape

        out = []
        for e in explanations:
            out += [rf"\paragraph{{{latex_escape(e.title)}}}", r"\begin{itemize}"]
            out += [rf"  \item {latex_escape(ln.text())}" for ln in e.lines]
            out += [r"\end{itemize}"]
        return "\n".join(out) + "\n"
    out = []
    for e in explanations:
        out += [e.title] + [f"  {ln.text()}" for ln in e.lines] + [""]
    return "\n".join(out)
