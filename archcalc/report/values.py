"""How one value is written: ints with thousands separators, closed forms in a fixed order.

Symbolic terms are ordered by the spec's symbol declaration order, so the dilated example
prints ``M - D*F + D`` and the dense block ``k0 + 6*k``. The text is valid sympy syntax.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any, Sequence

from ..dims import is_symbolic
from ..errors import SpecError


@lru_cache(maxsize=None)
def _printer_class():
    from sympy.printing.str import StrPrinter

    class OrderedPrinter(StrPrinter):
        def __init__(self, order: Sequence[str]):
            super().__init__()
            self.rank = {name: i for i, name in enumerate(order)}

        def _key(self, term):
            syms = sorted(self.rank.get(s.name, len(self.rank)) for s in term.free_symbols)
            degree = sum(term.as_powers_dict().get(s, 0) for s in term.free_symbols
                         if getattr(term.as_powers_dict().get(s, 0), "is_Number", False))
            return (0 if syms else 1, syms, degree, str(term))

        def _print_Add(self, expr, order=None):
            out = ""
            for i, term in enumerate(sorted(expr.args, key=self._key)):
                coeff, _ = term.as_coeff_Mul()
                negative = coeff.is_negative
                text = self.parenthesize(-term if negative else term, 40)  # PRECEDENCE Add
                if i == 0:
                    out = f"-{text}" if negative else text
                else:
                    out += f" - {text}" if negative else f" + {text}"
            return out

    return OrderedPrinter


def expr_text(value: Any, order: Sequence[str] = ()) -> str:
    """A closed form as text (sympy syntax), terms in the spec's symbol order."""
    if not is_symbolic(value):
        return str(value)
    return _closed_form_text(value, tuple(order))


@lru_cache(maxsize=8192)
def _closed_form_text(value: Any, order: tuple) -> str:
    """Printing is slow and a network repeats its sizes layer after layer: cached."""
    return _printer_class()(order).doprint(value)


def json_value(value: Any, order: Sequence[str] = ()) -> Any:
    """A JSON integer for numbers, a string for closed forms (docs/json-format.md)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [json_value(v, order) for v in value]
    if is_symbolic(value):
        return expr_text(value, order)
    if isinstance(value, float):
        if not math.isfinite(value):  # JSON has no Infinity or NaN
            raise SpecError(f"{value} is not a finite number: it has no JSON form")
        return int(value) if value.is_integer() else value
    return int(value)


def json_text(obj: Any, indent: int | None = 2) -> str:
    """``obj`` as JSON that strict parsers accept: never Infinity or NaN, and no lone
    surrogate (the stand-in Python decodes a file name that is not UTF-8 into), which is
    shown escaped as in messages."""
    text = json.dumps(obj, indent=indent, allow_nan=False)
    if "\\ud" in text:  # a surrogate escape: a pair (emoji) or a lone one (rare either way)
        text = json.dumps(_no_surrogates(obj), indent=indent, allow_nan=False)
    return text + "\n"


def _no_surrogates(obj: Any) -> Any:
    if isinstance(obj, str):
        return obj if obj.isascii() or not _SURROGATE.search(obj) else \
            _SURROGATE.sub(lambda m: ascii(m.group())[1:-1], obj)
    if isinstance(obj, dict):
        return {_no_surrogates(k): _no_surrogates(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_no_surrogates(v) for v in obj]
    return obj


_SURROGATE = re.compile("[\ud800-\udfff]")


def human(value: Any, order: Sequence[str] = ()) -> str:
    """An int with separators (138,357,544); a closed form as text."""
    if value is None:
        return "—"
    if is_symbolic(value):
        return expr_text(value, order)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:g}"
    return f"{int(value):,}"


def shape_text(shape, order: Sequence[str] = ()) -> str:
    return "[" + ", ".join(expr_text(d, order) for d in shape) + "]"


def csv_dims(dims, order: Sequence[str] = ()) -> str:
    """A shape or per-axis field in one CSV cell: ``64x112x112`` when every size is a
    number; as a list, ``[1, Min(H, 3), W - 2]``, when a size is a closed form (``x`` would
    run into it: ``1xMin(H, 3)``, or into a symbol named ``x``)."""
    if any(is_symbolic(d) for d in dims):
        return shape_text(dims, order)
    return "x".join(expr_text(d, order) for d in dims)


def condition_text(cond: Any, order: Sequence[str] = ()) -> str:
    """A condition on free symbols as people write it: divisibility as ``C % 4 == 0``."""
    multiple = _divisibility(cond)
    if multiple is not None:
        n, d = multiple
        return f"{_atom(expr_text(n, order))} % {_atom(expr_text(d, order))} == 0"
    if type(cond).__name__ == "Equality":  # sympy's Eq(a, b), as people write it
        return f"{expr_text(cond.lhs, order)} == {expr_text(cond.rhs, order)}"
    return expr_text(cond, order)


def _atom(text: str) -> str:
    return text if text.replace("_", "").isalnum() else f"({text})"


def _divisibility(cond: Any):
    """(n, d) when ``cond`` is ``Eq(n - d*floor(n/d), 0)`` (dims.divides), else None."""
    import sympy as sp

    if not isinstance(cond, sp.Eq) or cond.rhs != 0:
        return None
    for term in sp.Add.make_args(cond.lhs):
        floors = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.floor)]
        if len(floors) != 1:
            continue
        ratio = floors[0].args[0]
        n, d = sp.fraction(sp.together(ratio))
        if sp.simplify(cond.lhs - (n - d * sp.floor(n / d))) == 0:
            return n, d
    return None


def as_written(value, width: int = 80) -> str:
    """A value from the sheet as YAML's flow style writes it (``[1, H/2]``, ``{a: 1}``), on
    one line and at most ``width`` characters: a claim of 32,000 spaces stays short."""
    def flow(v) -> str:
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k}: {flow(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(flow(x) for x in v) + "]"
        if v is None or isinstance(v, bool):
            return {None: "null", True: "true", False: "false"}[v]
        return " ".join(str(v).split())

    text = flow(value)
    return text if len(text) <= width else text[:width - 1] + "…"
