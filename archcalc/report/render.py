"""An Analysis as the table of an analysis verb (summary, params, shapes, flops, rf),
written by ``writers`` as text, Markdown, CSV or LaTeX; or as its JSON object."""

from __future__ import annotations

from typing import Any, Sequence

from ..conventions import Convention
from ..errors import printable
from .columns import COLUMNS, VERB_COLUMNS
from . import writers
from .table import Column, LazyRows, Row, Table
from .values import condition_text, csv_dims, expr_text, human, json_value, shape_text
from .writers import latex_escape, md_escape  # noqa: F401  (the names other modules use)

FORMATS = writers.FORMATS


def cell(value: Any, kind: str, order: Sequence[str]) -> str:
    """One value as text for people."""
    if value is None:
        return "—"
    if kind == "text":  # a name from the spec: escaped, it cannot drive the terminal
        return printable(str(value))
    if kind == "shape":
        return shape_text(value, order)
    if kind == "rf":
        parts = [expr_text(v, order) for v in value]
        return "×".join(parts) if len(set(parts)) > 1 else parts[0]
    return human(value, order)


def raw(value: Any, kind: str, order: Sequence[str]) -> str:
    """One value as text for machines (CSV): no thousands separators."""
    if value is None:
        return ""
    if kind in ("shape", "rf"):
        return csv_dims(value, order)
    return expr_text(value, order) if kind != "text" else printable(str(value))


def rows(analysis, keys: Sequence[str], conv: Convention, max_depth: int | None = None):
    """(record, [value per column]) for every row shown, groups before their members."""
    from ..layout import of, shown

    out, written_in = [], of(analysis.graph)  # a channels-last spec is shown channels last
    frozen = _frozen(analysis)
    for r in analysis.records:
        if max_depth is not None and r.depth > max_depth:
            continue
        values = [shown(v, written_in) if COLUMNS[k].kind == "shape" and v is not None
                  else v for k, v in ((k, COLUMNS[k].get(r, conv)) for k in keys)]
        if frozen:  # trainable: false moves a layer's parameters to non-trainable
            f = frozen(r)
            values = [v - f if k == "trainable" else v + f if k == "non_trainable" else v
                      for k, v in zip(keys, values)]
        out.append((r, values))
    return out


def _frozen(analysis):
    """frozen.of_record for this analysis, or None when no layer is frozen."""
    from .. import frozen

    return frozen.counter(analysis)


def footer_lines(analysis, conv: Convention, order) -> list[str]:
    t = analysis.total
    params = conv.params(t.params, t.buffers)
    lines = [
        f"Total params: {human(params, order)}"
        + ("" if conv.params_include_buffers else
           f" ({'' if _frozen(analysis) else 'trainable; '}{human(t.buffers, order)} "
           "non-trainable buffer elements)"),
        f"Total MACs: {human(t.macs, order)}  ·  FLOPs: {human(conv.flops_per_mac * t.macs, order)}"
        f" (= {conv.flops_per_mac} × MACs)",
        *_split_line(analysis, conv, order),
        f"Output: {shape_text(_shown(analysis, t.output_shape), order)}",
        f"Convention: {conv.title}; {conv.macs_note}; RF in input pixels.",
        *unknown_lines(analysis),
    ]
    if conv.tool == "torchinfo":
        lines += torchinfo_memory_lines(analysis, order)
    for cond, message, loc in analysis.stated_conditions:
        where = message.split(":", 1)[0]
        lines.append(printable(f"Holds when {condition_text(cond, order)}  [{where}, {loc}]"))
    return lines


def unknown_lines(analysis) -> list:
    """The warning a spec with ``unknown`` layers (ops archcalc cannot model) carries."""
    from ..layers.opaque import note

    line = note(analysis.records)
    return [printable(line)] if line else []


def torchinfo_memory_lines(analysis, order) -> list:
    """torchinfo's memory lines for batch 1 in float32, as it prints them (MB = 10^6 bytes,
    two decimals); in bytes, as closed forms, when sizes are free (archcalc/activations.py,
    ``torchinfo_memory``)."""
    from ..activations import torchinfo_memory
    from .. import dims

    m = torchinfo_memory(analysis)
    if all(type(v) is int for v in (m.input, m.forward_backward, m.params)):
        lines = m.lines()
    else:
        lines = [f"Input size (bytes): {human(m.input, order)}",
                 f"Forward/backward pass size (bytes): {human(m.forward_backward, order)}",
                 f"Params size (bytes): {human(m.params, order)}",
                 "Estimated Total Size (bytes): "
                 f"{human(dims.simplify(m.input + m.forward_backward + m.params), order)}"]
    return lines + ["torchinfo's memory lines (batch 1, float32): forward/backward = 2 × the "
                    "output bytes of each layer with parameters; not what autograd keeps "
                    "(archcalc verify --saved measures that)"]


