"""Render an Analysis as a table (rich), Markdown, CSV, LaTeX or JSON."""

from __future__ import annotations

import csv
import io
from typing import Any, Sequence

from ..conventions import Convention
from ..errors import printable
from .columns import COLUMNS, VERB_COLUMNS
from .fit import fit_widths
from .values import (condition_text, csv_dims, expr_text, human, json_text, json_value,
                     shape_text)

FORMATS = ("table", "markdown", "latex", "csv", "json")


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
    ]
    for cond, message, loc in analysis.conditions:
        where = message.split(":", 1)[0]
        lines.append(printable(f"Holds when {condition_text(cond, order)}  [{where}, {loc}]"))
    return lines


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


def table(analysis, verb: str, conv: Convention, width: int = 100, max_depth=None) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from . import plain_table

    keys = VERB_COLUMNS[verb]
    order = list(analysis.graph.symbols)
    shown = rows(analysis, keys, conv, max_depth)
    all_texts = []
    for r, values in shown:
        texts = [cell(v, COLUMNS[k].kind, order) for k, v in zip(keys, values)]
        texts[0] = "  " * max(r.depth, 0) + texts[0]
        all_texts.append(texts)
    console = Console(width=width, file=io.StringIO(), color_system=None, highlight=False,
                      emoji=False, soft_wrap=False)
    right = [COLUMNS[k].kind in ("number", "rf") for k in keys]
    title = printable(analysis.graph.name)
    plain = plain_table.render(title, [COLUMNS[k].header for k in keys], right,
                               all_texts, width)
    if plain is not None:  # nothing wraps: the same text, without rich's per-cell cost
        console.file.write(plain)
    else:
        t = Table(box=box.SIMPLE_HEAD, title=Text(title), title_justify="left",
                  show_edge=False, pad_edge=False)
        whole = [COLUMNS[k].kind != "text" for k in keys]  # numbers and shapes: never split
        widths, console.width = fit_widths([COLUMNS[k].header for k in keys], all_texts,
                                           whole, width)
        for k, r, w in zip(keys, right, widths):
            t.add_column(COLUMNS[k].header, justify="right" if r else "left", overflow="fold",
                         width=w)
        for (r, _), texts in zip(shown, all_texts):
            # Text, not markup: a shape such as "[k0, 56, 56]" would read as a style tag
            t.add_row(*(Text(x) for x in texts), style="bold" if r.kind == "group" else None)
        console.print(t)
    for line in footer_lines(analysis, conv, order):
        console.print(line, markup=False, highlight=False)
    return console.file.getvalue()


def markdown(analysis, verb: str, conv: Convention, max_depth=None) -> str:
    keys = VERB_COLUMNS[verb]
    order = list(analysis.graph.symbols)
    head = [COLUMNS[k].header for k in keys]
    lines = [f"**{md_escape(analysis.graph.name)}**", "", "| " + " | ".join(head) + " |",
             "|" + "|".join("---:" if COLUMNS[k].kind in ("number", "rf") else ":---"
                            for k in keys) + "|"]
    for r, values in rows(analysis, keys, conv, max_depth):
        texts = [md_escape(cell(v, COLUMNS[k].kind, order)) for k, v in zip(keys, values)]
        texts[0] = "&nbsp;&nbsp;" * max(r.depth, 0) + texts[0]
        if r.kind == "group":
            texts[0] = f"**{texts[0]}**"
        lines.append("| " + " | ".join(texts) + " |")
    lines.append("")
    lines.extend(f"- {md_escape(line)}" for line in footer_lines(analysis, conv, order))
    return "\n".join(lines) + "\n"


def md_escape(text: str) -> str:
    """Text for a Markdown table cell: controls escaped (printable), then the characters
    Markdown would read as table syntax or emphasis."""
    return printable(text).replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def csv_text(analysis, verb: str, conv: Convention, max_depth=None) -> str:
    keys = VERB_COLUMNS[verb]
    order = list(analysis.graph.symbols)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "depth", "kind", *keys[1:]])
    for r, values in rows(analysis, keys, conv, max_depth):
        w.writerow([printable(r.name), r.depth, r.kind,
                    *(raw(v, COLUMNS[k].kind, order) for k, v in zip(keys[1:], values[1:]))])
    return buf.getvalue()


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}


_LATEX_SYMBOLS = {"—": "---", "×": r"$\times$", "·": r"$\cdot$", "<": r"\textless{}",
                  ">": r"\textgreater{}", "∏": r"$\prod$", "≤": r"$\le$", "≥": r"$\ge$",
                  "−": "-", "…": r"\ldots{}", "⌊": r"$\lfloor$", "⌋": r"$\rfloor$",
                  "⌈": r"$\lceil$", "⌉": r"$\rceil$", "✓": "yes", "✗": "no", "’": "'"}


def latex_escape(text: str) -> str:
    """Text for pdflatex as is: specials escaped, known symbols as commands, accented
    letters without their accents, anything else non-ASCII as '?' (pdflatex stops on
    characters it has no glyph for)."""
    out = "".join(_LATEX_SPECIAL.get(ch, _LATEX_SYMBOLS.get(ch, ch)) for ch in printable(text))
    return "".join(ch if ord(ch) < 128 else _ascii(ch) for ch in out)


def _ascii(ch: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode() or "?"


def latex(analysis, verb: str, conv: Convention, max_depth=None) -> str:
    keys = VERB_COLUMNS[verb]
    order = list(analysis.graph.symbols)
    align = "".join("r" if COLUMNS[k].kind in ("number", "rf") else "l" for k in keys)
    out = [r"% requires \usepackage{booktabs}", r"\begin{table}[ht]", r"\centering",
           rf"\caption{{{latex_escape(analysis.graph.name)}}}", rf"\begin{{tabular}}{{{align}}}",
           r"\toprule", " & ".join(latex_escape(COLUMNS[k].header) for k in keys) + r" \\",
           r"\midrule"]
    for r, values in rows(analysis, keys, conv, max_depth):
        texts = [latex_escape(cell(v, COLUMNS[k].kind, order)) for k, v in zip(keys, values)]
        texts[0] = r"\quad " * max(r.depth, 0) + texts[0]
        out.append(" & ".join(texts) + r" \\")
    t = analysis.total
    out += [r"\midrule",
            rf"\multicolumn{{{len(keys)}}}{{l}}{{Total params: "
            rf"{latex_escape(human(conv.params(t.params, t.buffers), order))}; MACs: "
            rf"{latex_escape(human(t.macs, order))}}} \\",
            r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"


def to_json(analysis, conv: Convention) -> dict:
    """The stable machine-readable object of docs/json-format.md."""
    g = analysis.graph
    order = list(g.symbols)
    jv = lambda v: json_value(v, order)  # noqa: E731

    frozen = _frozen(analysis) or (lambda r: 0)

    def layer(r) -> dict:
        rf = r.rf
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
                       for c, m, loc in analysis.conditions],
    }


def render(analysis, verb: str, fmt: str, conv: Convention, width: int = 100,
           max_depth=None) -> str:
    if fmt == "json":
        return json_text(to_json(analysis, conv))
    if fmt == "markdown":
        return markdown(analysis, verb, conv, max_depth)
    if fmt == "csv":
        return csv_text(analysis, verb, conv, max_depth)
    if fmt == "latex":
        return latex(analysis, verb, conv, max_depth)
    return table(analysis, verb, conv, width, max_depth)
