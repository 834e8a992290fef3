"""Terms: one expression with two readings, its value and its written-out formula.

A rule computes its counts with ``ctx.term(label, value)`` and the helpers below. In the
analysis ``ctx.term`` returns the plain value, so the helpers do plain arithmetic (the
numeric path pays nothing and keeps no term objects). Explain replays the same rule with
terms: each operation then also records how to write itself out, with the labels
(``(k_h·k_w·C_in/groups + 1)·C_out``) or with this layer's numbers (``(3·3·128 + 1)·256``).
"""

from __future__ import annotations

from typing import Any

from .. import dims

_ATOM, _PRODUCT, _SUM = 3, 2, 1


class Term:
    """A labelled value, or an operation on terms; ``value`` is computed as the rule does."""

    __slots__ = ("op", "parts", "label", "value", "elide_one", "name")

    def __init__(self, op: str, parts: tuple, value: Any, label: str = "",
                 elide_one: bool = False):
        self.op, self.parts, self.value, self.label = op, parts, value, label
        self.elide_one = elide_one  # a divisor left out of the numbers when it is 1 (groups)
        self.name = ""  # the output axis a shape term gives (H_out), set by ``named``

    # arithmetic: every operand may be a Term or a plain number
    def __add__(self, other):
        return _binary("+", self, other, lambda a, b: a + b)

    def __radd__(self, other):
        return _binary("+", other, self, lambda a, b: a + b)

    def __sub__(self, other):
        return _binary("−", self, other, lambda a, b: a - b)

    def __rsub__(self, other):
        return _binary("−", other, self, lambda a, b: a - b)

    def __mul__(self, other):
        return _binary("·", self, other, lambda a, b: a * b)

    def __rmul__(self, other):
        return _binary("·", other, self, lambda a, b: a * b)

    def __floordiv__(self, other):
        return _binary("/", self, other, dims.floordiv)

    def __rfloordiv__(self, other):
        return _binary("/", other, self, dims.floordiv)

    @property
    def precedence(self) -> int:
        return {"+": _SUM, "−": _SUM, "·": _PRODUCT, "/": _PRODUCT}.get(self.op, _ATOM)

    def symbolic(self) -> str:
        """The formula with the labels: ``(k_h·k_w·C_in/groups + 1)·C_out``."""
        return self._text(None, False)

    def substituted(self, order) -> str:
        """The formula with this layer's numbers (a divisor marked ``elide_one`` equal to 1
        is left out; a symbolic number other than one symbol is parenthesised)."""
        return self._text(order, True)

    def _text(self, order, numbers: bool) -> str:
        op, parts = self.op, self.parts
        if op == "leaf":
            return number_text(self.value, order) if numbers else self.label
        if op == "note":
            return self.label
        if op == "const":
            return str(self.value)
        if op in ("floor", "ceil"):
            left, right = ("⌊", "⌋") if op == "floor" else ("⌈", "⌉")
            return left + parts[0]._text(order, numbers) + right
        if op in ("min", "max"):
            return f"{op}(" + ", ".join(p._text(order, numbers) for p in parts) + ")"
        a, b = parts
        if numbers and op in ("/", "·") and b.op == "leaf" and b.elide_one and \
                dims.eq(b.value, 1) is True:
            return a._text(order, numbers)
        tight = {"+": (_SUM, _SUM - 1), "−": (_SUM, _SUM), "·": (_PRODUCT, _PRODUCT - 1),
                 "/": (_PRODUCT, _PRODUCT)}[op]
        lt = _wrap(a._text(order, numbers), a.precedence < tight[0])
        sep = {"+": " + ", "−": " − ", "·": "·", "/": "/"}[op]
        if op == "−" and b.op == "+":  # a − (x + y) is written a − x − y
            x, y = b.parts
            return lt + " − " + _wrap(x._text(order, numbers), x.precedence <= _SUM) + \
                " − " + _wrap(y._text(order, numbers), y.precedence <= _SUM)
        rt = _wrap(b._text(order, numbers), b.precedence <= tight[1])
        return lt + sep + rt


def _wrap(text: str, paren: bool) -> str:
    return f"({text})" if paren else text


def number_text(v, order) -> str:
    """A number as written in a substituted formula (symbolic sums parenthesised)."""
    from ..report.values import expr_text

    text = expr_text(v, order)
    return f"({text})" if dims.is_symbolic(v) and not getattr(v, "is_Symbol", False) else text


def _as_term(x) -> Term:
    return x if isinstance(x, Term) else Term("const", (), x)


def _binary(op: str, a, b, fn) -> Term:
    a, b = _as_term(a), _as_term(b)
    return Term(op, (a, b), fn(a.value, b.value))


def value(x):
    """The plain value of a term (a plain value as it is)."""
    return x.value if isinstance(x, Term) else x


def leaf(label: str, v, elide_one: bool = False) -> Term:
    return Term("leaf", (), v, label, elide_one)


def note(text: str, v) -> Term:
    """A value written as a fixed text in both readings (``0 (affine=False)``)."""
    return Term("note", (), v, text)


def named(name: str, x):
    """Mark a shape term as the output size ``name`` (H_out); plain values pass through."""
    if isinstance(x, Term):
        x.name = name
    return x


def floor_div(a, b):
    """``⌊a/b⌋`` (dims.floordiv); a term when either side is one."""
    if not isinstance(a, Term) and not isinstance(b, Term):
        return dims.floordiv(a, b)
    q = _binary("/", a, b, dims.floordiv)
    return Term("floor", (q,), q.value)


def ceil_div(a, b):
    """``⌈a/b⌉`` (dims.ceildiv); a term when either side is one."""
    if not isinstance(a, Term) and not isinstance(b, Term):
        return dims.ceildiv(a, b)
    q = _binary("/", a, b, dims.ceildiv)
    return Term("ceil", (q,), q.value)


def minimum(a, b):
    """``min(a, b)`` (dims.dmin); a term when either side is one."""
    if not isinstance(a, Term) and not isinstance(b, Term):
        return dims.dmin(a, b)
    a, b = _as_term(a), _as_term(b)
    return Term("min", (a, b), dims.dmin(a.value, b.value))


def prod(xs):
    """The product of sizes (1 for none), a term when any factor is one."""
    xs = tuple(xs)
    if not xs:
        return 1
    out = xs[0]
    for x in xs[1:]:
        out = out * x
    return out