def _split_line(analysis, conv: Convention, order) -> list:
    """Keras's split of a network with frozen layers: trainable and non-trainable params."""
    frozen = _frozen(analysis)
    if frozen is None:
        return []
    t, f = analysis.total, frozen(analysis.total)
    rest = (t.buffers if conv.params_include_buffers else 0) + f
    return [f"Trainable params: {human(t.params - f, order)}  ·  Non-trainable params: "
            f"{human(rest, order)} (layers with trainable: false"
            + (", BatchNorm moving statistics)" if conv.params_include_buffers else ")")]


def _shown(analysis, shape):
    """A shape in the order the spec writes shapes (layout: channels_last)."""
    from ..layout import of, shown

    return shown(shape, of(analysis.graph))


def model(analysis, verb: str, conv: Convention, max_depth=None) -> Table:
    """The verb's table of this analysis: one row per layer or group shown (groups bold,
    members indented), the totals and conditions as footnotes, and for CSV each row's name,
    depth, kind and exact values."""
    keys = VERB_COLUMNS[verb]
    order = list(analysis.graph.symbols)
    kinds = [COLUMNS[k].kind for k in keys]
    shown = rows(analysis, keys, conv, max_depth)
    body, machine = _body(shown, kinds, order)
    t = analysis.total
    return Table(
        columns=[Column(COLUMNS[k].header, kind in ("number", "rf"), kind == "text")
                 for k, kind in zip(keys, kinds)],
        rows=body, title=printable(analysis.graph.name),
        footnotes=footer_lines(analysis, conv, order),
        raw_header=["name", "depth", "kind", *keys[1:]], machine=machine,
        summary=f"Total params: {human(conv.params(t.params, t.buffers), order)}; MACs: "
                f"{human(t.macs, order)}")


def _body(shown, kinds, order) -> tuple:
    """A report's rows from (record, values) pairs: the cells, made when a writer first reads
    them, and the machine form (name, depth, kind and exact values) for CSV."""
    body = LazyRows(lambda: [Row([cell(v, kind, order) for v, kind in zip(values, kinds)],
                                 r.kind == "group", max(r.depth, 0)) for r, values in shown])

    def machine():
        for r, values in shown:
            yield [printable(r.name), str(r.depth), r.kind,
                   *(raw(v, kind, order) for v, kind in zip(values[1:], kinds[1:]))]

    return body, machine


def table(analysis, verb: str, conv: Convention, width: int = 100, max_depth=None) -> str:
    """The verb's table as text (``writers.text``)."""
    return writers.text(model(analysis, verb, conv, max_depth), width)


def to_json(analysis, conv: Convention) -> dict:
    """The stable machine-readable object of docs/json-format.md."""
    g = analysis.graph
    order = list(g.symbols)
    jv = lambda v: json_value(v, order)  # noqa: E731

    frozen = _frozen(analysis) or (lambda r: 0)

    def layer(r) -> dict:
        rf = r.rf
        times = {} if r.times == 1 else {"times": jv(r.times)}
        return {
            "name": r.name, "type": r.type, "depth": r.depth, "kind": r.kind,
            "output_shape": jv(_shown(analysis, r.output_shape)),
            "params": jv(conv.params(r.params, r.buffers)),
            "trainable_params": jv(r.params - frozen(r)),
            "non_trainable": jv(r.buffers + frozen(r)),
            "macs": jv(r.macs), "flops": jv(conv.flops_per_mac * r.macs),
            "activations": jv(r.activations),
            "rf": None if rf is None else [jv(a.size) for a in rf],
            "rf_jump": None if rf is None else [jv(a.jump) for a in rf],
            "rf_start": None if rf is None else [jv(a.start) for a in rf],
            **times,
        }

    t = analysis.total
    return {
        "name": g.name,
        "input": jv(_shown(analysis, g.input_shape)),
        "symbols": {k: (None if getattr(v, "is_Symbol", False) else jv(v))
                    for k, v in g.symbols.items()},
        "convention": conv.name,
        "layers": [layer(r) for r in analysis.records],
        "total": {
            "params": jv(conv.params(t.params, t.buffers)),
            "trainable_params": jv(t.params - frozen(t)),
            "non_trainable": jv(t.buffers + frozen(t)), "macs": jv(t.macs),
            "flops": jv(conv.flops_per_mac * t.macs), "activations": jv(t.activations),
            "output_shape": jv(_shown(analysis, t.output_shape)),
        },
        "conditions": [{"condition": condition_text(c, order), "message": m, "at": str(loc)}
                       for c, m, loc in analysis.stated_conditions],
    }


