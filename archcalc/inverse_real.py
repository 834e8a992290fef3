"""Inverse questions over a real-valued symbol (a width multiplier ``w``), exactly.

A real symbol reaches the spec's sizes only through step functions (``make_divisible``,
``floor``, ``ceil``, ``round``, ``int``, ``//``, ``%``; ``min`` and ``max`` choose between
lines), so every shape and count is a step function of it. The range is walked piece by
piece from its lower end: the spec is built at a point (or just right of one) while a
``steps.Probe`` computes each step function there in rational arithmetic and the interval
on which it keeps its value; the intersection is the piece, the spec is analysed once on
it, and the walk goes on from the piece's upper end. The relations are decided on each
piece (one that names the symbol itself is solved on the piece by sympy), and the answer is
the union of the pieces where all hold: exact intervals with rational ends, the
breakpoints at their ends and the counts on either side. The answer's end points are then
evaluated as ``--set w=…`` evaluates them (floating point, as torchvision computes), with
a point inside each neighbouring piece.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Sequence

from .errors import LimitReached, SpecError, option, spoken
from .steps import Bound, Probe, Span, probing

# 0 < w ≤ 2: the width multipliers torchvision and EfficientNet use (0.35 … 2.0)
DEFAULT_RANGE = Span(Bound(Fraction(0), False), Bound(Fraction(2), True))
SHOWN = 50  # intervals of the answer listed in full
SHOWN_BOUNDARIES = 8  # breakpoints of the answer described (counts either side, checks)
_NUMBER = r"\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?(?:\s*/\s*\d+)?)\s*"
_INTERVAL = re.compile(rf"^\s*([A-Za-z_]\w*)\s*=({_NUMBER}):({_NUMBER})$")


def parse_interval(text: str, option: str = "--range") -> tuple:
    """``w=0.5:2`` or ``w=1/2:2`` → (name, the closed interval 1/2 ≤ w ≤ 2); ends written
    as decimals or fractions are read exactly. No step: every real value is covered."""
    m = _INTERVAL.match(text)
    if not m:
        raise SpecError(f"{option} {text}: a real symbol's range is NAME=LOW:HIGH, e.g. "
                        "w=0.25:2 (decimals or fractions, both ends included; no step: "
                        "every value between is covered)")
    lo, hi = (_fraction(m.group(i)) for i in (2, 4))
    if lo < 0 or hi <= lo:
        raise SpecError(f"{option} {text}: need 0 ≤ LOW < HIGH (the symbol is positive)")
    return m.group(1), Span(Bound(lo, lo > 0), Bound(hi, True))


def _fraction(text: str) -> Fraction:
    num, _, den = text.replace(" ", "").partition("/")
    value = Fraction(num) / (Fraction(den) if den else 1)
    if value.numerator.bit_length() > 256 or value.denominator.bit_length() > 256:
        raise SpecError(f"{text}: too many digits for a range end")
    return value


# ------------------------------------------------------------------ the pieces
@dataclass
class Piece:
    """One interval of the symbol on which the spec's step functions keep their values:
    those values (``steps``, text → value), the relations' quantities there (written →
    value), where on it all relations hold (``holds``, Spans), or why the spec does not
    build there (``failure``)."""

    span: Span
    steps: dict
    quantities: dict = field(default_factory=dict)
    holds: list = field(default_factory=list)
    failure: str | None = None
    error: Exception | None = None  # the failure as raised (the first piece's is re-raised)


def walk(build: Callable, symbol, rng: Span, evaluate: Callable) -> list:
    """The pieces of ``rng`` in order: ``build()`` run under a probe at each piece's lower
    end; ``evaluate(graph, span)`` → (quantities, holds) on the piece."""
    from . import limits
    from .analysis import LayerFailure

    cap = limits.current().max_solve_pieces
    pieces: list = []
    at, right = rng.lo.at, not rng.lo.closed
    while True:
        if len(pieces) >= cap:
            raise LimitReached(f"the range of {symbol} has more than {cap:,} pieces (where a "
                               "step function changes value); narrow it", "max_solve_pieces")
        probe = Probe(symbol, at, right, rng)
        failure = None
        try:
            with probing(probe):
                graph = build()
        except LimitReached:
            raise
        except SpecError as e:  # a layer's rule or a size refuses these values
            if e.message.startswith(f"solve over the real symbol {symbol}"):
                raise
            failure, graph = e, None
        span = Span(Bound(at, not right), probe.span.hi)
        piece = Piece(span, {t: s.value for t, s in probe.steps.items()},
                      failure=None if failure is None else failure.message, error=failure)
        if graph is not None:
            try:
                piece.quantities, piece.holds = evaluate(graph, span)
            except LayerFailure as e:
                piece.failure, piece.error = e.message, e
        pieces.append(piece)
        hi = span.hi
        if hi.at == rng.hi.at and (hi.closed or not rng.hi.closed):
            return pieces
        at, right = hi.at, hi.closed


def merged(spans: Sequence[Span]) -> list:
    """Adjacent or overlapping intervals (in order) joined."""
    out: list = []
    for s in spans:
        if out:
            last = out[-1]
            if last.hi.at == s.lo.at and (last.hi.closed or s.lo.closed):
                out[-1] = Span(last.lo, s.hi)
                continue
        out.append(s)
    return out


# ------------------------------------------------------------------ deciding a relation
def decide(relation, symbol, span: Span) -> list:
    """Where on ``span`` the sympy ``relation`` holds: all of it or none when it does not
    name the symbol; else sympy's solution set within the piece, as Spans."""
    import sympy as sp

    lhs, rhs = sp.sympify(relation.lhs), sp.sympify(relation.rhs)
    if symbol not in (lhs - rhs).free_symbols:
        truth = relation.func(lhs, rhs)
        if truth not in (sp.true, sp.false):
            raise SpecError(f"cannot decide {relation} on {span.text(str(symbol))}")
        return [span] if truth is sp.true else []
    lo, hi = span.lo, span.hi
    domain = sp.Interval(sp.Rational(lo.at.numerator, lo.at.denominator),
                         sp.Rational(hi.at.numerator, hi.at.denominator),
                         not lo.closed, not hi.closed)
    try:
        found = sp.solveset(relation.func(lhs, rhs), symbol, domain=domain)
    except (NotImplementedError, ValueError, TypeError):
        found = None
    if found is None or not isinstance(found, (sp.Interval, sp.FiniteSet, sp.Union)) and \
            found is not sp.S.EmptySet:
        raise SpecError(f"cannot solve {relation} for {symbol} on {span.text(str(symbol))}")
    return _spans(found)


