"""Window partitions of vision transformers in a traced graph (``archcalc import torch``).

Swin cuts a channels-last map [B, H, W, C] into s×s windows that it folds into the batch
axis, a view, a permute and a view that the op map alone refuses (they move values across
the batch axis):

* ``x.view(B, H/s, s, W/s, s, C).permute(0, 1, 3, 2, 4, 5).reshape(B·n, s·s, C)``, n =
  (H/s)·(W/s) windows, is ``windowpartition {size: s}``;
* its inverse, ``y.view(B, H/s, W/s, s, s, C).permute(0, 1, 3, 2, 4, 5).reshape(B, H, W,
  C)``, is ``windowmerge {size: s, height: H, width: W}``;
* PatchMerging's four 2×2 phases ``x[:, i::2, j::2]`` side by side on the channels,
  ``torch.cat`` of (0, 0), (1, 0), (0, 1), (1, 1), is ``pixelunshuffle {factor: 2}`` between
  two permutes (channels first and back): the same values in another channel order, which
  changes no count, as specs/swin_t.yaml writes it.

The views and the permute must be read only inside the pattern; anything else is left to
the op map, which refuses a view across the batch axis.
"""

from __future__ import annotations

import math
import operator

import torch

from .import_map import PREVIOUS, _shape

_RESHAPES = ("view", "reshape")
_SWAP = (0, 1, 3, 2, 4, 5)


class _NoMatch(Exception):
    pass


def _need(condition) -> None:
    if not condition:
        raise _NoMatch


def annotate(traced) -> None:
    for node in traced.nodes:
        if traced.decided(node) or not traced.live(node):
            continue
        for match in (_partition, _merge, _phases):
            try:
                layer, absorbed = match(traced, node)
            except (_NoMatch, TypeError, ValueError, IndexError, KeyError, AttributeError):
                continue
            if any(traced.decided(n) for n in absorbed):
                continue
            for n in absorbed:
                traced.decide(n, None)
            traced.decide(node, layer)
            break


def _reshape(node) -> bool:
    return node.op == "call_method" and node.target in _RESHAPES or \
        node.op == "call_function" and node.target is torch.reshape


def _order(node):
    """The axes a ``permute`` gives (the batch axis included), else None."""
    if node.op == "call_method" and node.target == "permute" or \
            node.op == "call_function" and node.target is torch.permute:
        dims = node.args[1:] if not isinstance(node.args[1], (tuple, list)) else node.args[1]
        rank = len(_shape(node))
        return tuple(d % rank for d in dims)
    return None


def _only_read_by(traced, node, reader) -> None:
    _need(traced.tensor_users(node) == [reader])


def _partition(traced, node):
    """[B, H, W, C] → [B·n, s·s, C] (the last view, ``node``): windowpartition."""
    _need(_reshape(node))
    permuted = node.args[0]
    _need(_order(permuted) == _SWAP)
    split = permuted.args[0]
    _need(_reshape(split))
    x = split.args[0]
    (b, h, w, c), (b2, nh, s, nw, s2, c2) = _shape(x), _shape(split)
    _need(b2 == b and c2 == c and s == s2 and nh * s == h and nw * s2 == w)
    _need(tuple(_shape(node)) == (b * nh * nw, s * s, c))
    _only_read_by(traced, split, permuted)
    _only_read_by(traced, permuted, node)
    return ("windowpartition", dict(size=s), [x]), [split, permuted]


def _merge(traced, node):
    """[B·n, s·s, C] → [B, H, W, C] (the last view, ``node``): windowmerge."""
    _need(_reshape(node))
    permuted = node.args[0]
    _need(_order(permuted) == _SWAP)
    split = permuted.args[0]
    _need(_reshape(split))
    y = split.args[0]
    (b, nh, nw, s, s2, c), (n, t, c2) = _shape(split), _shape(y)
    _need(s == s2 and c == c2 and t == s * s and n == b * nh * nw)
    _need(tuple(_shape(node)) == (b, nh * s, nw * s, c))
    _only_read_by(traced, split, permuted)
    _only_read_by(traced, permuted, node)
    return ("windowmerge", dict(size=s, height=nh * s, width=nw * s), [y]), [split, permuted]


_PHASES = ((0, 0), (1, 0), (0, 1), (1, 1))  # x[:, i::2, j::2], as torch.cat reads them


def _phases(traced, node):
    """torch.cat of the four 2×2 phases of a channels-last [B, H, W, C] on C."""
    _need(node.op == "call_function" and node.target is torch.cat)
    parts = list(node.args[0])
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
    _need(len(parts) == 4 and dim % 4 == 3)
    x = parts[0].args[0]
    _need(len(_shape(x)) == 4 and _shape(x)[1] % 2 == 0 and _shape(x)[2] % 2 == 0)
    for part, (i, j) in zip(parts, _PHASES):
        _need(part.op == "call_function" and part.target is operator.getitem and
              part.args[0] is x)
        index = part.args[1]
        _need(isinstance(index, tuple) and len(index) == 3 and index[0] == slice(None))
        _need(index[1] == slice(i or None, None, 2) or index[1] == slice(i, None, 2))
        _need(index[2] == slice(j or None, None, 2) or index[2] == slice(j, None, 2))
        _only_read_by(traced, part, node)
    _need(math.prod(_shape(node)) == math.prod(_shape(x)))
    return [("permute", dict(dims=[2, 0, 1]), [x]),
            ("pixelunshuffle", dict(factor=2), [PREVIOUS]),
            ("permute", dict(dims=[1, 2, 0]), [PREVIOUS])], parts
