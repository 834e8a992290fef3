"""Derivations: each number as formula, formula with this layer's numbers, and value.

    params(conv3_1) = (k_h·k_w·C_in/groups + 1)·C_out = (3·3·128 + 1)·256 = 295,168

A layer's formulas are its rule replayed with terms (layers/formulas.py): the same
arithmetic that computed the count writes itself out, and its value is checked against the
analysis's (a disagreement is an internal error). A count without a formula is zero for the
reason its layer type declares. Blocks and the total are explained as the sum of their
parts; receptive fields as the recurrence, layer by layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .. import dims
from ..layers import formulas
from ..layers.terms import Term
from ..layers import REGISTRY
from ..layers.base import Window
from .values import expr_text, human, shape_text

METRICS = ("params", "macs", "flops", "shape", "rf")
# asked for by name only: the training FLOPs' derivation (report/explain_train.py)
EXTRA_METRICS = ("train",)


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


def _buffer_words(node) -> str:
    """What a layer's buffers hold: a normalisation's running statistics, unless the type
    keeps another buffer (the channel index of a condensed layer, a learned mask)."""
    if node.type == "indexchannels":
        return "the channel index"
    if node.type == "learnedgroupconv":
        return "the mask" if node.args.get("phase") == "train" else "the channel index"
    return "running mean and variance"


def _num(v, order) -> str:
    from ..layers.terms import number_text

    return number_text(v, order)


# ---------------------------------------------------------------- explaining records
def explain(analysis, target: str | None = None, metric: str | None = None, conv=None):
    """Explanations of one layer, block or the total (``target`` None or 'total')."""
    from ..conventions import DEFAULT

    conv = conv or DEFAULT
    check_metric(metric)
    metrics = METRICS if metric is None else (metric,)
    kind, obj = find(analysis, target)
    return [_explain_one(analysis, kind, obj, m, conv) for m in metrics]


def check_metric(metric: str | None, what: str = "metric") -> None:
    """A SpecError unless ``metric`` is None (every default metric) or one explain knows."""
    from ..errors import SpecError, did_you_mean

    known = METRICS + EXTRA_METRICS
    if metric is not None and metric not in known:
        raise SpecError(f"{what} {metric}: choose from {', '.join(known)}"
                        f"{did_you_mean(str(metric), known)}")


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
        node = output_node(analysis, kind, obj)
        if kind != "node":
            ex.lines.append(Line(title, f"{metric}({node.name})", "", "",
                                 "the output of its last layer"))
        ex.lines += (_shape_lines if metric == "shape" else _rf_lines)(analysis, node, order)
        return ex
    if metric in EXTRA_METRICS:
        from .explain_train import train_lines

        ex.lines += train_lines(analysis, kind, obj, conv, order, Line, _children)
        return ex
    if kind == "node":
        ex.lines += _cost_lines(analysis, obj, metric, conv, order)
    else:
        ex.lines += _sum_lines(analysis, kind, obj, metric, conv, order)
    if kind == "total":
        ex.lines += _approximation_lines(analysis, metric, conv, order)
    return ex


def _approximation_lines(analysis, metric: str, conv, order) -> list:
    """The spec's approximations of ``metric`` beside the exact count: each estimate, and
    exact − estimate (with the relative error when both are numbers)."""
    exact = conv.count(analysis.total, metric)
    lines = []
    for a in analysis.graph.approximations:
        if a.metric != metric:
            continue
        gap = dims.simplify(exact - a.value)
        note = f"{a.source}; exact − approximation = {human(gap, order)}"
        if not dims.is_symbolic(gap) and exact:
            note += f" ({float(gap) / float(exact):+.2%} of the exact count)"
        lines.append(Line(f"≈ {metric}(total)", a.formula, "", human(a.value, order), note))
    return lines


def output_node(analysis, kind, obj):
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
    value = rec.params if metric == "params" else rec.macs
    written = formulas.of(analysis, node)
    f = written[metric]
    shown = f"trainable_params({node.name})" if metric == "params" and \
        conv.params_include_buffers and rec.buffers else label
    if isinstance(f, Term) and conv.tool and not formulas.agrees(f, value):
        lines = [Line(shown, "", "", human(value, order),
                      f"{conv.name} does not count this layer's parameters (no rule for "
                      f"{node.type}); PyTorch's {f.symbolic()} = {f.substituted(order)} = "
                      f"{human(f.value, order)}")]
    else:
        got = formulas.checked(node, metric, f, value)
        lines = [Line(shown, got.symbolic(), got.substituted(order), human(value, order))
                 if isinstance(got, Term) else Line(label, "", "", human(value, order), got)]
    if metric == "params" and rec.buffers and dims.eq(rec.buffers, 0) is not True:
        # every rule with buffers terms them
        b = formulas.checked(node, "buffers", written["buffers"], rec.buffers)
        lines.append(Line(f"non_trainable({node.name})",
                          f"{b.symbolic()} ({_buffer_words(node)})",
                          b.substituted(order), human(rec.buffers, order),
                          "counted as params under --convention keras"
                          if not conv.params_include_buffers else "included above (keras)"))
        if conv.params_include_buffers:
            lines.insert(0, Line(label, "trainable + non-trainable",
                                 f"{human(rec.params, order)} + {human(rec.buffers, order)}",
                                 human(rec.params + rec.buffers, order)))
    return lines


def _tool_line(analysis, node, conv, order) -> Line:
    from ..profiles import DEFAULT_ELSEWHERE, RULES, count

    v = view(analysis, node)
    rule = RULES[conv.tool].get(node.type)
    how = (rule.__doc__ or "").strip().splitlines()[0] if rule and rule.__doc__ else \
        ("archcalc's MACs" if rule or conv.tool in DEFAULT_ELSEWHERE
         else f"{conv.name} counts nothing for {node.type}")
    # an analysis recounted by the tool holds its count already (counting again would add
    # a bias twice)
    value = analysis.layers[node.id].macs if analysis.counted_by == conv.tool else \
        count(conv.tool, v)
    return Line(f"macs[{conv.name}]({node.name})", "", "", human(value, order), how)


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
    numbers = " + ".join(human(v, order) for _, v in parts) if len(parts) > 1 else ""
    times = getattr(obj, "times", 1)
    if times != 1:  # a repeat over free symbols: its parts are one pass's
        count = expr_text(times, order)
        count = count if count.replace("_", "").isalnum() else f"({count})"
        formula_ = f"{count} × ({formula_})"
        numbers = f"{count} × ({numbers or human(parts[0][1], order)})"
    omitted = len(_children(analysis, kind, obj)) - len(parts)
    return [Line(label, formula_, numbers, total,
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
    lines = []
    for name, f, axis in formulas.of(analysis, node)["shape"]:
        if not formulas.agrees(f, rec.output_shape[axis]):
            raise formulas.disagreement(node, name, f, rec.output_shape[axis])
        lines.append(Line(f"{name}({node.name})", f.symbolic(), f.substituted(order),
                          expr_text(rec.output_shape[axis], order)))
    rule = REGISTRY.get(node.type)
    ins = " and ".join(written(analysis.layers[i].output_shape) for i in node.inputs)
    lines.append(Line(label, "", "", written(rec.output_shape),
                      f"input {ins}; {rule.doc if rule else node.type}"))
    return lines


def _rf_lines(analysis, node, order) -> list:
    """The receptive-field recurrence over every layer the target depends on."""
    rec = analysis.layers[node.id]
    if rec.rf is None:
        culprit = next((analysis.graph.nodes[i] for i in sorted(ancestors(analysis.graph,
                                                                           node.id))
                        if analysis.layers[i].rf is None), node)
        return [Line(f"rf({node.name})", "", "", "—",
                     f"no receptive field: {culprit.name} ({culprit.type}) resizes or mixes "
                     "every position, and so does everything after it")]
    lines = [Line("rf(input)", "", "", "r = 1, j = 1, start = 0",
                  "r: size, j: jump (effective stride), start: first input index seen; "
                  "layers that leave the field unchanged are not listed")]
    for i in sorted(ancestors(analysis.graph, node.id)):
        n = analysis.graph.nodes[i]
        passes = analysis.pass_fields.get(i, ())
        if rule_step(analysis, n) is not None or i == node.id or passes:
            lines.extend(rf_step(analysis, n, order, passes[0][1] if passes else None))
        for k, (group, one) in enumerate(passes):
            after = passes[k + 1][1] if k + 1 < len(passes) else analysis.layers[i].rf
            lines.append(_passes_line(analysis, group, one, after, order))
    return lines


def _passes_line(analysis, group, one, after, order) -> Line:
    """The field after a repeat over free symbols: each pass adds what the first one did."""
    before = analysis.layers[group.source].rf
    count = expr_text(group.times, order)
    if after is None or before is None:
        return Line(f"rf({group.name})", "", "", "—",
                    f"{count} passes: a pass changes the jump, so no closed form")
    a0, a1, a = before[0], one[0], after[0]
    return Line(f"rf({group.name})",
                f"r = r₀ + {count}·(r₁ − r₀) = {_num(a0.size, order)} + {count}·("
                f"{_num(a1.size, order)} − {_num(a0.size, order)}) = "
                f"{expr_text(a.size, order)}; start = start₀ + {count}·(start₁ − start₀) = "
                f"{expr_text(a.start, order)}", "", "",
                f"{count} passes of '{group.local}', each widening the field as the first "
                "(r₀: before it, r₁: after one pass)")


def ancestors(g, nid: int) -> set:
    seen, todo = set(), [nid]
    while todo:
        i = todo.pop()
        if i in seen or i == 0:
            continue
        seen.add(i)
        todo.extend(g.nodes[i].inputs)
    return seen


def rule_step(analysis, node):
    """The rule's receptive-field step for this node, as the analysis kept it."""
    return analysis.steps[node.id]


def _fmt_rf(rf, order) -> str:
    if rf is None:
        return "—"
    texts = [f"r = {expr_text(a.size, order)}, j = {expr_text(a.jump, order)}, "
             f"start = {expr_text(a.start, order)}" for a in rf]
    return texts[0] if len(set(texts)) == 1 else "; ".join(
        f"axis {i + 1}: {t}" for i, t in enumerate(texts))


def rf_step(analysis, node, order, one_pass=None) -> list:
    """``one_pass``: the node's field after one pass, for a repeat's last layer."""
    from ..layers.base import UNION

    rec = analysis.layers[node.id]
    if one_pass is not None:
        rec = replace(rec, rf=one_pass)
    prev = analysis.layers[node.inputs[0]].rf
    label = f"rf({node.name})"
    step = rule_step(analysis, node)
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
from .explain_text import render  # noqa: E402,F401  (derivations through the writers)
