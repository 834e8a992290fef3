"""The conditions a network's closed forms hold under, as a person would state them.

The analysis records a condition at every layer that needs one (``analysis.conditions``: a
kernel no larger than its padded input, a pool's output of at least one, a whole number of
heads); a deep network repeats the same bound many times over, and most are implied by one
later layer's. ``stated`` gives an equivalent, short list:

* a condition on one size that grows with the size (a sum of sizes with positive weights,
  through floor, ceiling, Min and Max: the form every spatial bound takes; proved from the
  expression's structure) holds from some least value on: it becomes ``H >= t``, t found by
  doubling and bisection with exact rational arithmetic; of those on one size only the
  largest is kept, at the first layer that needs it (the layer the message names); one that
  holds at every positive value is dropped;
* every other condition (a divisibility, an equality, a bound on several sizes) is kept once.

Over the positive integers, the free sizes' domain, the list holds exactly where the
analysis's does. The per-layer list stays in the analysis, which restates a violated one at
its layer (spec/conditions.py).
"""

from __future__ import annotations

from .periodic import Unknown, period, shift, value

_LIMIT = 2**40  # past this a bound is left as written


def stated(conditions) -> tuple:
    """(condition, message, loc) triples: ``conditions`` deduplicated, each size's lower
    bounds reduced to the one that binds, and a condition on one size that those bounds
    imply dropped (see the module docstring)."""
    if not conditions:
        return ()  # numbers only: nothing to state (and no sympy to import)
    import sympy as sp

    unique, seen = [], set()
    for entry in conditions:
        if entry[0] is sp.true:
            continue  # holds at every value
        if entry[0] not in seen:
            seen.add(entry[0])
            unique.append(entry)
    least = [_least_value(cond) for cond, _, _ in unique]
    bounds: dict = {}  # symbol -> (least value, message, loc) of the first that binds
    for (cond, message, loc), found in zip(unique, least):
        if found is not None and found[1] > bounds.get(found[0], (1,))[0]:
            bounds[found[0]] = (found[1], message, loc)
    kept, placed = [], set()
    for (cond, message, loc), found in zip(unique, least):
        if found is not None:
            sym = found[0]
            if sym in bounds and sym not in placed:  # at the first bound on the size
                placed.add(sym)
                value, message_, loc_ = bounds[sym]
                kept.append((sp.Ge(sym, value), message_, loc_))
            continue
        if _implied(cond, {s: b[0] for s, b in bounds.items()}):
            continue
        kept.append((cond, message, loc))
    return tuple(kept)


def _one_size_bound(cond):
    """(f, s, strict) for a bound f ≥ 0 (f > 0 when strict) on one size s; None for any
    other condition."""
    name = type(cond).__name__
    if name in ("GreaterThan", "StrictGreaterThan"):
        f = cond.lhs - cond.rhs
    elif name in ("LessThan", "StrictLessThan"):
        f = cond.rhs - cond.lhs
    else:
        return None
    if len(f.free_symbols) != 1:
        return None
    (sym,) = f.free_symbols
    return f, sym, name.startswith("Strict")


def _least_value(cond):
    """(symbol, t): ``cond`` holds for the positive integers from t on and at none below;
    None when it is not such a condition (or t is past the limit)."""
    one = _one_size_bound(cond)
    if one is None:
        return None
    f, sym, strict = one
    if _direction(f, sym) != 1:
        return None

    def holds(v: int) -> bool:
        x = value(f, sym, v)
        return x > 0 if strict else x >= 0

    try:
        if holds(1):
            return sym, 1
        hi = 2
        while not holds(hi):
            hi *= 2
            if hi > _LIMIT:
                return None
        lo = hi // 2 + 1  # not holds(hi // 2), holds(hi)
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if holds(mid) else (mid + 1, hi)
    except Unknown:
        return None
    return sym, lo


def _implied(cond, least: dict) -> bool:
    """Whether ``cond``, a bound on one size s, holds at every s from its least value on
    (``least``; 1 without one): f = lhs − rhs built of rational multiples of s through
    floor and ceiling gains the same amount c at every step of a period P
    (archcalc/periodic.py); with c ≥ 0, holding over one period from the least value
    proves it for every larger value."""
    one = _one_size_bound(cond)
    if one is None:
        return False
    f, sym, strict = one
    try:
        p = period(f)
        if p is None or shift(f, sym, p) < 0:
            return False
        start = least.get(sym, 1)
        for v in range(start, start + p):
            x = value(f, sym, v)
            if not (x > 0 if strict else x >= 0):
                return False
    except Unknown:
        return False
    return True


def _direction(e, sym) -> int | None:
    """1 when ``e`` does not decrease as ``sym`` grows, -1 when it does not increase, 0 when
    it does not depend on it; None when its structure does not show which."""
    if e.is_Number:
        return 0
    if e == sym:
        return 1
    name = type(e).__name__
    if name == "Add" or name in ("Min", "Max"):
        ways = {_direction(a, sym) for a in e.args} - {0}
        if None in ways or len(ways) > 1:
            return None
        return ways.pop() if ways else 0
    if name == "Mul":
        coeff, rest = e.as_coeff_Mul()
        if rest.is_Mul or not coeff.is_Number or coeff == 0:
            return None
        d = _direction(rest, sym)
        return None if d is None else d * (1 if coeff > 0 else -1)
    if name in ("floor", "ceiling"):
        return _direction(e.args[0], sym)
    return None
