"""Activation checkpointing per block: which group instances are checkpointed, and what a
checkpoint takes as its inputs.

The semantics are those of ``torch.utils.checkpoint.checkpoint(block, *inputs,
use_reentrant=True)`` around each selected group instance (torch/utils/checkpoint.py,
``CheckpointFunction``): its forward runs the block under ``torch.no_grad()``, so nothing
inside the block is kept for backward, and keeps the block's tensor inputs
(``ctx.save_for_backward``); its backward runs the block's forward a second time with its
internals kept, then the block's backward. archcalc/activations.py counts the bytes kept,
archcalc/training.py the recomputed forward, archcalc/torch_backend/checkpoint.py builds
and measures the same network in PyTorch.

A selection names block types of the spec's ``blocks:`` (every use of the block) or group
instances by the qualified names the tables show (``h.block_3``, ``layer2.basic_1``). A
group inside another selected group is not checkpointed again: the outermost wins (a
reentrant checkpoint inside a checkpointed block's forward runs under no_grad and keeps
nothing, so only the outer one counts).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SpecError, did_you_mean


@dataclass(frozen=True)
class Checkpoint:
    """The checkpointed group instances (group ids, in the graph's order), and per node id
    the checkpointed group that contains it (None outside every one)."""

    groups: tuple
    of_node: tuple

    def inputs(self, graph, group_id: int) -> tuple:
        return group_inputs(graph, graph.groups[group_id])


NONE = Checkpoint((), ())


def names(values) -> list:
    """The names of a repeatable option whose values may be comma lists, in order, each once."""
    out: list = []
    for value in values or ():
        for part in str(value).split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


def group_inputs(graph, group) -> tuple:
    """The node ids outside ``group`` that its layers read, in the order first read: the
    tensors a checkpoint of the group takes as inputs."""
    out: list = []
    for i in range(group.first, group.last + 1):
        for j in graph.nodes[i].inputs:
            if (j < group.first or j > group.last) and j not in out:
                out.append(j)
    return tuple(out)


def select(graph, wanted) -> Checkpoint:
    """The checkpoint of ``wanted`` (block type names or qualified group names, an iterable
    of strings; comma lists allowed). Raises SpecError for a name that is neither, for a
    repeat over a free symbol named as a whole, and for a group one of whose inner outputs
    a layer after it reads (a checkpoint returns the group's output only)."""
    wanted = names(wanted)
    if not wanted:
        return NONE
    blocks = sorted({g.type for g in graph.groups if g.type not in ("repeat", "branches")})
    instances = [g.name for g in graph.groups]
    chosen: set = set()
    for name in wanted:
        hits = [g.id for g in graph.groups if g.name == name] or \
            [g.id for g in graph.groups if g.type == name and name not in ("repeat", "branches")]
        if not hits:
            choices = blocks + instances
            known = f"blocks: {', '.join(blocks)}" if blocks else "the spec has no blocks"
            raise SpecError(f"checkpoint {name!r}: no block or group of that name ({known}; "
                            "or a group's qualified name as the tables show it)"
                            f"{did_you_mean(name, choices)}")
        chosen.update(hits)
    outer = []
    for gid in sorted(chosen):
        g, p, inside = graph.groups[gid], graph.groups[gid].parent, False
        while p is not None:
            inside = inside or p in chosen
            p = graph.groups[p].parent
        if not inside:
            outer.append(gid)
    of_node: list = [None] * len(graph.nodes)
    for gid in outer:
        g = graph.groups[gid]
        if g.times != 1:
            raise SpecError(f"checkpoint {g.name!r}: a repeat over {g.times} is built once "
                            "for all its passes; checkpoint the block inside it", g.loc)
        for i in range(g.first, g.last + 1):
            of_node[i] = gid
        for node in graph.nodes[g.last + 1:]:
            leaks = [j for j in node.inputs if g.first <= j <= g.last and j != g.output]
            if leaks:
                raise SpecError(f"checkpoint {g.name!r}: layer '{node.name}' reads "
                                f"'{graph.nodes[leaks[0]].name}' inside it, and a checkpoint "
                                "returns the group's output only", g.loc)
    return Checkpoint(tuple(outer), tuple(of_node))
