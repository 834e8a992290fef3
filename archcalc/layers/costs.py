"""What other counting tools report for a layer type, registered by its family module.

torchinfo, fvcore, ptflops, thop and FlopCounterMode count different things for the same
layer (bias additions, BatchNorm, activations, pooling, a transposed convolution's input
or output size). Each family module registers its types' rule per tool with ``@counts``:
a small function of the layer's view (archcalc/profiles.py's LayerView: type, arguments,
input and output shapes, archcalc's own record), next to a comment citing the tool's
source it copies. archcalc/profiles.py applies them; a type a tool has no rule for costs
zero in that tool.
"""

from __future__ import annotations

from typing import Any, Callable

from .base import register_once

TOOLS = ("flopcounter", "fvcore", "ptflops", "ptflops-aten", "thop", "torchinfo", "megatron")
# Counts that differ from archcalc's own for a few types only: a type without a rule counts
# archcalc's MACs (megatron: Megatron-LM's formula halves causal attention's products and is
# archcalc's count elsewhere), instead of zero.
DEFAULT_ELSEWHERE = frozenset({"megatron"})

Rule = Callable[[Any], Any]
RULES: dict[str, dict[str, Rule]] = {tool: {} for tool in TOOLS}  # tool -> type -> count


def counts(tool: str, *types: str):
    """Register ``fn(view) -> count`` as ``tool``'s count for these layer types."""
    if tool not in RULES:
        raise ValueError(f"unknown tool '{tool}'")

    def wrap(fn: Rule) -> Rule:
        for t in types:
            register_once(RULES[tool], t, fn, f"{tool}: layer type")
        return fn

    return wrap


def counts_zero(tool: str, *types: str) -> None:
    """``tool`` has a rule for these types that counts nothing (thop: a hook that adds 0,
    which still counts the module's parameters)."""
    counts(tool, *types)(_zero)


# No docstrings on these two: explain prints a rule's first docstring line as its note, and
# says "archcalc's MACs" for a rule without one.
def _zero(v):
    return 0


def record_macs(v):
    return v.record.macs


def record_params(v):
    """Parameter count × batch (1), whatever the leading sizes of a Linear's input."""
    return v.record.params


def bias_adds(v):
    """One addition per output element when the layer has a bias."""
    return v.n_out if v.arg("bias", True) else 0


def affine(v) -> bool:
    return bool(v.arg("affine", False))