def _spans(found) -> list:
    import sympy as sp

    def frac(x):
        return Fraction(int(x.p), int(x.q))

    if found is sp.S.EmptySet:
        return []
    if isinstance(found, sp.Union):
        return [s for part in found.args for s in _spans(part)]
    if isinstance(found, sp.FiniteSet):
        out = []
        for x in sorted(found.args):
            if not x.is_Rational:
                raise SpecError(f"it holds at {x}, not a rational number (an answer over a "
                                "real symbol has rational ends: a relation linear in it, or "
                                "free of it)")
            out.append(Span(Bound(frac(x), True), Bound(frac(x), True)))
        return out
    if not (found.start.is_Rational and found.end.is_Rational):
        raise SpecError(f"it changes at {found.end if found.start.is_Rational else found.start}"
                        ", not a rational number (an answer over a real symbol has rational "
                        "ends: a relation linear in it, or free of it)")
    return [Span(Bound(frac(found.start), not found.left_open),
                 Bound(frac(found.end), not found.right_open))]


# ------------------------------------------------------------------ numbers as written
def decimal(x: Fraction) -> str:
    """``x`` as a decimal: exact when it has one (1.2375), else six significant digits and
    an ellipsis (1.28571…)."""
    d = x.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d == 1:
        digits = 0
        while (x * 10**digits).denominator != 1:
            digits += 1
        return f"{float(x):.{digits}f}" if digits < 17 else _digits(x, digits)
    return f"{float(x):.6g}…"


def _digits(x: Fraction, digits: int) -> str:
    n = x * 10**digits
    whole, rest = divmod(int(n), 10**digits)
    return f"{whole}.{rest:0{digits}d}"


def exact(x: Fraction) -> str:
    """``79/64 (1.234375)``, ``9/7 (1.28571…)``; a whole number as itself."""
    if x.denominator == 1:
        return str(x.numerator)
    return f"{x} ({decimal(x)})"


