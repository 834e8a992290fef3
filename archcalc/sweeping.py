"""Evaluate a network's closed forms over a range of input sizes, exactly, with numpy.

The symbolic analysis is done once; its output shape, parameter count and MACs are turned
into numpy functions of the swept symbols (``sympy.lambdify``) and evaluated on whole arrays.
Floors and ceilings are compiled to integer floor division (``floor(p/q)`` → ``p // q`` with
``p`` an integer polynomial), so every value is an exact integer, never a rounded float.
Points where one of the analysis's conditions fails (a kernel larger than its input, groups
that do not divide the channels …) are marked invalid rather than given numbers.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from functools import reduce
from typing import Any, Sequence

from .errors import SpecError, option

QUANTITIES = ("shape", "params", "macs", "flops")
_RANGE = re.compile(r"^\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=\s*(-?\d+)\s*:\s*(-?\d+)"
                    r"(?:\s*:\s*(-?\d+))?\s*$")
# Past this magnitude int64 arithmetic (max 2^63) could overflow, intermediates included:
# such points are redone in Python integers.
_INT64_SAFE = 2 ** 61
# The largest START or STOP of a range: the swept values themselves are int64.
MAX_SIZE = 2 ** 62


@dataclass(frozen=True)
class Range:
    """``names`` all take the values ``start, start + step, …`` up to ``stop`` inclusive."""

    names: tuple
    start: int
    stop: int
    step: int = 1
    given: str = field(default="", compare=False)  # how the caller took it, for messages

    def check_start(self, symbols: dict) -> None:
        """A range from 0 only for symbols that may be 0 (declared ``min: 0``)."""
        if self.start > 0:
            return
        for n in self.names:
            s = symbols.get(n)
            if getattr(s, "is_Symbol", False) and not (s.is_nonnegative and
                                                        s.is_positive is None):
                raise SpecError(f"{self.given}: need 1 ≤ START ≤ STOP ('{n}' is a positive "
                                f"size; a symbol declared {{min: 0}} may start at 0)")

    def values(self):
        import numpy as np

        return np.arange(self.start, self.stop + 1, self.step, dtype=np.int64)

    def __len__(self) -> int:
        return (self.stop - self.start) // self.step + 1


def parse_range(text: str, given: str | None = None) -> Range:
    """``H=32:2048`` or ``H=32:2048:16`` (inclusive end); ``H,W=32:512`` sweeps both together.
    A message names the range as ``given`` (how the caller took it; the sweep's ``over``
    option by default)."""
    given = option("over", text) if given is None else given
    m = _RANGE.match(text)
    if not m:
        raise SpecError(f"{given}: expected NAME=START:STOP[:STEP], e.g. H=32:2048:8 "
                        "(whole numbers, STOP included)")
    names = tuple(n.strip() for n in m.group(1).split(","))
    if any(len(g.lstrip("-")) > 19 for g in m.groups()[1:] if g is not None):  # past 2**62
        raise SpecError(f"{given}: sizes and steps up to 2**62 (a sweep computes in "
                        "64-bit integers)")
    start, stop = int(m.group(2)), int(m.group(3))
    step = int(m.group(4)) if m.group(4) is not None else 1
    if step < 1:
        raise SpecError(f"{given}: the step must be a positive whole number")
    if start < 0 or stop < start:
        raise SpecError(f"{given}: need START ≤ STOP, whole numbers from 1 (sizes are "
                        "positive; from 0 for a symbol declared {min: 0})")
    if stop > MAX_SIZE or step > MAX_SIZE:
        raise SpecError(f"{given}: sizes and steps up to 2**62 (a sweep computes in "
                        "64-bit integers)")
    return Range(names, start, stop, step, given)


def check_points(ranges: Sequence[Range]) -> int:
    """The number of points of the grid, refused above ``max_sweep_points`` before any
    array is made (each point costs a few hundred bytes through to the CSV); a symbol
    swept twice is refused too."""
    from . import limits

    seen: set = set()
    for r in ranges:
        for n in r.names:
            if n in seen:
                raise SpecError(f"{option('over')}: '{n}' is swept twice")
            seen.add(n)
    count = 1
    for r in ranges:
        count *= len(r)
    limit = limits.current().max_sweep_points
    if count > limit:
        shown = f" ({' × '.join(f'{len(r):,}' for r in ranges)})" if len(ranges) > 1 else ""
        raise SpecError(f"{option('over')}: {count:,} points{shown} is more than the limit "
                        f"{limit:,}; use a step ({ranges[0].names[0]}=1:10000:10), or raise "
                        f"{option('limits', 'max_sweep_points')}")
    return count


def swept_overrides(ranges: Sequence[Range], overrides: dict) -> tuple:
    """(overrides, origins) to load the spec with: each swept symbol kept free (even one
    with a default) and marked as given by the sweep, so a bad name is worded as a swept
    one; a symbol both bound and swept is refused."""
    overrides = dict(overrides)
    for r in ranges:
        for name in r.names:
            if name in overrides:
                raise SpecError(f"{option('over', name)}: also bound by {option('set')}; give "
                                "one or the other")
            overrides[name] = None
    return overrides, {name: "over" for r in ranges for name in r.names}


@dataclass(frozen=True)
class Sweep:
    """Every point of the grid: ``inputs`` (symbol → values), ``columns`` (name → exact
    integer values), ``valid`` (all conditions hold) and, per condition that fails somewhere,
    ``failures`` = (message, loc, boolean array of the points where it fails)."""

    inputs: dict
    columns: dict
    valid: Any
    failures: tuple
    forms: dict  # column name → the closed form evaluated (for the report)

    def __len__(self) -> int:
        return len(self.valid)


def quantities(analysis, conv, what: Sequence[str]) -> dict:
    """The closed forms to evaluate, by column name, under the counting convention."""
    analysis = conv.apply(analysis)
    total = analysis.total
    if not what:
        raise SpecError(f"{option('what')}: name at least one of {', '.join(QUANTITIES)}")
    forms: dict = {}
    for q in what:
        if q not in QUANTITIES:
            from .errors import did_you_mean

            raise SpecError(f"{option('what', q)}: choose from {', '.join(QUANTITIES)}"
                            f"{did_you_mean(q, QUANTITIES)}")
        if q == "shape":
            for i, d in enumerate(total.output_shape):
                forms[f"out{i}"] = d
        elif q == "params":
            forms["params"] = conv.params(total.params, total.buffers)
        elif q == "macs":
            forms["macs"] = total.macs
        else:
            forms["flops"] = conv.flops_per_mac * total.macs
    return forms


def grid(ranges: Sequence[Range]) -> dict:
    """Symbol → int64 array over the cartesian product of the ranges (first range slowest)."""
    import numpy as np

    check_points(ranges)
    axes = np.meshgrid(*(r.values() for r in ranges), indexing="ij")
    out = {}
    for r, axis in zip(ranges, axes):
        for n in r.names:
            out[n] = axis.ravel()
    return out


def sweep(analysis, ranges: Sequence[Range], conv, what: Sequence[str] = ("shape", "params",
                                                                          "macs")) -> Sweep:
    """Evaluate ``what`` at every point of ``ranges`` (symbols of ``analysis.graph``)."""
    import numpy as np

    graph = analysis.graph
    inputs = grid(ranges)
    symbols = {}
    for name in inputs:
        value = graph.symbols.get(name)
        if name not in graph.symbols:
            from .errors import did_you_mean

            have = ", ".join(graph.symbols) or "none"
            raise SpecError(f"{option('over', name)}: the spec has no symbol '{name}'"
                            f"{did_you_mean(name, list(graph.symbols))} (its symbols: {have})")
        if not getattr(value, "is_Symbol", False):
            raise SpecError(f"{option('over', name)}: '{name}' is bound to {value}; it must be free")
        symbols[name] = value
    for r in ranges:
        r.check_start(symbols)
    unswept = [n for n in graph.free_symbols if n not in symbols]
    if unswept:
        raise SpecError(f"free symbol(s) {', '.join(unswept)} are not swept: bind them with "
                        f"{option('set', unswept[0] + '=VALUE')} or add them to {option('over')}")
    count = len(next(iter(inputs.values())))
    order = list(symbols)
    args = [inputs[n] for n in order]
    forms = quantities(analysis, conv, what)
    valid = np.ones(count, dtype=bool)
    failures = []
    with np.errstate(all="ignore"):  # a division by zero marks its points, quietly
        for cond, message, loc in analysis.stated_conditions:
            holds = evaluate_condition(cond, [symbols[n] for n in order], args, count)
            if not holds.all():
                failures.append((message, loc, ~holds))
                valid &= holds
        columns = {}
        for name, form in forms.items():
            columns[name], undefined = evaluate(form, [symbols[n] for n in order], args, count)
            if (undefined & valid).any():
                from .errors import Loc

                failures.append((f"{name} = {form} divides by zero here", Loc(graph.file),
                                 undefined & valid))
                valid &= ~undefined
    return Sweep(inputs, columns, valid, tuple(failures), forms)


# ------------------------------------------------------------------ exact compilation
def _integer_parts(e):
    """``e`` as (numerator, positive integer denominator), or None if the denominator is
    not a constant."""
    import sympy as sp

    num, den = sp.fraction(sp.together(e))
    if not den.is_Integer:
        return None
    if den.is_negative:
        num, den = -num, -den
    return num, den


def exact_form(expr):
    """``expr`` with floor/ceiling of p/q written as integer floor division ``idiv(p, q)``
    and Max/Min as elementwise functions, ready for ``lambdify`` on int64 arrays."""
    import sympy as sp

    idiv, vmax, vmin = sp.Function("_idiv"), sp.Function("_vmax"), sp.Function("_vmin")

    def rounded(e):
        parts = _integer_parts(e.args[0])
        if parts is None:
            return e
        num, den = parts
        if den == 1:
            return num
        return idiv(num, den) if isinstance(e, sp.floor) else -idiv(-num, den)

    def relation(e):
        parts = _integer_parts(e.lhs - e.rhs)
        if parts is None:  # a denominator of symbols (N devices): its sign if sympy knows it
            num, den = sp.fraction(sp.together(e.lhs - e.rhs))
            return e.func(num, 0) if den.is_positive else e
        return e.func(parts[0], 0)  # (l - r) = p/q with q > 0: same sign as p

    expr = sp.sympify(expr)
    expr = expr.replace(lambda e: isinstance(e, (sp.floor, sp.ceiling)), rounded)
    expr = expr.replace(lambda e: isinstance(e, sp.Max), lambda e: vmax(*e.args))
    expr = expr.replace(lambda e: isinstance(e, sp.Min), lambda e: vmin(*e.args))
    expr = expr.replace(lambda e: isinstance(e, sp.core.relational.Relational)
                        and not isinstance(e, (sp.logic.boolalg.BooleanAtom,)), relation)
    return expr


def _modules():
    import numpy as np

    return [{"_idiv": np.floor_divide,  # spec symbols never start with '_'
             "_vmax": lambda *a: reduce(np.maximum, a),
             "_vmin": lambda *a: reduce(np.minimum, a)}, "numpy"]


def _compile(expr, symbols):
    """A numpy function of ``symbols``. The arguments get names of their own (``dummify``):
    a spec symbol called ``select`` or ``floor`` must not hide the function of that name."""
    import sympy as sp

    return sp.lambdify(symbols, expr, modules=_modules(), dummify=True)


def evaluate(expr, symbols: list, args: list, count: int):
    """Exact integer values of ``expr`` at every point (int64, or Python ints if large), and
    where it is undefined (a division by zero: such points hold 0)."""
    import numpy as np
    import sympy as sp

    from . import dims

    undefined = np.zeros(count, dtype=bool)
    if not dims.is_symbolic(expr):
        return np.full(count, int(dims.as_number(expr)), dtype=np.int64), undefined
    form = exact_form(expr)
    parts = _integer_parts(form)
    num, den = parts if parts is not None else (form, sp.Integer(1))
    fn = _compile(num, symbols)
    # The same function on floats: an estimate of each value's size, to find overflow.
    rough = np.broadcast_to(np.asarray(fn(*(a.astype(np.float64) for a in args)),
                                       dtype=np.float64), (count,))
    large = ~(np.abs(rough) < _INT64_SAFE)  # NaN and ±inf too: decided in Python below
    try:
        values = np.broadcast_to(np.asarray(fn(*args)), (count,))
    except OverflowError:  # a constant past int64: every point in Python integers below
        values, large = np.zeros(count, dtype=np.int64), np.ones(count, dtype=bool)
    if values.dtype.kind == "f":  # Piecewise, or a division by a symbol: floats
        large |= ~(np.abs(values) < 2 ** 53)  # floats are exact integers only below 2^53
        values = np.rint(np.where(large, 0, values))
    values = values.astype(np.int64)
    if large.any():  # beyond int64's safe range: those points again in Python integers
        values = values.astype(object)
        where = np.flatnonzero(large)
        objs = [a[large].astype(object) for a in args]
        try:
            exact = np.broadcast_to(np.asarray(fn(*objs), dtype=object), (len(where),))
        except ZeroDivisionError:  # point by point, to find the ones that divide by zero
            exact = np.array([_at(fn, [o[i] for o in objs]) for i in range(len(where))],
                             dtype=object)
        bad = np.array([v is None for v in exact], dtype=bool)
        undefined[where[bad]] = True
        values[where] = np.where(bad, 0, exact)
    return (values // int(den) if den != 1 else values), undefined


def _at(fn, point):
    """``fn`` at one point in Python numbers; None where it divides by zero."""
    try:
        return fn(*point)
    except ZeroDivisionError:
        return None


_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}


def evaluate_condition(cond, symbols: list, args: list, count: int):
    """Boolean array: where ``cond`` holds."""
    import numpy as np
    import sympy as sp

    if cond is True or cond == sp.true:
        return np.ones(count, dtype=bool)
    if cond is False or cond == sp.false:
        return np.zeros(count, dtype=bool)
    form = exact_form(cond)
    compare = _COMPARE.get(getattr(form, "rel_op", None))
    parts = _integer_parts(form.lhs) if compare is not None and form.rhs == 0 else None
    if parts is not None and parts[1] == 1:  # an integer against 0: evaluate's exact values
        values, undefined = evaluate(form.lhs, symbols, args, count)  # (past int64 too)
        return np.asarray(compare(values, 0), dtype=bool) & ~undefined
    fn = _compile(form, symbols)
    return np.broadcast_to(np.asarray(fn(*args), dtype=bool), (count,)).copy()


# ------------------------------------------------------------------ output
def to_csv(result: Sweep) -> str:
    """One row per point: the swept symbols, each column, and ``valid`` (1/0); the values
    of an invalid point are left empty. (Python ints formatted with ``%d``: about four
    times faster than numpy's ``astype(str)`` or ``savetxt`` for a million rows.)"""
    import numpy as np

    inputs = [a.tolist() for a in result.inputs.values()]
    values = [v.tolist() for v in result.columns.values()]
    valid = result.valid.astype(np.int64).tolist()
    row = ",".join(["%d"] * (len(inputs) + len(values) + 1))
    rows = list(map(row.__mod__, zip(*inputs, *values, valid)))
    blank = ",".join(["%d"] * len(inputs)) + "," * len(values) + ",0"
    for i in np.flatnonzero(~result.valid).tolist():
        rows[i] = blank % tuple(a[i] for a in inputs)
    names = list(result.inputs) + list(result.columns) + ["valid"]
    return ",".join(names) + "\n" + "\n".join(rows) + "\n"


def to_json(result: Sweep, order: Sequence[str] = ()) -> str:
    from .report.values import json_text, json_value

    def column(values):
        return [int(v) if ok else None for v, ok in zip(values.tolist(), result.valid.tolist())]

    return json_text({
        "points": len(result), "invalid": int((~result.valid).sum()),
        "forms": {k: json_value(v, order) for k, v in result.forms.items()},
        "inputs": {k: v.tolist() for k, v in result.inputs.items()},
        "columns": {k: column(v) for k, v in result.columns.items()},
        "valid": result.valid.tolist(),
        "failures": [{"message": m, "where": str(loc), "points": int(bad.sum())}
                     for m, loc, bad in result.failures],
    }, indent=None)


def sample(count: int, rows: int):
    """Up to ``rows`` evenly spaced point indices, first and last included."""
    import numpy as np

    if count <= rows:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, max(rows, 2)).round().astype(np.int64))


