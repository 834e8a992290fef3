"""Name the closed-form condition that a ``--set`` value breaks.

With every symbol bound, a layer that cannot work (a 5×5 kernel on a 3-pixel input) fails
on plain numbers, and its message speaks of numbers. When the numbers came from ``--set``,
the user wants to know which condition of the spec's closed form they violated: the
analysis (which owns analysing) hands over the conditions it recorded with those symbols
left free, and this module names the first one that fails at the failing layer. It reads
results only: it neither loads nor analyses.
"""

from __future__ import annotations

from typing import Any

from ..dims import resolve
from ..errors import SpecError


def explain(node, error: SpecError, overrides: dict, free: tuple | None) -> SpecError:
    """``error`` (a layer's failure on numbers) restated as the violated condition, when the
    numbers came from ``--set`` (``overrides``); otherwise ``error`` itself, with the --set
    values added. ``free``: (conditions, symbol names in order) of the analysis with the
    --set symbols free, or None when the spec has no closed form in them."""
    if not overrides:
        return error
    found = _violated(node, overrides, free) if free is not None else None
    if found is None:
        sets = ",".join(f"{k}={v}" for k, v in overrides.items())
        return SpecError(f"{error.message} (with --set {sets})", error.loc, error.layer)
    cond_text, names = found
    sets = ",".join(f"{k}={overrides[k]}" for k in overrides if k in names) or \
        ",".join(f"{k}={v}" for k, v in overrides.items())
    return SpecError(f"{node.type} '{node.local}': --set {sets} violates {cond_text}: "
                     f"{error.message.split(': ', 1)[-1]}", error.loc, error.layer)


def _violated(node, overrides: dict, free: tuple) -> tuple[str, set] | None:
    """The first condition recorded at ``node`` (with the --set symbols free) that is false
    at the --set values, as (text, names of its symbols); None when there is none."""
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