def inside(span: Span) -> Fraction:
    """The shortest decimal strictly inside ``span``, clear of both ends by far more than
    floating point's rounding (its one point when it is a point): a value ``--set`` takes
    that no rounding moves out of the piece."""
    lo, hi = span.lo.at, span.hi.at
    if lo == hi:
        return lo
    margin = max(abs(lo), abs(hi), Fraction(1)) * Fraction(1, 10**12)
    for digits in range(0, 40):
        scale = 10**digits
        x = Fraction(((lo + margin) * scale).__floor__() + 1, scale)
        if hi - x > margin:
            return x
    return (lo + hi) / 2


def set_text(x: Fraction) -> str:
    """``x`` as ``--set`` takes it: a decimal when exact, else ``p/q``."""
    shown = decimal(x)
    return shown if not shown.endswith("…") else f"{x.numerator}/{x.denominator}"


# ------------------------------------------------------------------ solving
@dataclass
class Boundary:
    """An end ``at`` of the answer inside the range: the counts on the solving side
    (``inside``) and on the other (``outside``), the step functions that change there
    (text → (inside value, outside value)), and the ``checks`` made with ``--set``."""

    at: Fraction
    inside: dict
    outside: dict
    changes: dict
    checks: list = field(default_factory=list)


@dataclass
class RealSolution:
    """The answer over a real symbol: ``intervals`` (Spans, in order) where every relation
    holds, the ``range`` walked, its ``pieces`` (how many), ``steps`` (the step functions
    met), ``boundaries`` described, ``failures`` (intervals where the spec does not build,
    with the reason), ``smallest``/``largest`` (the value, or None when not attained, with
    ``infimum``/``supremum``), and ``checks`` made."""

    spec: str
    wants: tuple
    name: str
    range: Span
    default_range: bool
    pieces: int
    steps: tuple
    intervals: list
    boundaries: list
    failures: list
    derivation: list
    pick: str = "all"
    method: str = ""

    @property
    def names(self) -> tuple:
        return (self.name,)

    @property
    def found(self) -> bool:
        return bool(self.intervals)

    @property
    def count(self) -> int:
        return len(self.intervals)

    @property
    def infimum(self) -> Fraction | None:
        return self.intervals[0].lo.at if self.intervals else None

    @property
    def supremum(self) -> Fraction | None:
        return self.intervals[-1].hi.at if self.intervals else None

    @property
    def smallest(self) -> Fraction | None:
        return self.infimum if self.intervals and self.intervals[0].lo.closed else None

    @property
    def largest(self) -> Fraction | None:
        return self.supremum if self.intervals and self.intervals[-1].hi.closed else None

    # ------------------------------------------------------------- text
    def text(self) -> str:
        n = self.name
        lines = [f"{self.spec}: solve for {n} (real-valued)"]
        lines += [f"  want {w.text}" for w in self.wants]
        lines.append("derivation:")
        lines += [f"  {d}" for d in self.derivation]
        lines.append(f"range: {_span(self.range, n)}" + (
            f" (the default range; {spoken(option('range'))} sets another)"
            if self.default_range else ""))
        if not self.intervals:
            lines.append("no solution in the range")
        elif self.pick == "smallest":
            lines.append(self._extreme("smallest"))
        elif self.pick == "largest":
            lines.append(self._extreme("largest"))
        else:
            shown = "; ".join(_span(s, n) for s in self.intervals[:SHOWN])
            more = f" … ({len(self.intervals) - SHOWN:,} more)" \
                if len(self.intervals) > SHOWN else ""
            label = "solution" if len(self.intervals) == 1 else \
                f"solutions ({len(self.intervals):,} intervals)"
            lines.append(f"{label}: {shown}{more}")
        for b in self.boundaries:
            if b.checks:
                lines.append(f"check at {n} = {exact(b.at)} with {spoken(option('set'))} "
                             "(floating point, as the other verbs compute):")
                lines += [f"  {c}" for c in b.checks]
        lines.append(f"method: {self.method}")
        return "\n".join(lines) + "\n"

    def _extreme(self, which: str) -> str:
        n = self.name
        if which == "smallest":
            value, bound, span = self.smallest, self.infimum, self.intervals[0]
        else:
            value, bound, span = self.largest, self.supremum, self.intervals[-1]
        at_end = which == "largest" and bound == self.range.hi.at
        tail = " (the end of the range: larger values may solve too)" if at_end else ""
        if value is not None:
            return f"{which}: {n} = {exact(value)}{tail}"
        end = "supremum" if which == "largest" else "infimum"
        return (f"{which}: none ({_span(span, n)} solves, up to its {end} "
                f"{exact(bound)}, which does not)")

    # ------------------------------------------------------------- json, csv
    def to_json(self) -> dict:
        def frac(x):
            return None if x is None else str(x)

        return {"spec": self.spec, "want": [w.text for w in self.wants], "for": [self.name],
                "method": self.method, "real": True,
                "range": {self.name: _span_json(self.range)},
                "default_range": self.default_range, "pieces": self.pieces,
                "step_functions": list(self.steps),
                "count": self.count, "intervals": [_span_json(s) for s in self.intervals],
                "smallest": frac(self.smallest), "largest": frac(self.largest),
                "infimum": frac(self.infimum), "supremum": frac(self.supremum),
                "largest_at_range_end": bool(self.intervals) and
                self.supremum == self.range.hi.at,
                "boundaries": [{"at": str(b.at), "inside": b.inside, "outside": b.outside,
                                "changes": {t: list(v) for t, v in b.changes.items()},
                                "checks": b.checks} for b in self.boundaries],
                "not_built": [{"interval": _span_json(s), "reason": why}
                              for s, why in self.failures],
                "derivation": self.derivation}

    def csv(self) -> str:
        rows = [["low", "low_included", "high", "high_included"]]
        rows += [[str(s.lo.at), str(s.lo.closed).lower(), str(s.hi.at),
                  str(s.hi.closed).lower()] for s in self.intervals]
        return "\n".join(",".join(r) for r in rows) + "\n"


