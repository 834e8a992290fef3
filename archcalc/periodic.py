"""Closed forms in one size evaluated exactly, and what their periodicity proves.

A sum of rational multiples of a size s through floor and ceiling (every spatial size and
receptive-field start takes this form) gains the same amount c over every period P of s, a
common multiple of its denominators: ``f(s + P) = f(s) + c``. With c = 0 the form repeats,
so its values at P consecutive integers are all its values, and two such forms are ordered
everywhere when their difference is ordered over one period. The values are computed in
exact rational arithmetic, never with sympy's simplification.
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor, lcm

MAX_PERIOD = 1 << 12  # a longer period is not evaluated point by point


class Unknown(Exception):
    """An expression this evaluator does not know."""


def period(f) -> int | None:
    """The least common multiple of the denominators of ``f``'s rational numbers, if not
    larger than ``MAX_PERIOD``: a period of every floor and ceiling of a rational multiple
    of the size in ``f``."""
    p = 1
    for atom in f.atoms():
        if atom.is_Rational:
            p = lcm(p, int(atom.q))
            if p > MAX_PERIOD:
                return None
    return p


def shift(e, sym, p: int) -> Fraction:
    """``e(s + p) − e(s)``, the same at every s; Unknown when the structure does not show
    it (a floor whose argument moves by a fraction, Min or Max of parts that move apart)."""
    if e == sym:
        return Fraction(p)
    if e.is_Number:
        return Fraction(0)
    name = type(e).__name__
    if name == "Add":
        return sum((shift(a, sym, p) for a in e.args), Fraction(0))
    if name == "Mul":
        coeff, rest = e.as_coeff_Mul()
        if rest.is_Mul or not coeff.is_Rational:
            raise Unknown(name)
        return Fraction(int(coeff.p), int(coeff.q)) * shift(rest, sym, p)
    if name in ("floor", "ceiling"):
        inner = shift(e.args[0], sym, p)
        if inner.denominator != 1:
            raise Unknown(name)
        return inner
    if name in ("Min", "Max"):
        shifts = {shift(a, sym, p) for a in e.args}
        if len(shifts) != 1:
            raise Unknown(name)
        return shifts.pop()
    raise Unknown(name)


def value(e, sym, v: int) -> Fraction:
    """``e`` at ``sym`` = v, in exact rational arithmetic."""
    if e == sym:
        return Fraction(v)
    if e.is_Rational:
        return Fraction(int(e.p), int(e.q))
    name = type(e).__name__
    args = e.args
    if name == "Add":
        return sum((value(a, sym, v) for a in args), Fraction(0))
    if name == "Mul":
        out = Fraction(1)
        for a in args:
            out *= value(a, sym, v)
        return out
    if name == "floor":
        return Fraction(floor(value(args[0], sym, v)))
    if name == "ceiling":
        return Fraction(ceil(value(args[0], sym, v)))
    if name == "Min":
        return min(value(a, sym, v) for a in args)
    if name == "Max":
        return max(value(a, sym, v) for a in args)
    if name == "Mod":
        a, b = value(args[0], sym, v), value(args[1], sym, v)
        return a - b * floor(a / b)
    raise Unknown(name)


def _size(f):
    """The one symbol of ``f`` when it is a size (a positive integer), else None: the
    proofs here range over the positive integers only."""
    symbols = f.free_symbols
    if len(symbols) != 1:
        return None
    (sym,) = symbols
    return sym if sym.is_integer and sym.is_positive else None


def never_negative(f) -> bool:
    """True when ``f`` is proved ≥ 0 at every positive integer value of its one size: a
    number ≥ 0, or a form that repeats (gains 0 over its period) and is ≥ 0 over one
    period. False proves nothing."""
    if f.is_Number:
        return bool(f >= 0)
    sym = _size(f)
    if sym is None:
        return False
    p = period(f)
    if p is None:
        return False
    try:
        if shift(f, sym, p) != 0:
            return False
        return all(value(f, sym, v) >= 0 for v in range(1, p + 1))
    except (Unknown, ZeroDivisionError):
        return False


def least(xs: list):
    """The one of ``xs`` proved no larger than every other (``never_negative`` of each
    difference), or None when no such proof is found."""
    for i, x in enumerate(xs):
        if all(j == i or never_negative(y - x) for j, y in enumerate(xs)):
            return x
    return None


def greatest(xs: list):
    """The one of ``xs`` proved no smaller than every other, or None."""
    for i, x in enumerate(xs):
        if all(j == i or never_negative(x - y) for j, y in enumerate(xs)):
            return x
    return None


_SIDES = {"GreaterThan": (1, False), "StrictGreaterThan": (1, True),
          "LessThan": (-1, False), "StrictLessThan": (-1, True)}


def decide(cond) -> bool | None:
    """The truth of an inequality on one size at every positive integer value, exactly;
    None when it depends on the size or the form is not one this module knows. With
    f = lhs − rhs (or rhs − lhs) gaining c over a period P: c ≥ 0 and f holding at
    1 … P proves it everywhere; c ≤ 0 and f failing at 1 … P disproves it everywhere."""
    side = _SIDES.get(type(cond).__name__)
    if side is None:
        return None
    sign, strict = side
    f = sign * (cond.lhs - cond.rhs)
    sym = _size(f)
    if sym is None:
        return None
    p = period(f)
    if p is None:
        return None
    try:
        c = shift(f, sym, p)
        seen = {bool(x > 0 if strict else x >= 0)
                for x in (value(f, sym, v) for v in range(1, p + 1))}
    except (Unknown, ZeroDivisionError):
        return None
    if seen == {True} and c >= 0:
        return True
    if seen == {False} and c <= 0:
        return False
    return None
