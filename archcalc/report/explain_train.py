"""Derivations of training FLOPs (``explain --metric train``): a layer's forward, input
gradient and weight gradient, each as a multiple of its forward and with the reason a part
is zero; a block or the total as the sum of its parts (archcalc/training.py counts them)."""

from __future__ import annotations

from .. import dims
from ..layers.backward import ZERO_BACKWARD
from .values import expr_text, human

METRIC = "train"


def train_lines(analysis, kind, obj, conv, order, line, children) -> list:
    """Lines (``line``: explain's Line; ``children``: its list of a group's parts) deriving the training FLOPs of a layer, a group or
    the total (kind, obj as explain's ``find`` gives them)."""
    from ..training import training

    t = training(analysis)
    k = conv.flops_per_mac
    if kind == "node":
        return _node_lines(analysis, t, obj, k, order, line)
    rec = t.total if kind == "total" else t.groups[obj.id]
    label = f"train({'total' if kind == 'total' else obj.name})"
    parts = [k * rec.forward, k * rec.input_grad, k * rec.weight_grad]
    lines = [line(label, "forward + input grad + weight grad",
                  " + ".join(human(v, order) for v in parts), human(k * rec.macs, order))]
    shown = []
    for ck, child in children(analysis, kind, obj):
        r = t.layers[child.id] if ck == "node" else t.groups[child.id]
        if dims.resolve(dims.eq(r.macs, 0)) is not True:
            shown.append((child.name, k * r.macs))
    if shown:
        formula = " + ".join(f"train({n})" for n, _ in shown)
        numbers = " + ".join(human(v, order) for _, v in shown) if len(shown) > 1 else ""
        times = getattr(obj, "times", 1)
        note = ""
        if times != 1:
            count = expr_text(times, order)
            count = count if count.replace("_", "").isalnum() else f"({count})"
            formula, numbers = f"{count} × ({formula})", \
                f"{count} × ({numbers or human(shown[0][1], order)})"
            if obj.local in t.first_pass_differs:
                formula = numbers = ""
                note = (f"its layers show the first pass, whose input needs no gradient; "
                        f"the later {count} − 1 passes also compute their input gradients")
        lines.append(line(label, formula, numbers, human(k * rec.macs, order), note))
    return lines


def _node_lines(analysis, t, node, k, order, line) -> list:
    r = t.layers[node.id]
    name = node.name
    macs = analysis.layers[node.id].macs
    lines = [line(f"train({name})", "forward + input grad + weight grad",
                  f"{human(k * r.forward, order)} + {human(k * r.input_grad, order)} + "
                  f"{human(k * r.weight_grad, order)}", human(k * r.macs, order))]
    lines.append(line(f"forward({name})", f"{k}·MACs", f"{k}·{human(macs, order)}",
                      human(k * r.forward, order)))
    why_in, why_w = _reasons(analysis, t, node)
    for part, value, why in (("input_grad", r.input_grad, why_in),
                             ("weight_grad", r.weight_grad, why_w)):
        if dims.resolve(dims.eq(value, 0)) is True:
            lines.append(line(f"{part}({name})", "", "", "0", why))
            continue
        ratio = dims.simplify(value / macs)
        if not dims.is_symbolic(ratio) and ratio == int(ratio):
            times = int(ratio)
            lines.append(line(f"{part}({name})", f"{k}·{times}·MACs" if times != 1
                              else f"{k}·MACs", f"{k}·{human(value, order)}",
                              human(k * value, order),
                              "one product of the forward's size per gradient computed"))
        else:
            lines.append(line(f"{part}({name})", "", "", human(k * value, order),
                              f"{node.type}'s backward: docs/conventions.md, Training FLOPs"))
    return lines


def _reasons(analysis, t, node) -> tuple:
    """Why the input gradient and why the weight gradient are zero, where they are."""
    from ..training import frozen_node

    if node.type in ZERO_BACKWARD:
        why = ZERO_BACKWARD[node.type].format(type=node.type)
        return why, why
    unreached = "the network's output does not depend on this layer"
    ins = [analysis.graph.nodes[i] for i in node.inputs]
    if any(t.needs_grad[i.id] for i in ins):
        why_in = unreached
    elif all(i.id == 0 for i in ins):
        why_in = "its input, the network's input, needs no gradient"
    else:
        why_in = "its input needs no gradient: untrained layers computed it from the input"
    if frozen_node(node):
        why_w = "frozen (trainable: false)"
    elif not t.trained[node.id]:
        why_w = "no trained weights"
    else:
        why_w = unreached
    return why_in, why_w
