"""Name the closed-form condition that a ``--set`` value breaks.

With every symbol bound, a layer that cannot work (a 5×5 kernel on a 3-pixel input) fails
on plain numbers, and its message speaks of numbers. When the numbers came from ``--set``,
the user wants to know which condition of the spec's closed form they violated: the spec is
analysed again with those symbols left free, its recorded conditions are evaluated at the
``--set`` values, and the first one that fails at the failing layer is named.
"""

from __future__ import annotations

from typing import Any

from ..errors import SpecError


def explain(graph, node, error: SpecError) -> SpecError:
    """``error`` (a layer's failure on numbers) restated as the violated condition, when the
    numbers came from ``--set``; otherwise ``error`` itself, with the --set values added."""
    overrides = getattr(graph, "overrides", None) or {}
    if not overrides:
        return error
    found = _violated(graph, node, overrides)
    if found is None:
        sets = ",".join(f"{k}={v}" for k, v in overrides.items())
        return SpecError(f"{error.message} (with --set {sets})", error.loc, error.layer)
    cond_text, names = found
    sets = ",".join(f"{k}={overrides[k]}" for k in overrides if k in names) or \
        ",".join(f"{k}={v}" for k, v in overrides.items())
    return SpecError(f"{node.type} '{node.local}': --set {sets} violates {cond_text}: "
                     f"{error.message.split(': ', 1)[-1]}", error.loc, error.layer)


def _violated(graph, node, overrides: dict) -> tuple[str, set] | None:
    """The first condition recorded at ``node`` (with the --set symbols free) that is false
    at the --set values, as (text, names of its symbols); None when there is none."""
    from ..analysis import analyse
    from ..dims import resolve
    from .loader import load_string

    text = getattr(graph, "source", None)
    if text is None:
        return None
    try:
        free = load_string(text, graph.file, {k: None for k in overrides})
        conditions = analyse(free).conditions
    except (SpecError, ArithmeticError, TypeError, ValueError, RecursionError):
        return None  # the spec needs these values as numbers (a repeat count): no closed form
    for cond, _message, loc in conditions:
        if loc != node.loc:
            continue
        values = {s: overrides[s.name] for s in cond.free_symbols if s.name in overrides}
        if resolve(_substitute(cond, values)) is False:
            return _text(cond, free), {s.name for s in cond.free_symbols}
    return None


def _substitute(cond: Any, values: dict) -> Any:
    try:
        return cond.subs(values)
    except (TypeError, ValueError, AttributeError):
        return None


def _text(cond: Any, graph) -> str:
    from ..report.values import condition_text

    return condition_text(cond, list(graph.symbols))
