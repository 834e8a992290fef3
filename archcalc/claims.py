"""Claimed values on an answer sheet: exact, approximate, or closed forms.

A count may be written exactly (``138357544``, ``"138,357,544"``) or approximately, with a
prefix or word (``"138M"``, ``"15.5 G"``, ``"1.2K"``, ``"1.38e8"``, ``"60 million"``,
``"~23M"``, ``"≈ 51.3M"``, ``"about 60 million"``, Persian digits and words such as
``"۶۰ میلیون"``). An approximate claim given to k significant digits is right when the exact
value rounds *or truncates* to it at that precision — ``"11.7M"`` accepts 11,650,000 ≤ value
< 11,800,000 — and the verdict says which (``Number.how``). Prefixes are decimal (K = 10³,
M = 10⁶, G = 10⁹, T = 10¹²; B = billion; thousand, million, billion, trillion) unless the
sheet says ``prefix: binary`` (K, M, G, T and Ki, Mi, Gi, Ti = 1024-powers, as GoogLeNet's
Table 1 counts parameters); without it binary prefixes are refused. A claim with names in it
(``"2*H*W"``) is a closed form in the spec's symbols, compared as an expression where the
spec's recorded conditions hold. Shapes: ``[512, 7, 7]``, ``"512x7x7"``,
``"[C, ceil(H/2), W - D*(F-1)]"``; receptive fields: ``40`` (every axis) or ``[40, 40]``.

Claims come from strangers: their length is bounded before any pattern is matched, the
patterns cannot backtrack on runs of spaces, and exponents are bounded before a power is
computed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from . import dims, expr, limits
from .errors import SpecError

PREFIXES = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "B": 10**9, "T": 10**12}
BINARY = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
# the Persian words are those of course material: هزار thousand, میلیون million, میلیارد
# (milliard) billion
WORDS = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
         "هزار": 10**3, "میلیون": 10**6, "میلیارد": 10**9}
# words and signs that mark a claim as approximate (it is graded by its precision anyway)
APPROXIMATELY = ("approximately", "approx.", "approx", "about", "around", "roughly", "~",
                 "≈", "تقریباً", "تقریبا", "حدوداً", "حدودا", "حدود")
# Persian (U+06F0…) and Arabic-Indic (U+0660…) digits, Arabic decimal and thousands separators
_DIGITS = str.maketrans({**{chr(0x06F0 + i): str(i) for i in range(10)},
                         **{chr(0x0660 + i): str(i) for i in range(10)},
                         "\u066b": ".", "\u066c": ","})
_UNIT_WORDS = r"(?:flops?|macs?|mult-adds|multiply-adds|params|parameters|ops)"
# Applied to text whose whitespace runs are collapsed to one space: every " ?" below can
# match in at most one way, so matching is linear in the length of the claim.
_ROUNDED = re.compile(
    r"^(?P<mant>[+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:[eE](?P<exp>[+-]?\d+))? ?"
    r"(?P<prefix>" + "|".join(WORDS) + r"|[kKMGTB]i?)? ?" + _UNIT_WORDS + r"?$", re.IGNORECASE)
_GROUPED = re.compile(r"^\d{1,3}(?:[,_ ]\d{3})+$")
_BINARY = re.compile(r"^[\d.]+ ?[KMGT]i(?:b|bytes?)?(?![a-z])", re.IGNORECASE)
SAMPLE_POINTS = 32  # points where a symbolic claim is compared when sympy cannot decide
SAMPLE_TRIES = 1000  # random points tried to find them (many may break a condition)


@dataclass(frozen=True)
class Number:
    """A claimed count: ``value``, given to ``digits`` significant digits whose last one is
    worth ``unit`` (0 for an exact claim)."""

    value: Any  # Fraction, or a sympy expression for closed forms
    unit: Fraction = Fraction(0)
    text: str = ""
    digits: int = 0  # significant digits written (0 for an exact claim)

    @property
    def tolerance(self) -> Fraction:
        """How far a value rounding to the claim may lie from it: half a unit."""
        return self.unit / 2

    @property
    def rounded(self) -> bool:
        return self.unit > 0

    def how(self, expected, conditions=()) -> str | None:
        """How the claim fits ``expected``: "exact", "rounded" (the value rounds to it at
        the precision written), "truncated" (its digits past that precision were dropped),
        or None when it does not."""
        if dims.is_symbolic(expected) or dims.is_symbolic(self.value):
            return "exact" if same_expression(self.value, expected, conditions) else None
        value = expected if isinstance(expected, Fraction) else Fraction(int(expected))
        if value == self.value:
            return "exact"
        if not self.unit:
            return None
        if abs(value - self.value) <= self.unit / 2:
            return "rounded"
        # truncation drops digits toward zero: 23,834,568 → 23M
        low, high = (self.value, self.value + self.unit) if self.value >= 0 else \
            (self.value - self.unit, self.value)
        return "truncated" if low <= value < high or (self.value < 0 and value == high) \
            else None

    def matches(self, expected, conditions=()) -> bool:
        return self.how(expected, conditions) is not None

    def verdict(self, expected, order=()) -> str:
        """``"23,834,568 truncated to 2 significant digits"``; empty for an exact claim."""
        from .report.values import human

        how = self.how(expected)
        if how not in ("rounded", "truncated"):
            return ""
        digits = f"{self.digits} significant digit{'s' if self.digits != 1 else ''}"
        return f"{human(expected, order)} {how} to {digits}"


def _max_digits() -> int:
    """Decimal digits of the largest integer archcalc computes with (``max_int_bits``)."""
    return int(limits.current().max_int_bits * math.log10(2)) + 1


def _claim_text(raw: Any) -> str:
    """A claim written as text, with its whitespace runs collapsed, after bounding its
    length (so that no pattern below ever sees a megabyte)."""
    text = str(raw)
    limit = limits.current().max_expr_chars
    if len(text) > limit:
        raise SpecError(f"the claim is {len(text):,} characters long; the limit is {limit:,}")
    return " ".join(text.split())


def _not_a_value(raw: Any) -> str:
    if isinstance(raw, dict):
        return "a mapping"
    if isinstance(raw, list):
        return "a list"
    return "nothing (null)" if raw is None else f"{raw!r}"


def parse_number(raw: Any, symbols: dict, binary: bool = False) -> Number:
    """A count claim: int, grouped digits, an approximate value with a prefix or word, or a
    closed form. ``binary``: K, M, G, T (and Ki, Mi, Gi, Ti) are 1024-powers."""
    if isinstance(raw, (bool, dict, list)) or raw is None:
        raise SpecError(f"expected a number, got {_not_a_value(raw)}")
    if isinstance(raw, int):
        return Number(Fraction(raw), Fraction(0), str(raw))
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise SpecError(f"expected a count, got {raw!r} (a count is a finite number)")
        return _rounded(repr(raw), *_split_float(repr(raw)), "")
    written = _claim_text(raw)
    text, approximate = without_approximation(written.translate(_DIGITS))
    if _GROUPED.match(text):
        value = int(re.sub(r"[,_ ]", "", text))
        return _about(value, written) if approximate else \
            Number(Fraction(value), Fraction(0), written)
    if _BINARY.match(text) and not binary:
        raise SpecError(f"'{written}': binary prefixes (Ki, Mi, Gi) are for bytes; counts use "
                        "decimal K, M, G (10³, 10⁶, 10⁹), or the sheet says 'prefix: binary'")
    m = _ROUNDED.match(text)
    if m:
        prefix = m["prefix"] or ""
        if prefix.lower().endswith("i") and prefix.lower() not in WORDS and not binary:
            raise SpecError(f"'{written}': binary prefixes (Ki, Mi, Gi) are for bytes; counts "
                            "use decimal K, M, G (10³, 10⁶, 10⁹), or the sheet says "
                            "'prefix: binary'")
        if approximate and not prefix and not m["exp"] and "." not in m["mant"]:
            return _about(int(m["mant"]), written)
        return _rounded(written, m["mant"], int(m["exp"] or 0), prefix, binary)
    if binary and _BINARY.match(text):
        raise SpecError(f"'{written}': a count has no unit of bytes; write \"3.2K\" or "
                        "\"3.2 Ki\"")
    if approximate:
        try:
            return Number(_expression(written, symbols), Fraction(0), written)
        except SpecError:
            raise SpecError(f"'{written}': an approximate claim is a number (\"~23M\", "
                            "\"about 60 million\"), not an expression") from None
    return Number(_expression(text, symbols), Fraction(0), written)


def without_approximation(text: str) -> tuple:
    """The claim without a leading "~", "≈", "about", "approximately" (or their Persian
    words), and whether it had one."""
    lowered = text.lower()
    for word in APPROXIMATELY:
        if lowered.startswith(word):
            rest = text[len(word):]
            if word[-1].isalpha() and not (rest[:1].isspace() or rest[:1].isdigit()):
                continue  # a name such as "about_x", not the word "about"
            return rest.strip(), True
    return text, False


def _about(value: int, text: str) -> Number:
    """``"about 60000"``: an approximate integer is given to its digits up to the trailing
    zeros (60000 → 1 significant digit, a unit of 10,000)."""
    digits = str(abs(value)).rstrip("0") or "0"
    unit = 10 ** (len(str(abs(value))) - len(digits))
    return Number(Fraction(value), Fraction(unit), text, len(digits.lstrip("0")) or 1)


def _split_float(text: str) -> tuple:
    """``'1.5e+20'`` → (``'1.5'``, 20), as Python writes a float."""
    mantissa, _, exp = text.partition("e")
    return mantissa, int(exp or 0)


def _rounded(text: str, mantissa: str, exp: int, prefix: str, binary: bool = False) -> Number:
    """``15.5 G`` → 15,500,000,000 to 3 significant digits, a unit of 100,000,000 (the
    last digit written); a plain integer without prefix or exponent is exact."""
    letter = prefix.rstrip("iI").upper() if prefix.lower() not in WORDS else ""
    if binary and letter in BINARY:
        scale = BINARY[letter]
    else:
        scale = WORDS.get(prefix.lower()) or PREFIXES[letter if letter != "" else ""]
    whole = len(mantissa.lstrip("+-").split(".")[0].lstrip("0"))
    if abs(exp) > _max_digits() or whole + exp + len(str(scale)) - 1 > _max_digits():
        raise SpecError(f"'{text}' is too large to be a count (more than "
                        f"{limits.current().max_int_bits} bits)")
    value = Fraction(mantissa)
    if not prefix and not exp and "." not in mantissa:
        return Number(value, Fraction(0), text)
    scale = Fraction(10) ** exp * scale
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    significant = len(mantissa.lstrip("+-").replace(".", "").lstrip("0")) or 1
    return Number(value * scale, Fraction(1, 10**decimals) * scale, text, significant)


def _expression(text: str, symbols: dict):
    env = {name: value for name, value in symbols.items()}
    try:
        return expr.evaluate_text(text, env)
    except SpecError as e:
        raise SpecError(f"'{text}' is neither a number (138357544, \"138M\", \"15.5 G\") nor "
                        f"an expression in the spec's symbols: {e.message}") from None


# ---------------------------------------------------------------- comparing closed forms
def same_expression(a, b, conditions=()) -> bool:
    """Equal as closed forms where the spec's ``conditions`` hold: the difference is zero as
    sympy writes it, or the two agree at each of 32 points where the conditions hold
    (``R*O/G`` is ``O*floor(R/G)`` wherever ``R % G == 0``; floor identities that sympy
    cannot always prove). Exact arithmetic at points, never ``simplify``: its time on a
    1,000-character claim has no bound."""
    import sympy as sp

    return _same(sp.sympify(a) - sp.sympify(b), tuple(conditions))


@lru_cache(maxsize=1024)
def _same(diff, conditions: tuple) -> bool:
    import random

    import sympy as sp

    if diff == 0:
        return True
    if not diff.free_symbols:
        return False
    relevant = _relevant(diff, conditions)
    free = sorted(set().union(diff.free_symbols, *(c.free_symbols for c in relevant)),
                  key=lambda s: s.name)
    rng = random.Random(0)
    valid = 0
    for _ in range(SAMPLE_TRIES):
        # log-uniform in 1..65536: small values often (so divisibility conditions hold
        # often), large ones too (so do lower bounds such as H >= 1000)
        point = {s: round(2 ** rng.uniform(0, 16)) for s in free}
        if not all(_at(c, point) is True for c in relevant):
            continue
        if _at(diff, point) != 0:
            return False
        valid += 1
        if valid == SAMPLE_POINTS:
            break
    return valid > 0


def _at(e, point: dict):
    """``e`` at ``point`` (symbol → int) in exact arithmetic: a number, True or False, or
    None where it is undefined. Walks the closed form once (sympy's ``xreplace`` costs
    ten times as much, and a sheet may hold 1,000 symbolic claims)."""
    import sympy as sp

    try:
        return _walk(e, point, sp)
    except (ZeroDivisionError, _Unsupported):
        try:
            value = e.xreplace({s: sp.Integer(v) for s, v in point.items()})
        except (ZeroDivisionError, TypeError, ValueError):
            return None
        if value in (sp.true, sp.false):
            return bool(value)
        return value if value.is_number and value.is_finite else None


class _Unsupported(Exception):
    """A node ``_walk`` does not know: sympy evaluates it instead."""


def _walk(e, point: dict, sp):
    if e.is_Symbol:
        return point[e]
    if e.is_Integer:
        return int(e)
    if e.is_Rational:
        return Fraction(int(e.p), int(e.q))
    if e in (sp.true, sp.false):
        return bool(e)
    f, args = e.func, [_walk(a, point, sp) for a in e.args]
    if f is sp.Add:
        return sum(args)
    if f is sp.Mul:
        return math.prod(args)
    if f is sp.Pow and e.args[1].is_Integer:
        return Fraction(args[0]) ** args[1]
    simple = _functions(sp)
    if f in simple:
        return simple[f](*args)
    raise _Unsupported(f)


@lru_cache(maxsize=1)
def _functions(sp) -> dict:
    """sympy's functions and relations that ``_walk`` computes itself."""
    import operator

    return {sp.floor: math.floor, sp.ceiling: math.ceil, sp.Min: min, sp.Max: max,
            sp.Mod: operator.mod, sp.Eq: operator.eq, sp.Ne: operator.ne, sp.Ge: operator.ge,
            sp.Gt: operator.gt, sp.Le: operator.le, sp.Lt: operator.lt,
            sp.And: lambda *a: all(a), sp.Or: lambda *a: any(a), sp.Not: operator.not_}


