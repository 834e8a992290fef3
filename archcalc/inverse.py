"""Inverse questions: the values of chosen symbols for which stated relations hold, exactly.

A question is a list of relations (``conv3.shape[1] = 7``, ``rf >= 100``, ``params <= 5e6``,
``memory <= 24GB``) between quantities of the network, addressed as ``archcalc check`` and
``explain`` address them (``report.explain.find``: a layer or block name, ``output`` or nothing
for the whole network), and the spec's symbols; ``memory`` is the whole network's total bytes
with the batch a number or a symbol to solve for (``solve_memory``). The spec is analysed
once with the symbols named in ``--for`` free; each quantity is replaced by its closed form;
the spec's own validity conditions (a kernel no larger than its input …) join the relations.

Two methods, and the answer says which one proved it:

- **sympy solve**: when other free symbols stay free (a closed-form answer such as
  ``p = (k - 1)/2``), one symbol is solved for with ``sympy.solve`` (equalities only);
- **exact enumeration**: every integer point of the range (``sweep``'s exact integer
  evaluation: floors as integer division, never floats) is tested. A one-symbol solution
  set that repeats with a period through the range is written as a family
  ``H = P·k + r``; the period is checked by the enumeration, throughout the range only.

Symbols are positive integers (the spec format's free symbols); a real-valued symbol would
take the ``sympy solve`` path or a range with a step (``Range`` is the one place that
would learn fractions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from .errors import Loc, SpecError, option, spoken

OPERATORS = ("<=", ">=", "!=", "==", "=", "<", ">")
# NAME.quantity[i], or a bare quantity (the whole network); NAME may be qualified (a.b.c)
_QUANTITY = re.compile(r"(?<![\w.])((?:[A-Za-z_][\w-]*\.)*)"
                       r"(shape|rf|params|macs|flops|memory)\b(?:\s*\[\s*(\d+)\s*\])?")
QUANTITIES = ("shape", "rf", "params", "macs", "flops", "memory")
_ATTRIBUTE = re.compile(r"(?<![\w.])((?:[A-Za-z_][\w-]*\.)*[A-Za-z_][\w-]*)\.([A-Za-z_]\w*)(?![\w.])")
DEFAULT_STOP = 1024  # the default range of one symbol: 1..1024
DEFAULT_STOP_GRID = 64  # of each of several symbols: 1..64
MAX_WANT_CHARS = 1_000
MAX_PERIOD = 1024  # periods looked for (each check is one pass over the range)
SHOWN = 50  # solutions listed in full; the count is always exact


@dataclass(frozen=True)
class Want:
    """One relation as written (``text``) and as a closed form (``relation``), with the
    quantities it reads (name as written → closed form)."""

    text: str
    relation: Any
    quantities: tuple


@dataclass
class Solution:
    """The answer: ``method`` (how it was proved), ``closed_form`` (symbol → expression, the
    sympy path), or from the enumeration ``ranges`` (symbol → (start, stop)), ``default_range``,
    ``count`` and the first ``solutions`` (dicts), ``smallest``, ``largest``, ``family``
    (``{"symbol", "period", "residues", "from"}``, one symbol, when periodic), ``derivation``."""

    spec: str
    wants: tuple
    names: tuple
    method: str
    closed_form: dict = field(default_factory=dict)
    ranges: dict = field(default_factory=dict)
    default_range: bool = False
    count: int = 0
    solutions: list = field(default_factory=list)
    smallest: dict | None = None
    largest: dict | None = None
    family: dict | None = None
    derivation: list = field(default_factory=list)
    pick: str = "all"
    at_end: list = field(default_factory=list)  # symbols whose largest solution ends the range

    @property
    def found(self) -> bool:
        return bool(self.closed_form) or self.count > 0

    def to_json(self) -> dict:
        from .report.values import json_value

        return {"spec": self.spec, "want": [w.text for w in self.wants],
                "for": list(self.names), "method": self.method,
                "closed_form": {k: json_value(v, list(self.names)) for k, v in
                                self.closed_form.items()},
                "range": {k: list(v) for k, v in self.ranges.items()},
                "default_range": self.default_range, "count": self.count,
                "solutions": self.solutions, "smallest": self.smallest,
                "largest": self.largest, "largest_at_range_end": bool(self.at_end),
                "family": self.family,
                "derivation": self.derivation}

    def text(self) -> str:
        lines = [f"{self.spec}: solve for {', '.join(self.names)}"]
        lines += [f"  want {w.text}" for w in self.wants]
        lines.append("derivation:")
        lines += [f"  {d}" for d in self.derivation]
        if self.closed_form:
            lines += [f"{k} = {v}" for k, v in self.closed_form.items()]
        else:
            span = ", ".join(f"{k} in {a}..{b}" for k, (a, b) in self.ranges.items())
            lines.append(f"range: {span}" + (
                f" (the default range; {spoken(option('range'))} sets another)"
                if self.default_range else ""))
            if not self.count:
                lines.append("no solution in the range")
            elif self.pick == "smallest":
                lines.append(f"smallest: {_point(self.smallest)}")
            elif self.pick == "largest":
                lines.append(f"largest: {_point(self.largest)}{self._end()}")
            else:
                lines.append(f"{self.count:,} solution{'s' if self.count != 1 else ''}"
                             f"; smallest {_point(self.smallest)}, largest "
                             f"{_point(self.largest)}{self._end()}")
                if self.family:
                    f = self.family
                    lines.append("family: " + " or ".join(
                        f"{f['symbol']} = {f['period']}·k + {r}" for r in f["residues"]) +
                        ", k ≥ 0 (" + ("proved for every k" if f.get("proved") else
                                       f"period {f['period']} checked through the range") + ")")
                shown = ", ".join(_point(s) for s in self.solutions)
                more = f" … ({self.count - len(self.solutions):,} more)" \
                    if self.count > len(self.solutions) else ""
                lines.append(f"solutions: {shown}{more}")
        lines.append(f"method: {self.method}")
        return "\n".join(lines) + "\n"


    def _end(self) -> str:
        return " (the end of the range: larger values may solve too)" if self.at_end else ""


def to_markdown(solution: "Solution") -> str:
    """The text answer as Markdown: a heading, and each line an item (code spans keep the
    closed forms' ``*`` as written)."""
    lines = solution.text().splitlines()
    out = [f"### {_md(lines[0])}", ""]
    for line in lines[1:]:
        item = line.strip()
        if line.startswith("  "):
            out.append(f"  - `{item}`")
        else:
            out.append(f"- {_md(item)}")
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)


