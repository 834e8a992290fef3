"""Training MACs, exact: the forward pass and the backward pass PyTorch's autograd runs for
``out.sum().backward()`` on the network the spec describes.

Autograd computes a gradient only where a tensor needs one (``requires_grad``): the network's
input and token ids need none; a layer's output needs one when one of its inputs does or the
layer has trainable parameters (it has some, and it is not ``trainable: false``; a tied weight
is trained where neither the layer nor the weight's owner is frozen). Per layer:

* forward: the layer's MACs (archcalc's count);
* input grad: the gradients of its tensor inputs that need one (and, inside attention, of
  the projections and products between), each a product of the forward's size;
* weight grad: the gradients of its trained weights (conv, linear, attention's projections).

Each family registers its layer types' backward in archcalc/layers/backward.py's registry
(or why it has no multiply-accumulates: norms, activations, softmax, pools, embeddings'
scatter-add). A layer whose output the network's output does not depend on runs no backward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import dims
from .errors import SpecError, option
from .layers import REGISTRY
from .layers.backward import BACKWARD, ZERO_BACKWARD, Need


@dataclass(frozen=True)
class TrainRecord:
    """One row's training MACs: forward, input gradients, weight gradients; ``macs`` is
    their sum. FLOPs are twice each (``flops``)."""

    forward: Any
    input_grad: Any
    weight_grad: Any
    recompute: Any = 0  # activation checkpointing: the forward run again in backward

    @property
    def macs(self):
        return dims.simplify(self.forward + self.input_grad + self.weight_grad +
                             self.recompute)

    @property
    def flops(self):
        return dims.simplify(2 * self.macs)

    def as_flops(self) -> dict:
        """The four counts as FLOPs (2 per MAC), by JSON name."""
        out = {"forward": dims.simplify(2 * self.forward),
               "input_grad": dims.simplify(2 * self.input_grad),
               "weight_grad": dims.simplify(2 * self.weight_grad),
               "training": self.flops}
        return out if not self.recompute else {**out,
                                               "recompute": dims.simplify(2 * self.recompute)}


@dataclass(frozen=True)
class Training:
    """Per node id (index; 0 is the input) a ``TrainRecord``, per group id one, the total,
    and per node whether its output needs a gradient and whether its weights are trained."""

    layers: tuple
    groups: tuple
    total: TrainRecord
    needs_grad: tuple
    trained: tuple
    checkpointed: tuple = ()  # the checkpointed groups' qualified names

    def of(self, record) -> TrainRecord:
        """The training record of an analysis row (a layer, a group or the total)."""
        if record.name == "total" and record.kind == "group" and record.id == 0 and \
                record.depth == -1:
            return self.total
        return self.groups[record.id] if record.kind == "group" else self.layers[record.id]


def frozen_node(node) -> bool:
    return node.args.get("trainable") is False


def _nonzero(value) -> bool:
    return dims.resolve(dims.eq(value, 0)) is not True


def trained(graph, analysis) -> tuple:
    """Per node id: whether autograd computes its parameters' gradients."""
    out = [False]
    for node in graph.nodes[1:]:
        tie = node.args.get("tie") if "tie" in REGISTRY[node.type].args else None
        has = _nonzero(analysis.layers[node.id].params) or tie is not None
        ok = not frozen_node(node) and (tie is None or not frozen_node(graph.nodes[tie]))
        out.append(bool(has and ok))
    return tuple(out)


def _reaching(graph) -> set:
    """The node ids the network's output depends on (the backward runs through them only)."""
    seen, todo = set(), [graph.output]
    while todo:
        i = todo.pop()
        if i in seen:
            continue
        seen.add(i)
        todo.extend(graph.nodes[i].inputs if i else ())
    return seen


def training(analysis, checkpoint=()) -> Training:
    """Forward, input-gradient and weight-gradient MACs per layer, group and in total.
    ``checkpoint``: block type names or qualified group names checkpointed
    (archcalc/checkpointing.py): a checkpointed group whose backward runs computes its
    forward once more in backward, each of its layers' ``recompute`` (reentrant checkpoint
    reruns the whole block, the layers whose outputs need no gradient too)."""
    from .checkpointing import Checkpoint, select
    from .profiles import view_of

    if analysis.counted_by is not None:
        raise SpecError(f"training FLOPs count the products PyTorch's autograd computes, from "
                        f"archcalc's own MACs; this analysis holds {analysis.counted_by}'s "
                        f"forward counts (use {option('convention', 'pytorch')})")
    graph = analysis.graph
    train = trained(graph, analysis)
    needs = [False]
    for node in graph.nodes[1:]:
        needs.append(train[node.id] or any(needs[i] for i in node.inputs))
    _check_passes(graph, needs, train)
    reach = _reaching(graph)
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else select(graph, checkpoint)
    rerun = set()  # nodes of checkpointed groups whose backward runs
    for gid in ckpt.groups:
        g = graph.groups[gid]
        _refuse_untrained_inputs(graph, analysis, g, needs)
        if g.output in reach and needs[g.output]:
            rerun.update(range(g.first, g.last + 1))
    layers = [TrainRecord(0, 0, 0)]
    for node in graph.nodes[1:]:
        fwd = analysis.layers[node.id].macs
        again = fwd if node.id in rerun else 0
        if node.id not in reach or not needs[node.id]:
            layers.append(TrainRecord(fwd, 0, 0, again))
            continue
        rule = BACKWARD.get(node.type)
        if rule is None:  # ZERO_BACKWARD: declared without products
            assert node.type in ZERO_BACKWARD, node.type
            layers.append(TrainRecord(fwd, 0, 0, again))
            continue
        need = Need(tuple(needs[i] for i in node.inputs), train[node.id])
        di, dw = rule(view_of(analysis, node), need)
        layers.append(TrainRecord(fwd, dims.simplify(di), dims.simplify(dw), again))
    groups = tuple(_sum(layers, graph.counted(g)) for g in graph.groups)
    return Training(tuple(layers), groups, _sum(layers, graph.counted()), tuple(needs), train,
                    tuple(graph.groups[g].name for g in ckpt.groups))


def _refuse_untrained_inputs(graph, analysis, group, needs) -> None:
    """A checkpointed group with trained parameters whose inputs need no gradient: refused
    (activations.refuse_untrained_inputs)."""
    from .activations import refuse_untrained_inputs
    from .checkpointing import group_inputs

    if not any(needs[i] for i in group_inputs(graph, group)):
        refuse_untrained_inputs(graph, analysis, group)


def _sum(layers, counted) -> TrainRecord:
    """The layers ``counted`` lists (graph.counted), each as many times as it runs."""
    f = i = w = r_ = 0
    for node, n in counted:
        r = layers[node]
        f, i, w = f + n * r.forward, i + n * r.input_grad, w + n * r.weight_grad
        r_ = r_ + n * r.recompute
    return TrainRecord(dims.simplify(f), dims.simplify(i), dims.simplify(w),
                       dims.simplify(r_))


def _check_passes(graph, needs: list, train: tuple) -> None:
    """A repeat over a free symbol builds its body once: its counts stand for every pass,
    which holds when the body's input needs a gradient at every pass as at the first (it
    does unless the repeat starts where nothing before it is trained)."""
    for g in graph.groups:
        if g.times == 1 or g.source is None:
            continue
        if needs[g.source] != needs[g.output]:
            raise SpecError(f"repeat '{g.local}' over {g.times}: its first pass's input needs "
                            "no gradient and its later passes' inputs do, so one pass's "
                            "training count does not stand for all of them; give the count "
                            "a value", g.loc)
