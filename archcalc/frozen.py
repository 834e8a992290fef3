"""Frozen layers (``trainable: false``, Keras's ``layer.trainable = False``): their
parameters stay parameters, but are not trained — Keras's summary counts them as
non-trainable, as it does BatchNorm's moving statistics."""

from __future__ import annotations


def frozen(analysis, kind: str, obj) -> object:
    """The parameters of the frozen layers at a place: ``total``, a group or a node."""
    g = analysis.graph
    # a repeat over a free symbol counts its body that many times
    counted = ((obj.id, 1),) if kind == "node" else g.counted(None if kind == "total" else obj)
    return sum((times * analysis.layers[i].params for i, times in counted
                if g.nodes[i].args.get("trainable") is False), 0)


def of_record(analysis, record) -> object:
    """``frozen`` of a report row (a layer, a group, or the total)."""
    if record is analysis.total:
        return frozen(analysis, "total", None)
    if record.kind == "group":
        return frozen(analysis, "group", analysis.graph.groups[record.id])
    return frozen(analysis, "node", analysis.graph.nodes[record.id])


def counter(analysis):
    """``of_record`` for this analysis, or None when no layer is frozen."""
    if not any_frozen(analysis):
        return None
    return lambda record: of_record(analysis, record)


def any_frozen(analysis) -> bool:
    return any(n.args.get("trainable") is False for n in analysis.graph.nodes[1:])
