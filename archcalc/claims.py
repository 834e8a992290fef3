"""Claimed values on an answer sheet: exact, human-rounded, or closed forms.

A count may be written exactly (``138357544``, ``"138,357,544"``) or rounded with a
decimal SI prefix (``"138M"``, ``"15.5 G"``, ``"1.2K"``, ``"1.38e8"``): a rounded claim is
right when the exact value rounds to it at the precision written — ``"11.7M"`` means
11,650,000 ≤ value ≤ 11,750,000. Prefixes are decimal (K = 10³, M = 10⁶, G = 10⁹,
T = 10¹²; B = billion): parameters and operations are counts, not bytes, so binary
prefixes (Ki, Mi, Gi) are refused. A claim with names in it (``"2*H*W"``) is a closed form
in the spec's symbols, compared as an expression. Shapes: ``[512, 7, 7]``,
``"512x7x7"``, ``"[C, H/2, W/2]"``; receptive fields: ``40`` (every axis) or ``[40, 40]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from . import dims, expr
from .errors import SpecError

PREFIXES = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "B": 10**9, "T": 10**12}
_UNIT_WORDS = r"(?:flops?|macs?|mac|mult-adds|multiply-adds|params|parameters|ops)?"
_ROUNDED = re.compile(
    r"^(?P<mant>[+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:[eE](?P<exp>[+-]?\d+))?\s*"
    r"(?P<prefix>[kKMGTB]?)\s*" + _UNIT_WORDS + r"$", re.IGNORECASE)
_GROUPED = re.compile(r"^\d{1,3}(?:[,_ ]\d{3})+$")
_BINARY = re.compile(r"^\s*[\d.]+\s*[KMGT]i", re.IGNORECASE)


@dataclass(frozen=True)
class Number:
    """A claimed count: ``value`` ± ``tolerance`` (0 for exact claims)."""

    value: Any  # Fraction, or a sympy expression for closed forms
    tolerance: Fraction = Fraction(0)
    text: str = ""

    def matches(self, expected) -> bool:
        if dims.is_symbolic(expected) or dims.is_symbolic(self.value):
            return same_expression(self.value, expected)
        return abs(Fraction(int(expected)) - self.value) <= self.tolerance

    @property
    def rounded(self) -> bool:
        return self.tolerance > 0


def parse_number(raw: Any, symbols: dict) -> Number:
    """A count claim: int, grouped digits, a rounded value with a prefix, or a closed form."""
    if isinstance(raw, bool) or raw is None:
        raise SpecError(f"expected a number, got {raw!r}")
    if isinstance(raw, int):
        return Number(Fraction(raw), Fraction(0), str(raw))
    if isinstance(raw, float):
        return _rounded(repr(raw), repr(raw), 0, "")
    text = str(raw).strip()
    if _GROUPED.match(text):
        return Number(Fraction(int(re.sub(r"[,_ ]", "", text))), Fraction(0), text)
    if _BINARY.match(text):
        raise SpecError(f"'{text}': binary prefixes (Ki, Mi, Gi) are for bytes; counts use "
                        "decimal K, M, G (10³, 10⁶, 10⁹)")
    m = _ROUNDED.match(text)
    if m:
        return _rounded(text, m["mant"], int(m["exp"] or 0), m["prefix"])
    return Number(_expression(text, symbols), Fraction(0), text)


def _rounded(text: str, mantissa: str, exp: int, prefix: str) -> Number:
    """``15.5 G`` → 15,500,000,000 ± 50,000,000 (half a unit of the last digit written);
    a plain integer without prefix or exponent is exact."""
    value = Fraction(mantissa)
    if not prefix and not exp and "." not in mantissa:
        return Number(value, Fraction(0), text)
    scale = Fraction(10) ** exp * PREFIXES[prefix if prefix == "k" else prefix.upper()]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return Number(value * scale, Fraction(1, 2) / 10**decimals * scale, text)


def _expression(text: str, symbols: dict):
    env = {name: value for name, value in symbols.items()}
    try:
        return expr.evaluate_text(text, env)
    except SpecError as e:
        raise SpecError(f"'{text}' is neither a number (138357544, \"138M\", \"15.5 G\") nor "
                        f"an expression in the spec's symbols: {e.message}") from None


def same_expression(a, b) -> bool:
    """Equal as closed forms: sympy proves the difference zero, or they agree at 64 points
    (floor identities sympy cannot always prove)."""
    import random

    import sympy as sp

    diff = sp.simplify(sp.sympify(a) - sp.sympify(b))
    if diff == 0:
        return True
    free = sorted(diff.free_symbols, key=lambda s: s.name)
    if not free:
        return False
    rng = random.Random(0)
    for _ in range(64):
        point = {s: rng.randint(1, 512) for s in free}
        if diff.subs(point) != 0:
            return False
    return True


def parse_shape(raw: Any, symbols: dict) -> tuple:
    """``[512, 7, 7]``, ``"512x7x7"``, ``"(C, H/2, W/2)"`` → a tuple of ints or expressions."""
    if isinstance(raw, (list, tuple)):
        items = list(raw)
    elif isinstance(raw, str):
        text = raw.strip().strip("[]()").strip()
        items = [p for p in re.split(r"\s*,\s*" if "," in text else r"\s*[x×]\s*", text)]
    elif isinstance(raw, int) and not isinstance(raw, bool):
        items = [raw]
    else:
        raise SpecError(f"expected a shape such as [512, 7, 7] or \"512x7x7\", got {raw!r}")
    out = []
    for item in items:
        if isinstance(item, bool) or item is None or item == "":
            raise SpecError(f"bad shape entry {item!r} in {raw!r}")
        out.append(item if isinstance(item, int) else _expression(str(item), symbols))
    return tuple(out)


def parse_rf(raw: Any, symbols: dict, axes: int) -> tuple | None:
    """An int (every spatial axis), a list per axis, or null/"none"/"—" for no field."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("none", "—", "-")):
        return None
    shape = parse_shape(raw, symbols)
    if len(shape) == 1 and axes > 1:
        shape = shape * axes
    return shape


def same_tuple(claimed: tuple | None, expected: tuple | None) -> bool:
    if claimed is None or expected is None:
        return claimed is None and expected is None
    if len(claimed) != len(expected):
        return False
    return all(same_expression(c, e) if dims.is_symbolic(c) or dims.is_symbolic(e)
               else c == e for c, e in zip(claimed, expected))
