"""The layer registry and what a rule sees (``Ctx``) and returns (``Out``).

A rule is one function of the input shape(s) and the arguments, written once as plain
arithmetic so it works on ints and on sympy expressions alike. The loader reads ``Rule.args``
to validate a spec; the analysis calls ``Rule.fn``; the torch backend builds from the same
arguments. Registering a name twice is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .. import dims
from ..errors import SpecError

REQUIRED = object()


@dataclass(frozen=True)
class Arg:
    """One argument of a layer type.

    kind: ``int`` (a whole number, or expression), ``ints`` (one or one per axis), ``float``,
    ``bool``, ``str`` (one of ``choices``), ``padding`` (ints, ``same``/``valid``), ``ref``
    (a named output), ``refs`` (one or more), ``weight`` (a named earlier layer whose
    weight the layer shares: the rule sees a ``Weight``), ``shape`` (a list of ints, -1
    allowed), ``text`` (a string kept as written: einsum's equation), ``any`` (left to the
    rule). ``tensor``: a ``ref`` whose output the layer also reads as a further input
    (attention's keys and values), not only its shape. ``example``: the value the layer
    reference calls the rule with for a required argument that no generic sample fits.
    """

    kind: str
    default: Any = REQUIRED
    min: int | None = None
    choices: tuple = ()
    doc: str = ""
    nullable: bool = False
    tensor: bool = False
    example: Any = None


@dataclass(frozen=True)
class Window:
    """A sliding window along one axis, for the receptive-field recurrence."""

    kernel: Any
    stride: Any = 1
    pad_left: Any = 0


UNION = "union"  # a merge's receptive field: the union of its inputs' fields, per axis


@dataclass
class Out:
    """A rule's answer: output shape, parameter counts, multiply-accumulates, RF step.

    ``rf``: None keeps each axis's receptive field (element-wise layers); UNION (merges)
    takes the union of the inputs' fields; otherwise a tuple with, per output axis, a Window,
    the index of the input axis it copies (int), or None (the axis mixes everything: no
    receptive field along it).
    """

    shape: tuple
    params: Any = 0
    buffers: Any = 0
    macs: Any = 0
    rf: tuple | str | None = None  # str: only UNION


@dataclass(frozen=True)
class Rule:
    name: str
    fn: Callable[["Ctx"], Out]
    args: dict
    family: str
    nd: int | None = None  # spatial axes the layer expects (conv2d: 2); None = any rank
    merge: bool = False  # takes the current tensor plus named others (add, concat, mul)
    doc: str = ""
    zero: dict = field(default_factory=dict)  # metric -> why it is zero (no formula)

    @property
    def cost(self) -> str:
        """'macs' for a type whose MACs are a formula, 'none' for one declared zero."""
        return "none" if "macs" in self.zero else "macs"

    def zero_reason(self, metric: str) -> str | None:
        """The declared reason this type counts zero ``metric``, or None (it has a formula)."""
        text = self.zero.get(metric)
        return None if text is None else text.format(type=self.name)


COUNTED = ("params", "macs")  # the metrics a rule writes out or declares zero

REGISTRY: dict[str, Rule] = {}


def register_once(table: dict, name: str, value, what: str) -> None:
    """``table[name] = value``; a name registered twice is an error (``what`` says which
    registry: "layer type", "torch builder for", ...)."""
    if name in table:
        raise ValueError(f"{what} '{name}' registered twice")
    table[name] = value


def registrar(table: dict, what: str) -> Callable:
    """A decorator factory for one registry: ``@registers("a", "b")`` puts the function
    in ``table`` under each name, once (``register_once``)."""

    def registers(*names: str):
        def wrap(fn):
            for name in names:
                register_once(table, name, fn, what)
            return fn

        return wrap

    return registers


def register_layer(
    *names: str,
    args: dict | None = None,
    family: str,
    nd: dict | None = None,
    merge: bool = False,
    zero: dict | None = None,
):
    """Register one rule under one or more names (``nd`` maps a name to its spatial rank).

    ``zero`` maps a metric (params, macs) the rule never writes out as a formula to the
    reason it is zero (``{type}`` is replaced by the type's name); every other metric must
    be a formula of terms (``ctx.term``)."""
    unknown = set(zero or {}) - set(COUNTED)
    if unknown:
        raise ValueError(f"zero reasons for unknown metrics {sorted(unknown)}")

    def wrap(fn):
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        for name in names:
            register_once(REGISTRY, name, Rule(
                name, fn, dict(args or {}), family, (nd or {}).get(name), merge, doc,
                dict(zero or {}),
            ), "layer type")
        return fn

    return wrap


@dataclass(frozen=True)
class Weight:
    """What a ``weight`` argument gives a rule: the named layer's type, name and weight
    shape (None for a type whose weight cannot be shared)."""

    type: str
    name: str
    shape: tuple | None


# layer type -> fn(args, input shape) -> its weight's shape, for the types whose weight
# another layer may share (``tie``); registered by their family modules.
WEIGHT_SHAPES: dict[str, Callable] = {}


def weight_shape(*names: str):
    """Register ``fn(args, input_shape) -> shape``: the weight these types let others share."""

    def wrap(fn):
        for name in names:
            register_once(WEIGHT_SHAPES, name, fn, "weight shape of")
        return fn

    return wrap


class LayerError(SpecError):
    """A rule found its input or arguments invalid."""


@dataclass
class Ctx:
    """What a rule gets: the layer type, input shapes, argument values, and checks."""

    type: str
    xs: list  # input shapes; xs[0] is the main input
    a: dict  # evaluated arguments (refs already resolved to shapes)
    nd: int | None
    conditions: list = field(default_factory=list)
    terms: bool = False  # True when explain replays the rule to write its formulas out

    def term(self, label: str, value: Any, elide_one: bool = False):
        """``value``, labelled for the written-out formula when replayed with terms (the
        analysis gets the plain value back: no term objects on the numeric path)."""
        if not self.terms:
            return value
        from .terms import leaf

        return leaf(label, dims.simplify(value), elide_one)  # as the analysis records it

    @property
    def x(self) -> tuple:
        return self.xs[0]

    def __getattr__(self, name):  # ctx.kernel etc. read arguments
        try:
            return self.__dict__["a"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def spatial(self) -> tuple:
        return tuple(self.x[1:])

    def fail(self, message: str):
        raise LayerError(message)

    def require(self, cond: Any, message: str) -> None:
        """Fail when ``cond`` is false; remember it as a condition when it depends on symbols."""
        if self.terms:  # a replay of a rule that already passed its checks
            return
        known = dims.resolve(cond)
        if known is False:
            raise LayerError(message)
        if known is None:
            self.conditions.append((cond, message))

    def expect_rank(self, rank: int, layout: str) -> None:
        if len(self.x) != rank:
            self.fail(
                f"expects a {layout} input (rank {rank}), got {fmt_shape(self.x)} "
                f"(rank {len(self.x)})"
            )

    def per_axis(self, name: str, n: int | None = None) -> tuple:
        """An int-or-list argument as one value per spatial axis."""
        n = self.nd if n is None else n
        value = self.a[name]
        out = per_axis(value, n)
        if len(out) != n:
            self.fail(f"'{name}' has {len(value)} values; this layer has {n} spatial axes")
        return out


def per_axis(value, n: int) -> tuple:
    """One value, or a list of one, repeated for ``n`` axes; a longer list as it is."""
    if not isinstance(value, (list, tuple)):
        return (value,) * n
    if len(value) == 1:
        return tuple(value) * n
    return tuple(value)


def fmt_shape(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"
