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
    # repeats over a free symbol whose layers' rows show the first pass, which differs from
    # the later ones (its input needs no gradient); their group rows and the total count all
    first_pass_differs: tuple = ()
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
    reach = _reaching(graph)
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else select(graph, checkpoint)
    rerun = set()  # nodes of checkpointed groups whose backward runs
    for gid in ckpt.groups:
        g = graph.groups[gid]
        _refuse_untrained_inputs(graph, analysis, g, needs)
        if g.output in reach and needs[g.output]:
            rerun.update(range(g.first, g.last + 1))

    def record(node, needs_) -> TrainRecord:
        fwd = analysis.layers[node.id].macs
        again = fwd if node.id in rerun else 0
        if node.id not in reach or not needs_[node.id]:
            return TrainRecord(fwd, 0, 0, again)
        rule = BACKWARD.get(node.type)
        if rule is None:  # ZERO_BACKWARD: declared without products
            assert node.type in ZERO_BACKWARD, node.type
            return TrainRecord(fwd, 0, 0, again)
        need = Need(tuple(needs_[i] for i in node.inputs), train[node.id])
        di, dw = rule(view_of(analysis, node), need)
        return TrainRecord(fwd, dims.simplify(di), dims.simplify(dw), again)

    layers = [TrainRecord(0, 0, 0)] + [record(node, needs) for node in graph.nodes[1:]]
    later, differs = {}, []
    for g, needs_later in _later_passes(graph, needs, train):
        differs.append(g.local)
        for i in range(g.first, g.last + 1):
            later[i] = (g.times, record(graph.nodes[i], needs_later))
    groups = tuple(_sum(layers, graph.counted(g), later) for g in graph.groups)
    return Training(tuple(layers), groups, _sum(layers, graph.counted(), later), tuple(needs),
                    train, tuple(differs), tuple(graph.groups[g].name for g in ckpt.groups))


def _refuse_untrained_inputs(graph, analysis, group, needs) -> None:
    """A checkpointed group with trained parameters whose inputs need no gradient: refused
    (activations.refuse_untrained_inputs)."""
    from .activations import refuse_untrained_inputs
    from .checkpointing import group_inputs

    if not any(needs[i] for i in group_inputs(graph, group)):
        refuse_untrained_inputs(graph, analysis, group)


def _sum(layers, counted, later: dict) -> TrainRecord:
    """The layers ``counted`` lists (graph.counted), each as many times as it runs; a layer
    in ``later`` (node id → (the repeat's count, its record at the later passes)) runs its
    own record at the repeat's first pass and the later one at the others."""
    f = i = w = r_ = 0
    for node, n in counted:
        if node in later:
            times, r2 = later[node]
            first = dims.simplify(n / times)  # the first pass, once per pass of what is around
            r, rest = layers[node], dims.simplify(n - first)
            f = f + first * r.forward + rest * r2.forward
            i = i + first * r.input_grad + rest * r2.input_grad
            w = w + first * r.weight_grad + rest * r2.weight_grad
            r_ = r_ + first * r.recompute + rest * r2.recompute
            continue
        r = layers[node]
        f, i, w = f + n * r.forward, i + n * r.input_grad, w + n * r.weight_grad
        r_ = r_ + n * r.recompute
    return TrainRecord(dims.simplify(f), dims.simplify(i), dims.simplify(w),
                       dims.simplify(r_))


def _later_passes(graph, needs: list, train: tuple) -> list:
    """The repeats over a free symbol whose first pass differs from the later ones: the body
    is built once, reading at its first pass an input that needs no gradient (the network's
    input, or a tensor before anything trained), while every later pass reads the previous
    pass's output, which needs one once the body trains. For each: (group, per node id
    whether its output needs a gradient at a later pass). Refused where such a repeat is
    inside, or holds, another repeat over a free symbol (their passes would mix)."""
    out = []
    for g in graph.groups:
        if g.times == 1 or g.source is None or needs[g.source] == needs[g.output]:
            continue
        nested = [h for h in graph.groups if h is not g and h.times != 1 and
                  (h.first <= g.first and g.last <= h.last or
                   g.first <= h.first and h.last <= g.last)]
        if nested:
            raise SpecError(f"repeat '{g.local}' over {g.times}: its first pass's input needs "
                            "no gradient and its later passes' inputs do, and it is nested "
                            f"with repeat '{nested[0].local}' over {nested[0].times}; give a "
                            "count a value", g.loc)
        later = list(needs)
        later[g.source] = True
        for i in range(g.first, g.last + 1):
            node = graph.nodes[i]
            later[i] = train[i] or any(later[j] for j in node.inputs)
        out.append((g, later))
    return out
