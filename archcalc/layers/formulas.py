"""The written-out formulas of one layer: its rule replayed with terms.

Explain needs the formula behind each count; the rule computed it in the analysis with
plain values. Replaying the same rule on the recorded input shapes with ``ctx.terms`` on
gives the same values as terms, each of which can write itself out (layers/terms.py), so a
formula is never a second copy of the arithmetic.
"""

from __future__ import annotations

from .. import dims
from .base import COUNTED, REGISTRY
from .terms import Term


class RecordedShapes:
    """Node i's output shape, read from the analysis's records (no per-call list)."""

    def __init__(self, layers):
        self.layers = layers

    def __getitem__(self, i):
        return self.layers[i].output_shape


def of(analysis, node) -> dict:
    """``{"params": Term | value, "buffers": ..., "macs": ..., "shape": [(name, Term, axis),
    ...]}`` for one layer: a Term where the rule writes the count out, its plain value
    otherwise."""
    from ..analysis import rule_context

    ctx = rule_context(node, RecordedShapes(analysis.layers), analysis.graph.nodes)
    ctx.terms = True
    out = REGISTRY[node.type].fn(ctx)
    shape = [(t.name, t, i) for i, t in enumerate(out.shape) if isinstance(t, Term)]
    return {"params": out.params, "buffers": out.buffers, "macs": out.macs, "shape": shape}


def agrees(term, recorded) -> bool:
    """Whether a term's value is the recorded value (equal, or equal once simplified)."""
    value = term.value if isinstance(term, Term) else term
    if dims.eq(value, recorded) is True:
        return True
    return (dims.is_symbolic(value) or dims.is_symbolic(recorded)) and \
        dims.simplify(value - recorded) == 0


class FormulaError(RuntimeError):
    """A rule's written-out formula disagrees with its count, or a count has neither a
    formula nor a declared zero reason (a fault in archcalc, not in the spec)."""


def written_out(analysis, node, metric: str, recorded):
    """The Term for ``metric`` (params or macs) of one layer, checked against the recorded
    value, or the declared reason it is zero (a str)."""
    if metric not in COUNTED:
        raise ValueError(metric)
    return checked(node, metric, of(analysis, node)[metric], recorded)


def checked(node, metric: str, got, recorded):
    """``got`` (one entry of ``of``) as written out: the Term when its value is the
    recorded one, else an error; for a plain value, the declared reason it is zero."""
    if isinstance(got, Term):
        if not agrees(got, recorded):
            raise disagreement(node, metric, got, recorded)
        return got
    return zero_reason(node.type, metric, got)


def disagreement(node, metric: str, term: Term, recorded) -> FormulaError:
    return FormulaError(f"internal error: {metric}({node.name}) is {recorded} but its "
                        f"formula {term.symbolic()} gives {term.value}")


def zero_reason(type_: str, metric: str, got) -> str:
    """The declared reason ``type_`` counts no ``metric``; an error when it declares none or
    its rule counts something after all."""
    reason = REGISTRY[type_].zero_reason(metric)
    if reason is None:
        raise FormulaError(f"internal error: {type_} has no formula for {metric} and "
                           "declares no reason it is zero")
    if dims.eq(got, 0) is not True:
        raise FormulaError(f"internal error: {type_} declares {metric} zero ({reason}) "
                           f"but counts {got}")
    return reason


def reference(rule) -> dict:
    """What a layer type counts, for the layer reference: per metric (params, macs) the
    formula in symbolic form, ``{"formula": "2·C"}``, from the rule replayed with terms on
    a sample input with its default arguments, or ``{"zero": "the declared reason"}``."""
    from .base import REQUIRED, Ctx

    sample = {"int": 1, "ints": 1, "refs": (), "ref": None, "weight": None, "shape": (1,)}
    args = {k: (a.example if a.example is not None else sample.get(a.kind, 1))
            if a.default is REQUIRED else a.default for k, a in rule.args.items()}
    rank = (rule.nd or 2) + 1
    shape = tuple(4 for _ in range(rank))
    try:
        out = rule.fn(Ctx(rule.name, [shape, shape] if rule.merge else [shape], args, rule.nd,
                          terms=True))
        got = {"params": out.params, "macs": out.macs}
    except Exception:  # a rule that needs real inputs: only its declared reasons are shown
        got = {}
    text = {}
    for metric in COUNTED:
        term = got.get(metric)
        if isinstance(term, Term):
            text[metric] = {"formula": term.symbolic()}
        else:
            text[metric] = {"zero": rule.zero_reason(metric) or "see the rule"}
    return text
