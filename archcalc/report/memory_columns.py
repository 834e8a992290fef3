"""Memory columns added to the summary verb's report: per row the bytes of its parameters
and buffers, of its output, and with training of what autograd keeps for backward (the
memory verb's figures, ``footprint.Memory``), in the table every writer reads and in the
JSON object (docs/json-format.md, "Memory columns")."""

from __future__ import annotations

from dataclasses import replace

from ..errors import printable
from .memory import footer, scaled, to_json
from .table import Column, LazyRows, Row
from .values import expr_text


def keys(m) -> list:
    """(Row attribute, header, JSON key) of the columns shown."""
    out = [("params", "Params bytes", "params_bytes"), ("output", "Output bytes", "output_bytes")]
    if m.train and m.saved_available:
        out.append(("saved", "Saved for backward", "saved_bytes"))
    return out


def _by_name(m) -> dict:
    return {r.name: r for r in m.rows}


def with_memory_table(table, analysis, m, units: str, max_depth=None):
    """The summary table with the bytes columns after its own, and the memory verb's footer
    lines after its footnotes. The rows are the analysis's records shown at ``max_depth``,
    in the order of the table's own rows."""
    order = list(analysis.graph.symbols) + [str(m.batch)]
    cols = keys(m)
    rows = _by_name(m)
    shown = [rows.get(r.name) for r in analysis.records
             if max_depth is None or r.depth <= max_depth]
    old_rows, old_machine = table.rows, table.machine

    def cells(r):
        return [scaled(None if r is None else getattr(r, k), units, order) for k, _, _ in cols]

    body = LazyRows(lambda: [Row([*row.cells, *cells(r)], row.bold, row.depth)
                             for row, r in zip(old_rows, shown)])

    def machine():
        for line, r in zip(old_machine(), shown):
            yield [*line, *("" if r is None or getattr(r, k) is None
                            else printable(expr_text(getattr(r, k), order)) for k, _, _ in cols)]
    return replace(table, columns=[*table.columns, *(Column(h, right=True) for _, h, _ in cols)],
                   rows=body, machine=machine,
                   raw_header=[*table.raw_header, *(j for _, _, j in cols)],
                   footnotes=[*table.footnotes, *footer(m, units)])


def with_memory_json(obj: dict, m) -> dict:
    """The summary's object with each layer's ``memory`` (its bytes) and a top-level
    ``memory``: the memory verb's object less its ``name`` and ``layers``."""
    mem = to_json(m)
    rows = {r["name"]: r for r in mem.pop("layers")}
    mem.pop("name")
    cols = [j for _, _, j in keys(m)]
    layers = [{**layer, "memory": {k: rows[layer["name"]][k] for k in cols}}
              if layer["name"] in rows else layer for layer in obj["layers"]]
    return {**obj, "layers": layers, "memory": mem}
