"""The memory verb's report: one row per layer and group (bytes of parameters, gradients,
optimizer states, KV cache, output, and saved for backward when counted), the totals, the
fit, as a ``Table`` for the writers, or as its JSON object (docs/json-format.md)."""

from __future__ import annotations

from ..dims import is_symbolic
from ..errors import printable
from . import writers
from .table import Column, LazyRows, Row, Table
from .values import expr_text, human, json_value

UNITS = ("bytes", "iec", "si")
_STEPS = {"iec": (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)),
          "si": (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3))}


def check_units(units: str) -> str:
    if units not in UNITS:
        from ..errors import did_you_mean

        raise ValueError(f"units {units!r}: choose from {', '.join(UNITS)}"
                         f"{did_you_mean(str(units), list(UNITS))}")
    return units


def scaled(value, units: str, order=()) -> str:
    """Bytes written in ``units``: exact with separators (``bytes``), or in the largest
    binary (``iec``: KiB, MiB, GiB, TiB) or decimal (``si``: KB, MB, GB, TB) unit they
    reach, to two decimals, labelled; a closed form is written in bytes."""
    if value is None:
        return "—"
    if is_symbolic(value) or units == "bytes":
        return human(value, order) if is_symbolic(value) else f"{int(value):,}"
    value = int(value)
    for unit, size in _STEPS[units]:
        if value >= size:  # two decimals, half up, in integers: exact at any size
            hundredths = (value * 100 + size // 2) // size
            return f"{hundredths // 100:,}.{hundredths % 100:02d} {unit}"
    return f"{value:,} B"


def both(value, order=()) -> str:
    """Exact bytes, then in binary and decimal units: '2,147,483,648 bytes (2.00 GiB;
    2.15 GB)'; a closed form in bytes alone."""
    if is_symbolic(value):
        return f"{expr_text(value, order)} bytes"
    return f"{int(value):,} bytes ({scaled(value, 'iec')}; {scaled(value, 'si')})"


def _keys(m) -> list:
    keys = [("params", "Params bytes")]
    if m.train:
        keys += [("grads", "Grads"), ("optimizer", "Optimizer")]
    else:
        keys += [("kv_cache", "KV cache")]
    keys += [("output", "Output")]
    if m.train and m.saved_available:
        keys += [("saved", "Saved for backward")]
    if m.train and m.saved_available and m.checkpointed:
        keys += [("recompute", "Recomputed")]
    return keys


def _dtypes(m) -> str:
    p = m.precision
    parts = [f"weights {p.weights}"]
    if m.train:
        parts += [f"grads {p.grads}"]
        if p.master:
            parts += [f"master {p.master}"]
        parts += [f"optimizer states {p.states}"]
    parts += [f"activations {p.activations}"]
    return ", ".join(parts)


def setting(m) -> str:
    """What the figures assume: 'training, batch 128; weights fp32, …; optimizer adam'."""
    order = list(m.analysis.graph.symbols) + [str(m.batch)]
    out = f"batch {expr_text(m.batch, order)}; {_dtypes(m)}"
    if m.train:
        out += f"; optimizer {m.optimizer}"
        if m.zero:
            out += f"; ZeRO stage {m.zero} over {expr_text(m.devices, order)} devices"
        if m.kernels != "cpu":
            out += f"; kept for backward as {m.kernels} kernels keep it"
    return f"{'training' if m.train else 'inference'}, {out}"


def footer(m, units: str) -> list[str]:
    order = list(m.analysis.graph.symbols) + [str(m.batch)]
    lines = []
    what, _, rest = setting(m).partition(", ")
    lines.append(f"Memory ({what}): {rest}")
    per = " per device" if m.zero else ""
    for name, value in m.components:
        lines.append(f"  {name}{per}: {both(value, order)}")
    if not m.train and m.peak_at:
        lines.append(f"  (activations: the live outputs' peak, at {printable(m.peak_at)})")
    if m.checkpointed:
        shown = list(m.checkpointed) if len(m.checkpointed) <= 4 else \
            [*m.checkpointed[:2], "…", m.checkpointed[-1]]
        lines.append(f"  (checkpointed: {len(m.checkpointed)} group"
                     f"{'s' if len(m.checkpointed) > 1 else ''}: {printable(', '.join(shown))})")
    if m.recompute_peak is not None:
        at = f" ({printable(m.recompute_at)})" if m.recompute_at else ""
        lines.append(f"  (backward's peak of kept activations: saved for backward + the largest "
                     f"checkpointed group's recomputation{at} = "
                     f"{both(m.recompute_peak, order)})")
    lines.append(f"Total{per}: {both(m.total_bytes, order)}")
    from ..layers.opaque import note

    unknown = note(m.analysis.records)
    lines += [printable(unknown)] if unknown else []
    if is_symbolic(m.batch) or m.per_sample:
        per = expr_text(m.per_sample, order)
        at_one = "" if m.one_sample is None else \
            f" (from B = 2; at B = 1: {expr_text(m.one_sample, order)})"
        lines.append(f"Total in B: {expr_text(m.fixed, order)} + "
                     f"{f'({per})' if ' ' in per else per}·B bytes{at_one}")
    dominant = m.dominant
    if dominant:
        lines.append(f"Dominated by: {dominant}")
    if m.device_memory is not None:
        verdict = {True: ": fits", False: ": does not fit", None: ""}[m.fits]
        lines.append(f"Device memory {both(m.device_memory)}{verdict}")
        if m.largest_batch == 0:
            lines.append("Largest batch that fits: none (what does not grow with the batch "
                         "is already more than the device holds)")
        elif m.largest_batch is not None:
            lines.append(f"Largest batch that fits: {m.largest_batch:,}")
        elif not m.notes or all("largest batch" not in n for n in m.notes):
            lines.append("Largest batch that fits: any (nothing depends on the batch)")
    for note in m.notes:
        lines.append(f"Note: {note}")
    return lines


def model(m, units: str = "bytes", max_depth=None) -> Table:
    order = list(m.analysis.graph.symbols) + [str(m.batch)]
    keys = _keys(m)
    shown = [r for r in m.rows if max_depth is None or r.depth <= max_depth]

    def type_of(r) -> str:
        return r.type if r.times == 1 else f"{r.type} ×{expr_text(r.times, order)}"

    body = LazyRows(lambda: [Row([printable(r.local), printable(type_of(r)),
                                  *(scaled(getattr(r, k), units, order) for k, _ in keys)],
                                 r.kind == "group", max(r.depth, 0)) for r in shown])

    def machine():
        for r in shown:
            yield [printable(r.name), str(r.depth), r.kind, printable(r.type),
                   *("" if getattr(r, k) is None else expr_text(getattr(r, k), order)
                     for k, _ in keys)]
    return Table(
        columns=[Column("Layer", split=True), Column("Type"),
                 *(Column(h, right=True) for _, h in keys)],
        rows=body, title=printable(m.analysis.graph.name),
        footnotes=footer(m, units),
        raw_header=["name", "depth", "kind", "type", *(f"{k}_bytes" for k, _ in keys)],
        machine=machine,
        summary=f"Total: {both(m.total_bytes, order)}")


def to_json(m) -> dict:
    """The memory verb's object (docs/json-format.md, "memory")."""
    order = list(m.analysis.graph.symbols) + [str(m.batch)]
    jv = lambda v: None if v is None else json_value(v, order)  # noqa: E731
    p = m.precision

    def row(r) -> dict:
        out = {"name": r.name, "type": r.type, "depth": r.depth, "kind": r.kind,
               "params_bytes": jv(r.params), "grads_bytes": jv(r.grads),
               "optimizer_bytes": jv(r.optimizer), "kv_cache_bytes": jv(r.kv_cache),
               "output_bytes": jv(r.output), "saved_bytes": jv(r.saved)}
        if m.checkpointed and r.kind == "group" and r.recompute is not None:
            out["recompute_bytes"] = jv(r.recompute)
        if r.times != 1:
            out["times"] = jv(r.times)
        return out

    t = m.total
    return {
        "name": m.analysis.graph.name,
        "batch": jv(m.batch),
        "train": m.train,
        "dtypes": {"weights": p.weights, "grads": p.grads, "master": p.master,
                   "optimizer_states": p.states, "activations": p.activations},
        "optimizer": m.optimizer if m.train else None,
        "zero": m.zero, "devices": jv(m.devices),
        "layers": [row(r) for r in m.rows],
        "total": {**{k: v for k, v in row(t).items() if k.endswith("_bytes")},
                  "peak_outputs_bytes": jv(m.peak_outputs)},
        "components": [{"what": w, "bytes": jv(v)} for w, v in m.components],
        "total_bytes": jv(m.total_bytes),
        "fixed_bytes": jv(m.fixed), "per_sample_bytes": jv(m.per_sample),
        "total_bytes_at_batch_1": jv(m.batch_one_total),
        "dominant": m.dominant,
        "device_memory": None if m.device_memory is None else {
            "bytes": m.device_memory, "fits": m.fits, "largest_batch": m.largest_batch},
        "notes": list(m.notes),
        **({"checkpoint": checkpoint_json(m, jv)} if m.checkpointed else {}),
    }


def checkpoint_json(m, jv) -> dict:
    """Activation checkpointing's object: the checkpointed groups, what each one's
    recomputation keeps, the largest, the bytes kept through the forward pass and the
    backward's peak."""
    kept = dict(m.components).get("saved for backward")
    return {"groups": list(m.checkpointed),
            "recompute_bytes": {name: jv(f + p * m.batch) for name, f, p in m.recompute_terms},
            "largest": m.recompute_at,
            "kept_forward_bytes": jv(kept),
            "peak_bytes": jv(m.recompute_peak)}


def render(m, fmt: str, units: str = "bytes", width: int = 100, max_depth=None) -> str:
    if fmt == "json":
        return writers.write(None, fmt, to_json(m))
    return writers.write(model(m, units, max_depth), fmt, width=width)