def _relevant(diff, conditions) -> list:
    """The conditions that constrain the symbols of ``diff``, directly or through other
    conditions sharing a symbol with them."""
    symbols = set(diff.free_symbols)
    pending = [c for c in conditions if getattr(c, "free_symbols", None)]
    chosen: list = []
    grew = True
    while grew:
        grew = False
        for c in list(pending):
            if c.free_symbols & symbols:
                chosen.append(c)
                symbols |= c.free_symbols
                pending.remove(c)
                grew = True
    return chosen


# ---------------------------------------------------------------- shapes and fields
def parse_shape(raw: Any, symbols: dict) -> tuple:
    """``[512, 7, 7]``, ``"512x7x7"``, ``"(C, ceil(H/2), W/2)"``, ``"1 x (M - 2) x N"`` → a
    tuple of ints or expressions."""
    if isinstance(raw, (list, tuple)):
        items = list(raw)
    elif isinstance(raw, str):
        items = split_shape(_claim_text(raw))
    elif isinstance(raw, int) and not isinstance(raw, bool):
        items = [raw]
    else:
        raise SpecError(f"expected a shape such as [512, 7, 7] or \"512x7x7\", got "
                        f"{_not_a_value(raw)}")
    out = []
    for item in items:
        if isinstance(item, float) and not math.isfinite(item):
            raise SpecError(f"bad shape entry {item!r} (a size is a finite number)")
        if isinstance(item, (bool, dict, list)) or item is None or item == "":
            raise SpecError(f"bad shape entry {_not_a_value(item)}")
        out.append(item if isinstance(item, int) else _expression(_claim_text(item), symbols))
    return tuple(out)


