"""Learned relative-position biases added to attention scores (``archcalc import torch``).

A bias table is one learned [N, H] tensor, N rows (relative positions or their buckets) of
one bias per head, read at constant ids and shaped [.., H, T, S] to be added to the scores
Q·Kᵀ: the attention layer's ``bias_table: N``, N·H parameters and no MACs. Two layouts:

* Swin's and MaxViT's: a parameter ``table[index]`` at a buffer of relative-position
  indices, viewed [T, T, H] and permuted to [H, T, T];
* T5's (HF ``T5Attention.compute_bias``): an ``nn.Embedding(buckets, H)`` read at the
  bucket of each offset, computed from the sizes alone (``arange``, comparisons, ``abs``,
  ``min``, ``log``, ``where``: a constant), permuted to [1, H, T, S]. The decoder adds its
  causal mask, ``(1 - m) * min``, to that bias; the first block computes it and every later
  block of the stack adds the same tensor to its scores, so the table is counted once, by
  the first attention that reads it, and the later ones have no table of their own
  (``bias_table: 0``, as parameters() counts a module once).

Only shape operations may lie between the table and the scores (views, permutes, an
indexing by constant ids): anything else is no bias table, and the attention's ops are
then mapped one by one.
"""

from __future__ import annotations

import operator

import torch
from torch import nn

from .import_graph import CONST, LEARNED
from .import_map import _shape

_ADD = (operator.add, torch.add)
# a view of the table's values: the same numbers in another shape (casts keep them too)
_SHAPING_METHODS = ("permute", "unsqueeze", "squeeze", "view", "reshape", "contiguous",
                    "transpose", "flatten", "unflatten", "expand", "float", "half",
                    "bfloat16", "double", "to")
_SHAPING_FUNCTIONS = (torch.permute, torch.reshape, torch.unsqueeze, torch.squeeze,
                      torch.transpose, torch.flatten)


class NotATable(Exception):
    """The learned tensor added to the scores is not a relative-position bias table; with
    ``op`` and ``node``: one that no op of archcalc's maps either (a table read at constant
    ids, of another number of heads), refused at that add."""

    def __init__(self, op: str | None = None, node=None):
        super().__init__(op)
        self.op, self.node = op, node


def _need(condition) -> None:
    if not condition:
        raise NotATable


def bias_table(traced, bias, scores: tuple, added) -> tuple:
    """(rows N, heads H, the table tensor, the constant mask added to it or None) of a
    learned ``bias`` added (by the node ``added``) to the scores of shape ``scores``
    [.., H, T, S]."""
    shape = tuple(_shape(bias))
    _need(3 <= len(shape) <= len(scores) and shape[-2:] == tuple(scores[-2:]) and
          shape[-3] in (1, scores[-3]) and all(n == 1 for n in shape[:-3]))
    mask = None
    if bias.op == "call_function" and bias.target in _ADD and len(bias.args) == 2 and \
            all(hasattr(a, "op") for a in bias.args):  # T5's decoder: table + causal mask
        kinds = [traced.kind.get(a) for a in bias.args]
        if sorted(map(str, kinds)) == sorted((CONST, LEARNED)):
            mask, bias = bias.args if kinds[0] == CONST else bias.args[::-1]
            _need(len(_shape(mask)) <= len(scores) and
                  tuple(_shape(mask)[-2:]) == tuple(scores[-2:]))
    table, name = _table(traced, bias)
    _need(table.dim() == 2)
    if table.shape[1] != scores[-3]:  # one bias broadcast to every head, or too many
        raise NotATable(f"the relative-position bias table {name} {list(table.shape)} "
                        f"added to the scores of {scores[-3]} heads (a bias_table holds one "
                        "column per head)", added)
    return int(table.shape[0]), int(table.shape[1]), table, mask


def _table(traced, node) -> tuple:
    """(the tensor, its name) a learned value is a view of: a parameter, or an
    nn.Embedding's weight read at constant ids."""
    while True:
        _need(traced.kind.get(node) == LEARNED)
        if node.op == "get_attr":
            table = traced.attr(node.target)
            _need(isinstance(table, nn.Parameter))
            return table, str(node.target)
        if node.op == "call_module":
            m = traced.modules[node.target]
            _need(type(m) is nn.Embedding and len(node.args) == 1 and not node.kwargs and
                  traced.kind.get(node.args[0]) == CONST)
            return m.weight, str(node.target)
        if node.op == "call_function" and node.target is operator.getitem:
            base = node.args[0]  # table[ids]: the ids constant (a buffer, sizes)
            others = [n for n in node.all_input_nodes if n is not base]
            _need(all(traced.kind.get(n) in (CONST, None) for n in others))
        elif node.op == "call_method" and node.target in _SHAPING_METHODS or \
                node.op == "call_function" and node.target in _SHAPING_FUNCTIONS:
            base = node.args[0]  # the other arguments sizes, dims, dtypes: no tensors
            _need(all(traced.kind.get(n) is None for n in node.all_input_nodes
                      if n is not base))
        else:
            raise NotATable
        node = base


def is_zero(traced, node) -> bool:
    """Whether a constant added to the scores is zeros (T5's cross-attention makes its
    position bias so, ``torch.zeros((1, H, T, S))``): it adds nothing, no bias and no mask."""
    if not hasattr(node, "op") or traced.kind.get(node) != CONST:
        return False
    try:
        value = traced.value(node)
    except Exception:  # noqa: BLE001 - a constant archcalc cannot compute is not known zero
        return False
    return isinstance(value, torch.Tensor) and value.is_floating_point() and \
        not bool(torch.any(value))
