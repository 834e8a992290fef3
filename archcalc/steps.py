"""The spec's step functions of one real symbol at one point, exactly, and the interval of
that symbol around the point on which none of them changes value.

``archcalc solve --for w`` over a real-valued symbol ``w`` builds the spec once per piece of
``w``'s range. While a ``Probe`` is active (``probing``), the expression language hands it
every ``make_divisible``, ``floor``, ``ceil``, ``round``, ``int``, ``//``, ``%``, ``min``,
``max`` and ``abs`` whose argument depends on ``w``; the probe computes the value at its point in
rational arithmetic (never floats) and narrows its interval to the values of ``w`` that give
the same result. The spec is then built of plain numbers, and every count it has is the
same throughout the interval.

The point may be ``p`` itself or ``p⁺`` (just right of ``p``: ``right=True``), so that a walk
over the range can start the piece that follows a breakpoint without knowing its width.

Arguments must be linear in ``w`` (``32*w``, ``make_divisible(c*w, 8)*t``); ``make_divisible``
is torchvision's ``_make_divisible`` with ``0.9`` read as 9/10:
``N = max(min_value, floor(v + d/2) // d · d)``, plus ``d`` when ``N < 9/10 · v``.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .errors import SpecError

NINE_TENTHS = Fraction(9, 10)
_LINES: dict = {}  # (argument, symbol) → (slope, intercept), shared by a walk's builds
_TEXTS: dict = {}  # (function, arguments) → the step function as written out


@dataclass(frozen=True)
class Bound:
    """One end of an interval: ``at`` (None: unbounded) and whether it belongs to it."""

    at: Fraction | None
    closed: bool


@dataclass(frozen=True)
class Span:
    """An interval of the real line with open or closed ends."""

    lo: Bound
    hi: Bound

    def contains(self, x: Fraction) -> bool:
        lo, hi = self.lo, self.hi
        above = lo.at is None or x > lo.at or (x == lo.at and lo.closed)
        below = hi.at is None or x < hi.at or (x == hi.at and hi.closed)
        return above and below

    def text(self, name: str) -> str:
        """``a ≤ w < b`` (exact rationals)."""
        lo, hi = self.lo, self.hi
        if lo.at is not None and lo.at == hi.at:
            return f"{name} = {lo.at}"
        left = "" if lo.at is None else f"{lo.at} {'≤' if lo.closed else '<'} "
        right = "" if hi.at is None else f" {'≤' if hi.closed else '<'} {hi.at}"
        return f"{left}{name}{right}"


def _tighter_lo(a: Bound, b: Bound) -> Bound:
    if a.at is None:
        return b
    if b.at is None or a.at > b.at:
        return a
    if b.at > a.at:
        return b
    return Bound(a.at, a.closed and b.closed)


def _tighter_hi(a: Bound, b: Bound) -> Bound:
    if a.at is None:
        return b
    if b.at is None or a.at < b.at:
        return a
    if b.at < a.at:
        return b
    return Bound(a.at, a.closed and b.closed)


def intersect(a: Span, b: Span) -> Span:
    return Span(_tighter_lo(a.lo, b.lo), _tighter_hi(a.hi, b.hi))


OPEN = Bound(None, False)


@dataclass
class Step:
    """A step function met at the probe: what was written (``make_divisible(32*w, 8)``),
    its value there, and the interval of ``w`` on which it keeps that value."""

    text: str
    value: Any
    span: Span


@dataclass
class Probe:
    """The point ``at`` of the real symbol ``symbol`` (``right``: just right of it) and the
    interval around it, narrowed by each step function evaluated (``span``), with the steps
    met (``steps``, by text, the first of each)."""

    symbol: Any  # the sympy Symbol
    at: Fraction
    right: bool
    span: Span
    steps: dict = field(default_factory=dict)

    # ------------------------------------------------------------- what expr.py calls
    def call(self, fname: str, args: tuple) -> Any:
        """The value of ``fname(*args)`` when an argument depends on the symbol, else None
        (the expression language then computes it as usual)."""
        if not any(self._depends(a) for a in args):
            return None
        if fname in ("min", "max"):
            return self._extreme(fname, args)
        if fname == "abs":
            (x,) = args
            return self._extreme("max", (x, -x), _text("abs", x))
        if fname == "make_divisible":
            return self._make_divisible(*args)
        if fname in ("//", "%"):
            a, b = args
            if self._depends(b):
                raise self._refuse(f"{fname} by {b}: the divisor depends on it")
            q = self._rounded("floor", a / b, _text("floor", a / b))
            # a real number's // is a float in Python, as on the numeric path (--set w=…)
            return float(q) if fname == "//" else a - b * q
        (x,) = args
        return self._rounded(fname, x, _text(fname, x))

    # ------------------------------------------------------------- the symbol's arguments
    def _depends(self, x: Any) -> bool:
        return hasattr(x, "free_symbols") and self.symbol in x.free_symbols

    def _refuse(self, why: str) -> SpecError:
        return SpecError(f"solve over the real symbol {self.symbol}: {why}")

    def _linear(self, x: Any) -> tuple:
        """(slope, intercept) of ``x`` as a line in the symbol, exact: decimals written in
        the spec (``1.0``, ``0.75``) as the rationals they spell. Each piece's build meets
        the same arguments again: they are read once."""
        try:
            return _LINES[(x, self.symbol)]
        except (KeyError, TypeError):
            pass
        line = self._read_line(x)
        if len(_LINES) > 10_000:
            _LINES.clear()
        try:
            _LINES[(x, self.symbol)] = line
        except TypeError:
            pass
        return line

    def _read_line(self, x: Any) -> tuple:
        import sympy as sp

        x = sp.sympify(x)
        x = x.xreplace({f: sp.Rational(str(f)) for f in x.atoms(sp.Float)})
        others = x.free_symbols - {self.symbol}
        if others:
            names = ", ".join(sorted(str(s) for s in others))
            raise self._refuse(f"{x} also depends on {names}; bind them with --set")
        try:
            poly = sp.Poly(x, self.symbol)
        except sp.PolynomialError:
            poly = None
        if poly is None or poly.degree() > 1 or not all(c.is_Rational for c in poly.all_coeffs()):
            raise self._refuse(f"{x} is not linear in it (a step function's argument must be "
                               f"a·{self.symbol} + b)")
        coeffs = poly.all_coeffs()
        a, b = (coeffs if len(coeffs) == 2 else [sp.Integer(0), coeffs[0]])
        a = Fraction(int(a.p), int(a.q))
        b = Fraction(int(b.p), int(b.q))
        return a, b

    def _narrow(self, text: str, value: Any, a: Fraction, b: Fraction, vspan: Span) -> None:
        """Narrow the interval to the ``w`` with ``a·w + b`` in ``vspan``."""
        if a == 0:
            return
        lo, hi = vspan.lo, vspan.hi
        if a < 0:
            lo, hi = hi, lo

        def to_w(bound: Bound) -> Bound:
            return bound if bound.at is None else Bound((bound.at - b) / a, bound.closed)

        wspan = Span(to_w(lo), to_w(hi))
        self.span = intersect(self.span, wspan)
        self.steps.setdefault(text, Step(text, value, wspan))

    def _direction(self, a: Fraction) -> int:
        """+1, −1 or 0: which way ``a·w + b`` moves from its value at the point."""
        if not self.right or a == 0:
            return 0
        return 1 if a > 0 else -1

    # ------------------------------------------------------------- the step functions
    def _rounded(self, fname: str, x: Any, text: str) -> int:
        a, b = self._linear(x)
        v, s = a * self.at + b, self._direction(a)
        n, vspan = rounding(fname, v, s)
        self._narrow(text, n, a, b, vspan)
        return n

    def _make_divisible(self, v, divisor, min_value=None) -> int:
        if self._depends(divisor) or self._depends(min_value):
            raise self._refuse("make_divisible()'s divisor and min_value must not depend on it")
        from .expr import make_divisible as checked

        checked(1, divisor, min_value)  # the numeric path's checks of divisor and min_value
        d = int(divisor)
        m = d if min_value is None else int(min_value)
        a, b = self._linear(v)
        v0, s = a * self.at + b, self._direction(a)
        n, vspan = make_divisible_at(v0, s, d, m)
        self._narrow(_text("make_divisible", v, d, min_value), n, a, b, vspan)
        return n

    def _extreme(self, fname: str, args: tuple, text: str | None = None) -> Any:
        """min or max: the argument that is least (greatest) at the point, and the interval
        on which it stays so (each other argument crosses it at most once)."""
        sign = 1 if fname == "min" else -1
        lines = [self._linear(x) for x in args]
        direction = 1 if self.right else 0

        def key(i):
            a, b = lines[i]
            return (sign * (a * self.at + b), sign * a * direction)

        best = min(range(len(args)), key=key)
        ai, bi = lines[best]
        for j, (aj, bj) in enumerate(lines):
            if j == best or aj == ai:
                continue
            cross = (bj - bi) / (ai - aj)
            # sign·(a_i w + b_i) ≤ sign·(a_j w + b_j) ⇔ sign·(a_i − a_j)·w ≤ sign·(b_j − b_i)
            keeps = Span(OPEN, Bound(cross, True)) if sign * (ai - aj) > 0 else \
                Span(Bound(cross, True), OPEN)
            self.span = intersect(self.span, keeps)
            text = text or _text(fname, *args)
            self.steps.setdefault(text, Step(text, str(args[best]), keeps))
        return args[best]


def _text(fname: str, *args) -> str:
    """``make_divisible(32*w, 8)``: a step function as written out (sympy's printing),
    once per argument."""
    key = (fname, *args)
    try:
        return _TEXTS[key]
    except KeyError:
        pass
    text = f"{fname}({', '.join(str(x) for x in args if x is not None)})"
    if len(_TEXTS) > 10_000:
        _TEXTS.clear()
    _TEXTS[key] = text
    return text


# ------------------------------------------------------------------ in the argument's terms
def rounding(fname: str, v: Fraction, s: int) -> tuple:
    """(the value of ``fname`` at ``v`` — or just past it in direction ``s`` —, the
    interval of arguments that give it): floor, ceil, int (toward zero) and round (Python's:
    halves to the even neighbour)."""
    if fname == "int":
        fname = "floor" if v > 0 or (v == 0 and s > 0) else "ceil" if v < 0 or s < 0 else "zero"
    whole = v.denominator == 1
    if fname == "floor":
        n = int(v) - 1 if whole and s < 0 else math.floor(v)
        return n, Span(Bound(Fraction(n), True), Bound(Fraction(n + 1), False))
    if fname == "ceil":
        n = int(v) + 1 if whole and s > 0 else math.ceil(v)
        return n, Span(Bound(Fraction(n - 1), False), Bound(Fraction(n), True))
    if fname == "zero":
        return 0, Span(Bound(Fraction(-1), False), Bound(Fraction(1), False))
    if fname == "round":
        f = math.floor(v)
        if v - f == Fraction(1, 2) and s:
            n = f + 1 if s > 0 else f
        else:
            n = round(v)  # Fraction rounds halves to even, exactly
        even = n % 2 == 0
        half = Fraction(1, 2)
        return n, Span(Bound(n - half, even), Bound(n + half, even))
    raise ValueError(fname)


def make_divisible_at(v: Fraction, s: int, d: int, m: int) -> tuple:
    """(``make_divisible(v, d, m)`` exactly, the interval of ``v`` that gives it), ``v`` or
    just past it in direction ``s``: ``int(v + d/2)`` is a floor where ``v + d/2 ≥ 0``."""
    x = v + Fraction(d, 2)
    if x > 0 or (x == 0 and s >= 0):
        k, xspan = rounding("floor", x / d, s)
        xspan = Span(Bound(xspan.lo.at * d, True), Bound(xspan.hi.at * d, False))
        if k * d <= m:  # every smaller k gives min_value too
            xspan = Span(Bound(Fraction(0), True), Bound(Fraction((m // d + 1) * d), False))
    else:  # int() toward zero of a negative number, then floor division
        t, xspan = rounding("int", x, s)
        k = t // d
    n = max(m, k * d)
    vspan = Span(Bound(xspan.lo.at - Fraction(d, 2), xspan.lo.closed),
                 Bound(xspan.hi.at - Fraction(d, 2), xspan.hi.closed))
    threshold = n / NINE_TENTHS  # n < 9/10 · v ⇔ v > 10n/9
    if v > threshold or (v == threshold and s > 0):
        n += d
        vspan = intersect(vspan, Span(Bound(threshold, False), OPEN))
    else:
        vspan = intersect(vspan, Span(OPEN, Bound(threshold, True)))
    return n, vspan


# ------------------------------------------------------------------ the active probe
@contextmanager
def probing(probe: Probe):
    """Hand the expression language's step functions of ``probe.symbol`` to ``probe``."""
    from . import expr

    token = expr.STEPPER.set(probe)
    try:
        yield probe
    finally:
        expr.STEPPER.reset(token)
