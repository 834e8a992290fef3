"""Comparison tables: one row per model (or two models' layers side by side).

Columns are chosen by key (``COMPARE_COLUMNS``); numbers are written exactly, with a
decimal K/M/G/T prefix, or in scientific notation (``UNITS``). Closed forms stay closed
forms. Each comparison is a ``table.Table`` that ``writers`` writes as text, Markdown
(GitHub), LaTeX (booktabs) or CSV; JSON is its own object.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

from .. import dims
from ..errors import SpecError, did_you_mean, option, printable
from . import writers
from .table import Column, Row, Table
from .values import csv_dims, expr_text, json_value, shape_text

UNITS = ("exact", "si", "K", "M", "G", "T", "sci")
_PREFIX = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


@dataclass(frozen=True)
class Model:
    """One compared model: its file, its analysis under the chosen convention."""

    path: str
    analysis: Any
    convention: Any
    memory: Any = None  # footprint.Memory with --memory, else None

    @property
    def name(self) -> str:
        return self.analysis.graph.name

    @property
    def shown(self) -> str:
        """The name as a report shows it: controls escaped."""
        return printable(self.name)

    @property
    def order(self) -> list:
        return list(self.analysis.graph.symbols)


@dataclass(frozen=True)
class CompareColumn:
    key: str
    header: str
    get: Callable[[Model], Any]
    kind: str = "count"  # count | text | rf | int | bool


def _last_rf(m: Model):
    """The receptive field of the last feature map: the last layer that has a field and a
    spatial size other than 1 (a global pool's output sees everything by construction)."""
    layers = m.analysis.layers
    for i in range(len(layers) - 1, 0, -1):
        r = layers[i]
        if r.rf is not None and any(dims.resolve(dims.eq(n, 1)) is not True
                                    for n in r.output_shape[1:]):
            return tuple(a.size for a in r.rf)
    return None


def weight_depth(analysis, at: int | None = None) -> int:
    """The most convolution/linear layers on any path from input to output (or to the node
    ``at``) — the number in 'VGG-16' and 'ResNet-18' (projection shortcuts are on a shorter
    path)."""
    from ..analysis import repeats_closing
    from ..layers import REGISTRY

    g = analysis.graph
    depth = [0] * len(g.nodes)
    closing = repeats_closing(g)  # a repeat over a free symbol: its body's depth that often
    for node in g.nodes[1:]:
        own = 1 if REGISTRY[node.type].cost == "macs" else 0
        depth[node.id] = own + dims.dmax(0, *(depth[i] for i in node.inputs))
        for group in closing.get(node.id, ()):
            body = depth[node.id] - depth[group.source]
            depth[node.id] = dims.simplify(depth[group.source] + group.times * body)
    return depth[g.output if at is None else at]


COMPARE_COLUMNS = {c.key: c for c in (
    CompareColumn("input", "Input", lambda m: m.analysis.graph.input_shape, "shape"),
    CompareColumn("params", "Params",
                  lambda m: m.convention.params(m.analysis.total.params, m.analysis.total.buffers)),
    CompareColumn("trainable", "Trainable", lambda m: m.analysis.total.params),
    CompareColumn("macs", "MACs", lambda m: m.analysis.total.macs),
    CompareColumn("flops", "FLOPs", lambda m: m.convention.flops_per_mac * m.analysis.total.macs),
    CompareColumn("activations", "Activations", lambda m: m.analysis.total.activations),
    CompareColumn("rf", "RF", _last_rf, "rf"),
    CompareColumn("depth", "Depth", lambda m: weight_depth(m.analysis), "int"),
    CompareColumn("output", "Output", lambda m: m.analysis.total.output_shape, "shape"),
    # with --memory (footprint.Memory): the total bytes, and with --device-memory the fit
    CompareColumn("memory", "Memory bytes", lambda m: _mem(m, "total_bytes")),
    CompareColumn("fits", "Fits", lambda m: _mem(m, "fits"), "bool"),
    CompareColumn("largest_batch", "Largest batch", lambda m: _mem(m, "largest_batch"), "int"),
)}
MEMORY_COLUMNS = ("memory",)
FIT_COLUMNS = ("fits", "largest_batch")


def _mem(m: Model, attr: str):
    """One figure of the model's memory, None without --memory."""
    return None if m.memory is None else getattr(m.memory, attr)


def with_memory(keys: tuple, device_memory: bool) -> tuple:
    """The columns with the memory total (and the fit, with a device's memory) added, each
    once."""
    extra = MEMORY_COLUMNS + (FIT_COLUMNS if device_memory else ())
    return keys + tuple(k for k in extra if k not in keys)
DEFAULT_COLUMNS = ("input", "params", "macs", "flops", "rf", "depth")


def parse_columns(text: str | None) -> tuple:
    if not text:
        return DEFAULT_COLUMNS
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    for k in keys:
        if k not in COMPARE_COLUMNS:
            raise SpecError(f"{option('columns')}: unknown column '{k}'{did_you_mean(k, COMPARE_COLUMNS)}; "
                            f"choose from {', '.join(COMPARE_COLUMNS)}")
    return keys


def check_units(units: str) -> str:
    if units not in UNITS:
        raise SpecError(f"{option('units', units)}: choose from {', '.join(UNITS)}"
                        f"{did_you_mean(units, UNITS)}")
    return units


def count_text(value: Any, units: str, order=()) -> str:
    """A count for people: 138,357,544 | 138.36M | 138.36M (fixed M) | 1.38e+08."""
    if value is None:
        return "—"
    if dims.is_symbolic(value):
        return expr_text(value, order)
    n = int(value)
    if units == "exact":
        return f"{n:,}"
    if units == "sci":
        return _scientific(n) if abs(n) >= 1000 else str(n)
    if units == "si":
        prefix = next((p for p in ("T", "G", "M", "K") if abs(n) >= _PREFIX[p]), "")
        if not prefix:
            return str(n)
    else:
        prefix = units
    return _fixed(Fraction(n, _PREFIX[prefix])) + prefix


def _scientific(n: int) -> str:
    """``n`` as Python's ``{:.2e}`` writes it (1.38e+08), for integers of any size: a count
    past float's range (10^308) has no float to format."""
    digits = str(abs(n))
    exponent = len(digits) - 1
    mantissa = Fraction(abs(n), 10 ** exponent)  # 1 ≤ mantissa < 10
    hundredths = int(mantissa * 100)
    rest = mantissa * 100 - hundredths
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and hundredths % 2):  # half to even
        hundredths += 1
    if hundredths == 1000:  # 9.995 rounds up to 10.00
        hundredths, exponent = 100, exponent + 1
    sign = "-" if n < 0 else ""
    return f"{sign}{hundredths // 100}.{hundredths % 100:02d}e{'+' if exponent >= 0 else '-'}" \
           f"{abs(exponent):02d}"