def to_csv(solution: "Solution") -> str:
    """One row per solution listed (the first SHOWN), the symbols as columns; a closed
    form is one row of expressions."""
    if solution.closed_form:
        names = list(solution.closed_form)
        rows = [[str(v) for v in solution.closed_form.values()]]
    else:
        names = list(solution.ranges)
        rows = [[str(p[n]) for n in names] for p in solution.solutions]
    return "\n".join(",".join(r) for r in [names, *rows]) + "\n"


def _point(p: dict | None) -> str:
    return "none" if p is None else ", ".join(f"{k}={v}" for k, v in p.items())


# ------------------------------------------------------------------ parsing a relation
def split_relation(text: str) -> tuple:
    """``"a.shape[1] >= 7"`` → (left text, operator, right text): exactly one relation."""
    if len(text) > MAX_WANT_CHARS:
        raise SpecError(f"{option('want')}: {len(text):,} characters; the limit is {MAX_WANT_CHARS:,}")
    found = []
    i = 0
    while i < len(text):
        for op in OPERATORS:
            if text.startswith(op, i):
                found.append((i, op))
                i += len(op)
                break
        else:
            i += 1
    if len(found) != 1:
        raise SpecError(f"{option('want', text)}: expected one relation, LEFT OP RIGHT with OP one "
                        f"of =, !=, <, <=, >, >= (e.g. 'conv1.shape[1] = 7')")
    at, op = found[0]
    left, right = text[:at].strip(), text[at + len(op):].strip()
    if not left or not right:
        raise SpecError(f"{option('want', text)}: a side of '{op}' is empty")
    return left, "=" if op == "==" else op, right