def model(result: Sweep, rows: int = 20, order: Sequence[str] = (), name: str = ""):
    """A few evenly spaced points (all of them if few) as a ``report.table.Table``: the
    swept sizes and each column (an invalid point says why), with the closed forms, the
    count of invalid points and why (escaped: the messages quote names from the spec) as
    footnotes, each on one line; sweep's text, Markdown and LaTeX."""
    from .errors import printable
    from .report.table import Column, Row, Table
    from .report.values import expr_text

    names = list(result.inputs) + list(result.columns)
    body = []
    for i in sample(len(result), rows).tolist():
        cells = [str(v[i]) for v in result.inputs.values()]
        if result.valid[i]:
            values = [int(v[i]) for v in result.columns.values()]
            body.append(Row(cells + [f"{v:,}" for v in values]))
        else:
            why = next(m for m, _, bad in result.failures if bad[i])
            rest = [""] * (len(result.columns) - 1)
            body.append(Row(cells + [f"invalid: {printable(why.split(':', 1)[0])}", *rest]))
    invalid = int((~result.valid).sum())
    notes = [printable(f"{k} = {expr_text(v, order)}") for k, v in result.forms.items()]
    notes.append(f"{len(result):,} point{'s' if len(result) != 1 else ''} "
                 f"({min(len(result), rows)} shown); {invalid:,} invalid")
    for message, loc, bad in result.failures:
        count = int(bad.sum())
        first = int(bad.argmax())
        at = ", ".join(f"{k}={int(v[first])}" for k, v in result.inputs.items())
        notes.append(printable(f"{count:,} point{'s' if count != 1 else ''}: "
                               f"{message if len(message) <= 160 else message[:159] + '…'} "
                               f"[{loc}] (first at {at})"))
    return Table([Column(n, right=True) for n in names], body, title=printable(name),
                 footnotes=notes, wrap_footnotes=False)


def plot(result: Sweep, path: str, title: str = "") -> None:
    """A chart of each column against the swept size (needs matplotlib: the ``plot`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SpecError(f"{option('plot')} needs matplotlib: pip install 'archcalc[plot]'") from None
    xs_name = next(iter(result.inputs))
    xs = result.inputs[xs_name]
    ok = result.valid
    if not ok.any():
        raise SpecError(f"{option('plot')}: no valid point to draw (see the invalid points listed)")
    varying = {k: v for k, v in result.columns.items() if v[ok].min() != v[ok].max()}
    columns = varying or dict(result.columns)  # constant columns draw flat lines: left out
    fig, axes = plt.subplots(len(columns), 1, figsize=(7, 2.2 * len(columns)), sharex=True,
                             squeeze=False)
    for ax, (name, values) in zip(axes[:, 0], columns.items()):
        ax.plot(xs[ok], values[ok].astype(float), lw=1)
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
    axes[-1, 0].set_xlabel(" = ".join(result.inputs))
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
