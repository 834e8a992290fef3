"""Name the closed-form condition that bound symbol values break.

With every symbol bound, a layer that cannot work (a 5×5 kernel on a 3-pixel input) fails
on plain numbers, and its message speaks of numbers. When the numbers came from values the
user bound (``--set`` on the command line, ``set=`` in the Python API, ``set:`` in an answer
sheet), the user wants to know which condition of the spec's closed form they violated. The
analysis raises a ``LayerFailure`` (the layer, the graph, the plain message); ``restate``
analyses the same spec again with those symbols free and names the first recorded condition
at that layer that the values break. The result is data (``SetViolation``); each entry point
words it with its own name for the values (``worded``).
"""

from __future__ import annotations

from typing import Any, Callable

from ..dims import resolve
from ..errors import SpecError


def plain_values(values: dict) -> str:
    """The values as ``H=2,W=3``: how the library's own message and ``--set`` write them."""
    return ",".join(f"{k}={v}" for k, v in values.items())


class SetViolation(SpecError):
    """A layer's failure on bound values, as data: ``head`` (the layer: "conv2d 'c1'"), the
    bound ``values`` that take part, the ``condition`` they violate (its text; None when
    the spec has no closed form in them to name) and the failure itself (``detail``)."""

    def __init__(self, head: str, values: dict, condition: str | None, detail: str, loc,
                 layer: str | None):
        self.head, self.values, self.condition, self.detail = head, dict(values), condition, \
            detail
        super().__init__(self.worded(plain_values), loc, layer)

    def worded(self, name: Callable[[dict], str]) -> str:
        """The message, with ``name(values)`` saying where the values came from."""
        if self.condition is None:
            return f"{self.detail} (with {name(self.values)})"
        return f"{self.head}: {name(self.values)} violates {self.condition}: {self.detail}"


def restate(error: SpecError) -> SpecError:
    """A ``LayerFailure`` of a graph with bound values restated as a ``SetViolation``; any
    other error unchanged."""
    node, graph = getattr(error, "node", None), getattr(error, "graph", None)
    if node is None or graph is None or not graph.overrides:
        return error
    overrides = graph.overrides
    free = free_conditions(graph)
    found = _violated(node, overrides, free) if free is not None else None
    if found is None:
        return SetViolation(f"{node.type} '{node.local}'", overrides, None, error.message,
                            error.loc, error.layer)
    cond_text, names = found
    values = {k: overrides[k] for k in overrides if k in names} or overrides
    return SetViolation(f"{node.type} '{node.local}'", values, cond_text,
                        error.message.split(": ", 1)[-1], error.loc, error.layer)


def free_conditions(graph) -> tuple | None:
    """(conditions, symbol names) of the spec analysed with its bound symbols left free;
    None when the spec needs them as numbers (a repeat count): then there is no closed
    form."""
    from ..analysis import analyse
    from .loader import rebuild

    if graph.source is None:
        return None
    try:
        free = rebuild(graph, {k: None for k in graph.overrides})
        return analyse(free).conditions, list(free.symbols)
    except (SpecError, ArithmeticError, TypeError, ValueError, RecursionError):
        return None


def _violated(node, overrides: dict, free: tuple) -> tuple[str, set] | None:
    """The first condition recorded at ``node`` (with the bound symbols free) that is false
    at the bound values, as (text, names of its symbols); None when there is none."""
    from ..report.values import condition_text

    conditions, order = free
    for cond, _message, loc in conditions:
        if loc != node.loc:
            continue
        values = {s: overrides[s.name] for s in cond.free_symbols if s.name in overrides}
        if resolve(_substitute(cond, values)) is False:
            return condition_text(cond, order), {s.name for s in cond.free_symbols}
    return None


def _substitute(cond: Any, values: dict) -> Any:
    try:
        return cond.subs(values)
    except (TypeError, ValueError, AttributeError):
        return None
