"""Sizes that are plain ints or sympy expressions, and helpers right for both.

The numeric path stays free of sympy: every helper checks for ``int`` first and imports
sympy only when it is handed a symbolic value. Python's ``max``, ``math.ceil`` and ``if x >
0`` fail on symbols, so layer rules use these instead.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any, Union

Dim = Union[int, Any]  # an int, or a sympy expression with integer, positive symbols
NUMBER_TYPES = (int, float, Fraction)


def is_symbolic(x: Any) -> bool:
    """True for a sympy expression that is not a plain number."""
    if type(x) is int:  # the numeric path's common case, checked first (hot)
        return False
    if isinstance(x, (bool, *NUMBER_TYPES)) or x is None:
        return False
    if isinstance(x, (tuple, list)):
        return any(is_symbolic(v) for v in x)
    return not getattr(x, "is_Number", False)


def as_number(x: Any) -> Any:
    """A sympy number becomes an int (or float); anything else is returned unchanged."""
    if isinstance(x, (bool, *NUMBER_TYPES)):
        return x
    if getattr(x, "is_Integer", False):
        return int(x)
    if getattr(x, "is_Number", False):
        return float(x)
    return x


def _split_floor(a, kind):
    """Split ``a`` into (X, m) with ``a == kind(X) + m`` and integer ``m``, or None."""
    import sympy as sp

    func = sp.floor if kind == "floor" else sp.ceiling
    terms = sp.Add.make_args(a)
    rounded = [t for t in terms if isinstance(t, func)]
    if len(rounded) != 1:
        return None
    rest = sp.Add(*[t for t in terms if t is not rounded[0]])
    if rest.is_integer:
        return rounded[0].args[0], rest
    return None


def floordiv(a: Dim, b: Dim) -> Dim:
    """``floor(a / b)``; for symbols, nested floors of positive integer divisors collapse.

    ``floor((floor(X) + m) / b) == floor((X + m) / b)`` for integer ``m`` and positive integer
    ``b``, so chains of strided layers print as one floor.
    """
    if type(a) is int and type(b) is int:  # hot on the numeric path
        return a // b
    if not is_symbolic(a) and not is_symbolic(b):
        return as_number(a) // as_number(b)
    import sympy as sp

    a, b = sp.sympify(a), sp.sympify(b)
    if b == 1 and a.is_integer:
        return a
    if b.is_integer and b.is_positive:
        expanded = sp.expand(a)
        split = _split_floor(expanded, "floor")
        if split is not None:
            return floordiv(split[0] + split[1], b)
        bound = _split_min_max(expanded)
        if bound is not None:  # floor is monotone: floor(min(x, y)/b) = min(floor(x/b), …)
            func, args, m = bound
            return func(*(floordiv(x + m, b) for x in args))
    return sp.floor(a / b)


def _split_min_max(a):
    """Split ``a`` into (Min or Max, its args, m) with ``a == Min(args) + m`` (or Max) and a
    constant ``m``, or None. Ceil-mode pools give such sizes; a stride after them then
    distributes into the Min instead of nesting a floor around it."""
    import sympy as sp

    terms = sp.Add.make_args(a)
    bounds = [t for t in terms if isinstance(t, (sp.Min, sp.Max))]
    if len(bounds) != 1:
        return None
    rest = sp.Add(*[t for t in terms if t is not bounds[0]])
    if rest.is_Number:
        return type(bounds[0]), bounds[0].args, rest
    return None


def ceildiv(a: Dim, b: Dim) -> Dim:
    """``ceil(a / b)``, collapsing nested ceilings as ``floordiv`` does floors."""
    if type(a) is int and type(b) is int:
        return -(-a // b)
    if not is_symbolic(a) and not is_symbolic(b):
        return -(-as_number(a) // as_number(b))
    import sympy as sp

    a, b = sp.sympify(a), sp.sympify(b)
    if b == 1 and a.is_integer:
        return a
    if a.is_integer and b.is_integer and b.is_positive:
        # ceil(a/b) == floor((a + b − 1)/b) for integers: one kind of rounding everywhere, so
        # chains collapse and PyTorch's ceil-mode minimum of two equal forms cancels.
        return floordiv(a + b - 1, b)
    if b.is_integer and b.is_positive:
        split = _split_floor(sp.expand(a), "ceiling")
        if split is not None:
            return ceildiv(split[0] + split[1], b)
    return sp.ceiling(a / b)


def dmax(*xs: Dim) -> Dim:
    if not any(is_symbolic(x) for x in xs):
        return max(as_number(x) for x in xs)
    import sympy as sp

    return sp.Max(*xs)


def dmin(*xs: Dim) -> Dim:
    if not any(is_symbolic(x) for x in xs):
        return min(as_number(x) for x in xs)
    import sympy as sp

    return sp.Min(*xs)


def resolve(cond: Any) -> bool | None:
    """A condition's truth: True/False when decidable, None when it depends on free symbols
    (or is too large to decide quickly)."""
    if isinstance(cond, bool):
        return cond
    if cond is None:
        return None
    import sympy as sp

    if cond in (sp.true, sp.false):
        return bool(cond)
    if _differs_between_points(cond):
        return None  # true somewhere, false elsewhere: no simplification can decide it
    from .periodic import decide

    decided = decide(cond)  # an inequality on one size, exactly, from its period
    if decided is not None:
        return decided
    if form_size(cond, SIMPLIFY_SIZE) > SIMPLIFY_SIZE:
        return None  # too large to simplify in reasonable time: undecided, as above
    try:
        simplified = sp.simplify(cond)
    except Exception:  # sympy cannot always decide; treat as unknown
        return None
    if simplified in (sp.true, sp.false):
        return bool(simplified)
    return None


def form_size(x: Any, stop: int) -> int:
    """Nodes of a closed form's expression tree (symbols, numbers, operations), counted up to
    ``stop + 1`` at most: cheap for the small forms real networks have."""
    if not is_symbolic(x) and not hasattr(x, "args"):
        return 1
    n, stack = 0, [x]
    while stack and n <= stop:
        n += 1
        stack.extend(stack.pop().args)
    return n


# Small sizes, and large ones: a size divided by a long chain of strides is 0 at every small
# probe, and only a large one shows that the condition depends on it.
_PROBES = (1, 2, 3, 5, 8, 13, 31, 64, 100, 224, 1000, 4097, 65537, 1000003, 2**31 - 1,
           2**61 - 1, 2**127 - 1)
_DENSE_PROBES = 64  # a condition on one size is also probed at 1, 2, ..., 64
SIMPLIFY_SIZE = 60  # sympy.simplify takes seconds on larger conditions: left undecided


def _probe_points(symbols) -> list:
    """The probe points: at the i-th, the k-th symbol takes the (i + k)-th probe value, so
    that the symbols differ from one another."""
    import sympy as sp

    return [{s: sp.Integer(_PROBES[(i + k) % len(_PROBES)]) for k, s in enumerate(symbols)}
            for i in range(len(_PROBES))]


def _differs_between_points(cond: Any) -> bool:
    """True when ``cond`` holds at one positive-integer point and fails at another.

    Such a condition depends on its symbols, so ``resolve`` answers None without running
    ``sympy.simplify`` (tens of milliseconds per call; ResNet merges ask hundreds of times).
    A False here proves nothing and falls through to ``simplify``.
    """
    import sympy as sp

    symbols = sorted(getattr(cond, "free_symbols", ()), key=str)
    if not symbols:
        return False
    seen = set()
    for point in _probe_points(symbols):
        try:
            truth = cond.xreplace(point)
        except Exception:  # noqa: BLE001 - a probe that cannot be evaluated says nothing
            continue
        if truth in (sp.true, sp.false):
            seen.add(bool(truth))
            if len(seen) == 2:
                return True
    if len(symbols) == 1 and seen:  # one size: every small value (a bound met only on a
        (sym,) = symbols  # short range, as floor(H/4 - 9/4) + 1 == 1 at H = 9..12)
        for value in range(1, _DENSE_PROBES + 1):
            try:
                truth = cond.xreplace({sym: sp.Integer(value)})
            except Exception:  # noqa: BLE001 - as above
                continue
            if truth in (sp.true, sp.false) and bool(truth) not in seen:
                return True
    return False


def probe_values(xs) -> list | None:
    """Each of ``xs`` at ``resolve``'s probe points (every symbol a positive integer, as a
    spec's are), the same points for all: per x a tuple of exact numbers (None where one
    does not evaluate to a number); None when a symbol is not a positive integer. A sum of
    these above 0 at one point is a counterexample to ``sum <= 0``: no proof of it exists."""
    import sympy as sp

    symbols = sorted(set().union(*(getattr(x, "free_symbols", ()) for x in xs)), key=str)
    if not all(s.is_integer and s.is_positive for s in symbols):
        return None
    points = _probe_points(symbols)

    def number(v):
        if isinstance(v, (int, Fraction)):
            return v
        if getattr(v, "is_Integer", False):
            return int(v)
        return Fraction(int(v.p), int(v.q)) if getattr(v, "is_Rational", False) else None

    def at(x, point):
        try:
            return number(x.xreplace(point)) if hasattr(x, "xreplace") else number(x)
        except Exception:  # noqa: BLE001 - a probe that cannot be evaluated says nothing
            return None

    return [tuple(at(x, p) for p in points) for x in xs]


def at_most(x: Dim, y: Dim) -> bool:
    """True when 0 ≤ x ≤ y is proved for every positive-integer value of the symbols, for
    the sizes layers give: numbers, integer forms of degree one (H, 2·H − 3) and
    floor(A) + m (m an integer). floor(A) + m ≤ floor(B) + n when A + m − n ≤ B (floor is
    monotone and an integer passes through it), floor(A) + m ≤ Y when A + m ≤ Y, an integer
    X ≤ floor(B) + n when X − n ≤ B, and 0 ≤ floor(A) + m when 0 ≤ A + m; each of these is
    a form c0 + Σ ci·si, ≥ 0 at every si ≥ 1 when each ci ≥ 0 and c0 + Σ ci ≥ 0. A False
    proves nothing."""
    if not is_symbolic(x) and not is_symbolic(y):
        return 0 <= as_number(x) <= as_number(y)
    fx, fy = _rounded_form(x), _rounded_form(y)
    if fx is None or fy is None:
        return False
    (floor_x, a, m), (floor_y, b, n) = fx, fy
    if floor_y and not floor_x and not a.is_integer:
        return False
    # 0 ≤ floor(A) + m ⟸ 0 ≤ A + m; then x ≤ y by the case
    return _grows_from_zero(a + m) and _grows_from_zero(b + n - a - m)


def _rounded_form(x: Any):
    """(True, A, m) for floor(A) + m with an integer m, (False, x, 0) for anything else
    (a number included), or None for a form ``at_most`` does not read."""
    import sympy as sp

    x = _expanded(sp.sympify(x))
    split = _split_floor(x, "floor")
    if split is not None:
        return (True, split[0], split[1]) if split[1].is_Integer else None
    return None if x.has(sp.floor, sp.ceiling, sp.Min, sp.Max) else (False, x, sp.Integer(0))


def _grows_from_zero(form: Any) -> bool:
    """Whether ``form`` is c0 + Σ ci·si (positive-integer symbols si) with every ci ≥ 0 and
    c0 + Σ ci ≥ 0: then it is ≥ 0 wherever each si ≥ 1."""
    import sympy as sp

    form = sp.expand(form)
    if form.is_Number:
        return bool(form >= 0)
    symbols = form.free_symbols
    if not all(s.is_integer and s.is_positive for s in symbols):
        return False
    poly = form.as_poly(*sorted(symbols, key=str))
    if poly is None or poly.total_degree() > 1:
        return False
    coefficients = [poly.coeff_monomial(s) for s in poly.gens]
    if not all(c.is_Rational and c >= 0 for c in coefficients):
        return False
    constant = poly.coeff_monomial(1)
    return bool(constant.is_Rational and constant + sum(coefficients) >= 0)


def prod(xs) -> Dim:
    """Product of sizes; 1 for an empty sequence."""
    out: Dim = 1
    for x in xs:
        out = out * x
    return out


def is_integer_valued(x: Any) -> bool | None:
    """True for ints and integer expressions, False for fractions, None when unknown."""
    if isinstance(x, bool):
        return False
    if isinstance(x, int):
        return True
    if isinstance(x, float):
        return False  # a float is never a size, even 3.0
    if isinstance(x, Fraction):
        return x.denominator == 1
    return getattr(x, "is_integer", None)


def simplify(x: Any) -> Any:
    """A readable closed form: ints stay ints; expressions are expanded where that is shorter."""
    if type(x) is int:  # hot on the numeric path: once per value of every layer
        return x
    if not is_symbolic(x):
        return as_number(x)
    return _simplest_form(x)


@lru_cache(maxsize=8192)
def _simplest_form(x: Any) -> Any:
    """The shorter of ``x`` and its expansion (cached: a network repeats its sizes)."""
    return _shorter(x, _expanded(x))


@lru_cache(maxsize=8192)
def _expanded(x: Any) -> Any:
    import sympy as sp

    return sp.expand(_bounds_expanded(x))  # factor() flips signs (-M + D*F - D); not used


def _bounds_expanded(x: Any) -> Any:
    """``x`` with each Min and Max made of its arguments' expansions, each such bound built
    once (cached): ``sympy.expand`` rebuilds a Min or Max from its expanded arguments, and
    building one compares its arguments pairwise (a second for a dozen sums of floor
    products: a free-size peak), again for every total that holds the same peak."""
    import sympy as sp

    if isinstance(x, (sp.Min, sp.Max)):
        return _bound(type(x), tuple(_expanded(a) for a in x.args))
    if not getattr(x, "args", ()) or not x.has(sp.Min, sp.Max):
        return x
    return x.func(*(_bounds_expanded(a) for a in x.args))


@lru_cache(maxsize=1024)
def _bound(kind: Any, args: tuple) -> Any:
    """``kind(*args)``, a Min or a Max as sympy evaluates it, built once per argument list."""
    return kind(*args)


def _shorter(x: Any, expanded: Any) -> Any:
    import sympy as sp

    if expanded == x:
        return x
    ops_x, ops_e = sp.count_ops(x), sp.count_ops(expanded)
    if ops_x != ops_e:
        return x if ops_x < ops_e else expanded
    return min((x, expanded), key=lambda e: len(str(e)))


def simplified_sum(xs: list) -> Dim:
    """``simplify`` of the sum of sizes or counts (a group's total). Ints are added one by
    one; closed forms make one sympy sum, and its expansion is the sum of the terms'
    expansions, each cached (adding a term at a time re-sorts the growing sum every time,
    and expanding each group's sum anew repeats the same products: seconds for DenseNet-201
    with a free input)."""
    if not any(type(x) is not int and is_symbolic(x) for x in xs):
        out = 0
        for x in xs:
            out = out + x
        return simplify(out)
    import sympy as sp

    whole = sp.Add(*xs)
    if not is_symbolic(whole):
        return as_number(whole)
    return _shorter(whole, sp.Add(*(_expanded(sp.sympify(x)) for x in xs)))


def eq(a: Any, b: Any) -> Any:
    """``a == b`` as a bool, or a sympy equation when symbolic."""
    if type(a) is int and type(b) is int:
        return a == b
    if not is_symbolic(a) and not is_symbolic(b):
        return as_number(a) == as_number(b)
    import sympy as sp

    return sp.Eq(a, b)


def exactdiv(a: Dim, b: Dim) -> Dim:
    """``a / b`` for a quotient that is whole by a condition the caller states (d_model /
    n_head with ``divides(n_head, d_model)``): a plain fraction in symbols, not a floor."""
    if not is_symbolic(a) and not is_symbolic(b):
        return a // b
    return simplify(a / b)


def divides(d: Any, n: Any) -> Any:
    """The condition ``n % d == 0``."""
    return eq(n - d * floordiv(n, d), 0)


def whole(v: Any) -> Any:
    """The condition that ``v`` is a whole number: ``n % q == 0`` for ``n/q`` with a whole
    ``q`` (d_model/n_head → d_model % n_head == 0), else ``v == floor(v)``."""
    import sympy as sp

    n, q = sp.fraction(sp.together(v))
    if q != 1:
        return divides(q, n)
    return sp.Eq(v, sp.floor(v))