def quantity(analysis, conv, at: str, what: str, index: str | None):
    """The closed form of ``at.what[index]``: ``at`` as ``explain`` finds it ("" or
    "output": the whole network)."""
    from .report.explain import find, record_of

    kind, obj = find(analysis, None if at in ("", "output") else at)
    rec = record_of(analysis, kind, obj)
    name = f"{at + '.' if at else ''}{what}"
    if what in ("params", "macs", "flops"):
        if index is not None:
            raise SpecError(f"{name} is a count; it takes no [index]")
        return conv.count(rec, what)
    if what == "shape":
        values = tuple(rec.output_shape)
    else:
        if rec.rf is None:
            raise SpecError(f"{name}: there is no receptive field here")
        values = tuple(a.size for a in rec.rf)
        if index is None:
            if len(set(values)) != 1:
                raise SpecError(f"{name} differs per axis; write {name}[0] …")
            return values[0]
    if index is None:
        raise SpecError(f"{name} needs an axis, {name}[0] … {name}[{len(values) - 1}]")
    i = int(index)
    if i >= len(values):
        raise SpecError(f"{name}[{i}]: the {what} has {len(values)} "
                        f"entr{'ies' if len(values) != 1 else 'y'} (0 … {len(values) - 1})")
    return values[i]


def parse_want(text: str, analysis, conv, memory=None, symbols=None) -> Want:
    """One ``--want`` as a sympy relation in the spec's symbols (``symbols``: those and the
    batch's, when it is solved for); ``memory`` the closed form ``memory`` reads (None: the
    question has none)."""
    import sympy as sp

    from . import expr
    from .solve_memory import refused_at, with_bytes

    left, op, right = split_relation(text)
    left, right = with_bytes(left, text), with_bytes(right, text)
    for m in _ATTRIBUTE.finditer(text):
        if m.group(2) not in QUANTITIES:
            from .errors import did_you_mean

            raise SpecError(f"{option('want', text)}: unknown quantity '{m.group(2)}' of "
                            f"'{m.group(1)}': choose from {', '.join(QUANTITIES)}"
                            f"{did_you_mean(m.group(2), list(QUANTITIES))}")
    env = dict(analysis.graph.symbols if symbols is None else symbols)
    found: list = []

    def side(part: str):
        def placeholder(m):
            name = f"q{len(found)}x"
            while name in env:
                name += "x"
            at = m.group(1)[:-1]
            if m.group(2) != "memory":
                form = quantity(analysis, conv, at, m.group(2), m.group(3))
            elif at:
                raise refused_at(at)
            elif m.group(3) is not None:
                raise SpecError("memory is a count of bytes; it takes no [index]")
            elif memory is None:
                raise SpecError("memory: no memory options were given for this question")
            else:
                form = memory
            env[name] = form
            found.append((m.group(0), form))
            return name

        try:
            value = sp.sympify(expr.evaluate_text(_QUANTITY.sub(placeholder, part), env))
            # a decimal written in the relation (5e6, 0.5) as the exact rational it spells
            return value.xreplace({f: sp.Rational(str(f)) for f in value.atoms(sp.Float)})
        except SpecError as e:
            raise SpecError(f"{option('want', text)}: {e.message}") from None

    lhs, rhs = side(left), side(right)
    rel = {"=": sp.Eq, "!=": sp.Ne, "<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge}[op]
    return Want(text, rel(lhs, rhs, evaluate=False), tuple(found))


# ------------------------------------------------------------------ solving
def solve(analysis, conv, wants: Sequence[str], names: Sequence[str], ranges=(),
          pick: str = "all", spec: str = "", memory=None) -> Solution:
    """Solve ``wants`` for ``names`` (free symbols of ``analysis.graph``; with ``memory`` in
    a relation, the batch's or the device count's name too) over ``ranges`` (``sweep.Range``;
    a default range when none is given); ``pick``: all, smallest, largest; ``memory``: a
    ``solve_memory.MemoryQuery`` (None: inference at batch 1 in fp32)."""
    from .solve_memory import MemoryQuery, uses_memory

    raw, graph = analysis, analysis.graph
    analysis = conv.apply(analysis)
    if not wants:
        raise SpecError(f"{option('want')}: give at least one relation")
    symbols, form, ones, derivation = dict(graph.symbols), None, None, []
    if uses_memory(wants):
        query = memory or MemoryQuery(_inference)
        symbols.update(query.unknowns(names, graph.symbols))
        form, ones, derivation = query.form(raw, names, graph.symbols)
    for n in names:
        if n not in symbols:
            from .errors import did_you_mean

            have = ", ".join(graph.symbols) or "none"
            batch = "" if n != "B" else \
                " (B names the batch only where a relation reads memory)" if form is None \
                else " (the batch is given as a number here)"
            raise SpecError(f"{option('for', n)}: the spec has no symbol '{n}'"
                            f"{did_you_mean(n, list(graph.symbols))} (its symbols: {have})"
                            f"{batch}", Loc(graph.file))
    parsed = tuple(parse_want(w, analysis, conv, form, symbols) for w in wants)
    for w in parsed:
        for written, value in w.quantities:
            if value is not form:
                derivation.append(f"{written} = {value}")
        relation = w.relation if ones is None else w.relation.func(
            *(side.xreplace({ones: 0}) for side in w.relation.args), evaluate=False)
        derivation.append(f"want: {relation}" + ("" if ones is None else
                                                 " (from batch 2; batch 1 with its own memory)"))
    free = list(graph.free_symbols) + [n for n in symbols if n not in graph.symbols]
    others = [n for n in free if n not in names]
    if others:
        if ranges:
            raise SpecError(f"{option('range')}: {', '.join(others)} stay free, so the answer is "
                            f"a closed form; bind them with {option('set')} or add them to "
                            f"{option('for')} to enumerate")
        return _closed_form(parsed, names, symbols, others, spec, derivation)
    return _enumerate(analysis, parsed, names, ranges, pick, spec, derivation, symbols)


def _inference(analysis, batch, devices):
    from . import footprint

    return footprint.compute(analysis, batch=batch, devices=devices)


def _closed_form(parsed, names, symbols, others, spec, derivation) -> Solution:
    import sympy as sp

    if len(names) != 1 or len(parsed) != 1 or not isinstance(parsed[0].relation, sp.Eq):
        raise SpecError(f"free symbol(s) {', '.join(others)} "
                        "stay free: a closed form is found for one symbol from one equation "
                        f"(=); bind the others with {option('set')} or add them to "
                        f"{option('for')}")
    target = symbols[names[0]]
    rel = parsed[0].relation
    try:
        roots = sp.solve(rel.lhs - rel.rhs, target, dict=False)
    except (NotImplementedError, ValueError, TypeError):
        roots = None
    if not roots or len(roots) != 1:
        raise SpecError(f"{option('want', parsed[0].text)}: sympy finds no single closed form "
                        f"for {names[0]}; bind the other symbols with {option('set')} or add "
                        f"them to {option('for')}")
    derivation.append(f"sympy.solve({rel.lhs - rel.rhs} = 0, {names[0]})")
    root = sp.factor(roots[0])
    num, den = root.as_numer_denom()
    if den != 1:
        derivation.append(f"{names[0]} is a whole number only where {num} is divisible by "
                          f"{den}")
    return Solution(spec, parsed, tuple(names), "sympy solve (closed form)",
                    closed_form={names[0]: root}, derivation=derivation)


def _enumerate(analysis, parsed, names, ranges, pick, spec, derivation, symbols) -> Solution:
    import numpy as np

    from . import sweeping as sw

    given = {n: r for r in ranges for n in r.names}
    for n in given:
        if n not in names:
            raise SpecError(f"{option('range', n)}: not a symbol of {option('for')} "
                            f"({', '.join(names)})")
    default = [n for n in names if n not in given]
    stop = DEFAULT_STOP if len(names) == 1 else DEFAULT_STOP_GRID
    for r in ranges:
        r.check_start(symbols)
    ranges = list(ranges) + [sw.Range((n,), 0 if symbols[n].is_positive is None else 1, stop)
                             for n in default]
    inputs = sw.grid(ranges)
    swept = [symbols[n] for n in inputs]
    args = [inputs[n] for n in inputs]
    count = len(args[0])
    valid = np.ones(count, dtype=bool)
    with np.errstate(all="ignore"):
        for cond, _message, _loc in analysis.conditions:
            valid &= sw.evaluate_condition(cond, swept, args, count)
        for w in parsed:
            valid &= _holds(w.relation, swept, args, count)
    where = np.flatnonzero(valid)
    points = [{n: int(inputs[n][i]) for n in inputs} for i in where[:SHOWN].tolist()]
    key = list(inputs)
    solution = Solution(spec, parsed, tuple(names),
                        f"exact enumeration of {count:,} integer point{'s' if count != 1 else ''}"
                        " (closed forms in integer arithmetic, with the spec's conditions)",
                        ranges={n: (r.start, r.stop) for r in ranges for n in r.names},
                        default_range=bool(default), count=int(len(where)), solutions=points,
                        derivation=derivation, pick=pick)
    if len(where):
        ordered = sorted(where.tolist(), key=lambda i: tuple(int(inputs[n][i]) for n in key))
        solution.smallest = {n: int(inputs[n][ordered[0]]) for n in key}
        solution.largest = {n: int(inputs[n][ordered[-1]]) for n in key}
    if len(inputs) == 1 and len(where) > 1:
        solution.family = _period(key[0], inputs[key[0]], valid)
        if solution.family is not None and _proved(solution.family, analysis, parsed,
                                                   symbols[key[0]]):
            solution.family["proved"] = True
            solution.method += "; every member of the family, k ≥ 0, proved a solution by " \
                "sympy (each relation and condition with it substituted simplifies to True)"
    if solution.largest is not None:
        solution.at_end = [n for n in key if solution.largest[n] == solution.ranges[n][1]]
    return solution


def _proved(family: dict, analysis, parsed, target) -> bool:
    """Whether every relation and condition holds for every ``symbol = P·k + r`` (k ≥ 0 an
    integer): each simplifies to True with k a nonnegative integer symbol."""
    import sympy as sp

    k = sp.Symbol("k", integer=True, nonnegative=True)
    tests = [w.relation for w in parsed] + [c for c, _m, _l in analysis.conditions]
    for r in family["residues"]:
        at = {target: family["period"] * k + r}
        for t in tests:
            try:
                value = sp.simplify(sp.sympify(t).xreplace(at))
            except (TypeError, ValueError, NotImplementedError):
                return False
            if value is not sp.true:
                return False
    return True


def _holds(relation, symbols, args, count):
    """Where ``relation`` holds, exactly (an equality or ``!=`` compares exact integers;
    an order compares the numerator of the difference, as sweep's conditions do)."""
    from . import sweeping as sw

    return sw.evaluate_condition(relation, symbols, args, count)


def _period(name: str, values, member) -> dict | None:
    """The smallest period P (at most a quarter of the range, and MAX_PERIOD) with which the
    solutions repeat from the first one to the end of the range, with the residues of the
    first period; None when there is none, or when every value from the first on solves."""
    import numpy as np

    first = int(np.argmax(member))
    tail = member[first:]
    n = len(tail)
    for p in range(1, min(n // 4, MAX_PERIOD) + 1):
        if np.array_equal(tail[p:], tail[:-p]):
            start = int(values[first])
            residues = [int(v) for v in values[first:first + p][tail[:p]]]
            if len(residues) == p:
                return None  # every value from the first on: no family to state
            return {"symbol": name, "period": p, "residues": residues, "from": start}
    return None