def _fixed(x: Fraction) -> str:
    """Two decimals, rounded half up (exact, no float)."""
    hundredths = (x * 100 + Fraction(1, 2)) // 1 if x >= 0 else -((-x * 100 + Fraction(1, 2)) // 1)
    sign = "-" if hundredths < 0 else ""
    h = abs(int(hundredths))
    return f"{sign}{h // 100}.{h % 100:02d}"


def cell(value: Any, kind: str, units: str, order) -> str:
    if value is None:
        return "—"
    if kind == "shape":
        return shape_text(value, order)
    if kind == "rf":
        parts = [expr_text(v, order) for v in value]
        return parts[0] if len(set(parts)) == 1 else "×".join(parts)
    if kind == "int":
        return f"{value:,}" if isinstance(value, int) else str(value)
    if kind == "bool":
        return "yes" if value else "no"
    return count_text(value, units, order)


def table_rows(models: list, keys: tuple, units: str) -> list:
    return [[m.shown, *(cell(COMPARE_COLUMNS[k].get(m), COMPARE_COLUMNS[k].kind, units, m.order)
                       for k in keys)] for m in models]


def note(models: list, units: str) -> str:
    conv = models[0].convention
    unit = {"exact": "exact counts", "si": "decimal prefixes (K = thousand, M = million, "
            "G = billion, T = trillion)", "sci": "scientific notation"}.get(
        units, f"in units of {units} = {_PREFIX.get(units, 1):,}")
    text = (f"Convention: {conv.title}. {conv.macs_note}; "
            "RF: receptive field of the last feature map (before global pooling); depth: most "
            f"conv/linear layers on a path; {unit}.")
    m = next((m.memory for m in models if m.memory is not None), None)
    if m is not None:
        from .memory import setting

        text += f" Memory bytes: {setting(m)}."
    from ..layers.opaque import note as unknown_note

    for model in models:
        line = unknown_note(model.analysis.records)
        if line:
            text += f" {model.name}: {line}."
    return text


