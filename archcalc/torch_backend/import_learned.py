"""Learned tensors read in a forward, as archcalc layers (``archcalc import torch``).

A parameter read directly (an fx ``get_attr``: ViT's ``class_token``, ``pos_embedding``)
or an embedding table read at constant positions (nanoGPT's ``wpe(torch.arange(T))``, HF
BERT's ``position_ids`` buffer cut to T), then combined with the input by ``+``, ``*`` or
``torch.cat``, is archcalc's ``parameter`` layer (``op: add | mul | concat``) named by the
attribute, its shape the tensor's without the batch axis of one it is broadcast along; a
table read only at its first T positions (``[:T]``, ``arange(T)``) is ``rows: prefix``. A
table read at other constant ids of the input's shape and added (BERT's token types, zeros)
is an ``embedding`` of the input's ids, with the same counts. A linear layer whose weight is an
earlier module's (nanoGPT's ``lm_head`` and ``wte``) is ``tie:`` to it, as parameters()
counts a shared weight once; an embedding read again at the same ids (T5's ``shared``, by
its encoder and its decoder) is an ``identity`` of its first read, and at other ids refused.
Any other module with parameters called a second time (one head applied to two paths, a
block looped over) is refused: a second layer would count them again.
"""

from __future__ import annotations

import operator

import torch
from torch import nn

from .import_map import PREVIOUS, Unmapped, _dim, _opts, _shape
from .import_graph import CONST, LEARNED, LIVE

_COMBINE = {operator.add: "add", torch.add: "add", operator.mul: "mul", torch.mul: "mul"}
_COMBINE_METHODS = {"add": "add", "mul": "mul"}
_PASSING = ("expand", "expand_as", "contiguous", "to", "type_as", "clone")


def annotate(traced) -> None:
    weights: dict = {}  # id of a weight -> the first module call that reads it
    read: set = set()  # the learned tensors made layers so far
    called: set = set()  # the modules with parameters called so far
    for node in traced.nodes:
        if traced.decided(node):
            continue
        if node.op == "call_module":
            _tie(traced, node, weights)  # a tied head, an embedding read again
            if not traced.decided(node):
                _once(traced, node, called)
            continue
        if not traced.live(node):
            continue
        try:
            combined = _combination(traced, node)
        except Unmapped as e:
            combined = e
        except (TypeError, ValueError, IndexError, KeyError, AttributeError):
            combined = None  # an unusual call: refused below as an op of a learned tensor
        if isinstance(combined, (tuple, list)):
            source = combined[-1] if isinstance(combined, tuple) else combined[0][-1]
            if source in read:  # a second parameter layer would count it again
                combined = Unmapped(f"the learned tensor {source} read a second time")
            read.add(source)
        if combined is not None:
            traced.decide(node, combined)


def _once(traced, node, called: set) -> None:
    """Refuse a second call of a module that has parameters (parameters() counts them once;
    the spec has no layer that reuses another's)."""
    m = traced.modules[node.target]
    if not any(True for _ in m.parameters()):
        return
    if node.target in called:
        traced.decide(node, Unmapped(
            f"a second call of the module {node.target} ({type(m).__name__}), whose "
            "parameters a second layer would count again"))
    called.add(node.target)


def _tie(traced, node, weights: dict) -> None:
    """A Linear whose weight an earlier module owns: ``tie`` to that module's layer (the
    call's node: the importer writes the layer's name)."""
    m = traced.modules[node.target]
    w = getattr(m, "weight", None)
    if not isinstance(w, nn.Parameter):
        return
    owner = weights.setdefault(id(w), node)
    if owner is not node and type(m) is nn.Embedding and traced.live(node):
        _again(traced, node, owner)
        return
    if owner.target == node.target or type(m) is not nn.Linear or not traced.live(node):
        return
    args = dict(out=m.out_features, tie=owner)
    if m.bias is None:
        args["bias"] = False
    traced.decide(node, ("linear", args, [node.args[0]]))


def _again(traced, node, first) -> None:
    """An embedding read a second time (T5's decoder reads ``shared`` as its encoder does):
    at the same ids it is the same value, an ``identity`` of the first read; at other ids
    its table would be counted twice, which is refused."""
    if type(traced.modules[first.target]) is nn.Embedding and \
            first.args[0] is node.args[0] and not first.kwargs and not node.kwargs:
        traced.decide(node, ("identity", {}, [first]))
    else:
        traced.decide(node, Unmapped(f"the embedding {node.target} read a second time, "
                                     "with other ids than its first read"))


