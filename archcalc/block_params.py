"""Block instances that differ only in numbers, as one block definition with parameters.

The spec writer gives each block instance as its kind (a class name) and its body: per
layer its type, its fields (name, from, with, relative to the block) and its arguments.
Instances of one kind with the same layers, names and connections share a definition when
every argument that differs between them is a number (an argument left at its default in
one instance is its default there): a number equal in all of them is written as it is, one
that varies becomes a block parameter. A varying argument of the same quantity as an earlier
parameter (channels with channels, stride with stride) that is always equal to it, a whole
multiple of it or a whole fraction of it is written as that expression (``4*c``, ``c/4``),
so that a bottleneck's widths read as a torchvision user would write them. Everything here
is plain data in, plain data out: no framework.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

# arguments that count channels: a parameter among them may be written from another
CHANNELS = frozenset({"out", "groups", "before", "after", "num", "hidden"})
_SHORT = {"stride": "s", "kernel": "k", "padding": "p", "dilation": "d"}
_RESERVED = frozenset({"name", "from", "with", "trainable", "input", "block_input", "min",
                       "max", "floor", "ceil", "round", "int", "abs", "make_divisible",
                       "repeat", "layers", "params", "branches", "merge"})
MISSING = _MISSING = object()  # an argument without a default that an instance omits


class Expr(str):
    """An argument written as an expression of the block's parameters (``4*c``)."""


@dataclass(frozen=True)
class Definition:
    """One block definition: its kind, its parameters (in order) and its body, each layer
    ``(type, fields, args)`` with args that may hold ``Expr`` values."""

    kind: str
    params: tuple
    body: tuple


def share(instances: list, defaults: Callable[[str], dict]) -> tuple:
    """``instances``: per block call ``(kind, body)``; ``defaults(type)``: the type's
    arguments in their order, each with archcalc's default (``MISSING`` for one without a
    default). Returns (definitions in order of first use, per instance
    ``(index of its definition, {parameter: value})``)."""
    def default_of(type_, key):
        return defaults(type_).get(key, MISSING)

    groups: dict = {}
    for i, (kind, body) in enumerate(instances):
        groups.setdefault(_structure(kind, body), []).append(i)
    made = []  # (first member, definition, members, per-member arguments)
    for members in groups.values():
        kind, body = instances[members[0]]
        keys = _keys([instances[i][1] for i in members], defaults)
        filled = {i: _filled(instances[i][1], keys, default_of) for i in members}
        subgroups: dict = {}
        for i in members:
            subgroups.setdefault(_skeleton(filled[i]), []).append(i)
        for sub in subgroups.values():
            definition, args = _define(kind, body, keys, [filled[i] for i in sub], default_of)
            made.append((sub[0], definition, sub, args))
    made.sort(key=lambda m: m[0])
    definitions, calls = [], [None] * len(instances)
    for index, (_, definition, sub, args) in enumerate(made):
        definitions.append(definition)
        for i, a in zip(sub, args):
            calls[i] = (index, a)
    return definitions, calls


def _structure(kind, body) -> tuple:
    """What instances sharing a definition must agree on: the kind, and per layer its type
    and fields (names and connections), not its arguments."""
    return (kind,) + tuple((t, repr(list(fields.items()))) for t, fields, _ in body)


def _keys(bodies, defaults) -> list:
    """Per layer, the arguments any instance gives, in the type's order of arguments."""
    keys = []
    for e in range(len(bodies[0])):
        seen: dict = {}
        for body in bodies:
            for key in body[e][2]:
                seen.setdefault(key, None)
        order = list(defaults(bodies[0][e][0]))
        keys.append(sorted(seen, key=lambda k: (order.index(k) if k in order else len(order),
                                                list(seen).index(k))))
    return keys


def _filled(body, keys, default_of) -> list:
    """Per layer, every argument in ``keys``: the instance's value or archcalc's default."""
    out = []
    for (type_, _, args), ks in zip(body, keys):
        out.append([args[k] if k in args else default_of(type_, k) for k in ks])
    return out


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _shape_of(v):
    if _is_number(v):
        return "#"
    if isinstance(v, (list, tuple)):
        return ("list",) + tuple(_shape_of(x) for x in v)
    return ("value", v if v is _MISSING else repr(v))


def _skeleton(filled) -> tuple:
    """The instance's arguments with every number blanked: instances that agree on it may
    share one definition."""
    return tuple(tuple(_shape_of(v) for v in layer) for layer in filled)


def _define(kind, body, keys, filled, default_of) -> tuple:
    """The definition of instances that differ only in numbers, and each one's arguments."""
    params: list = []  # (name, quantity, vector of values)
    taken = set(_RESERVED) | {str(f.get("name")) for _, f, _ in body}
    layers = []
    for e, (type_, fields, _) in enumerate(body):
        args = {}
        for k, key in enumerate(keys[e]):
            values = [f[e][k] for f in filled]
            value = _written(values, key, params, taken)
            if value is _MISSING:
                continue
            if not isinstance(value, Expr) and value == default_of(type_, key):
                continue  # at archcalc's default in every instance
            args[key] = value
        layers.append((type_, fields, args))
    calls = [{name: vector[n] for name, _, vector in params} for n in range(len(filled))]
    return Definition(kind, tuple(p[0] for p in params), tuple(layers)), calls


def _written(values, key, params, taken):
    """How one argument is written in the definition: the shared value, a list of them, or
    an expression of a parameter (made here if no earlier one fits)."""
    first = values[0]
    if all(v == first for v in values):
        return first
    if isinstance(first, (list, tuple)):
        return [_written([v[i] for v in values], key, params, taken) for i in range(len(first))]
    quantity = "c" if key in CHANNELS else key
    for name, q, vector in params:
        if q == quantity and list(vector) == list(values):
            return Expr(name)
    if all(isinstance(v, int) and v != 0 for v in values):
        for name, q, vector in params:
            if q != quantity or not all(isinstance(p, int) and p != 0 for p in vector):
                continue
            ratio = {Fraction(v, p) for v, p in zip(values, vector)}
            if len(ratio) == 1:
                r = ratio.pop()
                if r.denominator == 1 and r > 1:
                    return Expr(f"{r.numerator}*{name}")
                if r.numerator == 1 and r > 0:
                    return Expr(f"{name}/{r.denominator}")
    name = _new_name(quantity if quantity == "c" else _SHORT.get(key, key), taken)
    params.append((name, quantity, tuple(values)))
    return Expr(name)


def _new_name(base: str, taken: set) -> str:
    base = re.sub(r"[^a-z0-9_]", "_", base.lower()) or "n"
    if base[0].isdigit():
        base = "n" + base
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    taken.add(name)
    return name