# ---------------------------------------------------------------- the tables
def model(models: list, keys: tuple, units: str, caption: str | None = None) -> Table:
    """One row per model; for CSV each model's name, path and exact values."""
    columns = [Column("Model", split=True),
               *(Column(COMPARE_COLUMNS[k].header, COMPARE_COLUMNS[k].kind != "shape")
                 for k in keys)]
    return Table(columns, [Row(texts) for texts in table_rows(models, keys, units)],
                 footnotes=[printable(note(models, units))],
                 raw_header=["model", "path", *keys], caption=caption or "Model comparison",
                 machine=lambda: ([m.shown, printable(m.path), *_raw(m, keys)] for m in models))


def _raw(m: Model, keys: tuple) -> list:
    values = []
    for k in keys:
        v = COMPARE_COLUMNS[k].get(m)
        if v is None:
            values.append("")
        elif isinstance(v, bool):
            values.append(str(v).lower())
        elif isinstance(v, tuple):
            values.append(csv_dims(v, m.order))
        else:
            values.append(expr_text(v, m.order))
    return values


def render(models: list, keys: tuple, fmt: str, units: str, width: int = 100,
           standalone: bool = False, caption: str | None = None) -> str:
    """The comparison in ``fmt`` (JSON: ``to_json``)."""
    if fmt == "json":
        return writers.write(None, fmt, to_json(models, keys))
    return writers.write(model(models, keys, units, caption), fmt, width=width,
                         standalone=standalone)


def to_json(models: list, keys: tuple) -> dict:
    out = []
    for m in models:
        row = {"name": m.name, "path": m.path}
        for k in keys:
            v = COMPARE_COLUMNS[k].get(m)
            row[k] = v if isinstance(v, bool) or v is None else json_value(v, m.order)
        out.append(row)
    return {"convention": models[0].convention.name if models else None, "columns": list(keys),
            "models": out}


# ---------------------------------------------------------------- per layer, side by side
PER_LAYER = (("layer", "Layer", "text"), ("shape", "Output shape", "shape"),
             ("params", "Params", "count"), ("macs", "MACs", "count"))


def per_layer(a: Model, b: Model, fmt: str, units: str, max_depth: int | None,
              width: int = 120, standalone: bool = False) -> str:
    """Two models' rows side by side (aligned by position), with their totals last."""

    def records(m: Model) -> list:
        return [r for r in m.analysis.records if max_depth is None or r.depth <= max_depth]

    ra, rb = records(a), records(b)
    n = max(len(ra), len(rb))
    pairs = [(ra[i] if i < len(ra) else None, rb[i] if i < len(rb) else None) for i in range(n)]
    pairs.append((a.analysis.total, b.analysis.total))

    def values(m: Model, r) -> list | None:
        if r is None:
            return None
        name = "total" if r is m.analysis.total else "  " * r.depth + r.local
        return [name, r.output_shape, m.convention.params(r.params, r.buffers), r.macs]

    if fmt == "json":
        keys = [k for k, _, _ in PER_LAYER]

        def as_json(m, r):
            v = values(m, r)
            return None if v is None else dict(zip(keys, [v[0].strip(), *(json_value(x, m.order)
                                                                          for x in v[1:])]))
        return writers.write(None, fmt, {"models": [a.name, b.name], "rows": [
            {"a": as_json(a, x), "b": as_json(b, y)} for x, y in pairs]})

    def texts(m: Model, r) -> list:
        v = values(m, r)
        if v is None:
            return [""] * len(PER_LAYER)
        return [printable(v[0]), shape_text(v[1], m.order), count_text(v[2], units, m.order),
                count_text(v[3], units, m.order)]

    table = Table([Column(f"{side}: {h}", kind == "count", kind == "text")
                   for side in "AB" for _, h, kind in PER_LAYER],
                  [Row(texts(a, x) + texts(b, y)) for x, y in pairs],
                  title=f"A: {a.shown}; B: {b.shown}", title_bold=False,
                  footnotes=[printable(note([a, b], units))])
    return writers.write(table, fmt, width=width, standalone=standalone)
