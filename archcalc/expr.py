"""A small, safe expression language for spec values: ``4*k``, ``k0 + 2*k``, ``max(1, H//2)``.

Parsing knows nothing of sympy; evaluation yields ints on the numeric path and sympy only when a
free symbol is involved. There is no attribute access, no call but the functions of
``FUNCTIONS`` (min, max, floor, ceil, round, int, abs, make_divisible), no name that is not a
spec symbol — spec files come from strangers. Never ``eval``, never
``sympify`` on text.
"""

from __future__ import annotations

import math
import re
import sys
from contextvars import ContextVar
from fractions import Fraction
from functools import lru_cache
from typing import Any, Mapping

from . import dims, limits
from .errors import LimitReached, SpecError, did_you_mean

FUNCTIONS = ("min", "max", "floor", "ceil", "round", "int", "abs", "make_divisible")
# How many arguments each function takes: (fewest, most); None: no upper bound.
ARITY = {"min": (1, None), "max": (1, None), "floor": (1, 1), "ceil": (1, 1), "round": (1, 1),
         "int": (1, 1), "abs": (1, 1), "make_divisible": (2, 3)}

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>\*\*|//|[-+*/%(),]))"
)


# A steps.Probe while solve builds a spec at one point of a real symbol: it computes the
# step functions of that symbol (make_divisible, floor, …) exactly there. None elsewhere.
STEPPER: ContextVar = ContextVar("archcalc_stepper", default=None)


def _stepped(fname: str, *args):
    """The active probe's value of ``fname(*args)``, or None (no probe, or no argument
    depends on its symbol); called only with a symbolic argument, off the numeric path."""
    probe = STEPPER.get()
    return None if probe is None else probe.call(fname, args)


class ExprError(SpecError):
    """An expression that does not parse or cannot be evaluated."""


class OutputName(str):
    """A block parameter given the name of an earlier output (``skip: d3``): in the block's
    symbols it stands for a tensor, which an expression cannot use as a number."""