def _unwrap(text: str) -> str:
    """``"[a, b]"`` or ``"(a, b)"`` → ``"a, b"``: one pair of brackets around the whole
    text, and only when they match each other (``"(M - 2) x (N - 2)"`` keeps its own)."""
    if len(text) < 2 or (text[0], text[-1]) not in (("[", "]"), ("(", ")")):
        return text
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "[("
        depth -= ch in "])"
        if depth == 0 and i < len(text) - 1:
            return text  # the first bracket closes before the end
    return text[1:-1].strip()


def split_shape(text: str) -> list:
    """The entries of a shape written as text: split at the commas outside parentheses,
    or, without such commas, at ``×`` and at an ``x`` outside parentheses that stands alone,
    sits inside a number (``512x7x7``, ``1xM``) or follows a closing parenthesis
    (``(M - 2)x(N - 2)``); an ``x`` inside a name (``max``, a symbol ``Hx``) is not split."""
    text = _unwrap(text.strip())
    cuts = _top_level(text, ",")
    if not cuts:
        cuts = [i for i in _top_level(text, "×x") if text[i] == "×" or _separates(text, i)]
    bounds = [-1, *cuts, len(text)]
    return [text[a + 1:b].strip() for a, b in zip(bounds, bounds[1:])]


def _top_level(text: str, chars: str) -> list:
    """Positions of ``chars`` outside parentheses and brackets."""
    out, depth = [], 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in chars:
            out.append(i)
    return out


