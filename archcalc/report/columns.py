"""Per-layer report columns: one definition each (header, unit, how to read a Record)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    get: Callable  # (record, convention) -> value
    kind: str = "number"  # number | text | shape | rf


def _rf_part(attr: str):
    def get(r, conv):
        if r.rf is None:
            return None
        return tuple(getattr(a, attr) for a in r.rf)
    return get


COLUMNS = {c.key: c for c in (
    Column("layer", "Layer", lambda r, c: r.local, "text"),
    Column("type", "Type", lambda r, c: r.type if r.times == 1 else f"{r.type} ×{r.times}",
           "text"),
    Column("shape", "Output shape", lambda r, c: r.output_shape, "shape"),
    Column("params", "Params", lambda r, c: c.params(r.params, r.buffers)),
    Column("trainable", "Trainable", lambda r, c: r.params),
    Column("non_trainable", "Non-trainable", lambda r, c: r.buffers),
    Column("macs", "MACs", lambda r, c: r.macs),
    Column("flops", "FLOPs", lambda r, c: c.flops_per_mac * r.macs),
    Column("activations", "Activations", lambda r, c: r.activations),
    Column("rf", "RF", _rf_part("size"), "rf"),
    Column("jump", "Jump", _rf_part("jump"), "rf"),
    Column("start", "Start", _rf_part("start"), "rf"),
)}

VERB_COLUMNS = {
    "summary": ("layer", "type", "shape", "params", "macs", "rf"),
    "params": ("layer", "type", "shape", "params", "non_trainable"),
    "shapes": ("layer", "type", "shape", "activations"),
    "flops": ("layer", "type", "shape", "macs", "flops"),
    "rf": ("layer", "type", "shape", "rf", "jump", "start"),
}