def _combination(traced, node):
    """x + p, x * p, torch.cat of p and x: a ``parameter`` layer; else None."""
    if node.op == "call_function" and node.target in _COMBINE and len(node.args) == 2:
        op, pair = _COMBINE[node.target], list(node.args)
    elif node.op == "call_method" and node.target in _COMBINE_METHODS and \
            len(node.args) == 2 and not node.kwargs:
        op, pair = _COMBINE_METHODS[node.target], list(node.args)
    elif node.op == "call_function" and node.target is torch.cat and \
            isinstance(node.args[0], (list, tuple)) and len(node.args[0]) == 2:
        op, pair = "concat", list(node.args[0])
    else:
        return None
    kinds = [traced.kind.get(a) if hasattr(a, "op") else None for a in pair]
    if sorted(map(str, kinds)) != sorted(map(str, [LIVE, LEARNED])):
        return None
    x, p = (pair[0], pair[1]) if kinds[0] == LIVE else (pair[1], pair[0])
    if op == "add":
        read = _input_shaped_lookup(traced, p)
        if read is not None:
            return read + [("add", {}, [x, PREVIOUS])]
    name, full, prefix = _source(traced, p)
    rank = len(_shape(x))  # with the batch axis
    table = list(full)
    if len(table) > rank:
        return Unmapped(f"a learned tensor {list(full)} of more axes than its input")
    if len(table) == rank:  # its first axis meets the batch axis: one, broadcast
        if table[0] != 1:
            return Unmapped(f"the learned tensor {name} {list(full)} along the batch axis")
        table, prefix = table[1:], {a - 1: n for a, n in prefix.items() if a > 0}
    lead = rank - 1 - len(table)  # the input's axes (no batch) before the table's
    args: dict = dict(shape=table)
    if op != "add":
        args["op"] = op
    if op == "concat":
        dim = _dim(node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0))
        dim = dim % (rank - 1)
        if len(table) != rank - 1:
            return Unmapped(f"torch.cat of the learned tensor {name} of another rank")
        if dim:
            args["dim"] = dim
        if pair[1] is p:
            args["position"] = "after"
        if prefix:
            return Unmapped(f"torch.cat of a part of the learned tensor {name}")
    if len(prefix) > 1:
        return Unmapped(f"the learned tensor {name} cut along more than one axis")
    if prefix:
        (axis, n), = prefix.items()
        size = _shape(x)[1 + lead + axis]
        if n != size:  # rows: prefix reads as many rows as the input has there
            return Unmapped(f"the learned tensor {name} cut to {n} of its rows, broadcast "
                            f"to the input's {size}")
        args["rows"] = "prefix"
        if lead + axis:
            args["dim"] = lead + axis
    return "parameter", args, [x], name


def _input_shaped_lookup(traced, node):
    """An embedding read at constant ids of the input's shape that are not positions
    (HF BERT's ``token_type_ids``, a buffer of zeros cut to the input's length) as
    ``embedding`` of the input's ids: the same table counted whole, as parameters() counts
    it, the same output shape, no MACs; only the rows read differ (a model of the counts,
    as specs/bert-base.yaml writes its token types). None for any other tensor."""
    if node.op != "call_module" or type(traced.modules[node.target]) is not nn.Embedding:
        return None
    ids = node.args[0]
    if traced.kind.get(ids) != CONST or _positions(traced, ids):
        return None
    network = [n for n in traced.nodes if n.op == "placeholder" and traced.live(n) and
               _shape(n) == _shape(ids)]
    if not network:
        return None
    m = traced.modules[node.target]
    return [("embedding", dict(vocab=m.num_embeddings, dim=m.embedding_dim,
                               **_opts(padding_idx=(m.padding_idx, None))), [network[0]],
             str(node.target))]


def _source(traced, node) -> tuple:
    """(attribute path, the tensor's full shape, {axis: n} of the axes read only at their
    first n entries) of a learned tensor, followed back through expand, slices and an
    embedding read at ``arange``."""
    prefix: dict = {}
    while True:
        if node.op == "get_attr":
            return str(node.target), tuple(traced.attr(node.target).shape), prefix
        if node.op == "call_method" and node.target in _PASSING:
            node = node.args[0]
            continue
        if node.op == "call_function" and node.target is operator.getitem:
            base, index = node.args
            index = index if isinstance(index, tuple) else (index,)
            full = _shape(base)
            for axis, s in enumerate(index):
                if not isinstance(s, slice) or s.start not in (None, 0) or \
                        s.step not in (None, 1):
                    raise Unmapped(f"indexing {index!r} of a learned tensor")
                if s.stop is not None:  # [:n]: the first n rows, n perhaps all of them
                    prefix[axis] = _shape(node)[axis]
            node = base
            continue
        if node.op == "call_module" and type(traced.modules[node.target]) is nn.Embedding:
            m, ids = traced.modules[node.target], node.args[0]
            if not _positions(traced, ids):
                raise Unmapped(f"the embedding {node.target} read with constant ids other "
                               "than torch.arange(n)")
            return str(node.target), (m.num_embeddings, m.embedding_dim), \
                {0: _shape(ids)[-1]}
        raise Unmapped(f"a learned tensor made by {node.op} {node.target}")


def _positions(traced, ids) -> bool:
    """Whether constant ids are the positions 0..n−1: torch.arange(n), or a constant of that
    value behind axes of one (HF BERT's ``position_ids`` buffer, ``arange(P)[None]``, cut
    to the input's length: ``[:, :T]``)."""
    if _is_arange(ids):
        return True
    if traced.kind.get(ids) != CONST:
        return False
    value = traced.value(ids)
    if not isinstance(value, torch.Tensor) or value.dtype not in (torch.int64, torch.int32) \
            or value.dim() == 0 or any(n != 1 for n in value.shape[:-1]):
        return False
    return bool(torch.equal(value.reshape(-1), torch.arange(value.shape[-1],
                                                            dtype=value.dtype)))


def _is_arange(node) -> bool:
    """torch.arange(n) or torch.arange(0, n): positions 0..n−1."""
    if node.op != "call_function" or node.target is not torch.arange:
        return False
    args = node.args
    step = args[2] if len(args) > 2 else node.kwargs.get("step", 1)
    return step == 1 and (len(args) == 1 or args[0] == 0)