def render(analysis, verb: str, fmt: str, conv: Convention, width: int = 100,
           max_depth=None, train=None, memory=None, units: str = "bytes") -> str:
    """The verb's report in ``fmt`` (JSON: ``to_json``, docs/json-format.md). ``train``: the
    analysis's ``training.Training``, for the flops verb's training columns; ``memory``: a
    ``footprint.Memory`` whose bytes columns summary adds (``report/memory_columns.py``),
    written in ``units``."""
    if fmt == "json":
        obj = to_json(analysis, conv)
        if memory is not None:
            from .memory_columns import with_memory_json

            obj = with_memory_json(obj, memory)
        return writers.write(None, fmt, obj if train is None else
                             with_training(obj, analysis, train, conv))
    if train is not None:
        return writers.write(train_model(analysis, train, conv, max_depth), fmt, width=width)
    table = model(analysis, verb, conv, max_depth)
    if memory is not None:
        from .memory_columns import with_memory_table

        table = with_memory_table(table, analysis, memory, units, max_depth)
    return writers.write(table, fmt, width=width)


# ---------------------------------------------------------------- training FLOPs
TRAIN_PARTS = (("forward", "Forward"), ("input_grad", "Input grad"),
               ("weight_grad", "Weight grad"), ("training", "Training"))


RECOMPUTE = ("recompute", "Recompute")  # a column only with activation checkpointing


def _parts(train) -> tuple:
    return TRAIN_PARTS if not train.checkpointed else (*TRAIN_PARTS[:3], RECOMPUTE,
                                                       TRAIN_PARTS[3])


def _train_values(rec, conv: Convention, recompute: bool = False) -> list:
    k = conv.flops_per_mac
    again = [k * rec.recompute] if recompute else []
    return [k * rec.forward, k * rec.input_grad, k * rec.weight_grad, *again, k * rec.macs]


def train_model(analysis, train, conv: Convention, max_depth=None) -> Table:
    """The flops verb's training table: per row the FLOPs of the forward pass, of the input
    gradients and of the weight gradients, and their sum (archcalc/training.py)."""
    from ..layout import of, shown as in_order

    order = list(analysis.graph.symbols)
    written_in = of(analysis.graph)
    again = bool(train.checkpointed)
    parts = _parts(train)
    shown = [(r, [r.local, COLUMNS["type"].get(r, conv), in_order(r.output_shape, written_in),
                  *_train_values(train.of(r), conv, again)])
             for r in analysis.records if max_depth is None or r.depth <= max_depth]
    kinds = ["text", "text", "shape", *["number"] * len(parts)]
    body, machine = _body(shown, kinds, order)
    t = train.total
    values = [human(v, order) for v in _train_values(t, conv, again)]
    f, i, w, total = values[0], values[1], values[2], values[-1]
    recomputed = f" + recomputation {values[3]}" if again else ""
    headers = ["Layer", "Type", "Output shape", *(h for _, h in parts)]
    return Table(
        columns=[Column(h, kind in ("number", "rf"), kind == "text")
                 for h, kind in zip(headers, kinds)],
        rows=body, title=printable(analysis.graph.name),
        footnotes=[f"Training FLOPs: {total} = forward {f} + input gradients {i} + weight "
                   f"gradients {w}{recomputed} (one forward and backward pass; "
                   f"{conv.flops_per_mac} FLOPs per MAC)",
                   *([printable(f"Checkpointed ({len(train.checkpointed)}): "
                                f"{', '.join(train.checkpointed[:3])}"
                                f"{', …' if len(train.checkpointed) > 3 else ''}: each one's "
                                "forward runs again in backward (reentrant "
                                "torch.utils.checkpoint)")] if again else []),
                   "Counted: the products of convolutions, linear layers, matmul, einsum and "
                   "attention, and their gradients where autograd computes them; not counted: "
                   "norms, activations, softmax, pools (no products).",
                   *(printable(f"The layers of repeat '{name}' show its first pass, whose input "
                               "needs no gradient; its later passes also compute their input "
                               "gradients (the repeat's row and the total count every pass).")
                     for name in train.first_pass_differs),
                   *(printable(f"Holds when {condition_text(c, order)}  "
                               f"[{m.split(':', 1)[0]}, {loc}]")
                     for c, m, loc in analysis.stated_conditions)],
        raw_header=["name", "depth", "kind", "type", "shape",
                    *(k for k, _ in parts)], machine=machine,
        summary=f"Training FLOPs: {total}")


def with_training(obj: dict, analysis, train, conv: Convention) -> dict:
    """``to_json``'s object with a ``train_flops`` object per row and in the total."""
    order = list(analysis.graph.symbols)

    again = bool(train.checkpointed)

    def part(rec) -> dict:
        return {k: json_value(v, order)
                for (k, _), v in zip(_parts(train), _train_values(rec, conv, again))}
    for entry, r in zip(obj["layers"], analysis.records):
        entry["train_flops"] = part(train.of(r))
    obj["total"]["train_flops"] = part(train.total)
    if again:
        obj["checkpoint"] = list(train.checkpointed)
    return obj
