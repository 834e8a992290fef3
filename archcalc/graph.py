"""The expanded network: a DAG of layer nodes plus the named groups that contain them.

Blocks, repeats, branches and references are already expanded here, so the analysis, the
renderers and the torch backend see one simple graph. Node 0 is the network's input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import Loc


@dataclass(frozen=True)
class Node:
    id: int
    type: str
    name: str  # qualified and unique: "stage1.conv2d_2"
    local: str  # the name shown in tables: "conv2d_2"
    args: dict  # evaluated arguments; 'ref'/'refs'/'weight' arguments hold node ids
    inputs: tuple  # node ids, main input first
    depth: int
    loc: Loc
    named: bool = False  # the user gave the name
    group: int | None = None  # innermost enclosing group


@dataclass(frozen=True)
class Group:
    """A block call, or a named repeat or branches item: a row with its subtree's totals.
    The loader replaces the one it opened when the group closes (its last node and output)."""

    id: int
    type: str  # the block's name, "repeat" or "branches"
    name: str
    local: str
    depth: int
    loc: Loc
    first: int = 0  # node ids first..last (inclusive) belong to the group
    last: int = -1
    output: int = 0
    named: bool = False
    parent: int | None = None
    # A repeat over a free symbol: the layers first..last stand for ``times`` passes (the
    # body is built once), each taking ``source``'s output shape back to itself.
    times: Any = 1
    source: int | None = None


@dataclass(frozen=True, eq=False)
class Graph:
    """Built once by the loader and never changed after: what the analysis computes from it
    lives in the Analysis, not here."""

    name: str
    file: str
    input_shape: tuple
    symbols: dict  # name -> value (int/float) or a sympy Symbol when free
    nodes: list = field(default_factory=list)
    groups: list = field(default_factory=list)
    rows: list = field(default_factory=list)  # ("group", id) / ("node", id), display order
    output: int = 0
    layout: str = "channels_first"  # the order the spec's shapes are written in
    source: str | None = None  # the spec's text
    overrides: dict = field(default_factory=dict)  # the --set values that bound symbols
    spec: Any = field(default=None, repr=False)  # the text as parsed YAML, to build it again
    approximations: tuple = ()  # spec.approximations.Approximation: estimates explain shows
    # (condition, message, loc): values the spec writes in free symbols that must be whole
    # numbers (head_dim: d_model/n_head); the analysis starts its conditions with them
    whole_values: tuple = ()

    def passes(self) -> tuple | None:
        """Per node id, how many times its layer runs (the product of the counts of the
        repeats over free symbols around it); None when every layer runs once. Computed
        once per graph."""
        if "_passes" not in self.__dict__:  # frozen: cached beside the fields
            self.__dict__["_passes"] = self._count_passes()
        return self.__dict__["_passes"]

    def _count_passes(self) -> tuple | None:
        if all(g.times == 1 for g in self.groups):
            return None
        out = []
        for node in self.nodes:
            times, g = 1, node.group
            while g is not None:
                times = times * self.groups[g].times
                g = self.groups[g].parent
            out.append(times)
        return tuple(out)

    def passes_within(self, node_id: int, group_id: int):
        """How many times the node's layer runs per pass of the group (node inside it)."""
        times, g = 1, self.nodes[node_id].group
        while g is not None:
            times = times * self.groups[g].times
            if g == group_id:
                break
            g = self.groups[g].parent
        return times

    def counted(self, group=None) -> tuple:
        """(node id, times) for each layer a group's row sums — ``group`` None: the whole
        network's — with how many times it runs per pass of the group (1 unless repeats
        over free symbols are inside)."""
        passes = self.passes()
        if group is None:
            return tuple((i, 1 if passes is None else passes[i])
                         for i in range(1, len(self.nodes)))
        return tuple((i, 1 if passes is None else self.passes_within(i, group.id))
                     for i in range(group.first, group.last + 1))

    @property
    def free_symbols(self) -> list:
        return [k for k, v in self.symbols.items() if _is_free(v)]


def _is_free(v: Any) -> bool:
    return getattr(v, "is_Symbol", False)