def _tokens(text: str):
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = text[pos:].lstrip()[:1]
            where = len(text) - len(text[pos:].lstrip()) + 1
            hint = {".": " (attribute access is not allowed)",
                    ":": " (lambdas and slices are not allowed)",
                    "'": " (strings are not allowed)", '"': " (strings are not allowed)",
                    "[": " (indexing and lists are not allowed)",
                    "=": " (assignment and comparison are not allowed)"}.get(bad, "")
            raise ExprError(f"unexpected character {bad!r} at position {where}{hint}")
        kind = m.lastgroup
        out.append((kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    out.append(("end", "", len(text) + 1))
    return out


class _Parser:
    """Recursive descent: sum > product > unary > power > atom."""

    def __init__(self, text: str, max_chars: int, max_depth: int):
        if len(text) > max_chars:
            raise ExprError(
                f"expression is {len(text)} characters long; the limit is {max_chars}"
            )
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0
        self.max_depth = max_depth

    def peek(self):
        return self.toks[self.i]

    def take(self, value=None):
        tok = self.toks[self.i]
        if value is not None and tok[1] != value:
            found = "the end" if tok[0] == "end" else f"'{tok[1]}'"
            raise ExprError(f"expected '{value}' at position {tok[2]}, found {found}")
        self.i += 1
        return tok

    def nest(self):
        self.depth += 1
        if self.depth > self.max_depth:
            raise ExprError(f"expression nests deeper than {self.max_depth} levels")

    def parse(self):
        node = self.sum()
        tok = self.peek()
        if tok[0] != "end":
            raise ExprError(f"unexpected '{tok[1]}' at position {tok[2]}")
        return node

    def sum(self):
        node = self.product()
        while self.peek()[1] in ("+", "-") and self.peek()[0] == "op":
            op = self.take()[1]
            node = ("bin", op, node, self.product())
        return node

    def product(self):
        node = self.unary()
        while self.peek()[1] in ("*", "/", "//", "%") and self.peek()[0] == "op":
            op = self.take()[1]
            node = ("bin", op, node, self.unary())
        return node

    def unary(self):
        if self.peek()[1] in ("-", "+") and self.peek()[0] == "op":
            op = self.take()[1]
            self.nest()
            operand = self.unary()
            self.depth -= 1
            return ("neg", operand) if op == "-" else operand
        return self.power()

    def power(self):
        base = self.atom()
        if self.peek()[1] == "**":
            self.take()
            self.nest()
            exponent = self.unary()
            self.depth -= 1
            return ("bin", "**", base, exponent)
        return base

    def atom(self):
        kind, value, pos = self.take()
        if kind == "num":
            if not any(c in value for c in ".eE"):
                return ("num", int(value))
            number = float(value)
            if not math.isfinite(number):
                raise ExprError(f"{_short(value)} at position {pos} is not a finite number "
                                "(the largest floating-point number is about 1.8e308)")
            return ("num", number)
        if kind == "name":
            if value.startswith("_"):
                raise ExprError(f"name '{value}' is not allowed (names may not start with '_')")
            if self.peek()[1] == "(":
                if value not in FUNCTIONS:
                    raise ExprError(
                        f"unknown function '{value}'{did_you_mean(value, FUNCTIONS)}; "
                        f"allowed: {', '.join(FUNCTIONS)}"
                    )
                return self.call(value)
            return ("sym", value)
        if value == "(":
            self.nest()
            node = self.sum()
            self.depth -= 1
            self.take(")")
            return node
        found = "the end of the expression" if kind == "end" else f"'{value}'"
        raise ExprError(f"expected a number, a name or '(' at position {pos}, found {found}")

    def call(self, fname):
        self.take("(")
        self.nest()
        args = [self.sum()]
        while self.peek()[1] == ",":
            self.take()
            args.append(self.sum())
        self.take(")")
        self.depth -= 1
        fewest, most = ARITY[fname]
        if len(args) < fewest or most is not None and len(args) > most:
            if fewest == most:
                wanted = "exactly one argument" if most == 1 else f"exactly {most} arguments"
            elif most is None:
                wanted = f"at least {fewest} argument{'s' if fewest > 1 else ''}"
            else:
                wanted = f"{fewest} or {most} arguments"
            signature = "(v, divisor[, min_value])" if fname == "make_divisible" else "()"
            raise ExprError(f"{fname}{signature} takes {wanted}, got {len(args)}")
        return ("call", fname, tuple(args))


def _short(text: str, width: int = 20) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def parse(text: str):
    """Parse an expression into an immutable tree of tuples (cached per text and the
    limits the parser reads, so a cached parse never outlives a change of limits)."""
    lim = limits.current()
    return _parse(text, lim.max_expr_chars, lim.max_expr_depth)


@lru_cache(maxsize=4096)
def _parse(text: str, max_chars: int, max_depth: int):
    if not text.strip():
        raise ExprError("empty expression")
    return _Parser(text, max_chars, max_depth).parse()


def names(tree) -> set[str]:
    """The symbol names an expression tree mentions."""
    kind = tree[0]
    if kind == "sym":
        return {tree[1]}
    if kind == "num":
        return set()
    if kind == "neg":
        return names(tree[1])
    if kind == "bin":
        return names(tree[2]) | names(tree[3])
    return set().union(*(names(a) for a in tree[2]))


def int_bits_limit() -> int:
    """The most bits an integer from an expression or a layer's count may have:
    ``max_int_bits``, and never so many that Python refuses to print it (its 4,300-digit
    limit; a network's sums of such counts stay printable too)."""
    bits = limits.current().max_int_bits
    digits = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    return min(bits, int(digits * 3.32) - 64) if digits else bits


def _check_size(x: Any) -> Any:
    if isinstance(x, int) and x.bit_length() > int_bits_limit():
        raise ExprError(f"value is too large (more than {int_bits_limit()} bits)")
    return x


def _to_sympy_if_mixed(a, b):
    if dims.is_symbolic(a) or dims.is_symbolic(b):
        import sympy as sp

        a = sp.Rational(a.numerator, a.denominator) if isinstance(a, Fraction) else a
        b = sp.Rational(b.numerator, b.denominator) if isinstance(b, Fraction) else b
    return a, b


def _divide(a, b):
    if not dims.is_symbolic(b) and b == 0:
        raise ExprError("division by zero")
    if isinstance(a, int) and isinstance(b, int):
        return a // b if a % b == 0 else Fraction(a, b)
    return a / b


def _power(a, b):
    if dims.is_symbolic(b) or not float(b).is_integer():
        if dims.is_symbolic(a) or dims.is_symbolic(b):
            raise ExprError("an exponent must be a whole number")
        return _check_float(float(a) ** float(b))
    b = int(b)
    if b < 0 or b > 64:
        raise ExprError(f"exponent {b} is out of range (0 to 64)")
    if isinstance(a, int) and a.bit_length() * b > int_bits_limit():
        raise ExprError(f"value is too large (more than {int_bits_limit()} bits)")
    return a**b


def expanded_terms(x: Any) -> int:
    """An upper bound on the number of terms of ``expand(x)``, without expanding: the
    analysis expands closed forms, and ``(A+B+C+D+E)**64`` has 814,385 terms."""
    if not dims.is_symbolic(x):
        return 1
    if x.is_Add:
        return sum(expanded_terms(t) for t in x.args)
    if x.is_Mul:
        return math.prod(expanded_terms(t) for t in x.args)
    if x.is_Pow and x.exp.is_Integer and x.exp > 0:
        t = expanded_terms(x.base)
        n = int(x.exp)
        return math.comb(n + t - 1, t - 1) if t < 64 and n < 4096 else t**n
    return 1


def _check_terms(x: Any) -> Any:
    limit = limits.current().max_expr_terms
    if dims.is_symbolic(x) and expanded_terms(x) > limit:
        raise LimitReached(f"the expression expands to more than {limit} terms",
                           "max_expr_terms")
    return x


def _check_float(x: float) -> float:
    if isinstance(x, complex) or math.isinf(x) or math.isnan(x):
        raise ExprError("value is not a finite number")
    return x


def _floor(x):
    if dims.is_symbolic(x):
        stepped = _stepped("floor", x)
        if stepped is not None:
            return stepped
        import sympy as sp

        return sp.floor(x)
    return math.floor(x)


def _ceil(x):
    if dims.is_symbolic(x):
        stepped = _stepped("ceil", x)
        if stepped is not None:
            return stepped
        import sympy as sp

        return sp.ceiling(x)
    return math.ceil(x)


def _round(x):
    """Python's ``round(x)``: to the nearest whole number, halves to the even one (banker's
    rounding: round(2.5) == 2, round(3.5) == 4), as a width-multiplied channel count
    ``round(c * w)`` is computed in Python."""
    if dims.is_symbolic(x) and (stepped := _stepped("round", x)) is not None:
        return stepped
    if dims.is_symbolic(x):
        raise ExprError(f"round() needs a number, got {x} (in free symbols): sympy has no "
                        "round-half-to-even of a closed form; give the symbols values, or use "
                        "floor or ceil")
    return round(x)


def _int(x):
    """Python's ``int(x)``: toward zero. Of a closed form known not to be negative (sizes and
    real symbols are positive) it is the floor."""
    if dims.is_symbolic(x):
        stepped = _stepped("int", x)
        if stepped is not None:
            return stepped
        if x.is_nonnegative:
            return _floor(x)
        raise ExprError(f"int() needs a number or a closed form that is not negative, got {x}")
    return int(x)


def _abs(x):
    if dims.is_symbolic(x):
        stepped = _stepped("abs", x)
        if stepped is not None:
            return stepped
        import sympy as sp

        return sp.Abs(x)
    return abs(x)


def make_divisible(v, divisor, min_value=None):
    """torchvision's ``_make_divisible`` (torchvision/models/_utils.py), in the same floating
    point: ``max(min_value, int(v + divisor / 2) // divisor * divisor)``, plus ``divisor``
    when that is below ``0.9 * v``; ``min_value`` defaults to ``divisor``. The channel counts
    of MobileNet, EfficientNet, MNASNet and RegNet at a width multiplier."""
    if dims.is_symbolic((v, divisor, min_value)):
        stepped = _stepped("make_divisible", *((v, divisor) if min_value is None else
                                               (v, divisor, min_value)))
        if stepped is not None:
            return stepped
    for name, x in (("v", v), ("divisor", divisor), ("min_value", min_value)):
        if dims.is_symbolic(x):
            raise ExprError(f"make_divisible() needs numbers, but {name} is {x} (in free "
                            "symbols): its rounding has no closed form; give the symbols values")
    if dims.is_integer_valued(divisor) is not True or divisor < 1:
        raise ExprError(f"make_divisible(): divisor must be a positive whole number, got "
                        f"{divisor}")
    divisor = int(divisor)
    if min_value is None:
        min_value = divisor
    elif dims.is_integer_valued(min_value) is not True:
        raise ExprError(f"make_divisible(): min_value must be a whole number, got {min_value}")
    v = v if isinstance(v, (int, float)) else float(v)
    new_v = max(int(min_value), int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _floordiv(a, b):
    if dims.is_symbolic(a) and (stepped := _stepped("//", a, b)) is not None:
        return stepped
    return dims.floordiv(a, b) if dims.is_symbolic(b) or b != 0 else _divide(a, b)


def _mod(a, b):
    if dims.is_symbolic(a) and (stepped := _stepped("%", a, b)) is not None:
        return stepped
    return a - b * dims.floordiv(a, b) if dims.is_symbolic(b) or b != 0 else _divide(a, b)


def _min(*xs):
    if dims.is_symbolic(xs) and (stepped := _stepped("min", *xs)) is not None:
        return stepped
    return dims.dmin(*xs)


def _max(*xs):
    if dims.is_symbolic(xs) and (stepped := _stepped("max", *xs)) is not None:
        return stepped
    return dims.dmax(*xs)


_BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
    "//": _floordiv,
    "%": _mod,
    "**": _power,
}
_CALLS = {"min": _min, "max": _max, "floor": _floor, "ceil": _ceil,
          "round": _round, "int": _int, "abs": _abs, "make_divisible": make_divisible}


def evaluate(tree, env: Mapping[str, Any]) -> Any:
    """Evaluate a parsed tree; ``env`` maps symbol names to ints, floats or sympy values."""
    try:
        return _evaluate(tree, env)
    except OverflowError:
        raise ExprError("value is too large to compute") from None
    except (ValueError, TypeError, ArithmeticError) as e:  # e.g. float of a huge int
        raise ExprError(f"cannot compute this value ({type(e).__name__})") from None


def _evaluate(tree, env: Mapping[str, Any]) -> Any:
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "sym":
        try:
            value = env[tree[1]]
        except KeyError:
            raise ExprError(
                f"unknown symbol '{tree[1]}'{did_you_mean(tree[1], env)}"
            ) from None
        if isinstance(value, OutputName):
            raise ExprError(f"'{tree[1]}' names the output '{value}' (a tensor), not a number")
        return value
    if kind == "neg":
        return -_scalar(_evaluate(tree[1], env))
    if kind == "bin":
        a = _scalar(_evaluate(tree[2], env))
        a, b = _to_sympy_if_mixed(a, _scalar(_evaluate(tree[3], env)))
        result = _BINARY[tree[1]](a, b)
        if isinstance(result, float):
            _check_float(result)
        if tree[1] in ("*", "**"):
            _check_terms(result)
        return _check_size(dims.as_number(result))
    args = [_scalar(_evaluate(a, env)) for a in tree[2]]
    return dims.as_number(_CALLS[tree[1]](*args))


def _scalar(x: Any) -> Any:
    """``x`` itself, unless it is a list (a block parameter such as ``k: [1, 7]``)."""
    if isinstance(x, tuple):
        raise ExprError("a list cannot be used in arithmetic")
    return x


def evaluate_text(text: str, env: Mapping[str, Any]) -> Any:
    """Parse and evaluate in one step."""
    return evaluate(parse(text), env)


def constant(text: str) -> int | float:
    """A value bound to a symbol (``--set``, a sheet's ``set``, the API's ``set=``): a number
    or a constant expression ('2**8'), as an int when whole, else a finite float."""
    value = evaluate_text(text, {})
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError("not a finite number")
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    if isinstance(value, Fraction):
        try:
            return float(value)
        except OverflowError:
            raise SpecError("too large for a fraction (at most about 1.8e308)") from None
    return value