def _span(span: Span, name: str) -> str:
    lo, hi = span.lo, span.hi
    if lo.at == hi.at:
        return f"{name} = {exact(lo.at)}"
    return (f"{exact(lo.at)} {'≤' if lo.closed else '<'} {name} "
            f"{'≤' if hi.closed else '<'} {exact(hi.at)}")


def _span_json(span: Span) -> dict:
    return {"low": str(span.lo.at), "low_included": span.lo.closed,
            "high": str(span.hi.at), "high_included": span.hi.closed}


def solve(load: Callable, conv, wants: Sequence[str], name: str, interval: Span | None,
          pick: str = "all", spec: str = "", memory=None) -> RealSolution:
    """Solve ``wants`` for the real symbol ``name`` over ``interval`` (DEFAULT_RANGE when
    None). ``load(extra)``: the spec's graph with ``extra`` symbol values added to the
    caller's (``{name: None}``: free, built under the probe; ``{name: 1.25}``: bound, the
    numeric path); ``memory``: how ``memory`` is counted, as in ``inverse.solve``."""
    import sympy as sp

    from .analysis import analyse
    from .inverse import parse_want

    if not wants:
        raise SpecError(f"{option('want')}: give at least one relation")
    rng = interval or DEFAULT_RANGE
    symbol = sp.Symbol(name, positive=True, real=True)
    parsed: dict = {}
    titles: list = []

    def evaluate(graph, span):
        titles.append(graph.name)
        others = [s for s in graph.free_symbols if s != name]
        if others:
            raise SpecError(f"{option('for', name)}: {', '.join(others)} "
                            f"{'stays' if len(others) == 1 else 'stay'} free; solving over a "
                            f"real symbol needs every other symbol bound ({option('set')})")
        # Built under the probe, the graph holds plain numbers: a layer that refuses them
        # raises (the piece is not built), as it would with --set. Conditions recorded on
        # values left in the symbol (a default such as d: 2*w, "a whole number") are not
        # the numeric path's, which binds w to a float: they are not added.
        raw = analyse(graph)
        analysis = conv.apply(raw)
        form = _memory(memory, wants, raw, name)
        holds = [span]
        quantities: dict = {}
        for text in wants:
            want = parse_want(text, analysis, conv, form)
            parsed.setdefault(text, want)
            for written, form in want.quantities:
                quantities[written] = _plain(form)
            try:
                holds = _both(holds, decide(want.relation, symbol, span))
            except SpecError as e:
                raise SpecError(f"{option('want', text)}: {e.message}") from None
        return quantities, holds

    pieces = walk(lambda: load({name: None}), symbol, rng, evaluate)
    built = [p for p in pieces if p.failure is None]
    if not built:
        raise pieces[0].error
    wants_parsed = tuple(parsed[t] for t in wants)
    intervals = merged([s for p in pieces for s in p.holds])
    failures = _merged_failures([(p.span, p.failure) for p in pieces if p.failure is not None])
    steps = tuple(dict.fromkeys(t for p in pieces for t in p.steps))
    derivation = _derivation(name, rng, pieces, steps, failures)
    ends = _ends(intervals, rng, pick)
    boundaries = [_boundary(pieces, at, side, name) for at, side in ends[:SHOWN_BOUNDARIES]]
    for b, (_end, side) in zip(boundaries, ends):
        derivation.append(_describe(b, name, side))
    solution = RealSolution(titles[0] or spec, wants_parsed, name, rng, interval is None,
                            len(pieces), steps, intervals, boundaries, failures, derivation, pick,
                            method=f"exact piecewise evaluation over {len(pieces):,} "
                            f"piece{'s' if len(pieces) != 1 else ''} of {name} (breakpoints "
                            "of the step functions as rationals, the relations decided on "
                            "each piece)" + (f"; each end checked with {spoken(option('set'))}"
                                             if boundaries else ""))
    checked: set = set()
    for b, (_end, side) in zip(boundaries, ends):
        if b.at not in checked:  # a one-point interval's two ends are checked once
            b.checks = _checks(load, conv, wants, name, pieces, b, side, memory)
            checked.add(b.at)
    return solution


