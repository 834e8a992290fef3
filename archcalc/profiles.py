"""What other counting tools report for one layer, computed from the graph.

torchinfo, fvcore, ptflops, thop and FlopCounterMode disagree about the same network
because each counts different things: bias additions, BatchNorm, activations, pooling,
the input or the output spatial size of a transposed convolution. Each tool's rule for
a layer type is one small function of the layer's view (type, arguments, input and output
shapes, archcalc's own record), registered by the layer's family module next to the
source line it copies (layers/costs.py); docs/conventions.md cites the measurements that
confirm them. This module applies them.

All counts are for batch size 1 and the tools' evaluation mode (BatchNorm uses its
running statistics), which is how they are run to size a network.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from . import dims
from .layers import REGISTRY  # noqa: F401  (importing the families registers their costs)
from .layers.costs import DEFAULT_ELSEWHERE, RULES

@dataclass(frozen=True)
class LayerView:
    """One layer as a counting rule sees it (batch size 1, no batch axis)."""

    type: str
    args: dict
    inputs: tuple  # input shapes, main input first
    output: tuple  # output shape
    record: Any  # archcalc's Record for the layer (params, buffers, macs)

    @property
    def x(self) -> tuple:
        return self.inputs[0]

    @property
    def n_in(self):
        return dims.prod(self.x)

    @property
    def n_out(self):
        return dims.prod(self.output)

    @property
    def spatial_rank(self) -> int:
        return len(self.x) - 1

    def arg(self, name: str, default=None):
        return self.args.get(name, default)


# thop: a module type without a rule counts 0 operations AND 0 parameters ("Treat it as
# zero Macs and zero Params"); the types with a rule are those the families register.
THOP_TYPES_WITH_RULES = frozenset(RULES["thop"])
PARAM_RULES: dict[str, Callable[[LayerView], Any]] = {  # tool -> params of a layer
    "thop": lambda v: v.record.params if v.type in THOP_TYPES_WITH_RULES else 0,
}


def count(tool: str, view: LayerView):
    """The tool's count for one layer; a type without a rule costs 0 in that tool (archcalc's
    MACs in a convention that differs for a few types only, DEFAULT_ELSEWHERE)."""
    rule = RULES[tool].get(view.type)
    if rule is None:
        return view.record.macs if tool in DEFAULT_ELSEWHERE else 0
    return rule(view)


def params(tool: str, view: LayerView):
    rule = PARAM_RULES.get(tool)
    return view.record.params if rule is None else rule(view)


# ---------------------------------------------------------------------- apply
def view_of(analysis, node) -> LayerView:
    shapes = tuple(analysis.layers[i].output_shape for i in node.inputs)
    rec = analysis.layers[node.id]
    return LayerView(node.type, node.args, shapes, rec.output_shape, rec)


def recount(analysis, tool: str):
    """The analysis with every layer's MACs (and params) replaced by ``tool``'s count;
    groups and the total are summed again from the layers. An analysis that holds
    ``tool``'s counts already is returned as it is."""
    if analysis.counted_by == tool:
        return analysis
    if analysis.counted_by is not None:
        raise ValueError(f"the analysis holds {analysis.counted_by}'s counts, not archcalc's")
    g = analysis.graph
    layers = [analysis.layers[0]]
    for node in g.nodes[1:]:
        v = view_of(analysis, node)
        layers.append(replace(v.record, macs=dims.simplify(count(tool, v)),
                              params=dims.simplify(params(tool, v))))
    return replace(analysis.resummed(layers), counted_by=tool)


def layer_counts(analysis, tool: str) -> dict:
    """Per-layer counts of one tool, by qualified name (for explanations and tests)."""
    return {node.name: count(tool, view_of(analysis, node))
            for node in analysis.graph.nodes[1:]}