_WORD = re.compile(r"[A-Za-z0-9_.]+")


def _separates(text: str, i: int) -> bool:
    """Whether the ``x`` at ``i`` separates entries rather than being part of a name: the
    word around it (letters, digits, ``_``, ``.``) is ``x`` alone or starts with a digit,
    or the ``x`` starts a word right after a closing parenthesis."""
    start = i
    while start > 0 and _WORD.match(text[start - 1]):
        start -= 1
    end = _WORD.match(text, start).end() if start < len(text) else i + 1
    word = text[start:end]
    if word == "x" or word[:1].isdigit() or word[:1] == ".":
        return True
    return start == i and text[:i].rstrip()[-1:] in (")", "]")


def parse_rf(raw: Any, symbols: dict, axes: int) -> tuple | None:
    """An int (every spatial axis), a list per axis, or null/"none"/"—" for no field."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("none", "—", "-")):
        return None
    shape = parse_shape(raw, symbols)
    if len(shape) == 1 and axes > 1:
        shape = shape * axes
    return shape


def same_tuple(claimed: tuple | None, expected: tuple | None, conditions=()) -> bool:
    if claimed is None or expected is None:
        return claimed is None and expected is None
    if len(claimed) != len(expected):
        return False
    return all(same_expression(c, e, conditions) if dims.is_symbolic(c) or dims.is_symbolic(e)
               else c == e for c, e in zip(claimed, expected))