def _memory(query, wants, raw, name):
    """The closed form ``memory`` reads in this piece (None: no relation reads it); the
    batch a number, as every size but the real symbol's."""
    from .inverse import _inference
    from .solve_memory import MemoryQuery, uses_memory

    if not uses_memory(wants):
        return None
    query = query or MemoryQuery(_inference)
    unknown = query.unknowns([name], raw.graph.symbols)
    if unknown:
        raise SpecError(f"{option('for', name)}: {name} is real-valued and solved for alone: "
                        f"the batch and the devices need numbers, not {', '.join(unknown)}")
    return query.form(raw, [name], raw.graph.symbols)[0]


def _derivation(name: str, rng: Span, pieces: list, steps: tuple, failures: list) -> list:
    """What was walked: the step functions met, the pieces, where the spec does not build."""
    kinds = sorted({t.split("(")[0] for t in steps})
    lines = [f"{name} reaches {len(steps):,} step function{'s' if len(steps) != 1 else ''}"
             f" ({', '.join(kinds) or 'none'}); every count is constant between their "
             "breakpoints",
             f"{_span(rng, name)} is {len(pieces):,} piece{'s' if len(pieces) != 1 else ''}"
             "; the spec is built and analysed once on each, its step functions in "
             "rational arithmetic"]
    return lines + [f"not built on {_span(s, name)}: {why}" for s, why in failures[:SHOWN]]


def _plain(value):
    from .dims import as_number

    value = as_number(value)
    return value if isinstance(value, (int, float)) else str(value)


def _both(a: list, b: list) -> list:
    from .steps import intersect

    out = []
    for x in a:
        for y in b:
            s = intersect(x, y)
            lo, hi = s.lo, s.hi
            if lo.at < hi.at or (lo.at == hi.at and lo.closed and hi.closed):
                out.append(s)
    return out


def _merged_failures(failures: list) -> list:
    out: list = []
    for span, why in failures:
        if out and out[-1][1] == why and out[-1][0].hi.at == span.lo.at:
            out[-1] = (Span(out[-1][0].lo, span.hi), why)
        else:
            out.append((span, why))
    return out


def _ends(intervals: list, rng: Span, pick: str) -> list:
    """The answer's ends inside the range, as (point, side): side −1 the answer lies left
    of the point (an upper end), +1 right (a lower end)."""
    ends = []
    for s in intervals:
        if s.lo.at != rng.lo.at or s.lo.closed != rng.lo.closed:
            ends.append((s.lo.at, +1, s.lo.closed))
        if s.hi.at != rng.hi.at or s.hi.closed != rng.hi.closed:
            ends.append((s.hi.at, -1, s.hi.closed))
    if pick == "largest":
        ends = [e for e in ends if e[1] == -1][-1:]
    elif pick == "smallest":
        ends = [e for e in ends if e[1] == +1][:1]
    return [((at, closed), side) for at, side, closed in ends]


