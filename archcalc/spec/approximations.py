"""A spec's ``approximations``: well-known estimates of its counts (Kaplan et al.'s
N ≈ 12·n_layer·d_model², a textbook's rule of thumb) that ``explain`` shows beside the exact
closed form, with their difference. Each is a formula in the spec's symbols and a source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Loc, SpecError
from .yamlsafe import describe

METRICS = ("params", "macs", "flops")
KEYS = ("metric", "formula", "source")


@dataclass(frozen=True)
class Approximation:
    metric: str  # params, macs or flops: what it estimates (of the whole network)
    value: Any  # the formula, evaluated in the spec's symbols
    formula: str  # as written
    source: str  # who states it, where
    loc: Loc


def read(node, evaluate) -> tuple:
    """The ``approximations`` list of a spec (``node``, parsed YAML, or None);
    ``evaluate(node, what)`` gives a formula's value in the spec's symbols."""
    if node is None or node.value is None:
        return ()
    if not node.is_seq:
        raise SpecError(f"'approximations' must be a list of {{metric, formula, source}}, got "
                        f"{describe(node)}", node.loc)
    out = []
    for i, item in enumerate(node.value, 1):
        what = f"approximation {i}"
        if not item.is_map:
            raise SpecError(f"{what}: expected a mapping with {', '.join(KEYS)}, got "
                            f"{describe(item)}", item.loc)
        for key, loc in item.key_locs.items():
            if key not in KEYS:
                raise SpecError(f"{what}: unknown key '{key}' (expected {', '.join(KEYS)})", loc)
        for key in KEYS:
            if key not in item.value:
                raise SpecError(f"{what}: missing '{key}'", item.loc)
        metric, source = item.value["metric"], item.value["source"]
        if metric.value not in METRICS:
            raise SpecError(f"{what}: 'metric' must be one of {', '.join(METRICS)}, got "
                            f"{describe(metric)}", metric.loc)
        if not isinstance(source.value, str) or not source.value.isprintable() \
                or len(source.value) > 300:
            raise SpecError(f"{what}: 'source' must be one line of text (at most 300 "
                            "characters)", source.loc)
        formula = item.value["formula"]
        value = evaluate(formula, f"{what}: 'formula'")
        out.append(Approximation(metric.value, value, str(formula.value).strip(),
                                 source.value, item.loc))
    return tuple(out)