def _piece(pieces: list, x: Fraction, side: int) -> Piece:
    """The piece holding ``x`` (side 0), or the points just left (−1) or right (+1) of it."""
    for p in pieces:
        lo, hi = p.span.lo, p.span.hi
        if side == 0 and p.span.contains(x):
            return p
        if side > 0 and lo.at <= x < hi.at:
            return p
        if side < 0 and lo.at < x <= hi.at:
            return p
    raise AssertionError(f"no piece at {x}")


def _boundary(pieces: list, end: tuple, side: int, name: str) -> Boundary:
    at, closed = end
    # the solving side: the point itself when included, else the points next to it
    inner = _piece(pieces, at, 0) if closed else _piece(pieces, at, side)
    outer = _piece(pieces, at, -side) if closed else _piece(pieces, at, 0)
    changes = {t: (inner.steps[t], outer.steps.get(t)) for t in inner.steps
               if inner.steps[t] != outer.steps.get(t)}
    return Boundary(at, inner.quantities, outer.quantities, changes)


def _describe(b: Boundary, name: str, side: int) -> str:
    """The counts and step functions that change at ``b``, from left to right."""
    def ordered(inner, outer):
        return (inner, outer) if side < 0 else (outer, inner)

    counts = "; ".join(f"{k} {_num(x)} → {_num(y)}" for k in b.inside
                       for x, y in [ordered(b.inside[k], b.outside.get(k))] if x != y) or \
        ", ".join(f"{k} {_num(v)}" for k, v in b.inside.items()) + \
        f" on both sides; the relation's own terms in {name} cross here"
    steps = ", ".join(f"{t} {_num(x)} → {_num(y)}" for t, v in list(b.changes.items())[:4]
                      for x, y in [ordered(*v)])
    more = f" and {len(b.changes) - 4} more" if len(b.changes) > 4 else ""
    return f"at {name} = {exact(b.at)}: {counts}" + (f" ({steps}{more})" if steps else "")


def _num(v) -> str:
    if isinstance(v, bool) or v is None:
        return "—"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _checks(load, conv, wants, name, pieces, b: Boundary, side: int, memory=None) -> list:
    """``--set name=…`` at the end point and inside the pieces on either side: the counts
    and whether the relations hold, beside what the pieces say there."""
    at = b.at
    points = []
    left, right = _piece(pieces, at, -1) if at > pieces[0].span.lo.at else None, \
        _piece(pieces, at, +1) if at < pieces[-1].span.hi.at else None
    if left is not None:
        points.append(inside(_span_left_of(left.span, at)))
    points.append(at)
    if right is not None:
        points.append(inside(_span_right_of(right.span, at)))
    return [_check(load, conv, wants, name, pieces, x, x == at, memory) for x in points]


def _span_left_of(span: Span, at: Fraction) -> Span:
    return Span(span.lo, Bound(min(span.hi.at, at), False))


def _span_right_of(span: Span, at: Fraction) -> Span:
    return Span(Bound(max(span.lo.at, at), False), span.hi)


def _check(load, conv, wants, name, pieces, x: Fraction, is_end: bool, memory=None) -> str:
    from .analysis import analyse
    from .expr import constant
    from .inverse import parse_want

    text = set_text(x)
    piece = _piece(pieces, x, 0)
    exact_holds = any(s.contains(x) for s in piece.holds)
    try:
        raw = analyse(load({name: constant(text)}))
        form = _memory(memory, wants, raw, name)
        found = [parse_want(w, conv.apply(raw), conv, form) for w in wants]
    except SpecError as e:
        return f"{name}={text}: {e.message}"
    import sympy as sp

    counts = {}
    for want in found:
        for written, form in want.quantities:
            counts[written] = _plain(form)
    holds = all(w.relation.func(sp.sympify(w.relation.lhs), sp.sympify(w.relation.rhs))
                is sp.true for w in found)
    shown = ", ".join(f"{k} {_num(v)}" for k, v in counts.items())
    verdict = "holds" if holds else "does not hold"
    agree = holds == exact_holds and counts == piece.quantities
    note = "as the pieces say" if agree else (
        f"floating point differs at the breakpoint itself: exactly, "
        f"{', '.join(f'{k} {_num(v)}' for k, v in piece.quantities.items())}, "
        f"{'holds' if exact_holds else 'does not hold'}" if is_end else
        "DIFFERS from the pieces")
    return f"{name}={text}: {shown}: {verdict} ({note})"
